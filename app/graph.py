"""The walks through the lineage graph, as SQL: one home for the recursive queries that find
every ancestor (or every descendant) of some nodes, for the repositories that start their
statements with them."""

from __future__ import annotations

from collections.abc import Collection


def upstream(
    start: str,
    *,
    relations: Collection[str] | None = None,
    through: str | None = None,
    name: str = "up",
) -> str:
    """``WITH RECURSIVE <name>(id) AS (...)``: the nodes of ``start`` (an SQL expression for an
    array of ids) and every ancestor, each once (``UNION``: the graph's many paths to one
    ancestor cost nothing). ``relations``: follow only edges of these; ``through``: expand
    only nodes for which this SQL condition on ``child`` (the node's ``artifacts`` row) and
    ``u.id`` holds."""
    joins = "JOIN artifacts child ON child.id = u.id" if through else ""
    conditions = []
    if relations is not None:
        if not all(relation.isidentifier() for relation in relations):
            raise ValueError(f"not relation names: {sorted(relations)}")
        conditions.append(f"e.relation IN ({', '.join(repr(r) for r in sorted(relations))})")
    if through:
        conditions.append(f"({through})")
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    return f"""
        WITH RECURSIVE {name}(id) AS (
            SELECT unnest({start})
            UNION
            SELECT e.parent_id FROM edges e JOIN {name} u ON e.child_id = u.id {joins}
            {where}
        )
    """


def downstream(start: str, *, name: str = "down") -> str:
    """``WITH RECURSIVE <name>(id) AS (...)``: the nodes of ``start`` (an SQL expression for an
    array of ids) and every descendant, each once."""
    return f"""
        WITH RECURSIVE {name}(id) AS (
            SELECT unnest({start})
            UNION
            SELECT e.child_id FROM edges e JOIN {name} d ON e.parent_id = d.id
        )
    """
