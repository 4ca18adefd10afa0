"""The architecture agent's design time for ``make bench``: one request, parsed afresh.

A design is computed, not generated, so it should take milliseconds. The requests are the
architecture cases of both quality splits; each is timed once warm and once as a new text
(a trailing space defeats the parser's cache).
"""

from __future__ import annotations

import statistics
import time

from agents.design.system import design_system
from bench.quality import load_cases

DESIGN_TARGET_MS = 50.0


def _requests() -> list[str]:
    return [
        case.request
        for split in ("tuning", "holdout")
        for case in load_cases(split)
        if case.kind == "architecture"
    ]


def design_figures() -> tuple[float, float]:
    """p50 and p95, in ms, of designing a system from a request not seen before."""
    requests = _requests()
    for request in requests:
        design_system(request)  # models and the parser warm
    times = []
    for request in requests:
        started = time.perf_counter()
        design_system(request + " ")
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]
