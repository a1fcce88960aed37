"""OAuth hygiene rules (KG401-KG405) and bearer literals (KG104) on whole files.

`tests/fixtures/oauth/` holds each rule's shapes in JavaScript, TypeScript, Python and HTML,
next to the safe form of each (state set, PKCE, a server-side exchange, a variable in the
header), so every test below fails when the judgement it names is removed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from keyguard.config import Config
from keyguard.engine import scan
from keyguard.models import Finding
from keyguard.ruleset import expand_fakes
from tests.conftest import ScanText

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "oauth"
OAUTH_RULES = {"KG104", "KG401", "KG402", "KG403", "KG404", "KG405"}
EXPECTED = {
    ("app/oauth.py", 15, "KG404"),  # REDIRECT_URI over http to a public host
    ("app/oauth.py", 17, "KG403"),  # write:order
    ("app/oauth.py", 21, "KG401"),  # urlencode({...}) without state
    ("app/oauth.py", 50, "KG104"),  # session.headers["Authorization"] = "Bearer sk_live_…"
    ("public/js/login.js", 8, "KG404"),
    ("public/js/login.js", 9, "KG401"),  # searchParams.set(...) without state
    ("public/js/login.js", 10, "KG403"),  # read:user
    ("public/js/login.js", 27, "KG402"),  # response_type=token in a template string
    ("public/js/login.js", 34, "KG405"),  # browser exchange with client_secret
    ("src/components/Orders.tsx", 5, "KG104"),  # a restricted key in a header...
    ("src/components/Orders.tsx", 5, "KG201"),  # ...in client code
    ("src/components/Orders.tsx", 6, "KG104"),  # a random-looking session token
    ("src/components/Orders.tsx", 44, "KG401"),  # URLSearchParams({...}) without state
    ("src/components/Orders.tsx", 45, "KG403"),  # admin:all
    ("web/login.html", 6, "KG401"),  # a sign-in link without state
    ("web/login.html", 7, "KG404"),  # URL-encoded http redirect_uri in a link
    ("web/login.html", 11, "KG402"),  # implicit grant in a <script> block
    ("web/login.html", 15, "KG405"),  # exchange with the secret in a page...
    ("web/login.html", 15, "KG201"),  # ...whose literal secret is in a query string
}


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> list[Finding]:
    root = tmp_path_factory.mktemp("oauth")
    shutil.copytree(FIXTURES, root, dirs_exist_ok=True)
    for path in root.rglob("*"):
        if path.is_file():
            path.write_text(expand_fakes(path.read_text()))
    return list(scan([root], Config(root=root), jobs=1, display_root=root).findings)


def test_fixture_tree_reports_exactly_the_expected_findings(findings: list[Finding]) -> None:
    found = {(f.location.path, f.location.line, f.rule.id) for f in findings}
    assert found == EXPECTED


def test_state_pkce_server_exchange_and_variables_are_not_reported(
    findings: list[Finding],
) -> None:
    lines = {(f.location.path, f.location.line) for f in findings}
    assert ("public/js/login.js", 20) not in lines  # state set two lines below
    assert ("src/components/Orders.tsx", 22) not in lines  # PKCE code_challenge
    assert ("src/components/Orders.tsx", 32) not in lines  # PKCE exchange, no secret
    assert ("app/oauth.py", 28) not in lines  # urlencode with state
    assert ("app/oauth.py", 38) not in lines  # exchange on a server
    assert ("app/oauth.py", 16) not in lines  # loopback redirect (RFC 8252)
    assert not any(f.location.path == "server/token.js" for f in findings)
    assert ("web/login.html", 5) not in lines  # the page's text
    assert ("web/login.html", 8) not in lines  # an HTML comment
    assert ("app/oauth.py", 3) not in lines  # the module docstring


def test_a_redirect_uri_is_kg404_and_not_also_kg301(findings: list[Finding]) -> None:
    assert not any(f.rule.id == "KG301" for f in findings)


def test_a_provider_key_in_a_bearer_header_is_one_finding(findings: list[Finding]) -> None:
    on_line = [
        f.rule.id for f in findings if (f.location.path, f.location.line) == ("app/oauth.py", 50)
    ]
    assert on_line == ["KG104"]
    (bearer,) = [f for f in findings if f.location.path == "app/oauth.py" and f.rule.id == "KG104"]
    assert bearer.redacted.startswith("sk_live_…") and len(bearer.redacted) < 16


def test_unknown_scopes_suggest_the_nearest_real_one(findings: list[Finding]) -> None:
    messages = {f.location.line: f.message for f in findings if f.rule.id == "KG403"}
    assert "write:order: did you mean write:orders?" in messages[17]
    by_path = {(f.location.path, f.location.line): f.message for f in findings}
    assert "read:user: did you mean read:users?" in by_path[("public/js/login.js", 10)]
    assert "admin:all: not a scope of the provider" in by_path[("src/components/Orders.tsx", 45)]


def test_findings_show_parameters_as_written_in_a_url(findings: list[Finding]) -> None:
    shown = {f.redacted for f in findings if f.rule.id in {"KG401", "KG402", "KG405"}}
    assert shown == {"response_type=code", "response_type=token", "grant_type=authorization_code"}


def test_another_providers_scopes_are_not_judged(scan_text: ScanText) -> None:
    code = "GitHub({ clientId, clientSecret, authorization: { params: { scope: 'read:user' } } })"
    assert scan_text("src/auth.ts", code) == []
    provider = "fetch('https://api.example.com/oauth/token', { body: { scope: 'read:user' } })"
    assert [f.rule.id for f in scan_text("server/auth.js", provider)] == ["KG403"]


def test_a_third_party_token_in_a_bearer_header_keeps_its_own_rule(scan_text: ScanText) -> None:
    code = 'curl -H "Authorization: Bearer ghp_{{alnum:36}}" https://api.github.com/user'
    ids = {f.rule.id for f in scan_text("scripts/gh.sh", code)}
    assert "KG104" not in ids and ids


def test_a_user_rule_can_check_its_own_providers_scopes(tmp_path: Path) -> None:
    from keyguard.ruleset import load_rule_file

    rule_file = tmp_path / "acme.toml"
    rule_file.write_text(
        '[[rule]]\nid = "ACME403"\nname = "acme-scope"\nseverity = "warning"\nkind = "oauth"\n'
        'check = "unknown-scope"\nsummary = "Unknown Acme scope"\ndescription = "d"\n'
        'remediation = "r"\nvalues = ["orders.read", "orders.write"]\nkeywords = ["orders."]\n'
        "pattern = '''scope=(?P<secret>[\\w.+]+)'''\n"
    )
    (rule,) = load_rule_file(rule_file)
    from keyguard.engine import ScanPlan, scan_bytes

    found = scan_bytes(
        "src/a.js", b"const u = base + '?scope=orders.read+orders.wirte';", ScanPlan(rules=(rule,))
    )
    assert [f.message for f in found] == [
        "Unknown Acme scope: orders.read+orders.wirte (orders.wirte: did you mean orders.write?)"
    ]


def test_a_check_for_another_kind_of_rule_is_a_clear_error(tmp_path: Path) -> None:
    from keyguard.ruleset import RuleError, parse_rules

    with pytest.raises(
        RuleError, match="'check' of a rule of kind secret must be one of: bearer-literal"
    ):
        parse_rules(
            '[[rule]]\nid="KG999"\nname="x"\nseverity="error"\nsummary="s"\ndescription="d"\n'
            'remediation="r"\nkeywords=["x"]\ncheck="missing-state"\npattern="(?P<secret>x)"\n',
            "x.toml",
        )


def test_every_check_a_rule_may_name_is_implemented() -> None:
    from keyguard import checks, ruleset

    assert set(ruleset.CHECKS) == set(checks.CHECKS)


def test_vendored_code_is_counted_not_reported(tmp_path: Path) -> None:
    vendored = tmp_path / "static" / "vendor" / "hello.js"
    vendored.parent.mkdir(parents=True)
    vendored.write_text("hello.settings = { response_type: 'token', display: 'popup' };\n")
    own = tmp_path / "static" / "js" / "login.js"
    own.parent.mkdir(parents=True)
    own.write_text("hello.init({ response_type: 'token' });\n")
    result = scan([tmp_path], Config(root=tmp_path), jobs=1, display_root=tmp_path)
    assert [(f.location.path, f.rule.id) for f in result.findings] == [
        ("static/js/login.js", "KG402")
    ]
    assert result.stats.third_party_oauth == 1


def test_fix_moves_a_provider_key_out_of_a_bearer_header(tmp_path: Path) -> None:
    from keyguard.fix import fallback_name
    from keyguard.models import Location, Severity
    from keyguard.ruleset import builtin_rules

    (rule,) = [rule for rule in builtin_rules() if rule.id == "KG104"]
    finding = Finding(rule, Location("a.py", 1, 1, 1, 2), Severity.ERROR, "…", "f", "m")
    assert fallback_name(finding, "rk_" + "x" * 24) == "KEYGUARD_RESTRICTED_KEY"
    assert fallback_name(finding, "a1" * 20) == "KEYGUARD_BEARER_TOKEN"
