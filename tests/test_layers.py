"""Domains import only downward.

Each module of ``app`` sits in a layer; a module may import its own layer and those below it,
never one above. Routers and command-line modules are the shell: they sit at the top whatever
their package, because they call the services and the write sequence (``app.writes``) of any
domain. The order is data: move a package here, not in an ``if``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"
DOMAINS = sorted(p.parent.name for p in APP.glob("*/__init__.py"))

LAYERS: list[tuple[str, frozenset[str]]] = [
    (
        "core",
        frozenset(
            {
                "app",
                "app.config",
                "app.db",
                "app.errors",
                "app.problems",
                "app.pagination",
                "app.metrics",
                "app.logs",
                "app.http",
                "app.embedded",
                "app.background",
                "app.graph",
                "app.migrate",
                "app.client_options",
            }
        ),
    ),
    # pure functions and shapes over plain data (no session, no HTTP): anyone may compute with them
    (
        "composition core",
        frozenset({"app.composition.core", "app.composition.origin", "app.composition.schemas"}),
    ),
    # the ORM tables are one schema (as Polar keeps them in one package): a query joins any of
    # them and a foreign key points anywhere; they hold no behaviour, so they sit below all
    ("tables", frozenset({"app.models", *(f"app.{d}.models" for d in DOMAINS)})),
    # the record of writes, then who may write: the domains above check the actor and audit
    ("audit", frozenset({"app.audit"})),
    ("auth", frozenset({"app.auth"})),
    ("artifacts", frozenset({"app.artifacts"})),
    # propagation recomputes versions from their parents; it knows no lineage write
    ("composition", frozenset({"app.composition"})),
    # an edge a pipeline reports again after it was retracted stays out of the live graph:
    # recording lineage asks the retractions
    ("retractions", frozenset({"app.retractions"})),
    ("lineage", frozenset({"app.lineage"})),
    ("policies", frozenset({"app.policies"})),
    ("training", frozenset({"app.training"})),
    # sequences that cross the domains below and call each one's service
    (
        "sequences",
        frozenset(
            {
                "app.writes",
                "app.group_commit",
                "app.registration",
                "app.reads",
                "app.worker",
                "app.sources",
                "app.provenance",
                "app.gate_input",
                "app.gate_report",
            }
        ),
    ),
    (
        "shell",
        frozenset(
            {"app.main", "app.cli", "app.__main__", "app.gate_cli", "app.origin_cli", "app.web"}
        ),
    ),
]

SHELL_MODULES = ("router", "cli")
"""Module names (``app.<domain>.<name>``, or ending ``_<name>``) that belong to the shell."""

ALLOWED: dict[tuple[str, str], str] = {}
"""(importing module, imported module) pairs that may run upward, each with its reason."""


def layer_of(module: str) -> int:
    """The index in LAYERS of a module: named itself, else a shell module, else by package."""
    parts = module.split(".")
    named = [i for i, (_, members) in enumerate(LAYERS) if module in members]
    if named:
        return named[0]
    if len(parts) >= 3 and parts[2].split("_")[-1] in SHELL_MODULES:
        return len(LAYERS) - 1
    for depth in (2, 1):
        prefix = ".".join(parts[:depth])
        for index, (_, members) in enumerate(LAYERS):
            if prefix in members:
                return index
    raise AssertionError(f"{module} has no layer: add it to LAYERS")


def module_name(path: Path) -> str:
    relative = path.relative_to(APP.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(name: str) -> bool:
    path = APP.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def imports(path: Path) -> list[tuple[str, int]]:
    """The ``app`` modules that ``path`` imports, with their line numbers: ``from app.x import
    y`` imports ``app.x.y`` when that is a module, else ``app.x``."""
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names if a.name.startswith("app.")]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: use absolute imports"
            module = node.module or ""
            if module != "app" and not module.startswith("app."):
                continue
            for alias in node.names:
                submodule = f"{module}.{alias.name}"
                found.append((submodule if is_module(submodule) else module, node.lineno))
    return found


def upward_imports() -> list[str]:
    found = []
    for path in sorted(APP.rglob("*.py")):
        module = module_name(path)
        for target, line in imports(path):
            if layer_of(target) > layer_of(module) and (module, target) not in ALLOWED:
                found.append(
                    f"{path.relative_to(APP.parent)}:{line}: {module} "
                    f"({LAYERS[layer_of(module)][0]}) imports {target} "
                    f"({LAYERS[layer_of(target)][0]})"
                )
    return found


def test_domains_import_only_downward() -> None:
    assert upward_imports() == []


def test_every_allowed_import_still_exists_and_runs_upward() -> None:
    used = {
        (module_name(path), target) for path in APP.rglob("*.py") for target, _ in imports(path)
    }
    stale = [pair for pair in ALLOWED if pair not in used or layer_of(pair[1]) <= layer_of(pair[0])]
    assert stale == []


@pytest.mark.parametrize(
    ("module", "layer"),
    [
        ("app.db", "core"),
        ("app.artifacts.service", "artifacts"),
        ("app.artifacts.router", "shell"),
        ("app.training.gate_router", "shell"),
        ("app.sources.cli", "shell"),
        ("app.writes", "sequences"),
    ],
)
def test_layer_of(module: str, layer: str) -> None:
    assert LAYERS[layer_of(module)][0] == layer


@pytest.mark.parametrize(
    ("module", "target", "upward"),
    [
        ("app.training.service", "app.policies.service", False),
        ("app.policies.service", "app.training.service", True),
        ("app.lineage.service", "app.training.repository", True),
        ("app.composition.service", "app.training.service", True),
        ("app.artifacts.schemas", "app.composition.schemas", False),
        ("app.artifacts.repository", "app.retractions.models", False),
        ("app.retractions.service", "app.training.repository", True),
        ("app.training.router", "app.writes", False),
        ("app.artifacts.reads", "app.retractions.repository", True),
        ("app.artifacts.reads", "app.composition.service", True),
        ("app.reads", "app.retractions.repository", False),
        ("app.reads", "app.training.service", False),
    ],
)
def test_an_import_runs_upward_when_its_target_sits_higher(
    module: str, target: str, upward: bool
) -> None:
    assert (layer_of(target) > layer_of(module)) is upward
