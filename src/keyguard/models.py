"""Core data types shared by every stage of a scan: plain frozen dataclasses, nothing clever."""

from __future__ import annotations

import enum
import functools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # feature types, defined (and paid for) only where those features run
    from keyguard.baseline import BaselineOutcome
    from keyguard.provenance import Provenance, Revision

__all__ = [
    "INTERNAL_ERROR",
    "AppliesTo",
    "Example",
    "Finding",
    "Hit",
    "Location",
    "Match",
    "MatchKind",
    "Rule",
    "ScanResult",
    "ScanStats",
    "Severity",
    "Skipped",
    "Source",
]

AppliesTo = Literal["any", "client", "server"]
INTERNAL_ERROR = "internal error: "  # the reason prefix of a file the engine failed on
MatchKind = Literal["secret", "endpoint", "oauth"]


class Severity(enum.Enum):
    """A finding's level, named as SARIF names them so reporters need no mapping table."""

    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"

    @property
    def rank(self) -> int:
        """Higher is more severe; `--fail-on` compares ranks."""
        return {"error": 3, "warning": 2, "note": 1}[self.value]

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Parse a level name case-insensitively; raise ValueError naming the valid ones."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            valid = ", ".join(level.value for level in cls)
            raise ValueError(f"unknown level {text!r} (expected one of: {valid})") from None


@dataclass(frozen=True, slots=True)
class Example:
    """A rule's embedded example: `code` scanned as if it were the file `path`.

    The path matters: it picks Python or text matching and client or server context.
    """

    path: str
    code: str


@dataclass(frozen=True, slots=True)
class Rule:
    """One detection rule, loaded from `rules/*.toml` (or a user's `extra_rules` file).

    `kind` says what the `secret` group of `pattern` holds: a credential (redacted in every
    report, checked against placeholder heuristics) or an endpoint URL (checked against exempt
    hosts; comments, docstrings and prose never count). `assigned_to`, when set, restricts the
    rule to values bound to a matching name; Python files check it on the syntax tree.
    `exempt_names` does the opposite for endpoints: a URL bound to a matching name (`homepage`,
    `XML_NS`, `docsUrl`) is a link for people or an identifier, not a request target; it is
    matched against the name in snake_case (see `filters.snake_name`).

    An `oauth` rule's group holds a piece of an OAuth request (`response_type=token`, a scope
    list, a redirect URI): not secret, and like an endpoint it only counts in code. `check`
    names the judgement `oauth.py` makes around a match (is `state` missing from the request
    this `response_type=code` belongs to?); `values` and `hosts` are that check's data (the
    provider's scopes and API hosts), so a team can write the same rule for its own provider.
    """

    id: str
    name: str
    severity: Severity
    summary: str
    description: str
    remediation: str
    keywords: tuple[bytes, ...]
    regex: str  # the pattern's source; compiled on first use (`pattern`)
    applies_to: AppliesTo = "any"
    kind: MatchKind = "secret"
    assigned_to: re.Pattern[str] | None = None
    exempt_names: re.Pattern[str] | None = None
    cwe: str = "CWE-798"
    check: str | None = None
    values: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    true_positives: tuple[Example, ...] = ()
    false_positives: tuple[Example, ...] = ()

    @property
    def pattern(self) -> re.Pattern[bytes]:
        """The compiled pattern, made the first time any rule with this regex needs it.

        Most runs never need most patterns: a pre-commit run over clean files matches nothing,
        and compiling every rule's regex up front was a tenth of its time.
        """
        return _compile_rule_regex(self.regex)

    @property
    def code_only(self) -> bool:
        """Endpoints and OAuth requests in comments and prose are documentation, not code."""
        return self.kind in ("endpoint", "oauth")


@functools.cache
def _compile_rule_regex(regex: str) -> re.Pattern[bytes]:
    # Rule files were validated when loaded (`ruleset.parse_rule`); MULTILINE lets `^` and `$`
    # anchor at line boundaries, as a rule author reading one line expects.
    return re.compile(regex.encode("utf-8"), re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Location:
    """A span in a file: `path` is posix and relative to the scan root; all numbers 1-based."""

    path: str
    line: int
    column: int
    end_line: int
    end_column: int


@dataclass(frozen=True, slots=True)
class Source:
    """A file to scan: its display path (relative to the scan root) and its raw bytes."""

    path: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Skipped:
    """A file discovery or the engine passed over, and why: reported, never silently lost."""

    path: str
    reason: str
    level: Literal["note", "warning"] = "note"

    @property
    def internal_error(self) -> bool:
        """keyguard itself failed on this file (a bug): the run did not fully succeed."""
        return self.reason.startswith(INTERNAL_ERROR)


@dataclass(frozen=True, slots=True)
class Hit:
    """What a matcher (`text.py`, `python.py`) reports: a rule, the matched value, its span.

    Line and column numbers are 1-based; columns count Unicode code points, end exclusive.
    """

    rule: Rule
    secret: str
    line: int
    column: int
    end_line: int
    end_column: int
    note: str = ""  # what a rule's check adds to the message (`did you mean read:users?`)


@dataclass(frozen=True, slots=True)
class Match:
    """A raw hit before filtering. The only type that holds a secret; it never reaches a reporter.

    `line_text` is the first line of the hit (a window of it on a minified line): the console
    shows it redacted.
    """

    rule: Rule
    location: Location
    secret: str
    line_text: str
    severity: Severity
    note: str = ""


@dataclass(frozen=True, slots=True)
class Finding:
    """What reporters see: the secret only in its redacted form, plus a stable fingerprint.

    `secret_digest` (sha256 of the secret) is for the baseline alone, which salts it before
    storing it; no reporter writes it out.
    """

    rule: Rule
    location: Location
    severity: Severity
    redacted: str
    fingerprint: str
    message: str
    snippet: str = ""
    secret_digest: str = ""
    provenance: Provenance | None = None  # set by `keyguard history` only


@dataclass(frozen=True, slots=True)
class ScanStats:
    """Where a scan spent its effort: what `keyguard scan --stats` prints and benchmarks read.

    A candidate is a file in which the prefilter found a keyword; only candidates reach the
    matchers, and only some candidate Python files are parsed (by `ast`, or by libcst).
    `third_party_endpoints` counts the KG301 findings left out of vendored and generated code
    (`context.is_third_party`), so that policy is never silent.
    """

    candidates: int = 0
    ast_parses: int = 0
    ast_seconds: float = 0.0
    libcst_parses: int = 0
    libcst_seconds: float = 0.0
    # Endpoint findings in vendored or generated code, counted instead of reported.
    third_party_endpoints: int = 0
    # OAuth findings (KG401-KG405) there: a library's own defaults, counted the same way.
    third_party_oauth: int = 0

    def __add__(self, other: ScanStats) -> ScanStats:
        return ScanStats(
            self.candidates + other.candidates,
            self.ast_parses + other.ast_parses,
            self.ast_seconds + other.ast_seconds,
            self.libcst_parses + other.libcst_parses,
            self.libcst_seconds + other.libcst_seconds,
            self.third_party_endpoints + other.third_party_endpoints,
            self.third_party_oauth + other.third_party_oauth,
        )


@dataclass(frozen=True, slots=True)
class ScanResult:
    """Everything a reporter needs, in a stable order (path, line, column, rule id)."""

    findings: tuple[Finding, ...]
    skipped: tuple[Skipped, ...] = ()
    files_scanned: int = 0
    bytes_scanned: int = 0
    suppressed: int = 0
    rules: tuple[Rule, ...] = field(default=())
    stats: ScanStats = field(default_factory=ScanStats)
    prefilter: str = ""  # the prefilter backend that served the scan
    baseline: BaselineOutcome | None = None  # None when the scan used no baseline
    commits_scanned: int | None = None  # set by `keyguard history`: what it walked
    # What .gitignore kept out of a walked tree (untracked paths only inside a work tree).
    gitignored_files: int = 0
    gitignored_directories: int = 0
    revision: Revision | None = None
