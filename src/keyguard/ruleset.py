"""Load and validate rule files once: TOML in, frozen `Rule`s with compiled patterns out."""

from __future__ import annotations

import re
import string
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keyguard.lazyre import lazy_compile
from keyguard.models import Example, Rule, Severity

if TYPE_CHECKING:
    import random

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["RuleError", "builtin_rules", "expand_fakes", "load_rule_file", "parse_rules"]

RULE_ID = re.compile(r"^[A-Z][A-Z0-9]{1,9}[0-9]{2,4}$")
RULE_NAME = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
REQUIRED = ("id", "name", "severity", "summary", "description", "remediation", "keywords")
OPTIONAL = (
    "pattern",
    "applies_to",
    "kind",
    "assigned_to",
    "exempt_names",
    "cwe",
    "check",
    "values",
    "hosts",
    "true_positives",
    "false_positives",
)
# The judgements `checks.py` can make around a match, and the kind of rule each belongs to.
CHECKS = {
    "missing-state": "oauth",
    "unknown-scope": "oauth",
    "http-redirect": "oauth",
    "token-exchange": "oauth",
    "bearer-literal": "secret",
    "whole-key-block": "secret",
}
FAKE = lazy_compile(r"\{\{(alnum|hex|upper|digits|b64):(\d{1,4})\}\}")  # tests and --check only
ALPHABETS = {
    "alnum": string.ascii_letters + string.digits,
    "hex": "0123456789abcdef",
    "upper": string.ascii_uppercase,
    "digits": string.digits,
    "b64": string.ascii_letters + string.digits + "+/",  # key bodies of PEM blocks, AccountKeys
}


class RuleError(ValueError):
    """A rule file that cannot be used; the message names the file and the rule."""


def expand_fakes(text: str, rng: random.Random | None = None) -> str:
    """Replace `{{alnum:N}}` (and hex/upper/digits/b64) with N random characters.

    Rule files and fixtures hold templates instead of key-shaped literals, so neither this
    project's own scan nor a hosting provider's push protection ever sees a key. Random bodies
    that happen to look like placeholders (a repeated or ascending run, a word such as "here"
    or "null") are drawn again, so a test can never fail by bad luck.
    """
    # Imported here: only tests and `rules --check` expand templates, never a scan.
    import random

    from keyguard.filters import PLACEHOLDER_WORDS

    rng = rng or random.SystemRandom()

    def fake(match: re.Match[str]) -> str:
        alphabet = ALPHABETS[match.group(1)]
        size = int(match.group(2))
        while True:
            body = "".join(rng.choice(alphabet) for _ in range(size))
            if size < 8 or (
                len(set(body)) > min(size // 3, len(alphabet) // 2)
                and _mixes_classes(body, alphabet)
                and not any(word in body.lower() for word in PLACEHOLDER_WORDS)
            ):
                return body

    return FAKE.sub(fake, text)


def _mixes_classes(body: str, alphabet: str) -> bool:
    """An alnum body of a real key holds both letters and digits; keep fakes that realistic."""
    if alphabet != ALPHABETS["alnum"]:
        return True
    return any(c.isdigit() for c in body) and any(c.isalpha() for c in body)


def _strings(value: Any, where: str, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise RuleError(f"{where}: '{key}' must be a string or a list of strings")


DEFAULT_EXAMPLE_PATH = "app.conf"


def _examples(value: Any, where: str, key: str) -> tuple[Example, ...]:
    """Examples are strings (scanned as a generic config file) or `{ path, code }` tables."""
    if not isinstance(value, list):
        raise RuleError(f"{where}: '{key}' must be a list")
    examples: list[Example] = []
    for item in value:
        if isinstance(item, str):
            examples.append(Example(DEFAULT_EXAMPLE_PATH, item))
        elif (
            isinstance(item, dict)
            and set(item) == {"path", "code"}
            and all(isinstance(v, str) for v in item.values())
        ):
            examples.append(Example(item["path"], item["code"]))
        else:
            raise RuleError(f"{where}: each of '{key}' must be a string or {{ path, code }} table")
    return tuple(examples)


def _check_pattern(pattern: str, where: str) -> None:
    try:
        compiled = re.compile(pattern.encode("utf-8"), re.MULTILINE)
    except re.error as error:
        raise RuleError(f"{where}: 'pattern' is not a valid regular expression: {error}") from None
    if not any(name.startswith("secret") for name in compiled.groupindex):
        raise RuleError(f"{where}: 'pattern' needs a named group (?P<secret>...)")


def _name_pattern(table: Mapping[str, Any], key: str, where: str) -> re.Pattern[str] | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise RuleError(f"{where}: '{key}' must be a string")
    try:
        return re.compile(value)
    except re.error as error:
        raise RuleError(f"{where}: '{key}' is not a valid regular expression: {error}") from None


def parse_rule(table: Mapping[str, Any], origin: str, *, check_pattern: bool = True) -> Rule:
    """Validate one `[[rule]]` table; every problem is a RuleError naming origin and key.

    `check_pattern=False` skips compiling the pattern to check it, for the built-in rules: the
    test suite checks those, and a scan compiles a pattern only when it needs it.
    """
    where = f"{origin}: rule {table.get('id', '?')!s}"
    unknown = sorted(set(table) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise RuleError(f"{where}: unknown key '{unknown[0]}'")
    missing = [key for key in REQUIRED if key not in table]
    if missing:
        raise RuleError(f"{where}: missing key '{missing[0]}'")
    for key in ("id", "name", "severity", "summary", "description", "remediation"):
        if not isinstance(table[key], str) or not table[key].strip():
            raise RuleError(f"{where}: '{key}' must be a non-empty string")
    rule_id: str = table["id"]
    if not RULE_ID.match(rule_id):
        raise RuleError(f"{where}: 'id' must look like KG101 (letters then digits)")
    if not RULE_NAME.match(table["name"]):
        raise RuleError(f"{where}: 'name' must be kebab-case, like live-secret-key")
    try:
        severity = Severity.parse(table["severity"])
    except ValueError as error:
        raise RuleError(f"{where}: 'severity': {error}") from None
    applies_to = table.get("applies_to", "any")
    if applies_to not in ("any", "client", "server"):
        raise RuleError(f"{where}: 'applies_to' must be any, client or server")
    kind = table.get("kind", "secret")
    if kind not in ("secret", "endpoint", "oauth"):
        raise RuleError(f"{where}: 'kind' must be secret, endpoint or oauth")
    check = table.get("check")
    if check is not None and CHECKS.get(check) != kind:
        fitting = ", ".join(name for name, of in CHECKS.items() if of == kind) or "none"
        raise RuleError(f"{where}: 'check' of a rule of kind {kind} must be one of: {fitting}")
    values = _strings(table.get("values", []), where, "values")
    hosts = tuple(host.lower() for host in _strings(table.get("hosts", []), where, "hosts"))
    if check == "unknown-scope" and not values:
        raise RuleError(f"{where}: 'values' must list the provider's scopes for unknown-scope")
    keywords = tuple(
        kw.lower().encode("utf-8") for kw in _strings(table["keywords"], where, "keywords")
    )
    if not keywords or not all(keywords):
        raise RuleError(f"{where}: 'keywords' must name at least one non-empty keyword")
    pattern = table.get("pattern")
    if not isinstance(pattern, str) or not pattern:
        raise RuleError(f"{where}: 'pattern' must be a non-empty string")
    if check_pattern:
        _check_pattern(pattern, where)
    assigned = _name_pattern(table, "assigned_to", where)
    exempt = _name_pattern(table, "exempt_names", where)
    cwe = table.get("cwe", "CWE-798")
    if not isinstance(cwe, str) or not re.fullmatch(r"CWE-\d+", cwe):
        raise RuleError(f"{where}: 'cwe' must look like CWE-798")
    return Rule(
        id=rule_id,
        name=table["name"],
        severity=severity,
        summary=table["summary"].strip(),
        description=table["description"].strip(),
        remediation=table["remediation"].strip(),
        keywords=keywords,
        regex=pattern,
        applies_to=applies_to,
        kind=kind,
        assigned_to=assigned,
        exempt_names=exempt,
        cwe=cwe,
        check=check,
        values=values,
        hosts=hosts,
        true_positives=_examples(table.get("true_positives", []), where, "true_positives"),
        false_positives=_examples(table.get("false_positives", []), where, "false_positives"),
    )


def parse_rules(text: str, origin: str, *, check_patterns: bool = True) -> tuple[Rule, ...]:
    """Parse a whole rule file's text: `[[rule]]` tables and nothing else."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise RuleError(f"{origin}: not valid TOML: {error}") from None
    unknown = sorted(set(document) - {"rule"})
    if unknown:
        raise RuleError(
            f"{origin}: unknown top-level key '{unknown[0]}' (expected [[rule]] tables)"
        )
    tables = document.get("rule", [])
    if not isinstance(tables, list) or not tables:
        raise RuleError(f"{origin}: no [[rule]] tables")
    return tuple(parse_rule(table, origin, check_pattern=check_patterns) for table in tables)


def load_rule_file(path: Path) -> tuple[Rule, ...]:
    """Load a user's rule file (`extra_rules`, `keyguard rules --check`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise RuleError(f"{path}: cannot read rule file: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise RuleError(f"{path}: rule file is not UTF-8 text") from None
    return parse_rules(text, str(path))


def _builtin_texts() -> Iterable[tuple[str, str]]:
    """Yield (name, text) of the shipped rule files, from the wheel or from a source checkout.

    Plain paths first: `importlib.resources` costs a pre-commit run more (it imports tempfile,
    zipfile and compressors) than the whole scan of a few files. It is the fallback for an
    installation that is not on a file system (a zip archive).
    """
    here = Path(__file__).parent
    # The wheel puts the rules next to this module; in a source checkout (and an editable
    # install) rules/ sits at the repository root.
    for folder in (here / "rules", here.parents[1] / "rules"):
        if folder.is_dir():
            for path in sorted(folder.glob("*.toml")):
                yield path.name, path.read_text(encoding="utf-8")
            return
    from importlib import resources

    packaged = resources.files("keyguard").joinpath("rules")
    if packaged.is_dir():
        for entry in sorted(packaged.iterdir(), key=lambda item: item.name):
            if entry.name.endswith(".toml"):
                yield entry.name, entry.read_text(encoding="utf-8")


_BUILTIN: tuple[Rule, ...] | None = None


def builtin_rules() -> tuple[Rule, ...]:
    """The shipped rules, sorted by id; loaded once per process."""
    global _BUILTIN  # noqa: PLW0603 - a load-once cache of immutable data
    if _BUILTIN is None:
        rules: list[Rule] = []
        for name, text in _builtin_texts():
            rules.extend(parse_rules(text, f"rules/{name}", check_patterns=False))
        if not rules:
            raise RuleError("no built-in rules found: the installation is incomplete")
        _BUILTIN = tuple(sorted(rules, key=lambda rule: rule.id))
    return _BUILTIN
