"""Tasks that every replica sees live: snapshots and event streams in Redis.

Several servers behind one load balancer share PostgreSQL, but a task's updates reach the
database only behind its events (``memory.tasks``), and its events only reach clients of the
replica that runs it. Through the SDK's cluster interfaces, each replica here also:

- keeps the task's latest snapshot, with a version counting its writes, in a Redis hash
  (``SharedTaskStore``), written before each event goes out, so GetTask on any replica
  sees a task from its first event on;
- appends each event with that version to a Redis stream (``RedisTaskEventStream``), which
  SubscribeToTask on another replica reads after the snapshot it started from: every later
  event once, in order.

The database stays the store of record: Redis holds a task for ``ttl_s`` after its last
write. While Redis is away, the replica falls back to its own database and memory.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncGenerator
from typing import Any, cast

from a2a.server.cluster import (
    StoredTask,
    TaskEventStream,
    TaskVersion,
    VersionedEvent,
    VersionedTaskStore,
)
from a2a.server.cluster.database_event_stream import stream_response_to_event
from a2a.server.context import ServerCallContext
from a2a.server.events import Event
from a2a.server.owner_resolver import OwnerResolver, resolve_user_scope
from a2a.types import ListTasksRequest, ListTasksResponse, StreamResponse, Task
from a2a.utils.proto_utils import to_stream_response
from redis.asyncio import Redis
from redis.exceptions import RedisError

from memory.tasks import WriteBehindTaskStore

__all__ = ["RedisTaskEventStream", "SharedTaskStore"]

logger = logging.getLogger(__name__)

_DAY_S = 24 * 3600
# Version and snapshot in one step: the version is the hash's write count.
_SAVE = """
local version = redis.call('HINCRBY', KEYS[1], 'v', 1)
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'task', ARGV[2])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return version
"""


class SharedTaskStore(VersionedTaskStore):
    """``tasks`` (the database, written behind), with each task's latest version in Redis."""

    def __init__(
        self,
        tasks: WriteBehindTaskStore,
        redis: Redis,
        *,
        namespace: str,
        ttl_s: int = _DAY_S,
        owner_resolver: OwnerResolver = resolve_user_scope,
    ) -> None:
        self.tasks = tasks
        self._redis = redis
        self._namespace = namespace
        self._ttl_s = ttl_s
        self._owner = owner_resolver
        self._save = redis.register_script(_SAVE)

    def _key(self, task_id: str) -> str:
        return f"{self._namespace}task:{task_id}"

    async def save(
        self,
        task: Task,
        *,
        event: Event | None,
        prev: Task | None,
        prev_version: TaskVersion,
        context: ServerCallContext,
    ) -> TaskVersion:
        del event, prev, prev_version  # one replica writes a running task; cancels overwrite
        await self.tasks.save(task, context)
        try:
            args = [self._owner(context), task.SerializeToString(), self._ttl_s]
            version = await self._save(keys=[self._key(task.id)], args=args)
        except RedisError as error:
            logger.warning("task %s not shared through Redis: %s", task.id, error)
            return TaskVersion.MISSING
        return TaskVersion(int(cast(int, version)))

    async def get(self, task_id: str, context: ServerCallContext) -> StoredTask | None:
        try:
            version, owner, data = await self._redis.hmget(
                self._key(task_id), ["v", "owner", "task"]
            )
        except RedisError as error:
            logger.warning("shared task %s unreadable in Redis: %s", task_id, error)
            version = None
        if version is not None and data is not None:
            if cast(bytes, owner).decode() != self._owner(context):
                return None  # someone else's task: as absent as it is in the database
            task = Task()
            task.ParseFromString(data)
            return StoredTask(task, TaskVersion(int(version)))
        found = await self.tasks.get(task_id, context)
        return None if found is None else StoredTask(found, TaskVersion.MISSING)

    async def list(self, params: ListTasksRequest, context: ServerCallContext) -> ListTasksResponse:
        return await self.tasks.list(params, context)

    async def delete(self, task_id: str, context: ServerCallContext) -> None:
        await self.tasks.delete(task_id, context)
        try:
            await self._redis.delete(self._key(task_id))
        except RedisError as error:
            logger.warning("shared task %s not deleted from Redis: %s", task_id, error)


class RedisTaskEventStream(TaskEventStream):
    """Each task's events, with their versions, in a Redis stream every replica reads."""

    def __init__(
        self,
        redis: Redis,
        *,
        namespace: str,
        ttl_s: int = _DAY_S,
        block_ms: int = 5000,
        max_events: int = 10_000,
    ) -> None:
        self._redis = redis
        self._namespace = namespace
        self._ttl_s = ttl_s
        self._block_ms = block_ms
        self._max_events = max_events

    def _key(self, task_id: str) -> str:
        return f"{self._namespace}events:{task_id}"

    async def publish(self, task_id: str, event: VersionedEvent) -> None:
        if event.version.is_missing:
            return  # the snapshot was not shared: a reader could not place this event
        version = int(event.version._value)
        fields: dict[bytes | bytearray | memoryview[int] | str | int | float, Any] = {
            "v": version,
            "e": to_stream_response(event.event).SerializeToString(),
        }
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.xadd(self._key(task_id), fields, maxlen=self._max_events, approximate=True)
                pipe.expire(self._key(task_id), self._ttl_s)
                await pipe.execute()
        except RedisError as error:
            logger.warning("event of task %s not shared through Redis: %s", task_id, error)

    async def subscribe(
        self, task_id: str, *, after: TaskVersion
    ) -> AsyncGenerator[VersionedEvent, None]:
        """Every event newer than ``after``, from the stream's start, then as they come."""
        key, last = self._key(task_id), b"0"
        while True:
            answer = await self._redis.xread({key: last}, count=100, block=self._block_ms)
            for _, entries in cast(
                list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]], answer or []
            ):
                for entry_id, fields in entries:
                    last = entry_id
                    version = TaskVersion(int(fields[b"v"]))
                    if not version.is_after(after):
                        continue
                    response = StreamResponse()
                    response.ParseFromString(fields[b"e"])
                    yield VersionedEvent(stream_response_to_event(response), version)

    async def destroy(self, task_id: str) -> None:
        with contextlib.suppress(RedisError):
            await self._redis.expire(self._key(task_id), 300)  # late readers still find it
