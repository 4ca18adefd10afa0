"""The architecture specialist: a system design as Markdown and as a canvas diagram.

Everything it writes is built from one typed design (``agents.design.system``) and from the
knowledge base's pattern entries: the 135M local model writes filler at this size, so no
model prose goes into these artifacts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from agents.components import canvas
from agents.design import SystemDesign, asks_for_explanation, design_system
from agents.explanations import explanation_markdown, quoted, relevant_knowledge
from agents.specialist import SpecialistExecutor, Work
from memory.catalogue import SERVICES, Component, services_for
from memory.knowledge import KnowledgeEntry, shipped_entries

__all__ = [
    "DEFAULT_STACK",
    "ArchitectureExecutor",
    "PatternNote",
    "architecture_markdown",
    "pattern_note",
]

DEFAULT_STACK = ["Python 3.11", "FastAPI", "PostgreSQL", "Redis"]


class ArchitectureExecutor(SpecialistExecutor):
    agent_id = "architecture"
    title = "The architecture agent"

    async def work(self, work: Work) -> str:
        kind = work.order.kind
        if kind == "analysis":
            return await self._analysis(work)
        if kind == "planning":
            return await self._planning(work)
        return await self._design(work)

    async def _analysis(self, work: Work) -> str:
        design = _design_of(work)
        await work.say(f"Analysing the request: {len(design.services)} services in scope.")
        await work.send("analysis.md", analysis_markdown(design), "text/markdown")
        return f"Analysis ready: {len(design.services)} services in scope."

    async def _planning(self, work: Work) -> str:
        design = _design_of(work)
        components = _planned(work.order.components, design)
        stack = list(work.order.tech_stack) or DEFAULT_STACK
        await work.say(f"Planning {len(components)} components.")
        await work.send("plan.md", plan_markdown(design, components, stack), "text/markdown")
        # The plan's system as a diagram too: the canvas draws it while the user decides.
        diagram = json.dumps(canvas(design), indent=2)
        await work.send("architecture.canvas.json", diagram, "application/json")
        return f"Plan ready: {len(components)} components."

    async def _design(self, work: Work) -> str:
        design = _design_of(work)
        if asks_for_explanation(work.order.request):
            return await self._explain(work, design)
        await work.say(
            f"Designing a system of {len(design.components)} components "
            f"from {len(design.reading.capabilities)} named capabilities."
        )
        retrieved = work.context.knowledge if work.context is not None else []
        document = architecture_markdown(design, retrieved) + work.references
        await work.send("architecture.md", document, "text/markdown")
        diagram = canvas(design)
        await work.send(
            "architecture.canvas.json", json.dumps(diagram, indent=2), "application/json"
        )
        return (
            f"Architecture ready: {len(design.components)} components, "
            f"{len(design.connections)} connections, {len(design.patterns)} patterns."
        )

    async def _explain(self, work: Work, design: SystemDesign) -> str:
        """A comparison or an explanation: the patterns it touches, from the knowledge base."""
        used = {p.id for p in design.patterns}
        sections = [_note_section(note, reason) for note, reason in _notes(design)]
        sections += [
            _retrieved_section(k)
            for k in relevant_knowledge(work.context, work.order.request)
            if str(k.get("id", "")) not in used
        ]
        document = explanation_markdown(work.order.request, _WHAT_IT_DOES, sections)
        await work.send("answer.md", document, "text/markdown")
        found = sum(1 for section in sections if section)
        if not found:
            return "No entry of the knowledge base answers this question; see answer.md."
        return f"Answered from {found} knowledge-base entries in answer.md."


_WHAT_IT_DOES = (
    "The architecture agent designs systems from what a request names: components, "
    "connections and the patterns they need."
)


def _design_of(work: Work) -> SystemDesign:
    """The design of the request, with the user's changes to this step read as part of it."""
    changes = [v for k, v in work.order.changes.items() if k != "complexity"]
    return design_system(" ".join([work.order.request, *changes]))


def _planned(wanted: Iterable[str], design: SystemDesign) -> list[Component]:
    """The catalogue components the plan builds: the orchestrator's choice, else the design's."""
    by_module = {c.module: c for c in SERVICES}
    chosen = [by_module[m] for m in wanted if m in by_module]
    if chosen:
        return chosen
    reused = [by_module[c.module] for c in design.services if c.module in by_module]
    return reused or services_for(design.request)


# -- architecture.md -------------------------------------------------------------------------


def architecture_markdown(
    design: SystemDesign, retrieved: Iterable[Mapping[str, object]] = ()
) -> str:
    """The request, the components, the connections and the knowledge-based design notes."""
    names = {c.id: c.name for c in design.components}
    components = "\n".join(
        _component_line(c.name, c.kind, c.responsibility, c.covers) for c in design.components
    )
    connections = "\n".join(
        f"- {names[c.source]} → {names[c.target]}: {c.label}" for c in design.connections
    )
    notes = [_note_section(note, reason) for note, reason in _notes(design)]
    used = {p.id for p in design.patterns}
    notes += [_retrieved_section(k) for k in retrieved if str(k.get("id", "")) not in used]
    notes_text = "\n\n".join(n for n in notes if n) or (
        "No knowledge-base pattern applies beyond the components above."
    )
    return (
        f"# Architecture\n\n{quoted(design.request)}\n\n{_kind_line(design)}"
        f"## Components\n\n{components}\n\n"
        f"## Connections\n\n{connections}\n\n## Design notes\n\n{notes_text}\n"
    )


def _kind_line(design: SystemDesign) -> str:
    """Which kind of system the request was read as, and what that added, said plainly."""
    if not design.kinds:
        return ""
    kinds = " and ".join(
        f"{'an' if kind[0] in 'aeio' else 'a'} {kind} system" for kind in design.kinds
    )
    if not design.implied:
        return f"Read as {kinds}.\n\n"
    added = ", ".join(design.implied)
    return f"Read as {kinds}; its usual parts not named in the request were added: {added}.\n\n"


def _component_line(name: str, kind: str, responsibility: str, covers: tuple[str, ...]) -> str:
    served = f" Serves: {', '.join(covers)}." if covers else ""
    return f"- **{name}** ({kind}): {responsibility}{served}"


def _note_section(note: PatternNote, reason: str) -> str:
    parts = [f"### {note.title} [{note.id}]", f"Used here for {reason}. {note.summary}"]
    if note.when:
        parts.append(f"When to use it: {note.when}")
    if note.tradeoffs:
        parts.append(f"Trade-offs: {note.tradeoffs}")
    if note.rules:
        parts.append("\n".join(f"- {rule}" for rule in note.rules))
    return "\n\n".join(parts)


def _retrieved_section(knowledge: Mapping[str, object]) -> str:
    """A cited entry the orchestrator retrieved: the knowledge base's text when it has it."""
    entry_id = str(knowledge.get("id", ""))
    entry = shipped_entries().get(entry_id)
    if entry is not None and entry.kind == "architecture-pattern":
        return _note_section(
            pattern_note(entry), "what the knowledge search found for this request"
        )
    excerpt = " ".join(str(knowledge.get("excerpt", "")).split())
    if not entry_id or not excerpt:
        return ""
    return f"### {knowledge.get('title', entry_id)} [{entry_id}]\n\n{excerpt}"


def _notes(design: SystemDesign) -> list[tuple[PatternNote, str]]:
    entries = shipped_entries()
    return [(pattern_note(entries[p.id]), p.reason) for p in design.patterns if p.id in entries]


# -- reading knowledge entries -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PatternNote:
    """What a design note says about one pattern, in the knowledge entry's own sentences."""

    id: str
    title: str
    summary: str  # what the pattern is
    when: str  # when to use it ('' when the entry does not say)
    tradeoffs: str  # its costs and catches
    rules: tuple[str, ...]  # up to three of its rules


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`*(\"])")
_WHEN = re.compile(r"\b(?:use it when|use them when|use this when|decide early)\b", re.I)
_COST = re.compile(
    r"trade-?off|\bcatch\b|\bbut\b|\bcost|\blag\b|\blost\b|\bleaks?\b|\brisk|single point|"
    r"at-least-once|\bnot a backup|\bcomplex|\bslower|\bstale|\bnever\b|\bcannot\b|\bmust\b",
    re.I,
)


def pattern_note(entry: KnowledgeEntry) -> PatternNote:
    """The entry's first paragraph, its 'when to use' sentence, its trade-offs and rules."""
    blocks = _prose_blocks(entry.body)
    sentences = [_unlabelled(s) for block in blocks for s in _SENTENCE_END.split(block)]
    sentences = [s for s in sentences if s]
    bullets = [_unlabelled(b) for b in _bullets(entry.body)]
    summary = _clip(" ".join(_SENTENCE_END.split(blocks[0])[:3]) if blocks else entry.title)
    when = next((s for s in sentences if _WHEN.search(s)), "")
    costs = [
        s for s in [*sentences[1:], *bullets] if _COST.search(s) and s not in summary and s != when
    ]
    rules = tuple(_clip(r, 220) for r in bullets[:3])
    return PatternNote(
        entry.id, entry.title, summary, _clip(when), _clip(" ".join(costs[:2])), rules
    )


def _unlabelled(text: str) -> str:
    """'**Guarantees**: at-least-once' -> 'at-least-once'; a label alone -> ''."""
    return re.sub(r"^\*\*[^*]+\*\*:?\s*", "", text.strip()).strip()


def _prose_blocks(body: str) -> list[str]:
    """The paragraphs of a Markdown body before any list, table or code, one line each."""
    without_code = re.sub(r"```.*?```", "", body, flags=re.S)
    blocks = []
    for block in re.split(r"\n\s*\n", without_code):
        lines = []
        for line in block.splitlines():
            if re.match(r"\s*(?:[-*|#]|\d+\.)\s", line) or line.startswith(" "):
                break  # a list or a table: the prose of this block ends here
            lines.append(line.strip())
        text = " ".join(lines)
        if _unlabelled(text):
            blocks.append(text)
    return blocks


def _bullets(body: str) -> list[str]:
    """Bullet and numbered items, their continuation lines joined."""
    items: list[str] = []
    for line in re.sub(r"```.*?```", "", body, flags=re.S).splitlines():
        match = re.match(r"\s*(?:[-*]|\d+\.)\s+(.*)", line)
        if match:
            items.append(match.group(1).strip())
        elif items and line.startswith("  ") and line.strip():
            items[-1] += " " + line.strip()
    return items


def _clip(text: str, limit: int = 600) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


# -- analysis.md and plan.md ------------------------------------------------------------------


def analysis_markdown(design: SystemDesign) -> str:
    """In scope, the stated requirements, what the patterns require, and the risks."""
    names = _served_by(design)
    functional = (
        "\n".join(
            f"- {c.phrase.capitalize()}: {names.get(c.phrase, 'not placed')}"
            for c in design.reading.capabilities
        )
        or "- None named beyond the system itself."
    )
    stated = (
        "\n".join(f"- {r.kind.capitalize()}: {r.text}" for r in design.reading.requirements)
        or "- None stated (no figures, latency or security terms in the request)."
    )
    implied = "\n".join(f"- {p.reason.capitalize()} [{p.id}]" for p in design.patterns)
    return (
        f"# Analysis\n\n{quoted(design.request)}\n\n## In scope\n\n"
        + "\n".join(_component_line(c.name, c.kind, c.responsibility, ()) for c in design.services)
        + f"\n\n## Requirements\n\n### Functional\n\n{functional}\n\n"
        f"### Stated constraints\n\n{stated}\n\n"
        f"### What the design must handle\n\n{implied or '- Nothing beyond plain CRUD.'}\n\n"
        f"## Risks\n\n{_risks(design)}\n"
    )


def _served_by(design: SystemDesign) -> dict[str, str]:
    served: dict[str, str] = {}
    for component in design.components:
        for phrase in component.covers:
            served.setdefault(phrase, component.name)
    for capability in design.reading.capabilities:
        if capability.phrase not in served:
            # A phrase served under a shorter name ('telegram chat' as 'chat'), else the edge.
            same_head = (n for p, n in served.items() if p.split()[-1] == capability.head)
            served[capability.phrase] = next(same_head, design.component("api-gateway").name)
    return served


def _risks(design: SystemDesign) -> str:
    risks = [
        f"- {note.title}: {note.tradeoffs or note.summary} [{note.id}]"
        for note, _ in _notes(design)
    ]
    return "\n".join(risks) or "- No pattern-specific risks; keep the services small."


def plan_markdown(design: SystemDesign, components: list[Component], stack: list[str]) -> str:
    """The stack, the catalogue components to build (by module), the rest, the approach."""
    tasks = "\n".join(
        f"{n}. **{c.name}** (`{c.module}`): {c.responsibility}"
        + (f" Tables: {', '.join(t.name for t in c.tables)}." if c.tables else "")
        for n, c in enumerate(components, start=1)
    )
    built = {c.id for c in components}
    others = [c for c in design.components if c.id not in built and c.kind != "client"]
    rest = "\n".join(_component_line(c.name, c.kind, c.responsibility, ()) for c in others)
    return (
        f"# Plan\n\n{quoted(design.request)}\n\n## Tech stack\n\n{', '.join(stack)}\n\n"
        f"## Components to build\n\n{tasks}\n\n## Also in the design\n\n"
        f"{rest or '- Nothing else.'}\n\n## Approach\n\n{_approach(design, components)}\n"
    )


def _approach(design: SystemDesign, components: list[Component]) -> str:
    names = [c.name for c in components]
    first = [n for n in names if n == "Auth Service"]
    order = first + [n for n in names if n not in first]
    steps = [
        "Start with the data: one PostgreSQL schema per service in the Primary Database, "
        "each service the only writer of its tables.",
        f"Build in this order: {', '.join(order)}"
        + (
            " (identity first: every other service trusts the gateway's user id)." if first else "."
        ),
        "Clients call the API Gateway over HTTPS; it authenticates each call and routes REST "
        "requests to the services, which never call each other's tables.",
    ]
    ids = {c.id for c in design.components}
    if "event-bus" in ids:
        steps.append(
            "Services publish what happened as events on the Event Bus"
            + (" through the transactional outbox" if "outbox-relay" in ids else "")
            + "; consumers deduplicate by event id."
        )
    watch = [f"{note.title} [{note.id}]" for note, _ in _notes(design)][:4]
    if watch:
        steps.append(f"Watch out for the trade-offs of {', '.join(watch)} (see analysis.md).")
    return "\n".join(f"{n}. {step}" for n, step in enumerate(steps, start=1))
