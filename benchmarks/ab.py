"""What the A/B scripts (``ab_gate``, ``ab_reads``, ``ab_ingestion``, ``ab_writes``,
``ab_correction``) share: their command line (a database that ``benchmarks.run`` set up, the
server that holds it, a seed and the worktrees to compare as ``LABEL=WORKTREE``), the versions
recorded there, starting one worktree's service on that database, and the alternating order
that lets the machine's load fall on every version alike."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, text

from app.db import normalize_url
from benchmarks import servers
from benchmarks.generate import Graph, Node
from benchmarks.run import DEFAULT_SERVER

T = TypeVar("T")


def parser(doc: str) -> argparse.ArgumentParser:
    """The arguments every A/B script takes, described by the first paragraph of ``doc``; a
    script adds its own before parsing."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--server", default=DEFAULT_SERVER)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("trees", nargs="+", metavar="LABEL=WORKTREE")
    return parser


def database_url(args: argparse.Namespace) -> str:
    """``--database`` on the PostgreSQL server of ``--server``."""
    return f"{args.server.rsplit('/', 1)[0]}/{args.database}"


def recorded(url: str, columns: str) -> list[Any]:
    """``columns`` of every recorded version, read once before any server starts."""
    engine = create_engine(normalize_url(url))
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(f"SELECT {columns} FROM artifacts")))
    finally:
        engine.dispose()


def recorded_graph(url: str) -> Graph:
    """The recorded versions as the nodes of a graph without edges: what the write and
    ingestion benchmarks draw parents and inputs from."""
    rows = recorded(url, "id, kind, namespace, name, version, size")
    return Graph(seed=0, nodes=[Node(*row, origin=None, uri=None) for row in rows])


def worktrees(args: argparse.Namespace) -> dict[str, str]:
    """Each label and its worktree, in the order given."""
    return dict(tree.split("=", 1) for tree in args.trees)


def start(module: str, tree: str, url: str, label: str) -> servers.Server:
    """``python -m module`` run from the worktree ``tree`` on the database at ``url``, with one
    background worker; its log is named after ``label``."""
    servers.ROOT = Path(tree)
    return servers.Server(module, url, label, {"HEADWATER_WORKERS": "1"}).start()


def alternating(items: Sequence[T], turn: int) -> list[T]:
    """``items`` in order on even turns, reversed on odd ones: no version always goes first."""
    return list(items)[:: -1 if turn % 2 else 1]
