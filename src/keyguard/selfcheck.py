"""Run a rule's embedded examples through the real engine: its tests travel with the rule."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from keyguard.engine import ScanPlan, scan_bytes
from keyguard.models import Example, Rule
from keyguard.prefilter import Backend
from keyguard.ruleset import expand_fakes

__all__ = ["ExampleFailure", "check_rule", "check_rules"]


@dataclass(frozen=True, slots=True)
class ExampleFailure:
    """An example the engine got wrong: which rule, which kind of example, which one."""

    rule_id: str
    expected: bool
    example: Example

    def describe(self) -> str:
        what = "true positive not found" if self.expected else "false positive reported"
        return f"{self.rule_id}: {what} in {self.example.path}: {self.example.code!r}"


def check_rule(rule: Rule, prefilter: Backend = "stdlib") -> list[ExampleFailure]:
    """Scan each example with this rule alone; the rule must fire on exactly the positives."""
    plan = ScanPlan(rules=(rule,), prefilter=prefilter)
    failures: list[ExampleFailure] = []
    for expected, examples in ((True, rule.true_positives), (False, rule.false_positives)):
        for example in examples:
            data = expand_fakes(example.code).encode("utf-8")
            found = any(f.rule.id == rule.id for f in scan_bytes(example.path, data, plan))
            if found != expected:
                failures.append(ExampleFailure(rule.id, expected, example))
    return failures


def check_rules(rules: Sequence[Rule]) -> list[ExampleFailure]:
    return [failure for rule in rules for failure in check_rule(rule)]
