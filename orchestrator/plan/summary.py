"""``summary.md``, and reading the validation report the summary and the repair round use."""

from __future__ import annotations

from agents.kit import Verdict
from orchestrator.plan.ledger import Ledger
from orchestrator.relay import Relay

__all__ = ["summary"]


def summary(ledger: Ledger, relay: Relay, *, spent_s: float) -> str:
    """``summary.md``: objective, approach, files, validation, gaps, next steps, cost, time."""
    plan_text = ledger.steps["planning"].artifacts.get("plan.md", "")
    approach = plan_text.split("## Approach", 1)[-1].strip() if "## Approach" in plan_text else ""
    lines = [f"# Summary\n\n## Objective\n\n{ledger.query}\n\n## Approach\n"]
    lines.append(approach[:1500] or "See plan.md.")
    lines.append("\n## Files\n")
    for step in ledger.active():
        for name in step.artifacts:
            if name != "summary.md":
                version = len(step.versions)
                lines.append(f"- `{name}`: {step.title} ({step.agent}, v{version})")
    lines += _validation(ledger)
    gaps = [s for s in ledger.active() if s.status in ("failed", "skipped")]
    if gaps:
        lines.append("\n## Not done\n")
        lines += [f"- {s.id}: {s.error or s.status}" for s in gaps]
    lines.append("\n## Next steps\n")
    left = [c for c in ledger.components if c not in ledger.selected]
    if left:
        lines.append(f"- Build the components left out of this run: {', '.join(left)}.")
    lines.append("- Review the warnings in validation.json and add tests per component.")
    lines.append('- Change any step with {"modifyStep": {"step": ..., "mode": "preview"}} first.')
    cost = relay.cost
    lines.append(
        f"\n## Cost and time\n\n${cost.usd:.6f}, {cost.tokens_in} tokens in, "
        f"{cost.tokens_out} tokens out, {spent_s:.1f} s."
    )
    return "\n".join(lines) + "\n"


def _validation(ledger: Ledger, max_listed: int = 10) -> list[str]:
    """The validation section: the outcome, and every error still standing, by file."""
    step = ledger.steps["validation"]
    verdict = Verdict.of(step.artifacts)
    lines = ["\n## Validation\n"]
    if verdict is None:
        return [*lines, "No validation report."]
    lines.append(f"{verdict.sentence()} {len(step.versions)} validation round(s).")
    repaired = [s.id for s in ledger.active() if "repair" in s.changes]
    if repaired:
        lines.append(f"Repaired: {', '.join(repaired)}.")
    if verdict.errors:
        lines.append("\nWhat failed:\n")
        lines += [f"- {error}" for error in verdict.errors[:max_listed]]
        if len(verdict.errors) > max_listed:
            lines.append(f"- … and {len(verdict.errors) - max_listed} more in validation.json.")
    return lines
