"""What a rule's `check` names: a judgement over the file around a match, made once the
pattern has matched, that the pattern alone cannot express.

Each judgement lives with its subject: requests and bearer headers in `oauth.py`, private key
blocks in `keyblock.py`; this is their one registry (`ruleset.CHECKS` names the kind of rule
each fits, and a test keeps the two in step). Imported by `text.py` on the first hit of a rule
with a check, never by a scan without one.
"""

from __future__ import annotations

from keyguard.keyblock import whole_key_block
from keyguard.models import Rule
from keyguard.oauth import CHECKS as OAUTH_CHECKS
from keyguard.oauth import Check

__all__ = ["CHECKS", "judge"]

CHECKS: dict[str, Check] = {**OAUTH_CHECKS, "whole-key-block": whole_key_block}


def judge(rule: Rule, data: bytes, start: int, end: int, path: str, value: str) -> str | None:
    """None when the match is no finding; else the note its message gets ("" for none)."""
    if rule.check is None:
        return ""
    return CHECKS[rule.check](rule, data, start, end, path, value)
