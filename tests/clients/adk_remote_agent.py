"""Run by Google ADK's own interpreter: a ``RemoteA2aAgent`` built from an agent card's URL,
run by an ADK ``Runner`` with an in-memory session service, sent one message.

Usage: ``python adk_remote_agent.py CARD_URL TEXT``. No model is involved: the remote agent
is the whole of this ADK app. Prints one JSON object: what ADK made of the exchange (its
events' text, the A2A task it saw, the session it kept). The test judges it.
"""

from __future__ import annotations

import asyncio
import json
import sys
import warnings
from typing import Any

from google.adk.agents.remote_a2a_agent import RemoteA2aAgent
from google.adk.events import Event
from google.adk.runners import Runner
from google.adk.sessions import InMemorySessionService
from google.genai import types

# ADK marks its A2A support experimental on every use; the warnings would bury real errors.
warnings.filterwarnings("ignore", message=r"\[EXPERIMENTAL\]")
APP, USER = "youmeyou-tests", "adk-client"


def described(event: Event) -> dict[str, Any]:
    """One ADK event: its text parts (thoughts are the remote task's working statuses), and
    the A2A task and state it came with."""
    parts = (event.content.parts if event.content else None) or []
    meta = event.custom_metadata or {}
    response = meta.get("a2a:response") or {}
    return {
        "author": event.author,
        "text": "".join(p.text or "" for p in parts),
        "thought": any(p.thought for p in parts),
        "partial": event.partial,
        "error": event.error_message,
        "task": meta.get("a2a:task_id"),
        "state": (response.get("status") or {}).get("state"),
    }


def artifacts_of(event: Event) -> dict[str, str]:
    """The artifacts of the A2A task that ``event`` came with, by name."""
    response = (event.custom_metadata or {}).get("a2a:response") or {}
    return {
        artifact.get("name", ""): "".join(p.get("text", "") for p in artifact.get("parts", []))
        for artifact in response.get("artifacts", [])
    }


async def main(card_url: str, text: str) -> None:
    agent = RemoteA2aAgent(name="validator", agent_card=card_url)
    sessions = InMemorySessionService()
    runner = Runner(app_name=APP, agent=agent, session_service=sessions)
    session = await sessions.create_session(app_name=APP, user_id=USER)
    message = types.Content(role="user", parts=[types.Part(text=text)])
    events: list[Event] = []
    try:
        async for event in runner.run_async(
            user_id=USER, session_id=session.id, new_message=message
        ):
            events.append(event)
    finally:
        await agent.cleanup()
    kept = await sessions.get_session(app_name=APP, user_id=USER, session_id=session.id)
    print(
        json.dumps(
            {
                "description": agent.description,  # adopted from the card it resolved
                "events": [described(e) for e in events],
                "artifacts": artifacts_of(events[-1]) if events else {},
                "session": [described(e) for e in (kept.events if kept else [])],
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:3]))
