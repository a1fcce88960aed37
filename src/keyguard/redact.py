"""Redaction and fingerprints: the only place that turns a secret into something printable."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from keyguard.filters import KEY_PREFIX
from keyguard.lazyre import lazy_compile
from keyguard.models import MatchKind

__all__ = ["digest_fingerprint", "fingerprint", "redact", "redact_text", "secret_digest"]

# Redacted keys keep their prefix (`filters.KEY_PREFIX`): it says which key it is without saying
# anything about the key itself.
VISIBLE_TAIL = 4
MIN_LENGTH_FOR_TAIL = 16  # below this, four characters would be too large a share of the secret
SECRET_QUERY = lazy_compile(
    r"(?i)((?:api[_-]?key|key|token|secret|client_secret|password|sig|signature)=)[^&#]+"
)
PEM_HEADER = lazy_compile(r"-----BEGIN [A-Z0-9 ]{1,40}-----")
# `response_type', 'code` -> `response_type=code`: how a parameter was written in code.
# A list of quoted values (`"read:users", "write:users"`) is shown as a scope string is written.
OAUTH_PAIR = lazy_compile(r"""^([A-Za-z_]\w*)["'`]?\s*(?::|=>|,|=)\s*["'`]""")
OAUTH_LIST = lazy_compile(r"""["'`]\s*,\s*["'`]""")
FRAGMENT = lazy_compile(r"[A-Za-z0-9_\-+/=.~]{6,}")


def redact(secret: str, kind: MatchKind = "secret") -> str:
    """Return a form of `secret` that identifies it to its owner and is useless to anyone else.

    Keys keep their prefix and last four characters (`sk_live_…x9Qz`), the same convention the
    provider's dashboard uses. Endpoint URLs are not secret, but their credentials are.
    """
    if kind == "endpoint":
        return _redact_url(secret)
    if kind == "oauth":  # a request parameter, shown as `name=value`; a credential in it hidden
        if "://" in secret:
            return _redact_url(secret)
        shown = OAUTH_LIST.sub(" ", OAUTH_PAIR.sub(r"\1=", secret)).strip("\"'`")
        return SECRET_QUERY.sub(r"\1…", shown)
    header = PEM_HEADER.match(secret)
    if header:  # a private key block: its BEGIN line says what it is, the body stays hidden
        return f"{header.group(0)}…"
    if "://" in secret:  # a database URL: user and host help its owner, the password never shows
        return _redact_url(secret)
    prefix_match = KEY_PREFIX.match(secret)
    prefix = prefix_match.group(0) if prefix_match else ""
    body = secret[len(prefix) :]
    if len(body) < MIN_LENGTH_FOR_TAIL:
        return f"{prefix}…"
    return f"{prefix}…{body[-VISIBLE_TAIL:]}"


def _redact_url(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return SECRET_QUERY.sub(r"\1…", url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":…@", 1)
        url = parts._replace(netloc=netloc).geturl()
    return SECRET_QUERY.sub(r"\1…", url)


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """Hide every secret, and every long fragment of one, in a line of source text.

    A key split across string literals (`"sk_live_" "4eC3…"`) shows up in the line only in
    pieces, so replacing the whole secret is not enough: outside whole occurrences, any
    word-like run of six or more characters that occurs inside a secret is masked too (a bare
    key prefix such as `sk_live_` says nothing about the key and stays readable).
    """
    ordered = sorted({s for s in secrets if s}, key=len, reverse=True)
    if not ordered:
        return text
    whole = re.compile("|".join(re.escape(secret) for secret in ordered))
    headers = [m.group(0) for m in map(PEM_HEADER.match, ordered) if m]

    def mask(fragment: re.Match[str]) -> str:
        piece = fragment.group(0)
        if KEY_PREFIX.fullmatch(piece) or not any(piece in secret for secret in ordered):
            return piece
        if any(piece in header for header in headers):  # `BEGIN RSA PRIVATE KEY` is no secret
            return piece
        return "…"

    pieces: list[str] = []
    position = 0
    for occurrence in whole.finditer(text):
        pieces.append(FRAGMENT.sub(mask, text[position : occurrence.start()]))
        pieces.append(redact(occurrence.group(0)))
        position = occurrence.end()
    pieces.append(FRAGMENT.sub(mask, text[position:]))
    return "".join(pieces)


def secret_digest(secret: str) -> str:
    """sha256 of the secret: what fingerprints and baselines store instead of the secret."""
    import hashlib  # loads OpenSSL: only once a run has a finding

    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()


def fingerprint(rule_id: str, path: str, secret: str) -> str:
    """Stable across moved lines (no line number), useless to an attacker (hash of a hash)."""
    return digest_fingerprint(rule_id, path, secret_digest(secret))


def digest_fingerprint(rule_id: str, path: str, digest: str) -> str:
    """`fingerprint` from the secret's digest: the baseline re-keys findings to its own paths."""
    material = "\0".join((rule_id, path, digest))
    import hashlib

    return hashlib.sha256(material.encode("utf-8", "surrogateescape")).hexdigest()
