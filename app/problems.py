"""/api/v1/problems/{slug}: a short page for each problem type a response's `type` names."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from app.errors import PROBLEM_BASE, PROBLEM_RESPONSES, NotFound

router = APIRouter(
    prefix=PROBLEM_BASE.rstrip("/"), tags=["problems"], responses={404: PROBLEM_RESPONSES[404]}
)

# slug: (title, what it means and what to do)
PROBLEM_TYPES: dict[str, tuple[str, str]] = {
    "validation": (
        "Invalid request",
        "A field of the request is missing, of the wrong type or out of range. `errors` lists"
        " each one: `loc` is where (e.g. `body.parents.0.amount`), `msg` why.",
    ),
    "invalid-input": (
        "Invalid input",
        "The request is well-formed but asks for something that cannot be recorded: an origin"
        " whose fractions do not add up, a reference to a version of the wrong kind, a natural"
        " key over 2,048 bytes, an invalid OpenLineage event. `errors` names each field.",
    ),
    "unstorable-value": (
        "Unstorable value",
        "The request carries a value PostgreSQL cannot store, such as a NUL character in text.",
    ),
    "bad-request": (
        "Bad request",
        "The request cannot be read as it stands, e.g. a pagination cursor issued by another"
        " list. Pass the `next_cursor` of a previous page of the same list.",
    ),
    "bad-encoding": (
        "Malformed body",
        "The body says `Content-Encoding: gzip` but is not valid gzip data.",
    ),
    "not-found": (
        "Not found",
        "A version, training run, policy or path is not recorded; `missing` names what was"
        " looked for.",
    ),
    "method-not-allowed": (
        "Method not allowed",
        "The path exists but does not answer this HTTP method; the OpenAPI document at"
        " `/openapi.json` lists what it does answer.",
    ),
    "unauthenticated": (
        "Unauthenticated",
        "The service requires a token, and the request sent none, or one that is unknown,"
        " expired or revoked. Send it as `Authorization: Bearer <token>`.",
    ),
    "forbidden": (
        "Forbidden",
        "The token is valid but lacks the scope or the namespace this request needs; `missing`"
        " names which. Ask an administrator for a token that has it.",
    ),
    "too-many-failures": (
        "Too many failed authentications",
        "This client sent too many unknown or revoked tokens in the last minute; wait for the"
        " seconds in `Retry-After`, then send a valid token.",
    ),
    "conflict": (
        "Conflict",
        "The same natural key is already recorded with different content; versions are"
        " immutable. `differences` lists what differs: record a new version, or correct a"
        " dataset's origin with `PUT /api/v1/datasets/{id}/origin`.",
    ),
    "cycle": (
        "Edge would close a cycle",
        "Lineage is acyclic: the edge would make a version its own ancestor. `path` shows the"
        " existing path that the edge would close.",
    ),
    "payload-too-large": (
        "Payload too large",
        "The body is over HEADWATER_MAX_BODY_BYTES, before or after gzip decoding; split it"
        " into smaller requests.",
    ),
    "too-many-edges": (
        "Too many edges for one request",
        "The request would create more edges (parents, training-set members, an OpenLineage"
        " event's inputs times outputs) than HEADWATER_MAX_EDGES_PER_REQUEST allows; `limit`"
        " says how many, `requested` how many it asked for. Send it in parts.",
    ),
    "unsupported-media-type": (
        "Unsupported media type",
        "Bodies are JSON: send `Content-Type: application/json` (with curl:"
        " `-H 'content-type: application/json'`).",
    ),
    "unsupported-encoding": (
        "Unsupported content encoding",
        "Only `identity` and `gzip` are accepted as `Content-Encoding`.",
    ),
    "unavailable": (
        "Service unavailable",
        "The database is unreachable, restarting, or every connection is busy. Nothing was"
        " written; retry after the seconds in the `Retry-After` header.",
    ),
    "not-ready": (
        "Not ready",
        "The database is not at the schema this service expects; run `headwater migrate`.",
    ),
    "internal": (
        "Internal error",
        "The service failed in a way it did not foresee; the error is logged with the"
        " request's `x-request-id`.",
    ),
    "http-error": ("HTTP error", "An HTTP-level error; `detail` says which."),
}

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} · Headwater problem</title></head>
<body><h1>{title}</h1><p>{text}</p>
<p>Every error Headwater answers is an RFC 9457 problem document
(<code>application/problem+json</code>) whose <code>type</code> is this page's address.
See <a href="/docs">the API documentation</a>.</p></body></html>
"""


@router.get(
    "/{slug}",
    response_class=HTMLResponse,
    summary="What a problem type means and what to do about it",
)
def problem_type(slug: str) -> HTMLResponse:
    if slug not in PROBLEM_TYPES:
        raise NotFound(f"No problem type is called {slug!r}.", missing={"slug": slug})
    title, text = PROBLEM_TYPES[slug]
    return HTMLResponse(_PAGE.format(title=escape(title), text=escape(text)))
