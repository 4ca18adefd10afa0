"""Held out: does the design generalize to requests written in other words?

HELD OUT. These requests were written before the design was changed for them and are never
tuned on: short asks, jargon, typos, clones of famous products, no "architecture" word. Each
lists what a user scans the diagram for: a node whose label contains one of the alternatives,
for every capability they named and for the obvious parts of the kind of system they asked
for. The judge is the user's one, not ours: label substrings, every label in the Markdown,
every edge between two nodes. The pass figure is reported, and the test holds it at a floor.
"""

from __future__ import annotations

import re

from agents.architecture import architecture_markdown
from agents.components import canvas
from agents.design.system import design_system

# (request, alternatives a node label must contain, one list per thing the user looks for)
HELD_OUT: list[tuple[str, list[list[str]]]] = [
    (
        "uber clone",
        [["driver"], ["trip", "ride"], ["location", "tracking"], ["payment"]],
    ),
    (
        "build me a webshop that sells sneakers",
        [["catalog", "product"], ["cart"], ["checkout", "order"], ["payment"], ["inventory"]],
    ),
    (
        "netflix-like streaming site",
        [["catalog"], ["stream", "playback"], ["cdn"], ["transcod"]],
    ),
    (
        "whatsapp style messenger w/ websockets and group chats",
        [["websocket"], ["group"], ["chat", "messag"], ["notification", "push"]],
    ),
    (
        "multiplayer game backend, matchmaking + leaderboards, needs low latency",
        [["game"], ["matchmak"], ["leaderboard"]],
    ),
    (
        "restaurant table reservation app with sms reminders",
        [["reservation"], ["sms", "notification", "reminder"]],
    ),
    (
        "design a payment gateway like stripe with webhooks and fraud checks",
        [["payment"], ["webhook"], ["fraud"]],
    ),
    (
        "LMS for universities: courses, assignments, grades, video lectures",
        [["course"], ["assignment"], ["grade"], ["video", "media", "lecture"]],
    ),
    (
        "url shortner w/ analytics and redis cache",
        [["shorten", "url"], ["analytic"], ["redis"]],
    ),
    (
        "Spotify clone",
        [["playlist"], ["stream", "playback"], ["search"]],
    ),
    (
        "hospital system — patient records, appointments, billing, HIPAA",
        [["patient"], ["appointment"], ["billing", "payment"]],
    ),
    (
        "IoT fleet tracking with mqtt, kafka and a time series db",
        [["mqtt"], ["kafka"], ["time-series", "time series", "timeseries"], ["tracking"]],
    ),
    (
        "news feed for a social app, fanout on write, 50M DAU",
        [["feed"], ["post"], ["cache"], ["fanout", "fan-out"]],
    ),
    (
        "food delivery like doordash",
        [["restaurant"], ["order"], ["courier", "driver", "delivery"], ["payment"]],
    ),
    (
        "airbnb for boats",
        [["listing"], ["booking", "reservation"], ["payment"], ["search"]],
    ),
    (
        "crm w/ contacts, deals pipeline, email campaigns and cron jobs for follow-ups",
        [["contact"], ["deal"], ["campaign"], ["cron", "scheduler"]],
    ),
    (
        "event ticketing like ticketmaster, seat selection, a queue for high demand",
        [["ticket"], ["seat"], ["queue"], ["payment"]],
    ),
    (
        "graphql api for a blog with comments and elasticsearch",
        [["graphql"], ["post", "blog", "article"], ["comment"], ["elasticsearch"]],
    ),
    (
        "logistics platform: shipments, warehouses, route optimization",
        [["shipment"], ["warehouse"], ["route"]],
    ),
    (
        "how would you build a search engine",
        [["crawl"], ["index"], ["search", "query"]],
    ),
]


def misses(request: str, wanted: list[list[str]]) -> list[str]:
    """What a user would not find, as the independent judge reads the two artifacts."""
    design = design_system(request)
    diagram = canvas(design)
    nodes = diagram["nodes"]
    edges = diagram["edges"]
    assert isinstance(nodes, list) and isinstance(edges, list)
    labels = [str(n["label"]).lower() for n in nodes]
    ids = {n["id"] for n in nodes}
    found = [
        f"no node for {'/'.join(alternatives)}"
        for alternatives in wanted
        if not any(a in label for a in alternatives for label in labels)
    ]
    prose = " ".join(architecture_markdown(design).lower().split())
    found += [f"{label!r} not in architecture.md" for label in labels if label not in prose]
    found += [f"edge {e['id']} dangles" for e in edges if not {e["source"], e["target"]} <= ids]
    return found


def held_out_figure() -> tuple[int, dict[str, list[str]]]:
    failures = {r: m for r, wanted in HELD_OUT if (m := misses(r, wanted))}
    return len(HELD_OUT) - len(failures), failures


def test_held_out_requests_get_what_a_user_looks_for() -> None:
    passed, failures = held_out_figure()
    print(f"held-out: {passed}/{len(HELD_OUT)}")
    for request, missed in failures.items():
        print(f"  {request!r}: {missed}")
    # The floor is below the measured figure (see the report); a regression trips it.
    assert passed >= FLOOR, failures


FLOOR = 15  # measured 17/20 after the change, 6/20 before it


def test_every_node_is_labelled_and_the_held_out_list_is_large_enough() -> None:
    assert len(HELD_OUT) >= 15
    assert all(re.search(r"\w", r) for r, _ in HELD_OUT)
