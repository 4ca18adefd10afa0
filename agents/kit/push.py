"""Push notifications: every event of a task POSTed to the webhooks its clients configured.

The a2a-sdk hands each event of a task to the sender as the task processes it, and waits.
So the sender only looks the task's configs up and queues the event: delivery runs apart,
one queue per webhook, each in order, retried with backoff, each attempt bounded in time.
A slow or dead webhook then delays neither the task nor the other webhooks.

Delivery is at least once: an attempt that times out after the receiver took it is sent
again. Each body is the event's ``StreamResponse``, as a stream would carry it, so a
receiver can tell the events apart and order them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx
from a2a.server.context import ServerCallContext
from a2a.server.tasks import (
    DatabasePushNotificationConfigStore,
    PushNotificationConfigStore,
    PushNotificationSender,
)
from a2a.server.tasks.push_notification_sender import PushNotificationEvent
from a2a.types import TaskPushNotificationConfig
from a2a.utils.proto_utils import to_stream_response
from cachetools import TTLCache
from google.protobuf.json_format import MessageToDict
from sqlalchemy import select

from agents.kit.push_addresses import (
    PushAddresses,
    PushTarget,
    UnresolvedPushHost,
    UnsafePushUrl,
)

__all__ = ["DeliveryPolicy", "PushConfigs", "PushDeliveries", "PushNotifications", "PushSender"]

logger = logging.getLogger(__name__)

# How long a task's configs, as read for dispatch, are reused: a config set through this
# process is seen at once (the cache is told); one set through another replica within this.
_DISPATCH_CACHE_S = 1.0
_RETRIED_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class PushConfigs(PushNotificationConfigStore):
    """A config store whose dispatch reads are cached briefly, since every event asks.

    Most tasks have no webhook: without the cache each of their events would cost a query,
    and while no task has one at all (in SQL, one query a second says so), none is made.
    """

    def __init__(self, store: PushNotificationConfigStore, *, max_tasks: int = 4096) -> None:
        self.store = store
        self._dispatch: TTLCache[str, list[TaskPushNotificationConfig]] = TTLCache(
            maxsize=max_tasks, ttl=_DISPATCH_CACHE_S
        )
        self._none_until = 0.0  # before this (monotonic), no task anywhere has a config
        self._checking = asyncio.Lock()

    async def initialize(self) -> None:
        """Create the store's table if it has one (at start, under the schema lock)."""
        if isinstance(self.store, DatabasePushNotificationConfigStore):
            await self.store.initialize()

    async def set_info(
        self,
        task_id: str,
        notification_config: TaskPushNotificationConfig,
        context: ServerCallContext,
    ) -> TaskPushNotificationConfig | None:
        self._dispatch.pop(task_id, None)
        kept = await self.store.set_info(task_id, notification_config, context)
        async with self._checking:  # after any check that began before the write
            self._none_until = 0.0
        return kept

    async def get_info(
        self, task_id: str, context: ServerCallContext
    ) -> list[TaskPushNotificationConfig]:
        return await self.store.get_info(task_id, context)

    async def get_info_for_dispatch(self, task_id: str) -> list[TaskPushNotificationConfig]:
        cached = self._dispatch.get(task_id)
        if cached is None:
            if await self._none_anywhere():
                return []
            cached = self._dispatch[task_id] = await self.store.get_info_for_dispatch(task_id)
        return cached

    async def _none_anywhere(self) -> bool:
        """Whether the SQL store holds no config at all (known for a second at a time)."""
        store = self.store
        if not isinstance(store, DatabasePushNotificationConfigStore):
            return False
        async with self._checking:  # the events waiting meanwhile share the one answer
            if time.monotonic() < self._none_until:
                return True
            async with store.engine.connect() as connection:
                any_row = select(store.config_model.task_id).limit(1)
                found = (await connection.execute(any_row)).first() is not None
            if not found:
                self._none_until = time.monotonic() + _DISPATCH_CACHE_S
            return not found

    async def delete_info(
        self, task_id: str, context: ServerCallContext, config_id: str | None = None
    ) -> None:
        self._dispatch.pop(task_id, None)
        await self.store.delete_info(task_id, context, config_id)


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How hard one notification is tried: ``attempts`` of at most ``timeout_s`` each, the
    waits between them doubling from ``backoff_s`` up to ``backoff_max_s``."""

    timeout_s: float = 5.0
    attempts: int = 4
    backoff_s: float = 0.5
    backoff_max_s: float = 8.0

    def wait_before(self, attempt: int) -> float:
        return 0.0 if attempt == 0 else min(self.backoff_max_s, self.backoff_s * 2 ** (attempt - 1))


@dataclass(slots=True)
class _Webhook:
    config: TaskPushNotificationConfig
    bodies: deque[bytes] = field(default_factory=deque)


class PushDeliveries:
    """The queues of notifications still to deliver, one per webhook of a task."""

    def __init__(
        self, client: httpx.AsyncClient, addresses: PushAddresses, policy: DeliveryPolicy
    ) -> None:
        self._client = client
        self._addresses = addresses
        self._policy = policy
        self._webhooks: dict[tuple[str, str, str], _Webhook] = {}
        self._workers: set[asyncio.Task[None]] = set()
        self.delivered = 0
        self.failed = 0
        self._closed = False

    def enqueue(self, config: TaskPushNotificationConfig, body: bytes) -> None:
        """Queue ``body`` for ``config``'s webhook, after what is queued for it already."""
        if self._closed:
            logger.warning("push notification to %s dropped: stopping", _described(config))
            return
        key = (config.task_id, config.id, config.url)
        webhook = self._webhooks.get(key)
        if webhook is None:
            webhook = self._webhooks[key] = _Webhook(config)
            worker = asyncio.get_running_loop().create_task(self._drain(key, webhook))
            self._workers.add(worker)
            worker.add_done_callback(self._workers.discard)
        webhook.bodies.append(body)

    async def close(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` for the queues to empty; drop what is left, logged."""
        self._closed = True
        if self._workers:
            _, pending = await asyncio.wait(set(self._workers), timeout=timeout_s)
            for worker in pending:
                worker.cancel()
            left = sum(len(w.bodies) for w in self._webhooks.values())
            if left:
                logger.warning("stopping: %d push notification(s) left undelivered", left)
            await asyncio.gather(*pending, return_exceptions=True)
        await self._client.aclose()

    async def _drain(self, key: tuple[str, str, str], webhook: _Webhook) -> None:
        while webhook.bodies:
            delivered = await self._deliver(webhook.config, webhook.bodies[0])
            webhook.bodies.popleft()
            if delivered:
                self.delivered += 1
            else:
                self.failed += 1
        del self._webhooks[key]  # nothing awaited since the queue was seen empty

    async def _deliver(self, config: TaskPushNotificationConfig, body: bytes) -> bool:
        where = _described(config)
        for attempt in range(self._policy.attempts):
            await asyncio.sleep(self._policy.wait_before(attempt))
            try:
                target = await self._addresses.target(config.url)
            except UnresolvedPushHost:
                logger.info("push notification to %s: its host does not resolve", where)
                continue
            except UnsafePushUrl as refused:
                logger.warning("push notification to %s not sent: %s", where, refused)
                return False
            try:
                status = await asyncio.wait_for(
                    self._post(target, config, body), self._policy.timeout_s
                )
            except (httpx.HTTPError, TimeoutError) as error:
                logger.info("push notification to %s: %s", where, type(error).__name__)
                continue
            if status < 300:
                return True
            logger.info("push notification to %s answered %d", where, status)
            if status not in _RETRIED_STATUSES:
                return False
        logger.warning("push notification to %s failed %d times", where, self._policy.attempts)
        return False

    async def _post(
        self, target: PushTarget, config: TaskPushNotificationConfig, body: bytes
    ) -> int:
        headers = {"Host": target.host, "Content-Type": "application/json", **_auth(config)}
        extensions = {"sni_hostname": target.server_name} if target.https else {}
        response = await self._client.post(
            target.url, content=body, headers=headers, extensions=extensions
        )
        return response.status_code


def _auth(config: TaskPushNotificationConfig) -> Mapping[str, str]:
    """The headers that prove to the receiver the notification is the one it asked for."""
    headers = {}
    if config.token:
        headers["X-A2A-Notification-Token"] = config.token
    scheme, credentials = config.authentication.scheme, config.authentication.credentials
    if config.HasField("authentication") and scheme and credentials:
        headers["Authorization"] = f"{scheme} {credentials}"
    return headers


def _described(config: TaskPushNotificationConfig) -> str:
    """A webhook as logs name it: its task and config, never its URL's path or query,
    which may carry a secret."""
    return f"task {config.task_id} config {config.id}"


class PushSender(PushNotificationSender):
    """One agent's sender: looks up the task's webhooks and queues the event for each."""

    def __init__(self, configs: PushNotificationConfigStore, deliveries: PushDeliveries) -> None:
        self._configs = configs
        self._deliveries = deliveries

    async def send_notification(self, task_id: str, event: PushNotificationEvent) -> None:
        webhooks = await self._configs.get_info_for_dispatch(task_id)
        if not webhooks:
            return
        body = json.dumps(MessageToDict(to_stream_response(event))).encode()
        for config in webhooks:
            self._deliveries.enqueue(config, body)


@dataclass(frozen=True, slots=True)
class PushNotifications:
    """What an agent's request handler needs for push notifications, shared by every agent
    of a server: the configs, the sender, and the check a webhook URL must pass when set."""

    configs: PushConfigs
    sender: PushSender
    addresses: PushAddresses
    deliveries: PushDeliveries

    @classmethod
    def create(
        cls,
        store: PushNotificationConfigStore,
        addresses: PushAddresses,
        policy: DeliveryPolicy,
    ) -> PushNotifications:
        # Redirects are not followed: the place they name has not been checked.
        client = httpx.AsyncClient(follow_redirects=False, trust_env=False)
        deliveries = PushDeliveries(client, addresses, policy)
        configs = PushConfigs(store)
        return cls(configs, PushSender(configs, deliveries), addresses, deliveries)

    async def close(self, timeout_s: float) -> None:
        await self.deliveries.close(timeout_s)
