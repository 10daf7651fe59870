"""A small typed client for Headwater, for pipelines that do not speak OpenLineage.

    from headwater_client import Headwater

    with Headwater("http://127.0.0.1:8000", token="…") as hw:
        web = hw.record_dataset("s3://corpus", "web", "2024", size=10_000, origin={"human": 1.0})
        run = hw.record_model("hf://acme", "chat", "1", training_set=[{"id": web["id"]}])
        answer = hw.gate([{"namespace": "s3://corpus", "name": "web"}], model=("hf://acme", "chat"))

Every write Headwater takes is idempotent (the same version posted again answers 200 with the
recorded one; a retraction or a correction repeated changes nothing), so the client retries a
request whose answer it did not get — a dropped connection, a timeout, 429, 502, 503, 504 —
with exponential backoff, without risk of recording anything twice.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, NotRequired, Self, TypedDict

import httpx

__all__ = [
    "Headwater",
    "HeadwaterError",
    "Origin",
    "Parent",
    "TrainingSetMember",
]

Relation = Literal["trained_on", "fine_tuned_from", "generated_by", "derived_from", "used"]
RETRIED_STATUSES = frozenset({429, 502, 503, 504})


class Origin(TypedDict, total=False):
    """A declared origin: fractions, a depth and/or an IPTC or C2PA digital source type."""

    human: float
    synthetic: float
    unknown: float
    synthetic_depth: int
    digitalSourceType: str


class Parent(TypedDict):
    """A parent of a dataset version: ``id``, or ``namespace``/``name``/``version``."""

    relation: Relation
    id: NotRequired[str]
    namespace: NotRequired[str]
    name: NotRequired[str]
    version: NotRequired[str]
    kind: NotRequired[Literal["dataset", "model"]]
    amount: NotRequired[float]


class TrainingSetMember(TypedDict, total=False):
    """A training-set member: ``id`` or natural key (``version`` optional for the gate), and an
    optional ``amount``."""

    id: str
    namespace: str
    name: str
    version: str
    amount: float


class HeadwaterError(Exception):
    """Headwater answered with a problem document (or could not be reached)."""

    def __init__(self, status: int | None, problem: Mapping[str, Any]) -> None:
        self.status = status
        self.problem = dict(problem)
        super().__init__(f"{status}: {problem.get('detail') or problem.get('title') or problem}")


class Headwater:
    """A Headwater service at ``url``. Use as a context manager, or call :meth:`close`."""

    def __init__(
        self,
        url: str = "http://127.0.0.1:8000",
        *,
        token: str | None = None,
        timeout: float = 30.0,
        retries: int = 4,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.retries = retries
        self.backoff = backoff
        self._http = httpx.Client(
            base_url=url.rstrip("/") + "/api/v1",
            headers=headers,
            timeout=timeout,
            transport=transport,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- writing ---------------------------------------------------------------------------------

    def record_dataset(
        self,
        namespace: str,
        name: str,
        version: str,
        *,
        size: float | None = None,
        origin: Origin | None = None,
        parents: Sequence[Parent] = (),
        uri: str | None = None,
        checksum: str | None = None,
        description: str | None = None,
    ) -> dict[str, Any]:
        """Record a dataset version (or get the identical one already recorded)."""
        body = _without_none(
            namespace=namespace,
            name=name,
            version=version,
            size=size,
            origin=origin,
            parents=list(parents),
            uri=uri,
            checksum=checksum,
            description=description,
        )
        return self._send("POST", "/datasets", json=body)

    def record_model(
        self,
        namespace: str,
        name: str,
        version: str,
        *,
        training_set: Iterable[TrainingSetMember] = (),
        base_model: TrainingSetMember | None = None,
        description: str | None = None,
    ) -> dict[str, Any]:
        """Record a model version with its training set, which records its training run."""
        body = _without_none(
            namespace=namespace,
            name=name,
            version=version,
            training_set=list(training_set),
            base_model=base_model,
            description=description,
        )
        return self._send("POST", "/models", json=body)

    def record_edge(
        self,
        child: Mapping[str, Any],
        parent: Mapping[str, Any],
        relation: Relation,
        amount: float | None = None,
    ) -> dict[str, Any]:
        """Record a later edge child ← parent between recorded versions."""
        body = _without_none(
            child=dict(child), parent=dict(parent), relation=relation, amount=amount
        )
        return self._send("POST", "/edges", json=body)

    def correct_origin(
        self, dataset_id: str | uuid.UUID, origin: Origin, reason: str | None = None
    ) -> dict[str, Any]:
        """Correct a dataset version's declared origin; everything downstream follows."""
        body: dict[str, Any] = {**origin, **({"reason": reason} if reason else {})}
        return self._send("PUT", f"/datasets/{dataset_id}/origin", json=body)

    def retract(
        self,
        target: Literal["edge", "dataset", "model"],
        target_id: str | uuid.UUID,
        reason: str,
    ) -> dict[str, Any]:
        """Retract an edge, or a dataset or model version with every edge it had."""
        return self._send("POST", f"/{target}s/{target_id}/retraction", json={"reason": reason})

    # --- reading and gating ----------------------------------------------------------------------

    def find(
        self,
        kind: Literal["dataset", "model"],
        namespace: str,
        name: str,
        version: str | None = None,
    ) -> dict[str, Any] | None:
        """The newest version matching the natural key (any identifier of a symlinked
        dataset), or None."""
        params = _without_none(namespace=namespace, name=name, version=version, limit=1)
        items: list[dict[str, Any]] = self._send("GET", f"/{kind}s", params=params)["items"]
        return items[0] if items else None

    def gate(
        self,
        training_set: Iterable[TrainingSetMember],
        *,
        model: tuple[str, str] | None = None,
        policy: str | None = None,
    ) -> dict[str, Any]:
        """Judge a proposed training set without writing anything."""
        body = _without_none(
            training_set=list(training_set),
            model={"namespace": model[0], "name": model[1]} if model else None,
            policy=policy,
        )
        return self._send("POST", "/gate", json=body)

    # --- the wire --------------------------------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        attempt = 0
        while True:
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                if attempt >= self.retries:
                    raise HeadwaterError(
                        None, {"title": "unreachable", "detail": str(exc)}
                    ) from exc
            else:
                if response.status_code not in RETRIED_STATUSES or attempt >= self.retries:
                    return _answer(response)
            time.sleep(self.backoff * 2**attempt)
            attempt += 1


def _answer(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = {"detail": response.text}
    if response.is_error:
        raise HeadwaterError(response.status_code, body if isinstance(body, dict) else {})
    answer: dict[str, Any] = body
    return answer


def _without_none(**fields: Any) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}
