"""Who is asking, and what they may do: scopes, namespace patterns, token secrets.

Pure: no session, no HTTP. A token's secret is shown once and stored only as its SHA-256; a
secret has 256 random bits, so a fast unsalted hash is enough (nothing to brute-force), and the
``hw_`` prefix lets secret scanners and people recognise one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Final, Literal

from app.errors import Forbidden

Scope = Literal["read", "write", "gate", "policy", "admin"]
SCOPES: Final[tuple[Scope, ...]] = ("read", "write", "gate", "policy", "admin")
SCOPE_MEANINGS: Final[dict[str, str]] = {
    "read": "Read lineage, compositions, training runs, policies and propagations",
    "write": "Record lineage and correct origins (limited to the token's namespace patterns)",
    "gate": "Judge proposed training sets (POST /api/v1/gate)",
    "policy": "Create policy versions",
    "admin": "Everything, including tokens and the audit log",
}
SECRET_PREFIX: Final = "hw_"
ANONYMOUS: Final = "anonymous"


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def same_hash(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def namespace_matches(namespace: str, pattern: str) -> bool:
    """Shell-style match; ``s3://team-a/*`` also covers the namespace ``s3://team-a`` itself,
    since OpenLineage namespaces name a bucket or a server without a trailing slash."""
    return fnmatchcase(namespace, pattern) or fnmatchcase(namespace + "/", pattern)


@dataclass(frozen=True)
class Principal:
    """The caller: a token's name, its scopes, and the namespaces its writes are limited to
    (empty: any)."""

    name: str
    scopes: frozenset[str]
    namespaces: tuple[str, ...] = ()

    def has(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes

    def may_write(self, namespace: str) -> bool:
        return not self.namespaces or any(namespace_matches(namespace, p) for p in self.namespaces)


def require_namespace(principal: Principal, namespace: str) -> None:
    """Refuse a write into a namespace outside the token's patterns (403 naming it)."""
    if not principal.may_write(namespace):
        raise Forbidden(
            f"The token {principal.name!r} may not write to the namespace {namespace!r}"
            f" (its patterns: {', '.join(principal.namespaces)}).",
            missing={"namespace": namespace},
        )


# When authentication is off (loopback only) every request acts as this principal.
NOBODY_IN_PARTICULAR = Principal(ANONYMOUS, frozenset(SCOPES))
