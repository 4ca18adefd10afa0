"""The local tier: a small GGUF model run as it is by llama.cpp, streamed off the event loop.

Which model is a ``LocalModelSpec`` (``inference.models.LOCAL_MODELS``; SmolLM2-135M-Instruct
by default, Gemma 3 270M as the other choice). Its GGUF, shipped by a pip package, is read
quantized, through ``llama-cpp-python``: each token reads the 4-bit weights (about 90 MB for
SmolLM2) instead of the float32 copy transformers would de-quantize them into (540 MB), and
loading takes a fraction of a second with no conversion step. Generation runs on a small
thread pool, one llama.cpp context per worker: the event loop never blocks, and concurrent
requests wait their turn in the pool's FIFO queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import functools
import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from cachetools import LRUCache

from inference.generation import GenerationRequest, StreamChunk, Usage
from inference.models import LocalModelSpec, local_model_spec
from inference.providers import estimate_tokens

__all__ = ["MODEL_NAME", "LocalModel"]

logger = logging.getLogger(__name__)

# The default model's name (the name usage reports); ``LocalModel.model_name`` is the loaded one's.
MODEL_NAME = local_model_spec().name
# Context window per worker: room for the agents' prompts (context, examples) and an answer.
_CONTEXT_TOKENS = 8192
_COUNTS_KEPT = 8192
# Generations the reported speed is measured over: recent enough to show a slowdown.
_SPEED_WINDOW = 16
# transformers' generate() defaults, which the answers were tuned with.
_TOP_K, _TOP_P, _REPEAT_PENALTY = 50, 0.9, 1.15


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
        threads: int | None = None,
    ) -> None:
        self.spec = spec or local_model_spec()
        self._models_dir = models_dir
        self._workers = workers
        self._threads = threads or os.cpu_count() or 1
        self._pool = ThreadPoolExecutor(
            max_workers=workers,
            thread_name_prefix="local-llm",
            initializer=_lower_priority,
            initargs=(niceness,),
        )
        self._default_max_tokens = max_new_tokens
        self._default_temperature = temperature
        self._load_lock = threading.Lock()
        # llama_cpp ships no type information; its objects are held as Any.
        self._first: Any = None  # the first context: counts tokens, tells readiness
        self._formatter: Any = None
        self._contexts: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._made = 0
        self._counts: LRUCache[str, int] = LRUCache(maxsize=_COUNTS_KEPT)
        self._count_lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queued = 0  # requests handed to the pool that no worker has taken yet
        self._generating = 0  # requests a worker is generating for now
        self._aborts: dict[int, _Abort] = {}  # each context's, by its id
        self._recent: deque[tuple[int, float]] = deque(maxlen=_SPEED_WINDOW)  # (tokens, s)

    @property
    def loaded(self) -> bool:
        return self._first is not None

    @property
    def models_dir(self) -> Path:
        return self._models_dir

    @property
    def threads(self) -> int:
        """Threads each generation computes on."""
        return self._threads

    @property
    def queue_depth(self) -> int:
        """Requests waiting for a worker (not counting those generating)."""
        return self._queued

    @property
    def generating(self) -> int:
        """Requests a worker is generating for now; one whose stream has closed (its
        consumer left or was cancelled) stops at its next token."""
        return self._generating

    @property
    def tokens_per_second(self) -> float | None:
        """Tokens out per second over the last few generations; None before any."""
        recent = list(self._recent)
        seconds = sum(s for _, s in recent)
        return sum(t for t, _ in recent) / seconds if seconds > 0 else None

    def _taken(self, counts: dict[str, int]) -> None:
        """A queued request leaves the queue (a worker took it, or it was given up)."""
        with self._queue_lock:
            if not counts.get("taken"):
                counts["taken"] = 1
                self._queued -= 1

    @property
    def model_name(self) -> str:
        """The name usage reports for this model (``smollm2-135m-instruct``...)."""
        return self.spec.name

    def load(self) -> None:
        """Load the model: map its GGUF and make the first context."""
        with self._load_lock:
            if self._first is not None:
                return
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            started = time.perf_counter()
            first = self._context()
            template = first.metadata.get("tokenizer.chat_template") or self.spec.chat_template
            if template is None:
                raise RuntimeError(f"{self.spec.name}'s GGUF carries no chat template")
            self._formatter = Jinja2ChatFormatter(
                template=template,
                eos_token=_token_text(first, first.token_eos()),
                bos_token=_token_text(first, first.token_bos()),
            )
            self._contexts.put(first)
            self._first = first
            logger.info(
                "Local model %s loaded in %.2f s", self.spec.name, time.perf_counter() - started
            )

    def _context(self) -> Any:
        from llama_cpp import Llama

        context = Llama(
            model_path=str(self.spec.locate(self._models_dir)),
            n_ctx=_CONTEXT_TOKENS,
            n_threads=self._threads,
            n_threads_batch=self._threads,
            verbose=False,
        )
        self._made += 1  # counted once made: a failed attempt leaves room for another
        self._aborts[id(context)] = _Abort(context)
        return context

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` by the model's tokenizer (for budgets, and providers that give
        no count). The vocabulary is only read, so any thread may count. Counts are kept:
        every request's context counts the same profile, knowledge and examples again.

        Until the model is loaded this is an estimate, never a load: it is called on the
        event loop, and a first load (minutes on a busy machine) would freeze every stream.
        """
        with self._count_lock:
            known = self._counts.get(text)
        if known is not None:
            return known
        if self._first is None:
            return estimate_tokens(text)
        count = len(self._first.tokenize(text.encode(), add_bos=False, special=False))
        with self._count_lock:
            self._counts[text] = count
        return count

    async def stream(
        self,
        request: GenerationRequest,
        *,
        model: str | None = None,
        api_key: str | None = None,
    ) -> AsyncGenerator[StreamChunk, None]:
        """Tokens as they are generated (``model`` and ``api_key`` are for other providers)."""
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue[str | BaseException | None] = asyncio.Queue()
        stop = _Stop()
        counts = {"in": 0, "out": 0}

        def publish(item: str | BaseException | None) -> None:
            loop.call_soon_threadsafe(pieces.put_nowait, item)

        with self._queue_lock:
            self._queued += 1
        future = loop.run_in_executor(
            self._pool, self._generate_blocking, request, publish, stop, counts
        )
        started = time.perf_counter()
        emitted = ""
        try:
            while True:
                item = await pieces.get()
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
            self._taken(counts)  # a request given up before a worker took it
        elapsed = time.perf_counter() - started
        usage = Usage(self.spec.name, counts["in"], counts["out"], elapsed, provider=self.name)
        if usage.tokens_out and "began_ns" in counts:  # the speed of the work, not the wait
            working_s = (time.perf_counter_ns() - counts["began_ns"]) / 1e9
            self._recent.append((usage.tokens_out, working_s))
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
        publish: Callable[[str | BaseException | None], None],
        stop: _Stop,
        counts: dict[str, int],
    ) -> None:
        context: Any = None
        answer: list[str] = []
        self._taken(counts)
        counts["began_ns"] = time.perf_counter_ns()
        with self._queue_lock:
            self._generating += 1
        try:
            if stop.is_set():
                return
            self.load()
            context = self._acquire()
            prompt = self._formatter(
                messages=[{"role": m.role, "content": m.content} for m in request.messages]
            ).prompt
            tokens = context.tokenize(prompt.encode(), add_bos=False, special=True)
            wanted = request.max_tokens or self._default_max_tokens
            tokens, max_tokens = _fit(tokens, wanted, _CONTEXT_TOKENS)
            counts["in"] = len(tokens)
            temperature = (
                self._default_temperature if request.temperature is None else request.temperature
            )
            completion = context.create_completion(
                tokens,
                max_tokens=max_tokens,
                temperature=temperature,
                top_k=_TOP_K,
                top_p=_TOP_P,
                min_p=0.0,
                repeat_penalty=_REPEAT_PENALTY,
                stop=list(self.spec.end_of_turn),
                stream=True,
            )
            with stop.watching(context, self._aborts.get(id(context))):
                for chunk in completion:
                    if stop.is_set():
                        break
                    text = chunk["choices"][0]["text"]
                    if text:
                        answer.append(text)
                        publish(text)
            written = "".join(answer).encode()
            counts["out"] = len(context.tokenize(written, add_bos=False, special=False))
        except BaseException as error:  # handed to the awaiting coroutine, not lost in a thread
            publish(error)
        finally:
            if context is not None:
                self._contexts.put(context)
            with self._queue_lock:
                self._generating -= 1
            publish(None)

    def _acquire(self) -> Any:
        """A context no other worker is using: a free one, or a new one up to one per worker."""
        try:
            return self._contexts.get_nowait()
        except queue.Empty:
            with self._load_lock:
                if self._made < self._workers:
                    return self._context()
            return self._contexts.get()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class _Abort:
    """A context's abort flag, which llama.cpp reads itself between the nodes of a decode.

    Reading a long prompt is one decode of seconds; a stop checked between tokens would wait
    for its end. llama.cpp asks an abort callback after each node (hundreds per token): a
    Python callback would take the GIL each time and slow every generation, so the callback
    is C, libc's ``strlen`` over a two-byte buffer: 1 (abort) once its first byte is set, 0
    while it is NUL. (A C ``bool`` is read from the return register's low byte, where
    ``strlen``'s 0 or 1 is.) Without libc, a stop waits for the next token.
    """

    def __init__(self, context: Any) -> None:
        self._flag = ctypes.create_string_buffer(2)
        callback = _c_abort_callback()
        if callback is not None:
            import llama_cpp

            data = ctypes.cast(self._flag, ctypes.c_void_p)
            llama_cpp.llama_set_abort_callback(context.ctx, callback, data)

    def set(self, aborting: bool) -> None:
        self._flag[0] = b"x" if aborting else b"\0"


@functools.cache
def _c_abort_callback() -> Any:
    """libc's ``strlen`` as a ggml abort callback; None where libc cannot be loaded."""
    import llama_cpp

    try:
        strlen = ctypes.CDLL(ctypes.util.find_library("c")).strlen
    except (OSError, AttributeError):
        logger.warning("libc not found: a local generation stops only between tokens")
        return None
    address = ctypes.cast(strlen, ctypes.c_void_p).value
    return llama_cpp.ggml_abort_callback(address) if address else None


class _Stop:
    """A generation's stop, set by its stream when the consumer leaves (done, cancelled).

    The worker checks it between tokens; while it decodes (``watching``), setting it also
    aborts the decode under way, a prompt being read included.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._abort: _Abort | None = None

    def set(self) -> None:
        with self._lock:
            self._event.set()
            if self._abort is not None:
                self._abort.set(True)

    def is_set(self) -> bool:
        return self._event.is_set()

    @contextlib.contextmanager
    def watching(self, context: Any, abort: _Abort | None) -> Iterator[None]:
        """The body decodes on ``context``: a stop aborts it, the generation ends quietly,
        and the context is reset (an aborted decode leaves its cache partly written)."""
        with self._lock:
            self._abort = abort
            if abort is not None and self._event.is_set():
                abort.set(True)
        try:
            yield
        except RuntimeError:  # llama_decode returned 2: aborted
            if not self.is_set():
                raise
            context.reset()
        finally:
            with self._lock:
                self._abort = None
            if abort is not None:
                abort.set(False)


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


def _cut_at_stop(emitted: str, text: str, stops: tuple[str, ...]) -> tuple[str, bool]:
    """The part of ``text`` before any stop sequence, and whether one was reached."""
    if not stops:
        return text, False
    combined = emitted + text
    positions = [i for s in stops if (i := combined.find(s, max(0, len(emitted) - len(s)))) >= 0]
    if not positions:
        return text, False
    return combined[len(emitted) : min(positions)], True


def _fit(tokens: list[int], max_tokens: int, window: int) -> tuple[list[int], int]:
    """The prompt and answer length that fit the context window: the answer gives way first
    (down to a quarter of the window), then the prompt loses its oldest tokens."""
    room = window - len(tokens)
    if room >= max_tokens:
        return tokens, max_tokens
    answer = max(min(max_tokens, window // 4), room)
    keep = window - answer
    if keep < len(tokens):
        logger.warning("Local prompt of %d tokens cut to its last %d", len(tokens), keep)
        tokens = tokens[-keep:]
    return tokens, answer


def _token_text(context: Any, token: int) -> str:
    if token < 0:
        return ""
    return bytes(context.detokenize([token], special=True)).decode(errors="replace")
