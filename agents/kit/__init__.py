"""The A2A kit: what serves one agent, and the contract an agent is given its work in.

Specialists and the orchestrator import this face, never the modules behind it.
"""

from agents.kit.artifacts import ArtifactWriter, artifact_id_for, send_artifact
from agents.kit.identity import (
    ANONYMOUS,
    AUTH_USER_STATE,
    USER_HEADER,
    AuthenticatedUser,
    HeaderUser,
    authenticated_user,
    bearer_token,
    request_user,
    valid_user_id,
)
from agents.kit.material import Material, material_in
from agents.kit.push import DeliveryPolicy, PushNotifications
from agents.kit.push_addresses import PushAddresses, UnsafePushUrl, netloc
from agents.kit.requests import (
    DEFAULT_MAX_PARTS,
    DEFAULT_MAX_TEXT_CHARS,
    UserRequest,
    data_item,
    open_task,
)
from agents.kit.routes import OUTAGE_RETRY_AFTER_S, agent_handler, agent_routes
from agents.kit.runs import CANCELED_BY_CLIENT, INTERRUPTED_BY_STOP, RunningTasks, ends_stream
from agents.kit.scheduler import FirstEventScheduler, not_a_stream
from agents.kit.verdict import REPORT_NAME, Verdict
from agents.kit.work_order import (
    Complexity,
    File,
    Finding,
    Repair,
    StepKind,
    StepRef,
    WorkOrder,
)

__all__ = [
    "ANONYMOUS",
    "AUTH_USER_STATE",
    "CANCELED_BY_CLIENT",
    "DEFAULT_MAX_PARTS",
    "DEFAULT_MAX_TEXT_CHARS",
    "INTERRUPTED_BY_STOP",
    "OUTAGE_RETRY_AFTER_S",
    "REPORT_NAME",
    "USER_HEADER",
    "ArtifactWriter",
    "AuthenticatedUser",
    "Complexity",
    "DeliveryPolicy",
    "File",
    "Finding",
    "FirstEventScheduler",
    "HeaderUser",
    "Material",
    "PushAddresses",
    "PushNotifications",
    "Repair",
    "RunningTasks",
    "StepKind",
    "StepRef",
    "UnsafePushUrl",
    "UserRequest",
    "Verdict",
    "WorkOrder",
    "agent_handler",
    "agent_routes",
    "artifact_id_for",
    "authenticated_user",
    "bearer_token",
    "data_item",
    "ends_stream",
    "material_in",
    "netloc",
    "not_a_stream",
    "open_task",
    "request_user",
    "send_artifact",
    "valid_user_id",
]
