"""Writes the database would not take before a stop, kept in the data dir until it does.

A server that stops while its database is away would otherwise lose them. The file holds
one JSON object a line, written whole to a temporary file and renamed over the old one,
so a crash mid-write leaves the previous file, never half of one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["SpillFile"]


class SpillFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, records: Iterable[dict[str, Any]]) -> int:
        """Replace the file with ``records``; how many were written."""
        lines = [json.dumps(record, separators=(",", ":")) for record in records]
        if not lines:
            self.remove()
            return 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(self.path.suffix + ".partial")
        with partial.open("w", encoding="utf-8") as file:
            file.write("\n".join(lines) + "\n")
            file.flush()
            os.fsync(file.fileno())
        partial.replace(self.path)
        return len(lines)

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8") as file:
            return [json.loads(line) for line in file if line.strip()]

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
