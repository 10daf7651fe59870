"""Collapse-risk rules: a policy's thresholds as data, their evaluation, and remediation.

Everything here is a pure function of plain numbers (``SetFigures`` for a training set,
``PreviousGeneration`` for a self-consuming lineage), so the gate, the training-run recorder
and the tests all share one definition of every rule, independent of the database and of the
composition engine that produces the numbers.

The package is split by concern: ``definition`` (the policy as data), ``figures`` (the
numbers rules read), ``evaluation`` (one finding per rule), ``needs`` and ``remediation``
(what added human data fixes), ``wording`` (how numbers are written), and ``registry``, the
one table that binds a rule's name to its definition, evaluator and need.

Amounts are in the training set's own unit (rows, tokens, documents). When a training set's
amounts are unknown (``total_amount is None``, the composition assumed its weights), rules
that need absolute amounts degrade as follows:

- ``replace`` compares the human *shares* of the two training sets instead (it needs
  ``PreviousGeneration.human_fraction``) and says so; with neither amounts nor shares it warns
  that it cannot tell.
- ``fresh_real`` compares the added amounts as given, since only their ratio matters; when
  they are unknown it warns that it cannot tell.
- ``remediation`` states the remedy relative to the current set's size
  (``additional_human_ratio``) and leaves ``additional_human_amount`` as ``None``.
"""

from app.policies.rules.definition import (
    DEFAULT_POLICY_NAME,
    DeepTailRule,
    DepthLoadRule,
    FreshRealRule,
    HumanFractionRule,
    PolicyDefinition,
    PolicyRules,
    ReplaceRule,
    SourcesPreservedRule,
    UnknownFractionRule,
    default_policy,
    default_policy_rules,
)
from app.policies.rules.figures import (
    AMOUNT_RTOL,
    Finding,
    Outcome,
    PreviousGeneration,
    SetFigures,
    Status,
    Target,
    with_added_human,
)
from app.policies.rules.registry import RULE_NAMES, RULES, RuleKind, evaluate, verdict
from app.policies.rules.remediation import Remediation, RuleRemediation, remediation

__all__ = [
    "AMOUNT_RTOL",
    "DEFAULT_POLICY_NAME",
    "RULES",
    "RULE_NAMES",
    "DeepTailRule",
    "DepthLoadRule",
    "Finding",
    "FreshRealRule",
    "HumanFractionRule",
    "Outcome",
    "PolicyDefinition",
    "PolicyRules",
    "PreviousGeneration",
    "Remediation",
    "ReplaceRule",
    "RuleKind",
    "RuleRemediation",
    "SetFigures",
    "SourcesPreservedRule",
    "Status",
    "Target",
    "UnknownFractionRule",
    "default_policy",
    "default_policy_rules",
    "evaluate",
    "remediation",
    "verdict",
    "with_added_human",
]
