"""The local tier: a small GGUF model through transformers, streamed off the event loop.

Which model is a ``LocalModelSpec`` (``inference.models.LOCAL_MODELS``; SmolLM2-135M-Instruct
by default, Gemma 3 270M as the other choice). Its GGUF, shipped by a pip package, is
de-quantized by transformers on first use (SmolLM2: about 20 s on two cores; Gemma: about
70 s); the converted weights are saved under the data dir, one folder per model, so later
starts load in a second or two. Generation runs on a small thread pool: the event loop never blocks,
and concurrent requests wait their turn in the pool's FIFO queue.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import AsyncGenerator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from inference.generation import GenerationRequest, StreamChunk, Usage
from inference.models import LocalModelSpec, local_model_spec

__all__ = ["MODEL_NAME", "LocalModel"]

logger = logging.getLogger(__name__)

# The default model's name (the name usage reports); ``LocalModel.model_name`` is the loaded one's.
MODEL_NAME = local_model_spec().name
_CONVERTED_MARKER = "youmeyou-source.json"


class LocalModel:
    """The local model, loaded once per process; ``stream`` yields text as it is produced."""

    name = "local"

    def __init__(
        self,
        models_dir: Path,
        *,
        spec: LocalModelSpec | None = None,
        workers: int = 1,
        max_new_tokens: int = 256,
        temperature: float = 0.4,
        niceness: int = 0,
    ) -> None:
        self.spec = spec or local_model_spec()
        self._models_dir = models_dir
        self._converted_dir = models_dir / self.spec.name
        self._pool = ThreadPoolExecutor(
            max_workers=workers,
            thread_name_prefix="local-llm",
            initializer=_lower_priority,
            initargs=(niceness,),
        )
        self._default_max_tokens = max_new_tokens
        self._default_temperature = temperature
        self._load_lock = threading.Lock()
        # transformers' own annotations are too loose for mypy to follow; held as Any.
        self._model: Any = None
        self._tokenizer: Any = None
        self._counting_tokenizer: Any = None
        self._count_lock = threading.Lock()
        self._end_ids: list[int] = []

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def model_name(self) -> str:
        """The name usage reports for this model (``smollm2-135m-instruct``...)."""
        return self.spec.name

    @property
    def converted_dir(self) -> Path:
        """Where this model's converted weights live (one folder per model)."""
        return self._converted_dir

    def load(self) -> None:
        """Load the model (converting the GGUF once if no converted copy exists)."""
        with self._load_lock:
            if self._model is not None:
                return
            from transformers import AutoModelForCausalLM, AutoTokenizer

            started = time.perf_counter()
            source = self.spec.locate(self._models_dir)
            if not self._converted_copy_matches(source):
                self._convert(source)
            self._tokenizer = AutoTokenizer.from_pretrained(
                self._converted_dir, local_files_only=True
            )
            self._model = AutoModelForCausalLM.from_pretrained(
                self._converted_dir, local_files_only=True
            )
            self._model.eval()
            _align_weights(self._model)
            self._end_ids = _end_token_ids(self._tokenizer, self.spec.end_of_turn)
            logger.info(
                "Local model %s loaded in %.2f s", self.spec.name, time.perf_counter() - started
            )

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` by the model's tokenizer (for budgets, and providers that give
        no count). A tokenizer of its own: the generating thread's is not to be shared."""
        with self._count_lock:
            if self._counting_tokenizer is None:
                from transformers import AutoTokenizer

                self.load()
                self._counting_tokenizer = AutoTokenizer.from_pretrained(
                    self._converted_dir, local_files_only=True
                )
            return len(self._counting_tokenizer.encode(text, add_special_tokens=False))

    def _converted_copy_matches(self, source: Path) -> bool:
        marker = self._converted_dir / _CONVERTED_MARKER
        try:
            return bool(json.loads(marker.read_text()) == _fingerprint(source))
        except (OSError, ValueError):
            return False

    def _convert(self, source: Path) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        started = time.perf_counter()
        logger.info("Converting %s to transformers weights (once)", source.name)
        folder, name = source.parent, source.name
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name, local_files_only=True)
        model: Any = AutoModelForCausalLM.from_pretrained(
            folder, gguf_file=name, local_files_only=True
        )
        # transformers de-quantizes GGUF tensors to float32 on load but keeps a marker that
        # refuses save_pretrained; the weights themselves are plain tensors, so drop it.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        if tokenizer.chat_template is None:  # some GGUFs carry no template: the spec's then
            tokenizer.chat_template = self.spec.chat_template
        staging = self._converted_dir.with_name(f"{self.spec.name}.partial-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / _CONVERTED_MARKER).write_text(json.dumps(_fingerprint(source)))
        shutil.rmtree(self._converted_dir, ignore_errors=True)
        os.replace(staging, self._converted_dir)  # a crash mid-save never leaves a half copy
        logger.info("Converted in %.1f s to %s", time.perf_counter() - started, self._converted_dir)

    async def stream(
        self,
        request: GenerationRequest,
        *,
        model: str | None = None,
        api_key: str | None = None,
    ) -> AsyncGenerator[StreamChunk, None]:
        """Tokens as they are generated (``model`` and ``api_key`` are for other providers)."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | BaseException | None] = asyncio.Queue()
        stop = threading.Event()
        counts = {"in": 0, "out": 0}

        def publish(item: str | BaseException | None) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        future = loop.run_in_executor(
            self._pool, self._generate_blocking, request, publish, stop, counts
        )
        started = time.perf_counter()
        emitted = ""
        try:
            while True:
                item = await queue.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise item
                text, hit_stop = _cut_at_stop(emitted, item, request.stop)
                if text:
                    emitted += text
                    yield StreamChunk(text)
                if hit_stop:
                    stop.set()
                    break
            await future
        finally:
            stop.set()  # the consumer left early (cancelled, stop sequence): end generation
        elapsed = time.perf_counter() - started
        usage = Usage(self.spec.name, counts["in"], counts["out"], elapsed, provider=self.name)
        logger.info(
            "Local generation: %d tokens in, %d out, %.1f tokens/s",
            usage.tokens_in,
            usage.tokens_out,
            usage.tokens_per_second,
        )
        yield StreamChunk("", usage=usage)

    def _generate_blocking(
        self,
        request: GenerationRequest,
        publish: Any,
        stop: threading.Event,
        counts: dict[str, int],
    ) -> None:
        try:
            if stop.is_set():
                return
            self.load()
            import torch
            from transformers import StoppingCriteria, StoppingCriteriaList, TextStreamer

            tokenizer = self._tokenizer
            inputs = tokenizer.apply_chat_template(
                [{"role": m.role, "content": m.content} for m in request.messages],
                add_generation_prompt=True,
                return_tensors="pt",
                return_dict=True,
            )
            counts["in"] = int(inputs["input_ids"].shape[1])

            class _Streamer(TextStreamer):
                def put(self, value: Any) -> None:
                    if not self.next_tokens_are_prompt:
                        counts["out"] += int(value.numel())
                    super().put(value)  # type: ignore[no-untyped-call]

                def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
                    if text:
                        publish(text)

            class _StopWhenAsked(StoppingCriteria):
                def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> bool:
                    return stop.is_set()

            temperature = (
                self._default_temperature if request.temperature is None else request.temperature
            )
            sampling: dict[str, Any] = (
                {"do_sample": True, "temperature": temperature, "top_p": 0.9}
                if temperature > 0
                else {"do_sample": False}
            )
            with torch.inference_mode():
                self._model.generate(
                    **inputs,
                    max_new_tokens=request.max_tokens or self._default_max_tokens,
                    repetition_penalty=1.15,
                    streamer=_Streamer(tokenizer, skip_prompt=True, skip_special_tokens=True),
                    stopping_criteria=StoppingCriteriaList([_StopWhenAsked()]),
                    eos_token_id=self._end_ids,
                    pad_token_id=tokenizer.eos_token_id,
                    **sampling,
                )
        except BaseException as error:  # handed to the awaiting coroutine, not lost in a thread
            publish(error)
        finally:
            publish(None)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _lower_priority(niceness: int) -> None:
    """Give the calling thread (and the OpenMP workers it starts) a lower CPU priority.

    Generation is throughput work that can take every core for seconds; at a lower priority
    the event loop's thread still gets a core the moment a request or an event needs it.
    On Linux the nice value is per thread, and threads a thread creates inherit it.
    """
    if niceness <= 0 or not hasattr(os, "setpriority"):
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    except OSError as error:  # e.g. a platform where the value is per process only
        logger.warning("Could not lower the local model's thread priority: %s", error)


def _fingerprint(source: Path) -> dict[str, object]:
    stat = source.stat()
    return {"file": source.name, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _align_weights(model: Any) -> None:
    """Copy weights that sit at unaligned addresses into aligned memory.

    safetensors maps the file and hands out tensors at the file's offsets; where those are
    not 64-byte aligned (Gemma's file), every matrix product runs several times slower.
    Replacing ``.data`` keeps the Parameter objects, so tied weights stay tied.
    """
    for parameter in model.parameters():
        if parameter.data_ptr() % 64:
            parameter.data = parameter.data.clone()


def _end_token_ids(tokenizer: Any, end_of_turn: tuple[str, ...]) -> list[int]:
    """The ids that end an answer: end-of-sequence and the model's end-of-turn tokens."""
    ids = [int(tokenizer.eos_token_id)]
    for token in end_of_turn:
        token_id = tokenizer.convert_tokens_to_ids(token)
        if isinstance(token_id, int) and token_id != tokenizer.unk_token_id:
            ids.append(token_id)
    return ids


def _cut_at_stop(emitted: str, text: str, stops: tuple[str, ...]) -> tuple[str, bool]:
    """The part of ``text`` before any stop sequence, and whether one was reached."""
    if not stops:
        return text, False
    combined = emitted + text
    positions = [i for s in stops if (i := combined.find(s, max(0, len(emitted) - len(s)))) >= 0]
    if not positions:
        return text, False
    return combined[len(emitted) : min(positions)], True
