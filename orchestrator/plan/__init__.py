"""Plans: the ledger of steps, the one engine that runs them, and a plan's life."""

from orchestrator.plan.driver import PlanDriver, PlanOptions
from orchestrator.plan.ledger import (
    DEFAULT_CREW,
    Assignment,
    Ledger,
    Role,
    Step,
    answer_plan,
    plan,
)
from orchestrator.plan.replies import Approval, Modification, ModificationError
from orchestrator.plan.runner import (
    DEFAULT_POLICY,
    FailurePolicy,
    PlanRun,
    needs_approval,
    price_estimator,
    read_ledger,
)

__all__ = [
    "DEFAULT_CREW",
    "DEFAULT_POLICY",
    "Approval",
    "Assignment",
    "FailurePolicy",
    "Ledger",
    "Modification",
    "ModificationError",
    "PlanDriver",
    "PlanOptions",
    "PlanRun",
    "Role",
    "Step",
    "answer_plan",
    "needs_approval",
    "plan",
    "price_estimator",
    "read_ledger",
]
