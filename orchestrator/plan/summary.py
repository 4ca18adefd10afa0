"""``summary.md``, and reading the validation report the summary and the repair round use."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from orchestrator.plan.ledger import Ledger
from orchestrator.relay import Relay

__all__ = ["broken_python", "read_report", "report_passed", "summary"]


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
    report = read_report(ledger.steps["validation"].artifacts)
    lines.append("\n## Validation\n")
    if report is None:
        lines.append("No validation report.")
    else:
        issues = report.get("issues", [])
        errors = [i for i in issues if i.get("severity") == "error"]
        outcome = "passed" if report_passed(report) else "failed"
        lines.append(
            f"{outcome.capitalize()}: score {report.get('score', '-')}, {len(errors)} error(s), "
            f"{len(issues) - len(errors)} other finding(s), "
            f"{len(ledger.steps['validation'].versions)} validation round(s)."
        )
        repaired = [s.id for s in ledger.active() if "repair" in s.changes]
        if repaired:
            lines.append(f"Repaired: {', '.join(repaired)}.")
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


def read_report(artifacts: Mapping[str, str]) -> dict[str, Any] | None:
    try:
        report = json.loads(artifacts.get("validation.json", ""))
    except json.JSONDecodeError:
        return None
    return report if isinstance(report, dict) else None


def report_passed(report: Mapping[str, Any]) -> bool:
    return bool(report.get("passed", report.get("valid", False)))


def broken_python(report: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    broken: dict[str, list[dict[str, Any]]] = {}
    for issue in report.get("issues", []):
        if issue.get("severity") == "error" and str(issue.get("file", "")).endswith(".py"):
            broken.setdefault(str(issue["file"]), []).append(issue)
    return broken
