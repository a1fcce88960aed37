"""The common third-party pack (rules/common.toml): what its reports show and hide."""

from __future__ import annotations

import pytest

from keyguard.engine import ScanPlan, scan_bytes
from keyguard.filters import keyword_prefix
from keyguard.ruleset import builtin_rules, expand_fakes

PLAN = ScanPlan(rules=builtin_rules())


def test_the_pack_has_forty_rules_with_keywords_and_ids_kg5xx() -> None:
    pack = [rule for rule in builtin_rules() if rule.id.startswith("KG5")]
    assert len(pack) >= 40
    assert all(rule.keywords and rule.remediation for rule in pack)


def test_a_private_key_is_reported_at_its_begin_line_with_the_body_hidden() -> None:
    # A whole RSA key: its DER header (MIIBOg…) declares the 318 bytes its 424 characters hold.
    whole = "MIIBOgIBAAJB" + expand_fakes("{{b64:412}}")
    body = [whole[start : start + 64] for start in range(0, len(whole), 64)]
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


def _rsa_body(length: int = 412) -> str:
    """An RSA key body whose DER header (MIIBOg…) declares 318 bytes: whole at 412."""
    return "MIIBOgIBAAJB" + expand_fakes(f"{{{{b64:{length}}}}}")


@pytest.mark.parametrize(
    ("block", "after", "not_a_key"),
    [
        pytest.param(_rsa_body(), b"\n-----END RSA PRIVATE KEY-----", False, id="whole"),
        pytest.param(_rsa_body(), b"\\r\\n-----END RSA", False, id="whole-in-a-literal"),
        pytest.param(_rsa_body(100), b"\n-----END RSA PRIVATE KEY-----", True, id="cut-short"),
        pytest.param(_rsa_body(100), b". -----END RSA PRIVATE KEY-----", True, id="a-sentence"),
        pytest.param(_rsa_body(100), b'\\n" +\n  "' + b"A" * 64, False, id="goes-on-in-js"),
        pytest.param(_rsa_body(100), b"\n...\n-----END RSA", True, id="ellipsis"),
        pytest.param(_rsa_body(100), "…".encode(), True, id="unicode-ellipsis"),
        pytest.param("s3cr3t" * 12, b"\n-----END RSA", True, id="no-der-sequence"),
        pytest.param("Proc-Type: 4,ENCRYPTED\n\n" + "s3cr3t" * 12, b"\n-----END", False, id="pem"),
    ],
)
def test_a_private_key_block_that_is_visibly_no_key(
    block: str, after: bytes, not_a_key: bool
) -> None:
    from keyguard.keyblock import is_not_a_key

    assert is_not_a_key("-----BEGIN RSA PRIVATE KEY-----\n" + block, after) is not_a_key


def test_openssh_and_pgp_blocks_are_judged_by_their_pattern_alone() -> None:
    from keyguard.keyblock import is_not_a_key

    for label in ("OPENSSH PRIVATE KEY", "PGP PRIVATE KEY BLOCK"):
        block = f"-----BEGIN {label}-----\n" + "s3cr3t" * 12
        assert not is_not_a_key(block, f"\n-----END {label}-----".encode())
