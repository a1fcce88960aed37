"""The common third-party pack (rules/common.toml): what its reports show and hide."""

from __future__ import annotations

from keyguard.engine import ScanPlan, scan_bytes
from keyguard.filters import keyword_prefix
from keyguard.ruleset import builtin_rules, expand_fakes

PLAN = ScanPlan(rules=builtin_rules())


def test_the_pack_has_forty_rules_with_keywords_and_ids_kg5xx() -> None:
    pack = [rule for rule in builtin_rules() if rule.id.startswith("KG5")]
    assert len(pack) >= 40
    assert all(rule.keywords and rule.remediation for rule in pack)


def test_a_private_key_is_reported_at_its_begin_line_with_the_body_hidden() -> None:
    body = [expand_fakes("{{b64:64}}") for _ in range(3)]
    text = "# deploy key\n-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(body)
    text += "\n-----END RSA PRIVATE KEY-----\n"
    [finding] = [
        f for f in scan_bytes("deploy/id_rsa", text.encode(), PLAN) if f.rule.id == "KG516"
    ]
    assert (finding.location.line, finding.location.column) == (2, 1)
    assert finding.redacted == "-----BEGIN RSA PRIVATE KEY-----…"
    assert finding.snippet == "-----BEGIN RSA PRIVATE KEY-----"
    shown = finding.message + finding.snippet + finding.redacted
    assert not any(line[:12] in shown for line in body)


def test_a_database_url_shows_user_and_host_but_never_the_password() -> None:
    password = expand_fakes("{{alnum:20}}")
    text = f'DATABASE_URL = "postgres://shop:{password}@db.internal:5432/shop"\n'
    [finding] = [f for f in scan_bytes("settings.py", text.encode(), PLAN) if f.rule.id == "KG527"]
    assert finding.redacted == "postgres://shop:…@db.internal"
    assert password not in finding.snippet and password[:6] not in finding.snippet


def test_a_secret_starting_with_its_keyword_is_judged_by_its_body() -> None:
    assert keyword_prefix("ghp_abc", (b"ghp_",)) == 4
    assert keyword_prefix("AKIAABC", (b"akia", b"asia")) == 4
    assert keyword_prefix("token", (b"ghp_",)) == 0
