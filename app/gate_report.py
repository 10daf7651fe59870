"""The gate's answer in words: the exit code a verdict means, and the report ``headwater gate``
prints, which the web gate page shows as the command would."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Final

from rich.console import Console
from rich.table import Table
from rich.text import Text

from app.composition.schemas import CompositionRead
from app.gate_input import DatasetSpec, format_dataset
from app.policies.schemas import FindingRead, GateResponse, PolicyRef, Source

EXIT_PROCEED: Final = 0
EXIT_BLOCKED: Final = 1
EXIT_UNDECIDED: Final = 2


def exit_code(verdict: str | None, *, strict: bool) -> int:
    """0 lets the job proceed, 1 blocks it, 2 says the gate could not decide; ``None`` (no
    verdict) and any verdict this client does not know are undecided, never a pass."""
    if verdict == "pass":
        return EXIT_PROCEED
    if verdict == "warn":
        return EXIT_BLOCKED if strict else EXIT_PROCEED
    if verdict == "fail":
        return EXIT_BLOCKED
    return EXIT_UNDECIDED


_STYLE: Final = {
    "pass": "bold green",
    "warn": "bold yellow",
    "fail": "bold red",
    "not_applicable": "dim",
}
_SHARE_RULES: Final = frozenset(
    {"human_fraction", "unknown_fraction", "deep_tail", "sources_preserved"}
)
_SHARE_KEYS: Final = frozenset(
    {"pass_at_least", "fail_below", "pass_at_most", "fail_above", "previous_human_fraction"}
)
_LIMIT_LABELS: Final = {
    "pass_at_least": "pass ≥ {}",
    "pass_at_most": "pass ≤ {}",
    "fail_below": "fail < {}",
    "fail_above": "fail > {}",
    "warn_below_ratio": "keep ≥ {}x",
    "min_ratio": "ratio ≥ {}x",
    "previous_human_amount": "previous {}",
    "previous_human_fraction": "previous {}",
    "added_synthetic_amount": "new synthetic {}",
}


def number(value: float | None) -> str:
    if value is None:
        return "-"
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.6g}"


def percent(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 100:.5g} %"


def observed_text(rule: str, observed: float | None) -> str:
    return percent(observed) if rule in _SHARE_RULES else number(observed)


def threshold_text(rule: str, threshold: Mapping[str, float]) -> str:
    limits = ("pass_at_least", "pass_at_most", "fail_below", "fail_above")
    keys = [k for k in limits if k in threshold]
    keys += [k for k in threshold if k not in limits and k != "min_depth"]
    parts: list[str] = []
    for key in keys:
        value = threshold[key]
        shown = percent(value) if rule in _SHARE_RULES and key in _SHARE_KEYS else number(value)
        label = _LIMIT_LABELS.get(key, key.replace("_", " ") + " {}")
        parts.append(label.format(shown))
    text = ", ".join(parts)
    if "min_depth" in threshold:
        text = f"depth ≥ {number(threshold['min_depth'])}: {text}"
    return text


def composition_line(composition: CompositionRead) -> str:
    line = (
        f"Composition: {percent(composition.human_fraction)} human, "
        f"{percent(composition.synthetic_fraction)} synthetic, "
        f"{percent(composition.unknown_fraction)} unknown; "
        f"max depth {number(composition.max_depth)}, "
        f"depth load {number(composition.depth_load)}"
    )
    total = composition.total_amount
    line += f"; total amount {number(total)}." if total is not None else "; total amount unknown."
    if composition.weights_assumed:
        line += " Amounts are unknown, so the members were weighed equally."
    if composition.stale:
        line += " An upstream correction is still being propagated to it."
    return line


def policy_label(policy: PolicyRef) -> str:
    return f"{policy.name}@{policy.version}"


def source_label(source: Source) -> str:
    spec = DatasetSpec(source.namespace, source.name, source.version)
    return f"{format_dataset(spec)} (size {number(source.size)})"


def findings_table(findings: Sequence[FindingRead]) -> Table:
    table = Table(title="Findings", title_justify="left", show_lines=False)
    table.add_column("Rule", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Observed", justify="right")
    table.add_column("Threshold")
    for finding in findings:
        table.add_row(
            Text(finding.rule),
            Text(finding.status, style=_STYLE.get(finding.status, "")),
            Text(observed_text(finding.rule, finding.observed)),
            Text(threshold_text(finding.rule, finding.threshold)),
        )
    return table


def render_report(answer: GateResponse, console: Console, *, strict: bool) -> None:
    """The report ``headwater gate`` prints, and the web gate page shows as the command would."""
    # In a CI log, one line per sentence reads and greps better than rich's hard wrapping;
    # a terminal still gets wrapped prose.
    soft = not console.is_terminal

    def say(*parts: str | tuple[str, str]) -> None:
        console.print(Text.assemble(*parts), soft_wrap=soft)

    verdict = answer.verdict
    console.print(findings_table(answer.findings))
    consequence = {
        EXIT_PROCEED: "the job may proceed",
        EXIT_BLOCKED: "the job is blocked",
        EXIT_UNDECIDED: "the gate cannot decide",
    }[exit_code(verdict, strict=strict)]
    if verdict == "warn":
        consequence += " (--strict blocks on warn)" if strict else " (without --strict)"
    say(
        "Verdict: ",
        (verdict.upper(), _STYLE.get(verdict, "")),
        f" under policy {policy_label(answer.policy)}: {consequence}.",
    )
    say(composition_line(answer.composition))
    if verdict == "pass":
        return
    for finding in answer.findings:
        if finding.status in ("warn", "fail"):
            say("• ", (finding.rule, "bold"), f" ({finding.status}): {finding.message}")
    remediation = answer.remediation
    if remediation is not None:
        say(f"Remediation: {remediation.message}")
        if remediation.sources:
            say("Human-origin sources recorded here, largest first:")
            for source in remediation.sources:
                say(f"  {source_label(source)}")
