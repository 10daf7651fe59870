"""Response bodies for the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from app.pagination import Page


class AuditEntryRead(BaseModel):
    """A sealed entry, read from its row (which keeps the content as canonical JSON text)."""

    model_config = ConfigDict(from_attributes=True)

    sequence: int
    recorded_at: datetime
    actor: str = Field(description="The token's name (`anonymous` while authentication is off).")
    operation: str
    content: Annotated[Any, BeforeValidator(orjson.loads)] = Field(
        description="What the write said, as received (secrets left out)."
    )
    content_hash: str
    previous_hash: str
    hash: str


class AuditPage(Page[AuditEntryRead]):
    pass


class BreachRead(BaseModel):
    kind: Literal["altered", "removed", "reordered"]
    sequence: int | None
    entry_id: str | None
    detail: str


class VerifyRead(BaseModel):
    intact: bool
    sealed: int
    pending: int
    head_hash: str
    breach: BreachRead | None
