"""Drop what a reviewer would not call a leak: placeholders, exempt hosts, allowlist, suppressions.

Each heuristic is a small named predicate (the detect-secrets way), so a false positive can be
traced to the one rule of thumb that should have caught it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import pairwise
from urllib.parse import urlsplit

from keyguard.lazyre import lazy_compile
from keyguard.models import Match, Rule

__all__ = [
    "Suppressions",
    "finds_provider_keys",
    "is_exempt_url",
    "is_placeholder_key",
    "is_placeholder_value",
    "is_published_docs_key",
    "keep_match",
    "keyword_prefix",
    "parse_suppressions",
    "snake_name",
    "trim_url",
]

# The provider's secret and restricted key prefixes, as a regex alternation.
KEY_PREFIXES = "sk_live_|sk_test_|rk_live_|rk_test_|rk_"
KEY_PREFIX = lazy_compile(rf"^(?:{KEY_PREFIXES})")
# sha256 of test keys that the provider prints in its own public API documentation, so that
# copied examples are recognised without the key itself being written here (the project scans
# itself, and hosting providers block pushes holding key-shaped strings).
PUBLISHED_DOCS_KEY_DIGESTS = frozenset(
    {"2cafc0970149a84f3b9e62eaf169f36f59907a3b3e31f7b82e68c69cd27f7326"}  # the docs' sk_test_ key
)
PUBLISHED_DOCS_KEY_LENGTHS = frozenset({32})
PLACEHOLDER_WORDS = (
    "xxxx",
    "your",
    "example",
    "sample",
    "placeholder",
    "dummy",
    "fake",
    "redacted",
    "changeme",
    "change_me",
    "replace",
    "insert",
    "secret",
    "password",
    "todo",
    "here",
    "undefined",
    "null",
)
# Key bodies are drawn from letters and digits, so words that also name a secret's role
# ("secret", "password") or common short words ("here", "null", "todo") are not evidence there.
KEY_PLACEHOLDER_WORDS = tuple(
    word
    for word in PLACEHOLDER_WORDS
    if word
    not in {"secret", "password", "todo", "here", "undefined", "null", "changeme", "change_me"}
)
TEMPLATED = lazy_compile(r"\$\{|\{\{|\}\}|<[^>]*>|%\(|\$[A-Z_]{3,}|^%[sd]$|^\{\w*\}$")
# Windows and .NET substitution: %OAUTH_CLIENT_SECRET%.
TEMPLATED_PERCENT = lazy_compile(r"^%[A-Za-z_][\w]*%$")
CODE_REFERENCE = lazy_compile(r"^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*|\[[^\]]*\]|\(\))+$")
IDENTIFIER = lazy_compile(r"^[A-Za-z_][A-Za-z_]*$")
PATH_LIKE = lazy_compile(r"^(?:/|\./|\.\./|~/|[A-Za-z]:\\)|\.(?:json|pem|key|txt|ya?ml|env|p12)$")
ASCENDING = "0123456789abcdefghijklmnopqrstuvwxyz"
MIN_RANDOM_LENGTH = 8
VALUE_SEPARATORS = lazy_compile(r"[_\-.]")

# Hosts that only name things: XML namespaces, schema identifiers, DTDs and licences. No request
# is ever sent to them by the code that mentions them.
IDENTIFIER_HOSTS = frozenset(
    {
        "www.w3.org",
        "w3.org",
        "xml.org",
        "www.xml.org",
        "schemas.android.com",
        "schemas.microsoft.com",
        "schemas.xmlsoap.org",
        "schemas.openxmlformats.org",
        "purl.org",
        "purl.oclc.org",
        "json-schema.org",
        "schema.org",
        "www.schema.org",
        "xmlns.com",
        "ns.adobe.com",
        "xmlns.jcp.org",
        "java.sun.com",
        "docbook.org",
        "relaxng.org",
        "www.opengis.net",
        "www.springframework.org",
        "maven.apache.org",
        "ogp.me",
        "opensource.org",
        "www.opensource.org",
        "creativecommons.org",
        # OpenID 2.0 namespaces and Attribute Exchange type URIs (`http://openid.net/schema/...`)
        "openid.net",
        "specs.openid.net",
        "axschema.org",
        "schema.openid.net",
        "w3id.org",
        "rdfs.org",
        "www.wikidata.org",
        "dbpedia.org",
        "acs.amazonaws.com",  # S3 ACL grantee group URIs (`.../groups/global/AllUsers`)
    }
)
# First labels of hosts that publish identifiers, not services: `schemas.<vendor>.com` (claim
# and attribute type URIs), `ns.<vendor>.com`, `xmlns.<vendor>.org`.
IDENTIFIER_HOST_LABELS = frozenset({"schemas", "schema", "ns", "xmlns", "purl", "vocab"})
IDENTIFIER_PATH_PREFIXES = (
    "www.apache.org/licenses",
    "www.gnu.org/licenses",
    "www.gnu.org/copyleft",
    "apache.org/licenses",
    "www.mozilla.org/mpl",
)
IDENTIFIER_SUFFIXES = (".dtd", ".xsd", ".schema.json")
# Sites for people to read, named so by their first label (docs.aws.amazon.com, wiki.example.org).
READER_HOST_LABELS = frozenset({"docs", "doc", "documentation", "wiki", "help", "blog"})
# Namespace URIs are named after the year and the vocabulary (`http://openoffice.org/2004/office`,
# `http://purl.org/dc/elements/1.1/`), after a dated document (AWS's XML namespaces,
# `http://s3.amazonaws.com/doc/2006-03-01/`) or say so in the path, as link relation types do
# (`/rels/…`); API endpoints are not named that way (a dated API version such as
# `/2015-03-31/functions` has no `doc/` before it).
NAMESPACE_PATH = lazy_compile(
    r"^/(?:(?:19|20)\d\d(?:/|$)|(?:[^/]+/)*(?:ns|xmlns|namespaces?|vocab|ontology)(?:/|$)"
    r"|(?:[^/]+/)*(?:identity/claims|claims/(?:19|20)\d\d)(?:/|$)|schemas?/[^/]+"
    r"|(?:[^/]+/)*(?:sax|xml)/(?:features|properties)/"  # SAX2 / Xerces parser options
    r"|(?:[^/]+/)*doc/(?:19|20)\d\d-\d\d-\d\d/?$"
    r"|(?:[^/]+/)*rels?/[^/]+)"  # link relation types (RFC 8288): `http://api.example.com/rels/next`
)
TRAILING_PUNCTUATION = ".,;:!?)]}'\"`*>"
SUPPRESSION = lazy_compile(r"keyguard:\s*ignore(?:\[(?P<ids>[A-Za-z0-9_,\s]*)\])?")


CAMEL_BOUNDARY = lazy_compile(r"(?<=[a-z0-9])(?=[A-Z])")
NOT_ALNUM = lazy_compile(r"[^a-z0-9]+")


def snake_name(name: str) -> str:
    """`homepageURL`, `HOMEPAGE-URL`, `self.homepage_url` all become `homepage_url`."""
    last = name.rsplit(".", 1)[-1]
    return NOT_ALNUM.sub("_", CAMEL_BOUNDARY.sub("_", last).lower()).strip("_")


def trim_url(url: str) -> str:
    """Drop punctuation that ends the sentence or the construct around a URL, not the URL."""
    return url.rstrip(TRAILING_PUNCTUATION)


def _is_sequential(body: str) -> bool:
    """`abcdefgh…`, `12345678…`, `0123456789abcdef…` and their descents are typed, not drawn."""
    lowered = body.lower()
    runs = 0
    for previous, current in pairwise(lowered):
        if previous in ASCENDING and current in ASCENDING:
            step = ASCENDING.index(current) - ASCENDING.index(previous)
            if step in (1, -1) or (previous == "9" and current in "0a"):
                runs += 1
    return runs >= (len(body) - 1) * 0.7


def _is_periodic(body: str) -> bool:
    """`abc123abc123…`: a short unit repeated is a pattern someone typed."""
    for size in range(1, len(body) // 3 + 1):
        unit = body[:size]
        if (unit * (len(body) // size + 1))[: len(body)] == body:
            return True
    return False


def _low_variety(body: str) -> bool:
    """Few distinct characters for the length (`aaaabbbb…`); capped at ten, because a long drawn
    body (a 2,000-character private key) never has more distinct characters than its alphabet."""
    return len(set(body.lower())) <= max(2, min(len(body) // 8, 10))


def _made_up(body: str) -> bool:
    """One kind of character only (`mysecretkeyfordev`, `TESTKEYGOESHERE`, `0000…`).

    A drawn key body mixes cases and digits: all lowercase letters in 24 drawn characters has
    odds of about one in a billion; a typed name or a number has them every time.
    """
    return body.isdigit() or (body.isalpha() and (body.islower() or body.isupper()))


def is_placeholder_key(secret: str, prefix_length: int | None = None) -> bool:
    """True for key-shaped text that is not a key: `sk_live_XXXX…`, repeated or ascending bodies.

    `prefix_length` is the length of the key's fixed prefix when the caller knows it (a rule
    keyword the secret starts with: `ghp_`, `AKIA`, `xoxb-`); otherwise KEY_PREFIX is stripped.
    """
    body = KEY_PREFIX.sub("", secret) if prefix_length is None else secret[prefix_length:]
    lowered = body.lower()
    return (
        _made_up(body)
        or _low_variety(body)
        or _is_sequential(body)
        or _is_periodic(body)
        or SAMPLE_RUN.search(body) is not None  # `…4eC39Hq000000000`: masked or typed
        or any(word in lowered for word in KEY_PLACEHOLDER_WORDS)
    )


def is_published_docs_key(secret: str) -> bool:
    """The provider's published documentation test key: public, shared by every reader.

    It is in thousands of tutorials and tests; it can only reach the provider's test mode, and
    whoever holds it holds nothing of anyone's. Reported as a note, not as a leak.
    """
    if len(secret) not in PUBLISHED_DOCS_KEY_LENGTHS or not secret.startswith("sk_test_"):
        return False
    import hashlib  # loads OpenSSL: only for a key of exactly that shape

    return hashlib.sha256(secret.encode("utf-8")).hexdigest() in PUBLISHED_DOCS_KEY_DIGESTS


def is_placeholder_value(secret: str) -> bool:
    """True for a client-secret value that is a template, a reference or a made-up word.

    A real OAuth client secret is drawn at random by the provider: long, mixing letters and
    digits. Names (`clientSecret`), code (`settings.CLIENT_SECRET`, `process.env.X`), templates
    (`${SECRET}`, `{{ secret }}`, `<your-secret>`), paths and words like `changeme` are not.
    """
    lowered = secret.lower()
    if len(secret) < MIN_RANDOM_LENGTH or TEMPLATED.search(secret):
        return True
    if CODE_REFERENCE.match(secret) or IDENTIFIER.match(secret) or PATH_LIKE.search(secret):
        return True
    if any(word in lowered for word in PLACEHOLDER_WORDS):
        return True
    has_letter = any(c.isalpha() for c in secret)
    has_digit = any(c.isdigit() for c in secret)
    if not (has_letter and has_digit):
        return True
    return (
        TEMPLATED_PERCENT.search(secret) is not None
        or _low_variety(secret)
        or _is_sequential(secret)
        or _is_sequential(VALUE_SEPARATORS.sub("", secret))  # `cs_123_456`, `abc-def-ghi`
        or _is_periodic(secret)
        or SAMPLE_RUN.search(secret) is not None  # `ECrDNoq1VYzzzzzzzzzyAK7T…`: edited by hand
    )


def _host_of(url: str) -> str | None:
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host.lower() if host else None


# Names that never resolve on the public internet: the Docker and emulator aliases for the host
# machine, mDNS, home routers and the reserved test TLDs (RFC 6761, RFC 8375).
PRIVATE_HOST_SUFFIXES = (".localhost", ".internal", ".local", ".lan", ".home.arpa", ".test")
PRIVATE_NETWORKS = (
    "10.0.0.0/8",  # RFC 1918; 10.0.2.2 / 10.0.3.2: the Android emulator's (Genymotion's) host
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fc00::/7",  # IPv6 unique local addresses
)


def _is_loopback(host: str) -> bool:
    """This machine, or a host on a private network: the request never crosses the internet.

    Link-local (169.254.0.0/16, fe80::/10) is where cloud metadata services answer
    (`http://169.254.169.254/latest/meta-data/`): plain http by design, never routed. Private
    addresses (RFC 1918, unique local IPv6) and aliases (`host.docker.internal`, `10.0.2.2`,
    `printer.local`) are development set-ups and LANs, treated like loopback (README: "What
    KG301 reports").
    """
    if host in ("localhost", "0.0.0.0", "::") or host.endswith(PRIVATE_HOST_SUFFIXES):
        return True
    try:
        import ipaddress  # on first use: a run without URLs never needs it

        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if address.is_loopback or address.is_link_local:
        return True
    return any(address in ipaddress.ip_network(network) for network in PRIVATE_NETWORKS)


def _is_ip(host: str) -> bool:
    try:
        import ipaddress

        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_exempt_url(url: str) -> bool:
    """True when an http:// URL is not a plain-text request to another machine.

    Exempt: loopback hosts, single-label hosts (`http://redis:6379`, `http://api:8000`: names
    that only resolve inside a container network or a LAN, never on the internet), and hosts
    that only identify things (XML namespaces, schemas, DTDs, licences). `example.com` is NOT
    exempt: the provider's own API lives at `api.example.com`.
    """
    host = _host_of(url)
    if host is None:
        return True
    if _is_loopback(host):
        return True
    if "." not in host and not _is_ip(host):
        return True
    first_label = host.split(".", 1)[0]
    if host in IDENTIFIER_HOSTS or first_label in READER_HOST_LABELS:
        return True
    if first_label in IDENTIFIER_HOST_LABELS:
        return True
    rest = url.split("://", 1)[-1].lower()
    if rest.startswith(IDENTIFIER_PATH_PREFIXES):
        return True
    path = urlsplit(url).path.lower() if "/" in rest else ""
    return path.endswith(IDENTIFIER_SUFFIXES) or bool(NAMESPACE_PATH.match(path))


class Suppressions:
    """Inline `keyguard: ignore` / `keyguard: ignore[KG301]` comments of one file.

    The marker works after any comment syntax (`#`, `//`, `/* */`, `<!-- -->`, `--`), on the
    finding's own line or on the line above it.
    """

    __slots__ = ("_by_line",)

    def __init__(self, by_line: dict[int, frozenset[str] | None]) -> None:
        self._by_line = by_line

    def __bool__(self) -> bool:
        return bool(self._by_line)

    def covers(self, rule_id: str, line: int) -> bool:
        for candidate in (line, line - 1):
            if candidate in self._by_line:
                ids = self._by_line[candidate]
                if ids is None or rule_id in ids:
                    return True
        return False


def parse_suppressions(lines: Sequence[str]) -> Suppressions:
    """Collect suppression markers by line number (1-based); cheap when there are none."""
    by_line: dict[int, frozenset[str] | None] = {}
    for number, line in enumerate(lines, start=1):
        if "keyguard:" not in line:
            continue
        marker = SUPPRESSION.search(line)
        if marker is None:
            continue
        ids = marker.group("ids")
        by_line[number] = (
            None
            if ids is None
            else frozenset(part.strip().upper() for part in ids.split(",") if part.strip())
        )
    return Suppressions(by_line)


def keep_match(match: Match, allowlist: Sequence[re.Pattern[str]]) -> bool:
    """The value-level filters every match passes, whatever file it came from."""
    rule: Rule = match.rule
    if any(pattern.search(match.secret) for pattern in allowlist):
        return False
    if rule.kind == "endpoint":
        return not is_exempt_url(match.secret)
    if rule.kind == "oauth":  # a request parameter, judged by its rule's check (`oauth.py`)
        return True
    if KEY_PREFIX.match(match.secret):
        return not is_placeholder_key(match.secret)
    if match.secret.startswith("eyJ") and is_sample_jwt(match.secret):
        return False
    prefix = keyword_prefix(match.secret, rule.keywords)
    if prefix:
        return not is_placeholder_key(match.secret, prefix)
    return not is_placeholder_value(match.secret)


SAMPLE_RUN = lazy_compile(r"(.)\1{7,}")
# Words of six letters or more, joined by `_`, `-` or `.`, ending in a letter: issuers' prefixes
# are short codes (`akia`, `aiza`, `eyj`) or end in a separator (`ghp_`, `glpat-`, `sk-ant-`).
NAME_KEYWORD = lazy_compile(rb"(?=[a-z_.\-]{6})[a-z]+(?:[_.\-][a-z]+)*")


# Claim values that people type into an example: metasyntactic words, the name of nobody, and
# jwt.io's own sample subject (`{"sub": "1234567890", "name": "John Doe"}`).
SAMPLE_CLAIM_VALUE = lazy_compile(
    r'"(?:foo|bar|baz|qux|quux|foobar|john doe|jane doe|joe bloggs|lorem ipsum'
    r'|\d{0,3}123456789\d?)"',
    re.IGNORECASE,
)


def is_sample_jwt(token: str) -> bool:
    """A JWT whose claims were typed, not issued, is a documented sample or a test's.

    API documentation shows tokens whose ids are `d-3333333333` or `…-000000000000` (a run of
    eight or more equal characters), tests and tutorials sign `{"foo": "bar"}` or jwt.io's
    `{"sub": "1234567890", "name": "John Doe"}`: the signature looks drawn, the claims say
    they were typed. A real token's claims hold real ids, issuers and times.
    """
    import base64
    import binascii

    parts = token.split(".")
    if len(parts) < 3:
        return False
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = base64.urlsafe_b64decode(payload).decode("utf-8")
    except (binascii.Error, ValueError):
        return False
    return SAMPLE_RUN.search(claims) is not None or SAMPLE_CLAIM_VALUE.search(claims) is not None


def finds_provider_keys(rule: Rule) -> bool:
    """A secret rule with a provider key prefix (`sk_live_`, `rk_`) among its keywords: the keys
    code wraps and splits across literals (`"sk_live_" + "4eC3…"`)."""
    return rule.kind == "secret" and any(
        KEY_PREFIX.match(keyword.decode("ascii", "replace")) for keyword in rule.keywords
    )


def keyword_prefix(secret: str, keywords: Sequence[bytes]) -> int:
    """Length of the longest rule keyword the secret starts with, 0 if none.

    A secret that starts with its rule's keyword is a prefixed key (`ghp_…`, `AKIA…`,
    `-----BEGIN`): its prefix was written by the issuer, so it is judged like a key, by its
    body (placeholder words such as "your" or "xxxx", one repeated or ascending run), not like
    a free-form value, whose common words ("here", "null") would be noise in a random body.

    A keyword that is a word (`client_secret`, `clientsecret`, `twilio`) names what precedes a
    value; a value that starts with it (`clientSecretPromise`) is another name, no key.
    """
    lowered = secret[:64].lower().encode("utf-8", "replace")
    return max(
        (
            len(keyword)
            for keyword in keywords
            if lowered.startswith(keyword) and not NAME_KEYWORD.fullmatch(keyword)
        ),
        default=0,
    )
