"""KG301 on the shapes real projects hold: what a reviewer would change, and what they dismiss.

`tests/fixtures/kg301/` is a small tree of those shapes (oEmbed providers, claim URIs, snapshots,
Django `tests.py`, vendored and bundled scripts, emulator and private hosts). Each test below
fails when the heuristic it names is removed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from keyguard.config import Config
from keyguard.engine import scan
from tests.conftest import ScanText

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "kg301"
# (path, line) of every plain-http endpoint a reviewer would change in the fixture tree.
EXPECTED = {
    ("cms/embeds/finders.py", 4),  # oEmbed provider endpoint
    ("cms/embeds/finders.py", 7),
    ("cms/embeds/finders.py", 15),  # requests.get("http://…")
    ("cms/static/css/site.css", 3),  # url(http://…) in the app's own stylesheet
    ("src/auth/claims.ts", 8),  # an OAuth token URL next to claim identifiers
    ("mobile/src/api.ts", 4),  # the production API, next to emulator aliases
    ("scripts/dev.sh", 4),  # curl to a public host, next to private ones
}


def test_fixture_tree_reports_exactly_the_real_endpoints() -> None:
    result = scan([FIXTURES], Config(root=FIXTURES), jobs=1, display_root=FIXTURES)
    found = {(f.location.path, f.location.line) for f in result.findings}
    assert {f.rule.id for f in result.findings} == {"KG301"}
    assert found == EXPECTED
    # moment.min.js and app.bundle.js each hold one endpoint: counted, not reported.
    assert result.stats.third_party_endpoints == 2


@pytest.mark.parametrize(
    "path",
    [
        "src/__snapshots__/client.test.ts.snap",
        "tests/__snapshots__/api.ambr",
        "snapshots/home.txt",
        "shop/tests.py",
        "app/unit_tests/client.py",
        "web/integration-tests/api.js",
        "pkg/test_utils/server.py",
        "cypress/e2e/login.js",
        "src/client.cy.ts",
        "fixtures/users.json",
        "crate/src/client_test.rs",
    ],
)
def test_every_test_layout_skips_endpoints(scan_text: ScanText, path: str) -> None:
    assert scan_text(path, 'URL = "http://api.example.com/v1"\n') == []


@pytest.mark.parametrize(
    "path", ["contest/client.py", "latest/client.py", "attestation/api.py", "testimony/x.py"]
)
def test_words_that_contain_test_are_not_test_trees(scan_text: ScanText, path: str) -> None:
    assert [f.rule.id for f in scan_text(path, 'URL = "http://api.example.com/v1"\n')] == ["KG301"]


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("claims.py", 'ROLE = "http://schemas.acme-idp.com/claims/role"'),
        ("ax.py", 'FIRST = "http://openid.net/schema/namePerson/first"'),
        ("ax.py", 'EMAIL = "http://axschema.org/contact/email"'),
        ("claims.js", "const c = 'http://acme.example.com/ws/2008/06/identity/claims/role';"),
        ("map.py", 'NAMES = {"http://idp.example.com/claims/tenant": "tenant"}'),
        ("map.js", 'const names = {"http://idp.example.com/attrs/tenant": "tenant"};'),
        ("map.json", '{"http://idp.example.com/attrs/tenant": "tenant"}'),
        ("check.py", 'if claim.type == "http://idp.example.com/attrs/tenant":\n    pass'),
        ("check.py", 'ok = kind in ("http://idp.example.com/a", "http://idp.example.com/b")'),
        ("check.py", 'ok = url.startswith("http://www.youtube.com/")'),
        ("ld.py", 'TERMS = "http://example.org/vocab/shop#"'),
        ("rdf.py", 'OWL = "http://www.example.org/ontology/shop#"'),
        ("sax.py", 'property_encoding = "http://www.python.org/sax/properties/encoding"'),
        (
            "Parser.java",
            'f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);',
        ),
        ("acl.json", '{"GrantRead": "uri=http://acs.amazonaws.com/groups/global/AllUsers"}'),
    ],
)
def test_uri_identifiers_are_not_requests(scan_text: ScanText, path: str, code: str) -> None:
    assert scan_text(path, code) == []


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("app.js", "x('construction falls back, use X instead. http://momentjs.com/guides/');"),
        ("app.js", 'warn("deprecated! http://example.org/upgrade")'),
    ],
)
def test_urls_after_a_sentence_are_text(scan_text: ScanText, path: str, code: str) -> None:
    assert scan_text(path, code) == []


@pytest.mark.parametrize(
    "path",
    [
        "static/vendor/lib.js",
        "third_party/sdk/client.py",
        "pip/_vendor/requests/utils.py",
        "node_modules/pkg/index.js",
        "static/js/moment.min.js",
        "static/css/theme.min.css",
        "dist/app.bundle.js",
        "dist/app.js.map",
    ],
)
def test_vendored_code_counts_endpoints_instead_of_reporting(path: str) -> None:
    target = {
        "static/css/theme.min.css": "a{background:url(http://cdn.example.com/x.png)}",
        "dist/app.js.map": '{"version":3,"sourcesContent":["fetch(\\"http://api.example.com/v1\\")"]}',
    }
    code = target.get(path, 'api = "http://api.example.com/v1"\n')
    from keyguard.engine import ScanPlan, scan_source
    from keyguard.models import Source
    from keyguard.ruleset import builtin_rules

    result = scan_source(Source(path, code.encode()), ScanPlan(rules=builtin_rules()))
    assert result.findings == ()
    assert result.stats is not None and result.stats.third_party_endpoints == 1


def test_generated_scripts_are_vendored_by_content(scan_text: ScanText) -> None:
    minified = "var a=1;" * 400 + "fetch('http://api.example.com/v1');\n"
    mapped = "fetch('http://api.example.com/v1');\n" + "var a = 1;\n" * 300
    assert scan_text("static/js/app.js", minified) == []
    assert scan_text("static/js/app.js", mapped + "//# sourceMappingURL=app.js.map\n") == []
    assert [f.rule.id for f in scan_text("static/js/app.js", mapped)] == ["KG301"]
    # A minified page (a build's index.html, a bundle analyzer's report) is generated too.
    page = "<html><body>" + "<p>x</p>" * 400 + "<script src='http://cdn.example.com/a.js'>"
    assert scan_text("dist/report.html", page + "</script></body></html>\n") == []
    written = "<html>\n<body>\n" + "<p>x</p>\n" * 300 + "<script src='http://cdn.example.com/a.js'>"
    assert [f.rule.id for f in scan_text("dist/report.html", written + "</script>\n")] == ["KG301"]


def test_secrets_in_vendored_code_are_still_reported(scan_text: ScanText) -> None:
    found = scan_text("lib/vendor/sdk.py", "key = 'sk_live_{{alnum:24}}'")
    assert [f.rule.id for f in found] == ["KG101"]


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.2.2:8000/api",
        "http://10.0.3.2:8000/api",
        "http://host.docker.internal:9200",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://192.168.1.50:8080/reset",
        "http://172.20.0.4:5432",
        "http://nas.local/",
        "http://[fd12:3456::1]:8080/",
    ],
)
@pytest.mark.parametrize("path", ["mobile/src/api.ts", "scripts/dev.sh", "app/settings.py"])
def test_emulator_and_private_hosts_are_like_loopback(
    scan_text: ScanText, url: str, path: str
) -> None:
    assert scan_text(path, f'API = "{url}"\n') == []


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("cms/embeds.py", 'PROVIDER = {"endpoint": "http://www.youtube.com/oembed"}'),
        ("app/client.py", 'requests.get("http://api.example.com/v1")'),
        ("app/static/site.css", "body { background: url(http://cdn.example.com/bg.png); }"),
        ("mobile/src/api.ts", "const PROD = 'http://api.example.com/mobile/v1';"),
        ("app/client.py", 'BASE = "http://172.32.0.1/api"'),
        ("app/latest/feed.py", 'FEED = "http://feeds.example.com/v1"'),
        ("app.js", "const u = ok ? 'http://api.example.com/a' : 'http://api.example.com/b';"),
        ("app.py", 'SCHEMA_REGISTRY = "http://registry.example.com:8081/subjects"'),
    ],
)
def test_real_endpoints_still_reported(scan_text: ScanText, path: str, code: str) -> None:
    assert {f.rule.id for f in scan_text(path, code)} == {"KG301"}


@pytest.mark.parametrize("path", ["NEWS", "CHANGES.rst", "LICENSE-MIT", "CONTRIBUTORS.txt"])
def test_a_projects_documents_are_prose(scan_text: ScanText, path: str) -> None:
    assert scan_text(path, "  snapshot of July 1 <http://www.example.net/blog/1506.html>\n") == []


@pytest.mark.parametrize("path", ["src/history.js", "app/news.py", "lib/changes.ts"])
def test_source_files_named_like_documents_are_code(scan_text: ScanText, path: str) -> None:
    found = scan_text(path, 'API = "http://api.example.com/v1"\n')
    assert [f.rule.id for f in found] == ["KG301"]
