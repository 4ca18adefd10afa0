"""The answer to a question a design agent is not built for: a comparison or an explanation.

The agents design from what a request names; asked "Kafka or RabbitMQ?" they would design a
"Rabbitmq Service". Instead they answer from the knowledge base, in its own sentences, and
say plainly when it has nothing on the question: no model prose is handed out as an answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import snowballstemmer

from memory.context import BuiltContext
from memory.knowledge import shipped_entries

__all__ = [
    "RELEVANT_SIMILARITY",
    "entry_section",
    "explanation_markdown",
    "quoted",
    "relevant_knowledge",
]

# Below this cosine a retrieved entry is merely the nearest, not about the question; above
# it, the nearest entry to an unrelated question still scores about as high as a relevant
# one (0.41 / 0.42), so an entry must also name something the question names.
RELEVANT_SIMILARITY = 0.4
_STEMMER = snowballstemmer.stemmer("english")
_WORD = re.compile(r"[a-z]{4,}")
_COMMON = frozenset(_STEMMER.stemWords(["with", "between", "which", "what", "when", "their"]))


def relevant_knowledge(context: BuiltContext | None, request: str) -> list[Mapping[str, object]]:
    """The retrieved knowledge entries that bear on the request: close to it, and with a
    title that shares a word with it."""
    if context is None:
        return []
    asked = _stems(request)
    return [
        k
        for k in context.knowledge
        if _similarity(k) >= RELEVANT_SIMILARITY
        and _stems(f"{k.get('title', '')} {k.get('id', '')}".replace("-", " ")) & asked
    ]


def entry_section(knowledge: Mapping[str, object], max_chars: int = 700) -> str:
    """A retrieved entry as a section: its title and its prose, without its code."""
    entry_id = str(knowledge.get("id", ""))
    entry = shipped_entries().get(entry_id)
    body = entry.body if entry is not None else str(knowledge.get("excerpt", ""))
    prose = re.sub(r"```.*?(?:```|$)", " ", body, flags=re.DOTALL)
    paragraphs = [" ".join(p.split()) for p in prose.split("\n\n") if p.strip()]
    text = ""
    for paragraph in paragraphs:
        if text and len(text) + len(paragraph) > max_chars:
            break
        text = f"{text}\n\n{paragraph}" if text else paragraph
    title = entry.title if entry is not None else knowledge.get("title", entry_id)
    return f"### {title} [{entry_id}]\n\n{text}" if text else ""


def _stems(text: str) -> set[str]:
    return set(_STEMMER.stemWords(_WORD.findall(text.lower()))) - _COMMON


def _similarity(knowledge: Mapping[str, object]) -> float:
    value = knowledge.get("similarity", 0.0)
    return float(value) if isinstance(value, int | float) else 0.0


def quoted(text: str) -> str:
    """``text`` as a Markdown block quote."""
    return "\n".join(f"> {line}" if line.strip() else ">" for line in text.splitlines())


def explanation_markdown(request: str, what_it_does: str, sections: Iterable[str]) -> str:
    """answer.md: the question, what the agent does, and what the knowledge base says."""
    found = [s for s in sections if s]
    if found:
        body = "What the knowledge base says that bears on it, in its own words:\n\n" + "\n\n".join(
            found
        )
    else:
        body = (
            "The knowledge base has no entry on this, so nothing is said rather than "
            "something invented."
        )
    return (
        f"# Your question\n\n{quoted(request)}\n\n{what_it_does} It does not write free-form "
        "explanations: the local model's prose is not reliable enough to hand you.\n\n"
        f"{body}\n"
    )
