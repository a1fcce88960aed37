"""Judgements about OAuth requests: what a rule's pattern found, weighed against the request
around it.

A pattern finds one piece of a request (`response_type=code`, a scope list, a `redirect_uri`,
a bearer header); whether it is a finding depends on the rest of that request, which sits in
the lines around it: the object literal, the `searchParams.set` calls, the query string. That
stretch is `request_region`: up to REGION_LINES lines either side, never past the start of
another function or class. Every check errs towards silence: a `state` mentioned anywhere in
the region, a value built at run time, a request not visibly the provider's, is no finding.

Its judgements are registered in `checks.py`, which `text.py` imports on the first hit of a
rule with a `check`, never in a scan without one.
"""

from __future__ import annotations

import difflib
import math
from collections import Counter
from collections.abc import Callable
from urllib.parse import unquote

from keyguard.context import is_test_path
from keyguard.filters import KEY_PREFIX, is_exempt_url
from keyguard.lazyre import lazy_compile
from keyguard.models import Rule
from keyguard.text import is_prose_file

__all__ = ["CHECKS", "Check", "request_region"]

REGION_LINES = 20
PARAMETER_LINES = 6  # the parameters next to a match: the same object literal or call
REGION_BYTES = 2048
# A line that starts another function or class: the request being built does not reach past it.
DEFINITION = lazy_compile(
    rb"[ \t]*(?:export[ \t]+)?(?:default[ \t]+)?(?:async[ \t]+)?(?:def|function|class)\b"
)
STATE = lazy_compile(rb"\bstate\b")
# PKCE also ties the redirect to the session that started it (RFC 9700, section 2.1).
PKCE = lazy_compile(rb"code_challenge|codeChallenge")
CLIENT_ID = lazy_compile(rb"(?i)\bclient_?id\b")
# Signs that an object literal or dict becomes a query string or request parameters, not the
# configuration of a library that builds the request (and its `state`) itself.
URL_BUILDING = lazy_compile(
    rb"authorize|URLSearchParams|searchParams|urlencode|stringify|http_build_query|to_query"
    rb"|\bparams\s*=|\bquery\s*="
)
LINK_ATTRIBUTE = lazy_compile(rb"(?i)\b(?:href|action|src)\s*=")
GRANT_TYPE = lazy_compile(rb"\bgrant_type\b")
CLIENT_SECRET = lazy_compile(rb"(?i)\bclient[_-]?secret\b")
SCOPE_SEPARATORS = lazy_compile(r"(?:%20|[\s+,\"'`\[\]()])+")
SCOPE_TOKEN = lazy_compile(r"[A-Za-z][\w:.\-/]*")
MIN_BEARER_LENGTH = 24
MIN_BEARER_ENTROPY = 3.0  # bits per character: random hex reaches 3.3 to 3.8, base64 4 to 5.5

# (rule, file bytes, start, end of the match's group, path, group text) -> note, or None
Check = Callable[[Rule, bytes, int, int, str, str], str | None]


def request_region(data: bytes, start: int, end: int, lines: int = REGION_LINES) -> bytes:
    """The lines around `data[start:end]` that belong to the same request (see module doc)."""
    low = data.rfind(b"\n", 0, start) + 1
    for _ in range(lines):
        if low == 0 or DEFINITION.match(data, low) or start - low > REGION_BYTES:
            break
        low = data.rfind(b"\n", 0, low - 1) + 1
    high = data.find(b"\n", end)
    high = len(data) if high == -1 else high
    for _ in range(lines):
        if high >= len(data) or high - end > REGION_BYTES or DEFINITION.match(data, high + 1):
            break
        following = data.find(b"\n", high + 1)
        high = len(data) if following == -1 else following
    return data[max(low, start - REGION_BYTES) : min(high, end + REGION_BYTES)]


def _line_end(data: bytes, position: int) -> int:
    end = data.find(b"\n", position)
    return len(data) if end == -1 else end


def _missing_state(
    rule: Rule, data: bytes, start: int, end: int, path: str, value: str
) -> str | None:
    """An authorization request (`response_type=code`) built here, with no `state` in sight.

    Only a request visibly built in this stretch of code counts: a query string, or parameters
    next to `client_id` that go into a URL. A library given `response_type` in its settings
    adds `state` itself; PKCE (`code_challenge`) protects the redirect as well. A default set
    on a caller's parameters (`params.response_type = 'code'`, as SDKs do) leaves `state` to the
    caller, and a token request (`grant_type`) is no authorization URL.
    """
    if data[start - 1 : start] == b".":
        return None  # `params.response_type = 'code'`: a default set on parameters from a caller
    region = request_region(data, start, end)
    if value.startswith("response_type="):
        line = data[data.rfind(b"\n", 0, start) + 1 : _line_end(data, end)]
        if LINK_ATTRIBUTE.search(line):
            region = line  # a link (`<a href>`, a form's action) is a whole request on its own
    if STATE.search(region) or PKCE.search(region) or not CLIENT_ID.search(region):
        return None
    parameters = request_region(data, start, end, PARAMETER_LINES)
    if GRANT_TYPE.search(parameters) or CLIENT_SECRET.search(parameters):
        return None  # a token request that also sends response_type, not an authorization URL
    if not value.startswith("response_type=") and not URL_BUILDING.search(region):
        return None
    return ""


def _http_redirect(
    rule: Rule, data: bytes, start: int, end: int, path: str, value: str
) -> str | None:
    """A redirect URI over http:// to another machine: the authorization code travels in it.

    Loopback and private development hosts are exempt as they are for KG301 (RFC 8252 lets
    native apps redirect to `http://127.0.0.1`).
    """
    url = unquote(value)
    return None if is_exempt_url(url) else ""


def _token_exchange(
    rule: Rule, data: bytes, start: int, end: int, path: str, value: str
) -> str | None:
    """`grant_type=authorization_code` sent with a client secret: the exchange a server makes.

    A public client (a single-page or mobile app using PKCE) exchanges codes without a secret;
    with one, the secret ships to every user of the client.
    """
    return "" if CLIENT_SECRET.search(request_region(data, start, end)) else None


def _unknown_scope(
    rule: Rule, data: bytes, start: int, end: int, path: str, value: str
) -> str | None:
    """Scopes the provider does not have, with the nearest real one as a suggestion.

    Other providers have scopes of their own (GitHub's `read:user`, Google's `email`), so a
    list is judged only when it is visibly the provider's: one of its tokens is a scope of the
    provider, or the request goes to one of its hosts (`api.example.com/oauth/…`) nearby.
    """
    tokens = [token for token in SCOPE_SEPARATORS.compiled.split(unquote(value)) if token]
    if not tokens or not all(SCOPE_TOKEN.fullmatch(token) for token in tokens):
        return None  # empty, or assembled at run time (`${scope}`, `%s`, `{scopes}`)
    known = set(rule.values)
    if known.isdisjoint(tokens) and not _names_host(data, start, end, rule.hosts):
        return None
    unknown = list(dict.fromkeys(token for token in tokens if token not in known))
    if not unknown:
        return None
    notes = []
    for token in unknown:
        close = difflib.get_close_matches(token, rule.values, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}?" if close else "not a scope of the provider"
        notes.append(f"{token}: {hint}")
    return "; ".join(notes)


def _names_host(data: bytes, start: int, end: int, hosts: tuple[str, ...]) -> bool:
    if not hosts:
        return False
    region = request_region(data, start, end).lower()
    return any(f"{host}/oauth".encode() in region for host in hosts)


def _bearer_literal(
    rule: Rule, data: bytes, start: int, end: int, path: str, value: str
) -> str | None:
    """An `Authorization: Bearer` header whose token is written out, not read from a variable.

    A provider key (`sk_…`, `rk_…`) counts wherever it stands, as the key rules do; a
    publishable key (`pk_`) never does. Any other token must look drawn at random (long, high
    entropy; `filters.keep_match` then asks for letters and digits, as of any secret), and in
    tests and documentation such tokens are made up: there only keys count.
    """
    if value.startswith("pk_"):
        return None
    if KEY_PREFIX.match(value):
        return ""
    if is_test_path(path) or is_prose_file(path):
        return None
    if len(value) < MIN_BEARER_LENGTH or entropy(value) < MIN_BEARER_ENTROPY:
        return None
    return ""


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(value)
    size = len(value)
    return -sum(n / size * math.log2(n / size) for n in counts.values())


CHECKS: dict[str, Check] = {
    "missing-state": _missing_state,
    "unknown-scope": _unknown_scope,
    "http-redirect": _http_redirect,
    "token-exchange": _token_exchange,
    "bearer-literal": _bearer_literal,
}
