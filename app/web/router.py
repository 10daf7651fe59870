"""The pages: /, /datasets/{id}, /models/{id}, /training-runs[/{id}], /gate, sign-in.

Every query value is parsed leniently here rather than by FastAPI's validation, so that a
hand-edited address shows a page that says what is wrong (or simply ignores the bad value)
instead of a problem document.
"""

from __future__ import annotations

import math
import uuid
from typing import Annotated, Any, cast
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from app.artifacts import service as artifact_service
from app.artifacts.schemas import DatasetRead
from app.db import SessionDep
from app.errors import ProblemError
from app.pagination import PageRequest, decode_cursor
from app.policies.schemas import Verdict
from app.training import service as training_service
from app.training.router import list_runs
from app.web import service
from app.web.auth import COOKIE, Principal, Verifier, get_verifier, requires
from app.web.render import PageError, page, query
from app.web.repository import Match


def mark_page(request: Request) -> None:
    request.state.page = True


router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_page)])

Reader = Annotated[Principal, Depends(requires("read"))]
Gatekeeper = Annotated[Principal, Depends(requires("gate"))]

KINDS = {"all": ("dataset", "model"), "dataset": ("dataset",), "model": ("model",)}
MATCHES: tuple[Match, ...] = ("contains", "prefix", "exact")
VERDICTS = ("pass", "warn", "fail")


# --- lenient parsing ---------------------------------------------------------------------------


def text(request: Request, key: str, limit: int = 2048) -> str | None:
    # NUL is the one character PostgreSQL cannot hold in text; nobody means to search for it
    value = request.query_params.get(key, "").replace("\x00", "").strip()
    return value[:limit] or None


def choice(request: Request, key: str, allowed: tuple[str, ...], default: str) -> str:
    value = request.query_params.get(key)
    return value if value in allowed else default


def integer(request: Request, key: str, default: int, low: int, high: int) -> int:
    try:
        return min(max(int(request.query_params.get(key, default)), low), high)
    except ValueError:
        return default


def ids(request: Request, key: str) -> tuple[uuid.UUID, ...]:
    found = []
    for value in request.query_params.getlist(key):
        try:
            found.append(uuid.UUID(value))
        except ValueError:
            continue
    return tuple(dict.fromkeys(found))


def cursor(request: Request) -> tuple[Any, uuid.UUID] | None:
    try:
        return decode_cursor(service.SEARCH_LIST, request.query_params.get("cursor") or None)
    except ProblemError:
        return None  # a mangled cursor starts over at the first page


def path_id(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise PageError(404, "Not found", f"No {what} has id {value!r}.") from None


def amount(value: str) -> float | None:
    """An amount typed by a person: empty means the dataset's size."""
    cleaned = value.strip().replace("_", "").replace(" ", "").replace(",", "")
    if not cleaned:
        return None
    number = float(cleaned)  # ValueError for text
    if not math.isfinite(number) or number < 0:
        raise ValueError(value)
    return number


def context(request: Request, who: Principal, **values: Any) -> dict[str, Any]:
    return {"principal": who, "signed_in": COOKIE in request.cookies, **values}


# --- search ------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def search_page(request: Request, session: SessionDep, who: Reader) -> HTMLResponse:
    q = text(request, "q")
    namespace = text(request, "namespace")
    kind = choice(request, "kind", tuple(KINDS), "all")
    match: Match = "contains"
    for m in MATCHES:
        if request.query_params.get("match") == m:
            match = m
    hits = service.search(
        session,
        text=q,
        namespace=namespace,
        kinds=KINDS[kind],
        match=match,
        after=cursor(request),
    )
    form = {"q": q, "namespace": namespace, "kind": kind, "match": match}
    return page(
        request,
        "search.html",
        context(request, who, form=form, hits=hits, searched=bool(q or namespace)),
    )


# --- a version ---------------------------------------------------------------------------------


def graph_request(request: Request) -> service.GraphRequest:
    return service.GraphRequest(
        upstream=integer(request, "up", 3, 0, service.MAX_GENERATIONS),
        downstream=integer(request, "down", 2, 0, service.MAX_GENERATIONS),
        parents_of=ids(request, "parents_of"),
        children_of=ids(request, "children_of"),
    )


def artifact_view(
    request: Request, session: SessionDep, who: Principal, artifact_id: str, kind: str
) -> HTMLResponse:
    key = path_id(artifact_id, f"{kind} version")
    found = artifact_service.get_or_404(session, key, kind)
    view = service.artifact_page(session, found)
    wanted = graph_request(request)
    graph = service.graph(session, found, wanted)
    base = [
        ("up", wanted.upstream),
        ("down", wanted.downstream),
        *(("parents_of", str(n)) for n in wanted.parents_of),
        *(("children_of", str(n)) for n in wanted.children_of),
    ]

    def expand(key: str, node: uuid.UUID) -> str:
        return f"{request.url.path}?{query([*base, (key, str(node))])}#lineage"

    return page(
        request,
        "artifact.html",
        context(
            request,
            who,
            kind=kind,
            view=view,
            artifact=view.artifact,
            origin=(
                view.artifact.origin.model_dump()
                if isinstance(view.artifact, DatasetRead) and view.artifact.origin is not None
                else None
            ),
            depth_segments=service.depth_segments(view.detail),
            graph=graph,
            expand=expand,
            reset=f"{request.url.path}?{query(base[:2])}#lineage",
        ),
    )


@router.get("/datasets/{dataset_id}", response_class=HTMLResponse)
def dataset_page(
    dataset_id: str, request: Request, session: SessionDep, who: Reader
) -> HTMLResponse:
    return artifact_view(request, session, who, dataset_id, "dataset")


@router.get("/models/{model_id}", response_class=HTMLResponse)
def model_page(model_id: str, request: Request, session: SessionDep, who: Reader) -> HTMLResponse:
    return artifact_view(request, session, who, model_id, "model")


# --- training runs -----------------------------------------------------------------------------


@router.get("/training-runs", response_class=HTMLResponse)
def training_runs_page(request: Request, session: SessionDep, who: Reader) -> HTMLResponse:
    verdict = choice(request, "verdict", ("", *VERDICTS), "")
    namespace = text(request, "namespace")
    model = text(request, "model")
    runs = list_runs(
        session,
        PageRequest(
            service.SEARCH_PAGE, request.query_params.get("cursor") if cursor(request) else None
        ),
        verdict=cast(Verdict | None, verdict or None),
        namespace=namespace,
        model=model,
        since=None,
        until=None,
    )
    form = {"verdict": verdict, "namespace": namespace, "model": model}
    return page(request, "training_runs.html", context(request, who, form=form, runs=runs))


@router.get("/training-runs/{run_id}", response_class=HTMLResponse)
def training_run_page(
    run_id: str, request: Request, session: SessionDep, who: Reader
) -> HTMLResponse:
    run = training_service.get(session, path_id(run_id, "training run"))
    return page(
        request,
        "training_run.html",
        context(
            request,
            who,
            run=run,
            depth_segments=service.depth_segments(run.composition),
            history=list(reversed(run.history)),
        ),
    )


# --- the gate ----------------------------------------------------------------------------------


@router.get("/gate", response_class=HTMLResponse)
def gate_page(request: Request, session: SessionDep, who: Gatekeeper) -> HTMLResponse:
    params = request.query_params
    errors: list[str] = []
    wanted: list[tuple[uuid.UUID, float | None]] = []
    amounts = params.getlist("amount")
    remove = params.get("remove")
    for index, value in enumerate(params.getlist("pick")):
        if value == remove:
            continue
        try:
            pick = uuid.UUID(value)
        except ValueError:
            continue
        typed = amounts[index] if index < len(amounts) else ""
        try:
            wanted.append((pick, amount(typed)))
        except ValueError:
            errors.append(f"“{typed}” is not an amount: give a number ≥ 0, or leave it empty.")
            wanted.append((pick, None))
    added = ids(request, "add")
    wanted += [(a, None) for a in added if a not in {w for w, _ in wanted}]
    chosen = service.picks(session, wanted)
    amount_text = {p.artifact.id: ("" if p.amount is None else f"{p.amount:g}") for p in chosen}
    for index, value in enumerate(params.getlist("pick")):
        if index < len(amounts) and value in {str(p.artifact.id) for p in chosen}:
            amount_text[uuid.UUID(value)] = amounts[index]

    q = text(request, "q")
    hits = (
        service.search(
            session,
            text=q,
            namespace=None,
            kinds=("dataset",),
            match="contains",
            after=None,
            limit=10,
        )
        if q
        else None
    )

    model_namespace, model_name = text(request, "model_namespace"), text(request, "model_name")
    policy = text(request, "policy", 128) or "default"
    strict = params.get("strict") == "on"
    answer = report = command = None
    if "judge" in params and not errors:
        if not chosen:
            errors.append("Add at least one dataset version to the training set.")
        elif bool(model_namespace) != bool(model_name):
            errors.append("Name the model by both its namespace and its name, or leave both empty.")
        else:
            model = (model_namespace, model_name) if model_namespace and model_name else None
            try:
                body = service.gate_request(chosen, model, policy)
                answer = service.gate(session, body)
            except ValidationError as exc:
                errors += [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
            except ProblemError as exc:
                errors.append(exc.detail)
            else:
                report = service.cli_report(answer, strict=strict)
                command = service.cli_command(body, strict=strict)
    return page(
        request,
        "gate.html",
        context(
            request,
            who,
            chosen=chosen,
            amount_text=amount_text,
            q=q,
            hits=hits,
            form={
                "model_namespace": model_namespace,
                "model_name": model_name,
                "policy": policy,
                "strict": strict,
            },
            errors=errors,
            answer=answer,
            report=report,
            command=command,
            exit_code=service.exit_code(answer, strict=strict) if answer else None,
            depth_segments=service.depth_segments(answer.composition) if answer else [],
        ),
    )


# --- signing in --------------------------------------------------------------------------------


def local(target: str | None) -> str:
    """Only a path on this service may be where sign-in leads (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target:
        return "/"
    return target


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request) -> HTMLResponse:
    return page(
        request,
        "sign_in.html",
        {"next": local(request.query_params.get("next")), "rejected": False},
    )


@router.post("/sign-in")
async def sign_in(request: Request, verify: Annotated[Verifier, Depends(get_verifier)]) -> Response:
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc != request.headers.get("host"):
        # SameSite keeps the cookie from other sites' requests; this keeps their forms from
        # signing a browser in under a token of theirs
        raise PageError(403, "Not allowed", "Sign in from this service's own page.")
    form = parse_qs((await request.body()).decode(errors="replace"))
    token = (form.get("token") or [""])[0].strip()
    target = local((form.get("next") or ["/"])[0])
    if not token:
        return page(request, "sign_in.html", {"next": target, "rejected": True}, 401)
    verify(request, token)  # TokenRejected shows the form again
    response = RedirectResponse(target, status_code=303)
    # no max_age/expires: a session cookie, gone when the browser session ends
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/sign-out")
def sign_out() -> Response:
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response
