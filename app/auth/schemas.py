"""Request and response bodies for tokens."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.auth.core import Scope

TokenName = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.@\-]+$")]
NamespacePattern = Annotated[str, Field(min_length=1, max_length=2048)]


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: TokenName
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=5)]
    namespaces: Annotated[
        list[NamespacePattern],
        Field(
            max_length=100,
            description="Glob patterns (e.g. `s3://team-a/*`) the token's writes are limited to;"
            " empty: any namespace.",
        ),
    ] = []
    expires_in_days: Annotated[float, Field(gt=0, le=3650, allow_inf_nan=False)] | None = None


class TokenRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    scopes: list[str]
    namespaces: list[str]
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenCreated(TokenRead):
    token: str = Field(description="The secret, shown this once: only its hash is stored.")
