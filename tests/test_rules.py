"""Every rule's embedded examples run through the real engine (the gitleaks/Fixit habit)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from keyguard.engine import ScanPlan, scan_bytes
from keyguard.models import Rule
from keyguard.prefilter import Backend
from keyguard.ruleset import RuleError, builtin_rules, expand_fakes, parse_rules
from keyguard.selfcheck import check_rule
from tests.conftest import PREFILTERS, fake

RULES = builtin_rules()
MIN_EXAMPLES = 5


def test_rule_ids_and_levels_are_the_documented_ones() -> None:
    table = {
        rule.id: (rule.name, rule.severity.value) for rule in RULES if not rule.id.startswith("KG5")
    }
    assert table == {
        "KG101": ("live-secret-key", "error"),
        "KG102": ("test-secret-key", "warning"),
        "KG103": ("restricted-key", "error"),
        "KG201": ("secret-in-client-code", "error"),
        "KG202": ("hard-coded-client-secret", "warning"),
        "KG301": ("insecure-http-endpoint", "warning"),
        "KG104": ("bearer-literal", "error"),
        "KG401": ("oauth-missing-state", "warning"),
        "KG402": ("oauth-implicit-flow", "warning"),
        "KG403": ("unknown-oauth-scope", "warning"),
        "KG404": ("http-redirect-uri", "error"),
        "KG405": ("token-exchange-in-client", "error"),
    }


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.id)
def test_rule_has_enough_examples_and_docs(rule: Rule) -> None:
    assert len(rule.true_positives) >= MIN_EXAMPLES
    assert len(rule.false_positives) >= MIN_EXAMPLES
    assert rule.description and rule.remediation and rule.summary


@pytest.mark.parametrize("prefilter", PREFILTERS)
@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.id)
def test_rule_examples(rule: Rule, prefilter: Backend) -> None:
    failures = check_rule(rule, prefilter)
    assert not failures, "\n".join(failure.describe() for failure in failures)


def test_rule_files_hold_nothing_the_scanner_calls_a_key() -> None:
    # Without their templates the examples must be clean: the repository stays quiet for its own
    # scan and for a hosting provider's push protection.
    plan = ScanPlan(rules=RULES)
    for rule in RULES:
        for example in rule.true_positives + rule.false_positives:
            literal = re.sub(r"\{\{[a-z]+:\d+\}\}", "", example.code).encode()
            found = [f.rule.id for f in scan_bytes(example.path, literal, plan)]
            assert not {"KG101", "KG102", "KG103"} & set(found), (rule.id, example)


def test_expand_fakes_makes_fresh_random_bodies() -> None:
    first, second = expand_fakes("{{alnum:24}}"), expand_fakes("{{alnum:24}}")
    assert len(first) == 24 and first.isalnum() and first != second
    assert len(expand_fakes("{{hex:40}}")) == 40


def test_a_broken_rule_file_is_a_clear_error() -> None:
    with pytest.raises(RuleError, match=r"x\.toml: rule KG999: missing key 'summary'"):
        parse_rules(
            '[[rule]]\nid="KG999"\nname="x"\nseverity="error"\ndescription="d"\n'
            'remediation="r"\nkeywords=["x"]\npattern="(?P<secret>x)"\n',
            "x.toml",
        )
    with pytest.raises(RuleError, match="needs a named group"):
        parse_rules(
            '[[rule]]\nid="KG999"\nname="x"\nseverity="error"\nsummary="s"\ndescription="d"\n'
            'remediation="r"\nkeywords=["x"]\npattern="x+"\n',
            "x.toml",
        )
    with pytest.raises(RuleError, match="unknown key 'patern'"):
        parse_rules('[[rule]]\nid="KG999"\npatern="x"\n', "x.toml")


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.id)
def test_builtin_patterns_compile_with_a_secret_group(rule: Rule) -> None:
    # A scan compiles built-in patterns only when it needs them, unchecked: this is the check.
    assert any(name.startswith("secret") for name in rule.pattern.groupindex)


def test_a_clean_scan_compiles_no_rule_pattern(tmp_path: Path) -> None:
    (tmp_path / "clean.py").write_text("import os\nKEY = os.environ['API_KEY']\n")
    probe = (
        "from pathlib import Path\nfrom keyguard.config import Config\n"
        "from keyguard.engine import scan\nfrom keyguard.models import _compile_rule_regex\n"
        f"scan([Path({str(tmp_path)!r})], Config(root=Path({str(tmp_path)!r})), jobs=1)\n"
        "print(_compile_rule_regex.cache_info().currsize)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0"]
    (tmp_path / "key.env").write_text("KEY=" + fake("sk_live_{{alnum:24}}") + "\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert int(out.stdout) >= 1
