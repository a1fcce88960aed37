"""The prefilter: which rule keywords occur in a file, case-insensitively, in one cheap pass.

Every byte of a tree goes through here and nothing else for most files, so this is where a scan
spends its time. Two interchangeable backends answer the same question with the same answer:

- `hyperscan`: one pass for every keyword at once, about 3 GB/s. Used for large scans when the
  `hyperscan` wheel is installed and runs on this CPU.
- `stdlib`: `bytes.lower()` and one `in` per keyword group, about 200 MB/s. Always available,
  and used for a handful of files (pre-commit), where importing Hyperscan costs more than it
  saves.

Keywords are ASCII and matched ASCII-case-insensitively by both (`bytes.lower()` and Hyperscan's
`HS_FLAG_CASELESS` fold the same letters), so the choice never changes a finding; the tests run
the rule examples and the labelled corpus through both.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Literal, Protocol

from keyguard.logs import logger

__all__ = [
    "BACKEND_ENV",
    "Backend",
    "Prefilter",
    "StdlibPrefilter",
    "anchor_groups",
    "backend_from_env",
    "hyperscan_available",
    "prefilter_for",
]


Backend = Literal["auto", "hyperscan", "stdlib"]
# Force a backend (`stdlib` on a CPU that Hyperscan mishandles, `hyperscan` to test it).
BACKEND_ENV = "KEYGUARD_PREFILTER"
ANCHOR_MIN = 3


class Prefilter(Protocol):
    """Answers one question per file; implementations hold no per-file state."""

    name: str

    def present(self, data: bytes) -> frozenset[bytes]:
        """The keywords (lowercase, as the rules spell them) that occur in `data`."""
        ...


def anchor_groups(keywords: Iterable[bytes]) -> tuple[tuple[bytes, tuple[bytes, ...]], ...]:
    """Group keywords under a shared prefix (`sk_live_`, `sk_test_` under `sk_`).

    The stdlib backend searches every file for every anchor, so fewer anchors mean fewer passes
    over all the bytes of a tree; a group's members are searched only where the anchor occurs.
    """
    groups: dict[bytes, list[bytes]] = {}
    for keyword in sorted(set(keywords)):
        groups.setdefault(keyword[:ANCHOR_MIN], []).append(keyword)
    anchors: list[tuple[bytes, tuple[bytes, ...]]] = []
    for members in groups.values():
        anchor = members[0]
        for member in members[1:]:
            while not member.startswith(anchor):
                anchor = anchor[:-1]
        anchors.append((anchor, tuple(members)))
    return tuple(anchors)


class StdlibPrefilter:
    """`bytes.lower()` plus one `in` per anchor: no dependency, no start-up cost."""

    name = "stdlib"

    def __init__(self, keywords: Iterable[bytes]) -> None:
        self.anchors = anchor_groups(keyword.lower() for keyword in keywords)

    def present(self, data: bytes) -> frozenset[bytes]:
        return self.present_in_lowered(data.lower())

    def present_in_lowered(self, lowered: bytes) -> frozenset[bytes]:
        found: set[bytes] = set()
        for anchor, members in self.anchors:
            if anchor in lowered:
                found.update(member for member in members if member in lowered)
        return frozenset(found)


class HyperscanPrefilter:
    """Every keyword in one Hyperscan block-mode pass; each reports at most one match."""

    name = "hyperscan"

    def __init__(self, keywords: Iterable[bytes]) -> None:
        import hyperscan

        self.keywords = tuple(sorted({keyword.lower() for keyword in keywords}))
        flags = hyperscan.HS_FLAG_CASELESS | hyperscan.HS_FLAG_SINGLEMATCH
        self.database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self.database.compile(
            expressions=list(self.keywords),
            ids=list(range(len(self.keywords))),
            elements=len(self.keywords),
            flags=[flags] * len(self.keywords),
            literal=True,
        )
        self.scratch = hyperscan.Scratch(self.database)
        self.fallback = StdlibPrefilter(self.keywords)

    def present(self, data: bytes) -> frozenset[bytes]:
        if not data:
            return frozenset()
        found: set[int] = set()

        def on_match(keyword_id: int, start: int, end: int, flags: int, context: object) -> None:
            found.add(keyword_id)

        try:
            self.database.scan(data, match_event_handler=on_match, scratch=self.scratch)
        except Exception:  # a Hyperscan failure must cost speed, never a finding
            logger(__name__).debug(
                "hyperscan scan failed; using the stdlib prefilter", exc_info=True
            )
            return self.fallback.present(data)
        return frozenset(self.keywords[keyword_id] for keyword_id in found)


_CACHE: dict[tuple[str, tuple[bytes, ...]], Prefilter] = {}
_HYPERSCAN_BROKEN: list[str] = []


def hyperscan_available() -> bool:
    """Is the wheel installed and usable on this CPU? (Imports it: not for the pre-commit path.)"""
    try:
        HyperscanPrefilter((b"probe",))
    except Exception as error:
        logger(__name__).debug("hyperscan unavailable: %s", type(error).__name__)
        return False
    return True


def backend_from_env(default: Backend) -> Backend:
    """`KEYGUARD_PREFILTER=stdlib|hyperscan` overrides the engine's choice (read once per scan)."""
    forced = os.environ.get(BACKEND_ENV, "").strip().lower()
    if forced == "hyperscan":
        return "hyperscan"
    if forced == "stdlib":
        return "stdlib"
    return default


def prefilter_for(keywords: tuple[bytes, ...], backend: Backend = "auto") -> Prefilter:
    """The prefilter for these (lowercase) keywords, built once per process and backend.

    Called once per file, so the cached case is one dictionary lookup. `auto` and `hyperscan`
    mean Hyperscan when it loads and works on this CPU, else the stdlib backend (with a debug
    log): the scan goes on, only slower.
    """
    cached = _CACHE.get((backend, keywords))
    if cached is not None:
        return cached
    prefilter: Prefilter | None = None
    if backend != "stdlib" and not _HYPERSCAN_BROKEN:
        try:
            prefilter = HyperscanPrefilter(keywords)
        except Exception as error:  # ImportError, or a CPU/platform the wheel does not support
            _HYPERSCAN_BROKEN.append(type(error).__name__)
            logger(__name__).debug(
                "hyperscan unavailable (%s): stdlib prefilter", type(error).__name__
            )
    if prefilter is None:
        prefilter = StdlibPrefilter(keywords)
    _CACHE[(backend, keywords)] = prefilter
    return prefilter
