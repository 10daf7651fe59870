"""Every table, imported in one place so Alembic and the tests see the whole schema."""

from app.artifacts.models import Artifact
from app.audit.models import AuditEntry, AuditHead
from app.auth.models import Token
from app.composition.models import PropagationJob
from app.db import Base
from app.lineage.models import Alias, Edge, LineageEvent
from app.policies.models import Policy
from app.retractions.models import RetractedEdge, Retraction
from app.sources.models import SourceState
from app.training.models import TrainingRun, VerdictRecord

metadata = Base.metadata

__all__ = [
    "Alias",
    "Artifact",
    "AuditEntry",
    "AuditHead",
    "Edge",
    "LineageEvent",
    "Policy",
    "PropagationJob",
    "RetractedEdge",
    "Retraction",
    "SourceState",
    "Token",
    "TrainingRun",
    "VerdictRecord",
    "metadata",
]
