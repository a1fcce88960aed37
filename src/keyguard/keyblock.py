"""Is a private key block a key, or an excerpt of one written into documentation or a test?

A PEM private key body (PKCS#1, PKCS#8, SEC 1, encrypted PKCS#8) is the base64 of one DER
SEQUENCE, whose first bytes say how long it is. Documentation shows keys cut short
(`MIIEpQIBAAKCAQEAuyf….` then `-----END RSA PRIVATE KEY-----`), and tests of a key regex write
two lines of a key under every BEGIN line: a body that ends where the END line starts yet holds
fewer bytes than its own header declares cannot be used as a key, and a reviewer dismisses it.
So does a body cut by an ellipsis (`...`, `…`), which a real body never holds, and a body
under one of those labels that is no DER SEQUENCE at all (`s3cr3ts3cr3t…`): every such key's
base64 starts with `M`, the SEQUENCE tag.

Everything else stays a finding: a block this cannot read whole (OpenSSH and PGP formats, a
legacy encrypted PEM with `Proc-Type` headers, a body whose END line is not where it stops,
a body that starts like a SEQUENCE but does not decode) is judged by the rule's pattern
alone, as before.
"""

from __future__ import annotations

import binascii

from keyguard.lazyre import lazy_compile
from keyguard.models import Rule

__all__ = ["is_not_a_key", "whole_key_block"]

# The BEGIN labels whose body is one DER SEQUENCE.
DER_LABELS = frozenset(
    {"PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "DSA PRIVATE KEY", "ENCRYPTED PRIVATE KEY"}
)
BEGIN = lazy_compile(r"-----BEGIN ([A-Z0-9 ]+)-----")
BREAKS = lazy_compile(r"\\[rn]|\s")  # line breaks as written in a file or inside a literal
# After the body: the END line, at most one full stop between (a sentence ends with the block).
ENDS_HERE = lazy_compile(rb"(?:\\[rn]|\s)*\.?(?:\\[rn]|\s)*-----END ")
ELLIPSIS = lazy_compile(rb"(?:\\[rn]|\s)*(?:\.\.\.|\xe2\x80\xa6)")
TAIL_BYTES = 64


def whole_key_block(
    rule: Rule, data: bytes, start: int, end: int, path: str, value: str
) -> str | None:
    """The `whole-key-block` check (`checks.py`): no finding for a block that is no key."""
    return None if is_not_a_key(value, data[end : end + TAIL_BYTES]) else ""


def is_not_a_key(block: str, after: bytes) -> bool:
    """True when `block` (a BEGIN line and the body a rule matched) is visibly not a whole key;
    `after` is the text that follows the match in the file."""
    head = BEGIN.match(block)
    if head is None:
        return False
    if ELLIPSIS.match(after):
        return True
    if head.group(1) not in DER_LABELS:
        return False
    body = BREAKS.sub("", block[head.end() :])
    if ":" in body:  # `Proc-Type:`/`DEK-Info:` headers: an encrypted body, not DER
        return False
    if not body.startswith("M"):
        return True
    if not ENDS_HERE.match(after):  # the body goes on past what the pattern read
        return False
    declared, actual = _declared_size(body)
    return declared is not None and declared > actual


def _declared_size(body: str) -> tuple[int | None, int]:
    """The size the DER header at the start of `body` declares, and the size it decodes to."""
    try:
        der = binascii.a2b_base64(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        return None, 0
    if len(der) < 2 or der[0] != 0x30:  # not a SEQUENCE: not a key this can measure
        return None, len(der)
    first = der[1]
    if first < 0x80:
        return 2 + first, len(der)
    count = first & 0x7F
    if not 1 <= count <= 4 or len(der) < 2 + count:
        return None, len(der)
    return 2 + count + int.from_bytes(der[2 : 2 + count], "big"), len(der)
