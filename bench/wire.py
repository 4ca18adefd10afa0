"""The one request body the bench's clients send: a v1.0 streaming message."""

from __future__ import annotations

import uuid
from typing import Any


def streaming_message(text: str) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "SendStreamingMessage",
        "params": {
            "message": {
                "role": "ROLE_USER",
                "messageId": str(uuid.uuid4()),
                "parts": [{"text": text}],
            }
        },
    }
