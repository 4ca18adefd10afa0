"""Delegation over A2A: the orchestrator is a streaming client of each specialist.

Even the specialists served by this same process are called over HTTP with the SDK's
client, so a remote agent and a local one are driven by exactly the same code.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import cast

import httpx
from a2a.client import A2AClientError, ClientCallContext, ClientConfig, ClientFactory
from a2a.types import Message, SendMessageRequest, StreamResponse
from a2a.utils.constants import TransportProtocol

from agents.kit import USER_HEADER, FirstEventScheduler
from orchestrator.registry import RegisteredAgent


class DelegationError(RuntimeError):
    """A specialist could not be reached, broke the stream, or took too long."""


class Delegator:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        timeout_s: float,
        scheduler: FirstEventScheduler | None = None,
    ) -> None:
        config = ClientConfig(
            streaming=True,
            httpx_client=http,
            supported_protocol_bindings=[
                TransportProtocol.JSONRPC.value,
                TransportProtocol.HTTP_JSON.value,
            ],
        )
        self._factory = ClientFactory(config)
        self.timeout_s = timeout_s
        self._scheduler = scheduler or FirstEventScheduler()

    async def stream(
        self,
        agent: RegisteredAgent,
        message: Message,
        *,
        user_id: str,
        token: str | None = None,
    ) -> AsyncIterator[StreamResponse]:
        """The specialist's events as they come; raises ``DelegationError`` on any failure.

        ``token`` is the caller's verified bearer token when authentication is on. It goes
        to this server's own specialists, which verify it like any other call and so see
        the same user; it never goes to a remote agent, which could replay it here.
        """
        try:
            client = self._factory.create(agent.card)
        except ValueError as error:
            raise DelegationError(f"cannot call the {agent.name}: {error}") from error
        headers = {USER_HEADER: user_id}
        if token and not agent.remote:
            headers["Authorization"] = f"Bearer {token}"
        context = ClientCallContext(service_parameters=headers, timeout=self.timeout_s)
        # BaseClient.send_message is an async generator; typed as an iterator in the SDK.
        events = cast(
            AsyncGenerator[StreamResponse, None],
            client.send_message(SendMessageRequest(message=message), context=context),
        )
        deadline = time.monotonic() + self.timeout_s
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                async with self._scheduler.lending():  # the agent works, not this task
                    event = await asyncio.wait_for(anext(events, None), remaining)
                if event is None:  # the stream has ended
                    return
                yield event
        except TimeoutError as error:
            raise DelegationError(
                f"the {agent.name} did not finish within {self.timeout_s:.0f} s"
            ) from error
        except (A2AClientError, httpx.HTTPError) as error:
            url = agent.card.supported_interfaces[0].url if agent.card.supported_interfaces else "?"
            raise DelegationError(f"could not reach the {agent.name} at {url}: {error}") from error
        finally:
            await events.aclose()
