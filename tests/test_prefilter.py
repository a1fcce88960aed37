"""The prefilter backends: Hyperscan and the stdlib one must agree on every file, byte for byte."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from keyguard import prefilter as prefilter_module
from keyguard.config import Config
from keyguard.engine import ScanPlan, scan
from keyguard.prefilter import (
    HyperscanPrefilter,
    StdlibPrefilter,
    anchor_groups,
    backend_from_env,
    hyperscan_available,
    prefilter_for,
)
from keyguard.ruleset import builtin_rules
from tests.conftest import fake

KEYWORDS = ScanPlan(rules=builtin_rules()).keywords
needs_hyperscan = pytest.mark.skipif(
    not hyperscan_available(), reason="the hyperscan wheel is not installed or not usable"
)


def random_case(text: bytes, rng: random.Random) -> bytes:
    return bytes(c ^ 0x20 if chr(c).isalpha() and rng.random() < 0.5 else c for c in text)


def sample(rng: random.Random) -> bytes:
    """Random bytes (NULs, high bytes, newlines) with keywords and near misses spliced in."""
    pieces = [rng.randbytes(rng.randrange(0, 300))]
    for _ in range(rng.randrange(0, 4)):
        keyword = rng.choice(KEYWORDS)
        if rng.random() < 0.3:  # a near miss: one byte short or broken in the middle
            cut = rng.randrange(1, len(keyword))
            keyword = keyword[:cut] if rng.random() < 0.5 else keyword[:cut] + b"\n" + keyword[cut:]
        pieces += [random_case(keyword, rng), rng.randbytes(rng.randrange(0, 50))]
    return b"".join(pieces)


def test_keywords_are_lowercase_and_sorted() -> None:
    assert tuple(sorted({k.lower() for k in KEYWORDS})) == KEYWORDS
    assert b"sk_live_" in KEYWORDS and b"http://" in KEYWORDS


def test_anchor_groups_share_prefixes() -> None:
    groups = dict(anchor_groups([b"sk_live_", b"sk_test_", b"rk_", b"client_secret"]))
    assert groups == {
        b"client_secret": (b"client_secret",),
        b"rk_": (b"rk_",),
        b"sk_": (b"sk_live_", b"sk_test_"),
    }


def test_stdlib_prefilter_is_case_insensitive() -> None:
    stdlib = StdlibPrefilter(KEYWORDS)
    assert stdlib.present(b"x = 'HTTP://Example.com'; CLIENT_SECRET=1") == {
        b"http://",
        b"client_secret",
    }
    assert stdlib.present(b"sk_tes_ pk_live_ client secret") == set()


@needs_hyperscan
def test_backends_agree_on_random_inputs() -> None:
    rng = random.Random(20261128)
    stdlib, hyperscan = StdlibPrefilter(KEYWORDS), HyperscanPrefilter(KEYWORDS)
    disagreements = []
    for _ in range(3000):
        data = sample(rng)
        if stdlib.present(data) != hyperscan.present(data):
            disagreements.append(data)
    assert not disagreements, disagreements[:3]


@needs_hyperscan
def test_backends_agree_on_empty_and_large_inputs() -> None:
    stdlib, hyperscan = StdlibPrefilter(KEYWORDS), HyperscanPrefilter(KEYWORDS)
    key = fake("sk_live_{{alnum:24}}").encode()
    big = b"a" * (3 * 1024 * 1024) + key + b"\0" * 10
    for data in (b"", b"\0", key, big, big.upper()):
        assert stdlib.present(data) == hyperscan.present(data)
    assert hyperscan.present(big) == {b"sk_live_"}


@needs_hyperscan
def test_auto_uses_hyperscan_when_it_loads() -> None:
    assert prefilter_for(KEYWORDS, "auto").name == "hyperscan"
    assert prefilter_for(KEYWORDS, "stdlib").name == "stdlib"


def test_an_unloadable_hyperscan_falls_back_to_the_stdlib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "hyperscan", None)  # `import hyperscan` now raises
    monkeypatch.setattr(prefilter_module, "_CACHE", {})
    monkeypatch.setattr(prefilter_module, "_HYPERSCAN_BROKEN", [])
    assert not hyperscan_available()
    assert prefilter_for(KEYWORDS, "hyperscan").name == "stdlib"


def test_environment_variable_forces_a_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYGUARD_PREFILTER", "stdlib")
    assert backend_from_env("auto") == "stdlib"
    monkeypatch.setenv("KEYGUARD_PREFILTER", " HyperScan ")
    assert backend_from_env("stdlib") == "hyperscan"
    monkeypatch.setenv("KEYGUARD_PREFILTER", "bogus")
    assert backend_from_env("auto") == "auto"


@needs_hyperscan
def test_pooled_scan_finds_the_same_with_either_backend(tmp_path: Path) -> None:
    """A tree big enough for the pool: each backend, jobs 1 and 2, the same findings."""
    rng = random.Random(7)
    for number in range(150):
        body = rng.choice(
            [
                'KEY = "' + fake("sk_live_{{alnum:24}}") + '"\n',
                'URL = "HTTP://api.example.com/v1"\n',
                "clientSecret: '" + fake("{{alnum:32}}") + "'\n",
                "nothing to see here\n" * 20,
            ]
        )
        (tmp_path / f"f{number:03}.cfg").write_text(body)
    results = {
        (backend, jobs): scan([tmp_path], Config(root=tmp_path), jobs=jobs, prefilter=backend)
        for backend in ("stdlib", "hyperscan")
        for jobs in (1, 2)
    }
    findings = {key: result.findings for key, result in results.items()}
    assert len(set(findings.values())) == 1
    assert len(findings["stdlib", 1]) > 50
