"""The server's face: build the full server, or one specialist alone."""

from youmeyou.builders import build_agent_app, build_app
from youmeyou.parts import Models
from youmeyou.runtime import freeze_heap

__all__ = ["Models", "build_agent_app", "build_app", "freeze_heap"]
