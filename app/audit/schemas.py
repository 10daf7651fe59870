"""Response bodies for the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.pagination import Page


class AuditEntryRead(BaseModel):
    sequence: int
    recorded_at: datetime
    actor: str = Field(description="The token's name (`anonymous` while authentication is off).")
    operation: str
    content: Any = Field(description="What the write said, as received (secrets left out).")
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
