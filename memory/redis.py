"""The one way this server makes Redis clients, and keeps Redis URLs fit for logs.

Every Redis-backed part (sessions, caches, budgets) has an answer of its own when Redis is
away: an in-process fallback or a cache miss. So every client fails fast: redis-py's
default retries ten times with backoff, which would make a request wait seconds for an
answer the process could give at once. ``timeout_s`` is each caller's own: a cache must
cost less than the miss it saves, a session read may wait a little longer.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

import redis
import redis.asyncio
import redis.exceptions
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

__all__ = ["UNAVAILABLE", "redact", "redact_url", "redis_client", "sync_redis_client"]

# Errors that say Redis is unreachable, as opposed to the request being wrong.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    TimeoutError,
    OSError,
)

DEFAULT_RETRIES = 1


def _backoff() -> ExponentialBackoff:
    return ExponentialBackoff(cap=0.1, base=0.01)


def redis_client(
    url: str,
    *,
    timeout_s: float,
    retries: int = DEFAULT_RETRIES,
    read_timeout_s: float | None = None,
) -> redis.asyncio.Redis:
    """An asyncio client for ``url`` that gives up after ``timeout_s`` and ``retries``
    (a read after ``read_timeout_s``, when given: a blocking read waits longer)."""
    return redis.asyncio.Redis.from_url(
        url,
        socket_timeout=read_timeout_s or timeout_s,
        socket_connect_timeout=timeout_s,
        retry=AsyncRetry(_backoff(), retries),
    )


def sync_redis_client(url: str, *, timeout_s: float, retries: int = DEFAULT_RETRIES) -> redis.Redis:
    """``redis_client``'s blocking twin, for callers in worker threads (the embedder)."""
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(_backoff(), retries),
    )


_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^@/\s]*@", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with the credentials of any URL in it replaced by ``***``."""
    return _CREDENTIALS.sub(r"\g<scheme>***@", text)


def redact_url(url: str) -> str:
    """``url`` without its password, fit for a log line."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:" if parts.username else ":"
    return urlunsplit(parts._replace(netloc=f"{user}***@{netloc}"))
