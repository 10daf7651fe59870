"""/api/v1/tokens (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from app.auth import service
from app.auth.schemas import TokenCreate, TokenCreated, TokenRead
from app.auth.security import Admin
from app.db import SessionDep
from app.errors import PROBLEM_RESPONSES
from app.pagination import Page, Paging

router = APIRouter(prefix="/api/v1", tags=["tokens"], responses=PROBLEM_RESPONSES)

Name = Annotated[str, Path(min_length=1, max_length=128)]


@router.get("/tokens", response_model=Page[TokenRead], summary="Tokens, by name (no secrets)")
def list_tokens(session: SessionDep, _: Admin, paging: Paging) -> Page[TokenRead]:
    return service.listing(session, paging)


@router.post(
    "/tokens",
    response_model=TokenCreated,
    status_code=201,
    summary="Create a token; its secret is in this answer and nowhere else",
)
def create_token(body: TokenCreate, session: SessionDep, principal: Admin) -> TokenCreated:
    token, secret = service.create(session, body, actor=principal.name)
    return TokenCreated(**TokenRead.model_validate(token).model_dump(), token=secret)


@router.delete(
    "/tokens/{name}",
    response_model=TokenRead,
    summary="Revoke a token: it is refused from now on (revoking twice changes nothing)",
)
def revoke_token(name: Name, session: SessionDep, principal: Admin) -> TokenRead:
    return TokenRead.model_validate(service.revoke(session, name, actor=principal.name))
