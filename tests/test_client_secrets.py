"""Issue 9 (client secrets recall): OAuth shapes, templates, bundled folders, the docs test key,
and secrets deep inside large JSON-lines files.

The corpus (tests/fixtures/corpus, see manifest.toml) holds a realistic file for each shape;
these tests pin the decisions one by one so a failure names the shape that broke.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from keyguard.config import Config
from keyguard.context import ContextRules
from keyguard.engine import ScanPlan, scan, scan_bytes
from keyguard.lines import LineIndex
from keyguard.models import Severity
from keyguard.ruleset import builtin_rules, expand_fakes
from tests.conftest import ScanText, fake


def ids(path: str, code: str, plan: ScanPlan | None = None) -> list[str]:
    plan = plan or ScanPlan(rules=builtin_rules())
    return sorted(f.rule.id for f in scan_bytes(path, expand_fakes(code).encode(), plan))


# --- positional OAuth credentials and client exports ----------------------------------------


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("config/initializers/omniauth.rb", 'provider :github, "{{hex:20}}", "{{hex:40}}"'),
        ("config/initializers/omniauth.rb", "provider(:gitlab, '{{hex:20}}', '{{hex:40}}')"),
        ("config/initializers/devise.rb", 'config.omniauth :github, ENV["ID"], "{{hex:40}}"'),
        ("server/passport.js", "new Strategy({ clientID: 'shop', clientSecret: '{{hex:40}}' })"),
        ("auth/session.py", 'OAuth2Session(CLIENT_ID, "{{alnum:40}}", scope="read")'),
        ("auth/session.py", 'OAuth2Session(client_id, client_secret="{{alnum:40}}")'),
        ("auth/session.py", 'AsyncOAuth2Client("shop", "{{alnum:40}}")'),
        ("auth/session.py", 'OAuth1Session(settings.KEY, "{{alnum:40}}")'),
        (
            "shop/settings.py",
            'SOCIALACCOUNT_PROVIDERS = {"gh": {"APP": {"client_id": "a",\n'
            '    "secret": "{{alnum:40}}"}}}',
        ),
        (
            "shop/settings.py",
            'P = {"oidc": {"apps": [{"provider_id": "kc", "client_id": "a",\n'
            '    "secret": "{{alnum:40}}"}]}}',
        ),
        (
            "realm-export.json",
            '{"clientId": "shop", "redirectUris": ["/*"],\n "secret": "{{alnum:32}}"}',
        ),
        ("keycloak.json", '{"credentials": {"secret": "{{alnum:32}}"}}'),
        ("application.properties", "keycloak.credentials.secret={{alnum:32}}"),
    ],
)
def test_positional_and_exported_client_secrets(path: str, code: str) -> None:
    assert ids(path, code) == ["KG202"]


@pytest.mark.parametrize(
    ("path", "code"),
    [
        (
            "config/initializers/omniauth.rb",
            'provider :github, ENV["GITHUB_KEY"], ENV["GITHUB_SECRET"]',
        ),
        (
            "config/initializers/omniauth.rb",
            'provider :fb, ENV.fetch("FB_ID", "{{alnum:12}}"), ENV.fetch("FB_SECRET")',
        ),
        ("config/initializers/omniauth.rb", 'provider :github, "{{hex:20}}", "GITHUB_SECRET"'),
        ("auth/session.py", 'OAuth2Session(os.environ["ID"], os.environ["SECRET"])'),
        # A second positional argument that is not a secret, in a call that is no OAuth client.
        ("auth/session.py", 'Session("shop", "{{alnum:40}}")'),
        # "secret" with no client id beside it: a webhook or signing secret, not KG202's business.
        ("shop/settings.py", 'WEBHOOK = {"name": "orders", "secret": "{{alnum:32}}"}'),
        ("realm-export.json", '{"clientId": "admin-cli", "secret": "**********"}'),
        # The secret belongs to another object than the client id.
        ("config.json", '{"clientId": "shop"}, {"webhook": {"secret": "{{alnum:32}}"}}'),
    ],
)
def test_what_is_not_a_hard_coded_client_secret(path: str, code: str) -> None:
    assert ids(path, code) == []


# --- templates and bundled folders ----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "code", "expected"),
    [
        (
            "views/pay.blade.php",
            "<script>\nStripe('sk_live_{{alnum:24}}');\n</script>",
            ["KG101", "KG201"],
        ),
        ("views/pay.blade.php", "@php\n$k = 'sk_live_{{alnum:24}}';\n@endphp", ["KG101"]),
        ("views/pay.html.erb", "<% key = 'sk_live_{{alnum:24}}' %>", ["KG101"]),
        ("views/pay.html.erb", "<div data-key='sk_live_{{alnum:24}}'></div>", ["KG101", "KG201"]),
        (
            "views/pay.html.erb",
            "<a onclick=\"go('<%= x %>', 'sk_live_{{alnum:24}}')\">",
            ["KG101", "KG201"],
        ),
        ("templates/a.jinja2", '{% set client_secret = "{{alnum:40}}" %}', ["KG202"]),
        ("templates/a.j2", '<script>var c = {client_secret: "{{alnum:40}}"};</script>', ["KG201"]),
        (
            "templates/a.twig",
            "<SCRIPT type=module>Stripe('sk_live_{{alnum:24}}')</SCRIPT>",
            ["KG101", "KG201"],
        ),
        ("Views/A.cshtml", '@{ var clientSecret = "{{alnum:40}}"; }', ["KG202"]),
        ("Pages/A.razor", '<button data-client-secret="{{alnum:40}}">', ["KG201"]),
        # Text the server prints is decided by server code: server-side (see README).
        ("views/pay.blade.php", "<p>Key: sk_live_{{alnum:24}}</p>", ["KG101"]),
        # Ansible-style Jinja config: no markup at all.
        ("roles/app/templates/app.conf.j2", "client_secret = {{alnum:40}}", ["KG202"]),
        ("app/views/orders/create.js.erb", "Stripe('sk_live_{{alnum:24}}')", ["KG101", "KG201"]),
        # Rails and Angular bundle these folders into the browser app.
        ("app/javascript/pay.js", "Stripe('sk_live_{{alnum:24}}')", ["KG101", "KG201"]),
        (
            "app/javascript/pay.js",
            "if (process.env.DEBUG) {}\nStripe('sk_live_{{alnum:24}}')",
            ["KG101", "KG201"],
        ),
        (
            "src/environments/environment.ts",
            "export const e = { clientSecret: '{{alnum:40}}' };",
            ["KG201"],
        ),
        (
            "src/environments/environment.ts",
            "export const e = { key: 'pk_live_{{alnum:24}}' };",
            [],
        ),
    ],
)
def test_templates_and_bundled_folders(path: str, code: str, expected: list[str]) -> None:
    assert ids(path, code) == expected


def test_a_config_override_decides_a_whole_template() -> None:
    code = "@php\n$k = 'sk_live_{{alnum:24}}';\n@endphp"
    client = ContextRules.from_globs(["views/**"], [])
    assert ids("views/pay.blade.php", code, ScanPlan(builtin_rules(), context=client)) == [
        "KG101",
        "KG201",
    ]
    server = ContextRules.from_globs([], ["views/**"])
    script = "<script>Stripe('sk_live_{{alnum:24}}')</script>"
    assert ids("views/pay.blade.php", script, ScanPlan(builtin_rules(), context=server)) == [
        "KG101"
    ]


@pytest.mark.parametrize(
    ("path", "code"),
    [
        (".env", "NEXT_PUBLIC_OAUTH_CLIENT_SECRET={{alnum:40}}"),
        ("src/environments/environment.prod.ts", "clientSecret: '{{alnum:40}}',"),
        ("templates/login.jinja", '<script>const c = { client_secret: "{{alnum:32}}" };</script>'),
        ("Views/Login.cshtml", '<div data-client-secret="{{alnum:40}}"></div>'),
        ("public/app.js", "params.set('client_secret', '{{alnum:32}}');"),
    ],
)
def test_a_client_secret_in_client_code_is_kg201_only(path: str, code: str) -> None:
    assert ids(path, code) == ["KG201"]


def test_line_index_offset_inverts_position() -> None:
    data = "a\r\nhé€ x\n\xff\n".encode("utf-8", "surrogateescape") + b"\xff\xfeok\n"
    index = LineIndex(data)
    starts = [i for i in range(len(data)) if data[i] & 0xC0 != 0x80 or data[i] in (0xFF, 0xFE)]
    for offset in starts:
        if data[offset : offset + 1] == b"\n":
            continue
        line, column = LineIndex(data).position(offset)
        assert index.offset(line, column) == offset, offset


# --- the provider's published documentation test key --------------------------------------

# Assembled at run time: the key is never written whole in the repository (see README).
DOCS_TEST_KEY = "".join(["sk", "_test_", "4eC39Hq", "LyjWDar", "jtT1zdp7dc"])
DOCS_PUBLISHABLE_KEY = "".join(["pk", "_test_", "TYooMQa", "uvdEDq5", "4NiTphI7jx"])


def test_the_docs_test_key_is_a_note(scan_text: ScanText) -> None:
    findings = scan_text("server/billing.rb", f'Stripe.api_key = "{DOCS_TEST_KEY}"')
    assert [(f.rule.id, f.severity) for f in findings] == [("KG102", Severity.NOTE)]
    assert "published documentation test key" in findings[0].message
    assert DOCS_TEST_KEY not in findings[0].message
    client = scan_text("public/checkout.js", f'Stripe("{DOCS_TEST_KEY}")')
    assert {(f.rule.id, f.severity) for f in client} == {
        ("KG102", Severity.NOTE),
        ("KG201", Severity.NOTE),
    }


def test_other_test_keys_keep_their_level(scan_text: ScanText) -> None:
    near = DOCS_TEST_KEY[:-1] + ("d" if DOCS_TEST_KEY[-1] != "d" else "e")
    for key in (fake("sk_test_{{alnum:24}}"), near):
        findings = scan_text("server/billing.rb", f'Stripe.api_key = "{key}"')
        assert [(f.rule.id, f.severity) for f in findings] == [("KG102", Severity.WARNING)]


def test_the_docs_publishable_key_is_never_reported(scan_text: ScanText) -> None:
    assert scan_text("public/checkout.js", f'Stripe("{DOCS_PUBLISHABLE_KEY}")') == []


def test_the_docs_test_key_does_not_fail_a_default_scan(tmp_path: Path) -> None:
    (tmp_path / "billing.rb").write_text(f'Stripe.api_key = "{DOCS_TEST_KEY}"\n')

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "keyguard", "scan", ".", "--format", "json", *extra]
        return subprocess.run(
            command, cwd=tmp_path, capture_output=True, text=True, check=False, timeout=120
        )

    result = run()
    assert result.returncode == 0, result.stderr
    assert DOCS_TEST_KEY not in result.stdout
    assert json.loads(result.stdout)["findings"][0]["level"] == "note"
    assert run("--fail-on", "note").returncode == 1


# --- large JSON-lines files ------------------------------------------------------------------

KEY_LINE = 18_000
TOTAL_LINES = 20_000


def test_a_key_deep_in_a_3_mb_jsonl_file_is_found_at_its_line(tmp_path: Path) -> None:
    """A dataset export: one record per line, a key in record 18,000 after non-ASCII text."""
    rng = random.Random(9)
    key = fake("sk_live_{{alnum:24}}")
    others = {100: fake("sk_live_{{alnum:24}}"), 19_999: fake("rk_live_{{alnum:24}}")}
    records = []
    for number in range(1, TOTAL_LINES + 1):
        text = "".join(rng.choice("abcdefghij klmnopqrstuv") for _ in range(150))
        if number == KEY_LINE:
            text = f"héllo wörld — {key} end"
        elif number in others:
            text = f"see {others[number]}"
        records.append(json.dumps({"id": number, "text": text}, ensure_ascii=False))
    (tmp_path / "export.jsonl").write_text("\n".join(records) + "\n", encoding="utf-8")
    size = (tmp_path / "export.jsonl").stat().st_size
    assert size >= 3_000_000
    result = scan([tmp_path], Config(root=tmp_path), jobs=1, display_root=tmp_path)
    assert not result.skipped, result.skipped  # the default max_file_size must allow it
    found = {(f.rule.id, f.location.line, f.location.column) for f in result.findings}
    column = records[KEY_LINE - 1].index(key) + 1  # code points, as SARIF counts them
    assert ("KG101", KEY_LINE, column) in found
    assert {line for _, line, _ in found} == {100, KEY_LINE, 19_999}
    deep = next(f for f in result.findings if f.location.line == KEY_LINE)
    assert deep.location.end_column == column + len(key)
