"""DESIGN.md's "Never reported" list, one test each, plus what must still be reported."""

from __future__ import annotations

import pytest

from tests.conftest import ScanText


def ids(findings: list) -> list[str]:  # type: ignore[type-arg]
    return sorted(finding.rule.id for finding in findings)


@pytest.mark.parametrize(
    "value",
    [
        "sk_live_...",
        "sk_test_XXXXXXXX",
        "sk_live_YOUR_KEY_HERE",
        "<sk_test_...>",
        "sk_test_123",
        "sk_live_aaaaaaaaaaaaaaaaaaaaaaaa",
        "sk_live_abcdefghijklmnopqrstuvwx",
        "sk_test_0123456789abcdefghij",
        "sk_live_zyxwvutsrqponmlkjihgfedc",
        "sk_test_ab12ab12ab12ab12ab12ab12",
        "sk_live_EXAMPLEKEY{{alnum:20}}",
        "sk_test_mysecretkeyforlocaldevelopment",
        "sk_live_TESTKEYGOESHEREPLEASEREPLACE",
        "sk_test_202401150930123456789012",
        "rk_live_XXXXXXXXXXXXXXXXXXXXXXXX",
        "pk_live_{{alnum:24}}",
        "pk_test_{{alnum:99}}",
    ],
)
@pytest.mark.parametrize("path", ["config.py", "src/components/Pay.jsx", "settings.yaml"])
def test_placeholders_and_publishable_keys(scan_text: ScanText, value: str, path: str) -> None:
    assert scan_text(path, f'KEY = "{value}"\n') == []


@pytest.mark.parametrize(
    "code",
    [
        "desk_test_runner = 1",
        "task_live_update({{alnum:24}})",
        "rework_{{alnum:30}}1 = 2",
        "fork_{{alnum:30}}1",
        "mask_live_{{alnum:24}} = 3",
    ],
)
def test_identifiers_that_merely_contain_the_letters(scan_text: ScanText, code: str) -> None:
    assert scan_text("app.js", code) == []
    assert scan_text("app.py", code) == []


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("settings.py", 'API_KEY = os.environ["STRIPE_SECRET_KEY"]'),
        ("settings.py", 'API_KEY = os.getenv("STRIPE_SECRET_KEY")'),
        ("server.js", "const stripe = require('stripe')(process.env.STRIPE_SECRET_KEY);"),
        ("config.rb", "Stripe.api_key = ENV['STRIPE_SECRET_KEY']"),
        ("Main.java", 'String key = System.getenv("STRIPE_SECRET_KEY");'),
        ("main.go", 'key := os.Getenv("STRIPE_SECRET_KEY")'),
        ("ci.yml", "env:\n  API_KEY: ${{ secrets.STRIPE_SECRET_KEY }}"),
        ("auth.py", 'CLIENT_SECRET = os.environ["OAUTH_CLIENT_SECRET"]'),
        ("auth.js", "const clientSecret = process.env.OAUTH_CLIENT_SECRET;"),
    ],
)
def test_keys_read_from_the_environment(scan_text: ScanText, path: str, code: str) -> None:
    assert scan_text(path, code) == []


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost",
        "http://localhost:8000/api",
        "http://127.0.0.1:5000",
        "http://127.8.9.10/x",
        "http://[::1]:8080/",
        "http://0.0.0.0:3000",
        "http://app.localhost:3000/callback",
    ],
)
@pytest.mark.parametrize("path", ["client.py", "src/api.ts", "config.yaml", ".env"])
def test_loopback_hosts(scan_text: ScanText, url: str, path: str) -> None:
    assert scan_text(path, f'API_URL = "{url}"\n') == []


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("icon.svg", '<svg xmlns="http://www.w3.org/2000/svg"><path d="M0"/></svg>'),
        (
            "layout.xml",
            '<LinearLayout xmlns:android="http://schemas.android.com/apk/res/android"/>',
        ),
        (
            "pom.xml",
            '<project xmlns="http://maven.apache.org/POM/4.0.0"\n  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">',
        ),
        ("custom.xml", '<root xmlns:acme="http://acme.example.org/ns/v1"/>'),
        ("schema.json", '{\n  "$schema": "http://json-schema.org/draft-07/schema#"\n}'),
        ("data.json", '{"$schema": "http://schemas.acme.io/catalog.json"}'),
        (
            "page.html",
            '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">',
        ),
        (
            "Info.plist",
            '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
        ),
        ("page.html", '<div itemscope itemtype="http://schema.org/Product"></div>'),
        ("ld.json", '{"@context": "http://schema.org", "@type": "Organization"}'),
        ("ns.py", 'XLINK = "http://www.w3.org/1999/xlink"'),
    ],
)
def test_namespaces_and_schema_identifiers(scan_text: ScanText, path: str, code: str) -> None:
    assert scan_text(path, code) == []


@pytest.mark.parametrize(
    ("path", "code"),
    [
        (
            "lib.js",
            "/*\n * Licensed under the Apache License, Version 2.0; see\n"
            " *     http://www.apache.org/licenses/LICENSE-2.0\n */\nmodule.exports = 1;",
        ),
        ("lib.py", "# Copyright (c) ACME. See http://acme.example.org/license for terms.\nx = 1"),
        ("lib.go", "// Package acme talks to http://api.example.com (deprecated).\npackage acme"),
        ("README.md", "The old API lived at http://api.example.com/v1, use https now."),
        ("docs/guide.rst", "Point your client at http://api.example.com/v1 in development."),
        ("client.py", 'def get():\n    """Fetch http://api.example.com/v1/users."""\n    return 1'),
        ("client.py", 'raise ValueError("see http://api.example.com/docs for the format")'),
        ("app.js", "throw new Error('Visit http://api.example.com/status for details');"),
        ("index.html", '<a href="http://www.example.org/about">About us</a>'),
        (
            "style.css",
            "/* based on http://meyerweb.com/eric/tools/css/reset/ */\nhtml { margin: 0 }",
        ),
        ("Main.java", "/**\n   Docs at\n   http://api.example.com/javadoc\n*/\nclass Main {}"),
        ("page.html", "<!--\n  mirror: http://mirror.example.net/\n-->\n<p>x</p>"),
        ("LICENSE", "Apache License 2.0 http://www.apache.org/licenses/"),
    ],
)
def test_urls_in_license_headers_comments_and_prose(
    scan_text: ScanText, path: str, code: str
) -> None:
    assert scan_text(path, code) == []


@pytest.mark.parametrize(
    ("path", "code", "expected"),
    [
        ("client.py", 'BASE = "http://api.example.com/v1"', ["KG301"]),
        ("client.py", "# old: sk_live_{{alnum:24}}", ["KG101"]),
        ("client.py", 'KEY = os.environ.get("K", "sk_live_{{alnum:24}}")', ["KG101"]),
        ("src/api.ts", "fetch('http://api.example.com/v1/users')", ["KG301"]),
        ("deploy.sh", "curl http://api.example.com/v1/users", ["KG301"]),
        ("Dockerfile", "ENV API_URL=http://api.example.com/v1", ["KG301"]),
        ("main.tf", 'endpoint = "http://api.example.com"', ["KG301"]),
        ("index.html", '<script src="http://cdn.example.com/app.js"></script>', ["KG301"]),
        ("index.html", '<form action="http://api.example.com/login" method="post">', ["KG301"]),
        ("app.js", "// key: sk_test_{{alnum:24}}", ["KG102"]),
        ("app.js", "const key = 'sk_live_{{alnum:24}}';", ["KG101"]),
        ("public/app.js", "const key = 'sk_live_{{alnum:24}}';", ["KG101", "KG201"]),
        ("settings.ini", "[api]\nkey = rk_live_{{alnum:24}}", ["KG103"]),
        ("http.go", 'resp, err := http.Get("http://api.example.com/v1")', ["KG301"]),
    ],
)
def test_still_reported(scan_text: ScanText, path: str, code: str, expected: list[str]) -> None:
    assert ids(scan_text(path, code)) == expected


def test_single_label_service_hosts_are_internal(scan_text: ScanText) -> None:
    code = "services:\n  web:\n    environment:\n      API_URL: http://api:8000\n      CACHE: http://redis:6379\n"
    assert scan_text("docker-compose.yml", code) == []


def test_example_com_is_not_exempt(scan_text: ScanText) -> None:
    assert ids(scan_text("client.py", 'URL = "http://example.com/v1"')) == ["KG301"]


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("tests/test_client.py", 'responses.add(responses.GET, "http://api.example.com/v1/x")'),
        ("src/client.test.ts", "nock('http://api.example.com').get('/v1').reply(200)"),
        ("spec/client_spec.rb", 'stub_request(:get, "http://api.example.com/v1")'),
        ("pkg/client_test.go", 'srv := "http://api.example.com/v1"'),
        ("app/src/test/java/ClientTest.java", 'String url = "http://api.example.com";'),
    ],
)
def test_endpoints_in_test_code_are_fixtures(scan_text: ScanText, path: str, code: str) -> None:
    assert scan_text(path, code) == []


def test_secrets_in_test_code_are_still_leaks(scan_text: ScanText) -> None:
    found = scan_text("tests/test_billing.py", 'KEY = "sk_test_{{alnum:24}}"')
    assert [f.rule.id for f in found] == ["KG102"]


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("pkg-1.0.dist-info/METADATA", "Home-page: http://pkg.example.org\n"),
        ("PKG-INFO", "Project-URL: Docs, http://pkg.example.org/docs\n"),
        ("certs/ca.pem", "CA Issuers - URI:http://crt.example-ca.com/ca.crt\n"),
        ("docs.json", '{"help": "Example (IPv6): http://bucket.s3.example.com/"}'),
        ("run.sh", 'echo "Server running at http://api.example.com/v1"'),
        ("index.html", '<meta name="generator" content="Docutils 0.18: http://docutils.sf.net/">'),
        ("odf.py", "NS = {'office': 'http://openoffice.org/2004/office'}"),
        ("rdf.js", "const DC = 'http://purl.org/dc/elements/1.1/';"),
        ("sax.js", "const FEATURE = 'http://xml.org/sax/features/namespaces';"),
        ("feed.js", "const ATOM = 'http://example.org/ns/atom';"),
    ],
)
def test_metadata_certificates_sentences_and_namespaces(
    scan_text: ScanText, path: str, code: str
) -> None:
    assert scan_text(path, code) == []


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("notebook.ipynb", '{"source": ["BASE = \\"http://api.example.com/v1\\"\\n"]}'),
        ("run.sh", 'curl -X POST "http://api.example.com/v1/charges"'),
        ("svn.sh", "svn export --force http://svn.example.com/trunk/ ."),
        ("app.js", "const url = `http://api.example.com/v1/${path}`;"),
    ],
)
def test_endpoints_that_start_a_value_are_reported(
    scan_text: ScanText, path: str, code: str
) -> None:
    assert ids(scan_text(path, code)) == ["KG301"]


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("lib/util.js", "return a && b || // Is firebug? http://stackoverflow.example.com/a/1\n"),
        ("run.sh", "start_server --port 80  # mirrors http://mirror.example.com/pkg\n"),
        ("docs/guide.html", '<p>Registry:</p>\n"registry": "http://reg.example.com"\n'),
        ("man/man1/tool.1", "tool --registry=http://reg.example.com\n"),
        (
            "site/usage.html",
            "<pre><code>npm login --registry=http://reg.example.com\n</code></pre>",
        ),
        ("package.json", '{"repository": {"type": "git", "url": "http://git.example.com/a.git"}}'),
        ("package.json", '{"author": {"name": "A", "url": "http://a.example.com"}}'),
        ("sbom.js", "const CYCLONEDX_SCHEMA = 'http://cyclonedx.org/schema/bom-1.5.schema.json';"),
    ],
)
def test_comments_docs_trees_examples_and_manifest_links(
    scan_text: ScanText, path: str, code: str
) -> None:
    assert scan_text(path, code) == []


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("package.json", '{"publishConfig": {"registry": "http://reg.example.com"}}'),
        ("package.json", '{"proxy": "http://api.example.com:8080"}'),
        ("site/index.html", '<pre>x</pre><script src="http://cdn.example.com/a.js"></script>'),
        ("app.js", "const registry = 'http://schema-registry.example.com:8081/subjects';"),
    ],
)
def test_endpoints_next_to_those_exemptions(scan_text: ScanText, path: str, code: str) -> None:
    assert ids(scan_text(path, code)) == ["KG301"]


@pytest.mark.parametrize(
    ("path", "code"),
    [
        (
            "_ufuncs.pyx",
            'doc = ("References\\n"\n       "       http://www.netlib.org/cephes/\\n")',
        ),
        (
            "rules.py",
            'SOURCE = "http://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/x.html"',
        ),
        ("saml.xml", '<EntityDescriptor entityID="http://idp.example.com/metadata">'),
        ("token.js", "const tokenType = 'http://auth.example.com/token-type/jwt';"),
    ],
)
def test_formatted_text_reader_sites_and_identifier_names(
    scan_text: ScanText, path: str, code: str
) -> None:
    assert scan_text(path, code) == []


@pytest.mark.parametrize(
    ("path", "client"),
    [
        ("app/src/main/AndroidManifest.xml", True),
        ("app/src/main/res/values/strings.xml", True),
        ("ios/Acme/Info.plist", True),
        ("ios/Config/Release.xcconfig", True),
        ("deploy/launchd/com.acme.worker.plist", False),
        ("config/log4j2.xml", False),
        ("pom.xml", False),
    ],
)
def test_files_that_ship_inside_a_mobile_app(scan_text: ScanText, path: str, client: bool) -> None:
    found = scan_text(path, '<string name="key">sk_live_{{alnum:24}}</string>')
    assert sorted(f.rule.id for f in found) == (["KG101", "KG201"] if client else ["KG101"])


@pytest.mark.parametrize(
    ("path", "code", "expected"),
    [
        (".env", "REACT_APP_STRIPE_KEY=sk_live_{{alnum:24}}", ["KG101", "KG201"]),
        (".env.production", "VITE_PAYMENTS_SECRET=sk_test_{{alnum:24}}", ["KG102", "KG201"]),
        # A client secret in a client context is KG201, never also KG202 (issue 9).
        (".env", "NEXT_PUBLIC_OAUTH_CLIENT_SECRET={{alnum:40}}", ["KG201"]),
        (
            "docker-compose.yml",
            "    environment:\n      EXPO_PUBLIC_KEY: rk_live_{{alnum:24}}",
            ["KG103", "KG201"],
        ),
        (
            ".env",
            "STRIPE_SECRET_KEY=sk_live_{{alnum:24}}\nREACT_APP_API=https://api.example.com",
            ["KG101"],
        ),
    ],
)
def test_public_build_variables_reach_the_browser(
    scan_text: ScanText, path: str, code: str, expected: list[str]
) -> None:
    assert ids(scan_text(path, code)) == expected
