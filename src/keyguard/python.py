"""Match rules against Python source: endpoints on CPython's `ast`, everything else on libcst.

Endpoint rules (`kind = "endpoint"`, KG301) ask one question of a file: is this http:// URL the
start of a string value in code, not a docstring, not bound to a documentation name? CPython's
own `ast` answers it about ten times faster than libcst, and most Python files that reach the
parser on a real tree are there only for such a URL. Secret and binding rules need what only a
concrete tree keeps (comments, the pieces of a concatenated key, exact token text), so they run
on libcst, which is imported and parsed only when one of them is asked for.
"""

from __future__ import annotations

import ast
import bisect
import dataclasses
import enum
import logging
import re
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from keyguard.filters import snake_name
from keyguard.models import Hit, Rule

if TYPE_CHECKING:
    # Only for annotations: importing libcst costs 0.17 s, paid when a file needs a parse.
    import libcst as cst
    from libcst.metadata import CodeRange

__all__ = ["comment_before", "scan_python"]

logger = logging.getLogger(__name__)

# How libcst counts lines (libcst.metadata.position_provider.NEWLINE_RE); ours must agree.
NEWLINE = re.compile(r"\r\n?|\n")
# `os.getenv(NAME, default)`, `os.environ.get(NAME, default)`: the default is a hard-coded value.
ENV_GETTERS = frozenset({"get", "setdefault"})
# OAuth client classes whose second positional argument is the client secret:
# requests-oauthlib's `OAuth1(client_key, client_secret)` and `OAuth1Session`, Authlib's
# `OAuth2Session(client_id, client_secret)` and its httpx clients.
POSITIONAL_CLIENT_SECRET = frozenset(
    {
        "OAuth1",
        "OAuth1Session",
        "OAuth2Session",
        "OAuth1Client",
        "OAuth2Client",
        "AsyncOAuth1Client",
        "AsyncOAuth2Client",
    }
)
# A dict that names an OAuth client by one of these keys holds its secret under "secret":
# django-allauth's `SOCIALACCOUNT_PROVIDERS[...]["APP"]` and `["apps"][n]`, Keycloak clients.
CLIENT_ID_KEYS = frozenset({"client_id", "clientid"})
CLIENT_SECRET_NAME = "client_secret"
# libcst needs about 300 MB and over a second per MB of ordinary code, and more for dense data
# (a list of 150,000 short strings, 0.75 MB: 6 s, 640 MB). Bigger files are generated data:
# text matching serves them.
MAX_PARSE_BYTES = 1 << 20
# libcst's Rust parser recurses per nesting level and per link of a long chain; on the default
# 8 MB stack `a and a and ...` x 20,000 (valid Python) ends the process with SIGSEGV, which no
# `except` can catch (Instagram/LibCST#619, #1000). Only touched pages of the stack cost memory.
PARSE_STACK_BYTES = 256 << 20

Handler = Callable[[Any], None]  # each handler takes its own node type; the table is keyed by it


def scan_python(
    data: bytes, rules: Sequence[Rule], parses: list[tuple[str, float]] | None = None
) -> list[Hit] | None:
    """Return hits for the given rules in Python source `data`, or None to have it scanned as text.

    The file is parsed once by `ast` (which also guards libcst, see `_parse_ast`); endpoint
    rules are decided on that tree alone (`_EndpointFinder`). libcst parses the file only when
    a non-endpoint rule (a secret rule, a binding rule) is among `rules`, and every such rule
    then runs in one walk over its tree (`_Scanner`). Hits of both come merged, sorted by
    position.

    None means "scan the whole file as text", which loses nothing: for files over
    MAX_PARSE_BYTES; nested beyond what CPython accepts; that libcst cannot parse when a rule
    needs libcst; and that `ast` cannot parse when an endpoint rule is asked for. In that last
    case libcst might still know the grammar (newer than the running interpreter), but it would
    answer only for the secret rules while the endpoints went to text anyway, and the engine
    takes one matcher's hits per file: text for the whole file is the simple, complete answer.

    `parses` receives (parser, seconds) for each parse, for `--stats`.
    """
    if not rules:
        return []
    if len(data) > MAX_PARSE_BYTES:
        logger.debug("file too large to parse, falling back to text")
        return None
    source = _source_text(data)
    started = time.perf_counter()
    tree = _parse_ast(source)
    if parses is not None:
        parses.append(("ast", time.perf_counter() - started))
    if tree is _Rejected.BEYOND:
        logger.debug("file nested too deeply for the parsers, falling back to text")
        return None
    endpoint_rules = [rule for rule in rules if rule.kind == "endpoint"]
    other_rules = [rule for rule in rules if rule.kind != "endpoint"]
    hits: list[Hit] = []
    if endpoint_rules:
        if not isinstance(tree, ast.Module):
            logger.debug("not valid Python for this interpreter, falling back to text")
            return None
        try:
            hits = _EndpointFinder(data, source, endpoint_rules).scan(tree)
        except Exception:  # a bug of ours must cost one file's precision, not the whole scan
            logger.warning("python endpoint matcher failed, falling back to text", exc_info=True)
            return None
    if other_rules:
        started = time.perf_counter()
        other = _scan_concrete(source, other_rules)
        if parses is not None:
            parses.append(("libcst", time.perf_counter() - started))
        if other is None:
            return None
        hits.extend(other)
    return sorted(hits, key=lambda hit: (hit.line, hit.column, hit.rule.id))


def string_statement_lines(data: bytes, parses: list[tuple[str, float]] | None = None) -> set[int]:
    """Lines that string statements (docstrings, attribute docs) span: prose, not requests.

    The OAuth rules are decided on the text; `ast` is asked only when one of them has a hit in
    a Python file, to drop the hits that sit in documentation. No tree, no lines.
    """
    started = time.perf_counter()
    tree = _parse_ast(_source_text(data))
    if parses is not None:
        parses.append(("ast", time.perf_counter() - started))
    lines: set[int] = set()
    if not isinstance(tree, ast.Module):
        return lines
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def comment_before(before: bytes) -> bool:
    """Has a comment begun in this line of Python before its end?

    A `#` outside string quotes starts one. Read from the line's start, so a line that goes on
    a triple-quoted string opened above is read as code: this is for lines a commit added,
    where it only spares a file scan that could not find anything there (`match.may_hit`).
    """
    quote = b""
    index = 0
    while index < len(before):
        char = before[index : index + 1]
        if quote:
            if char == b"\\":
                index += 1
            elif before.startswith(quote, index):
                index += len(quote) - 1
                quote = b""
        elif char == b"#":
            return True
        elif char in (b'"', b"'"):
            quote = char * 3 if before.startswith(char * 3, index) else char
            index += len(quote) - 1
        index += 1
    return False


def _scan_concrete(source: str, rules: Sequence[Rule]) -> list[Hit] | None:
    """The non-endpoint rules on libcst's tree, or None if libcst cannot parse or walk it."""
    try:
        module = _parse(source)
    except Exception as error:  # ParserSyntaxError, RecursionError, anything else libcst raises
        logger.debug("libcst cannot parse the file, falling back to text: %s", error)
        return None
    scanner = _Scanner(source, module, rules)
    try:
        _walk(module, scanner.handlers())
    except RecursionError:
        logger.debug("file nested too deeply for libcst, falling back to text")
        return None
    except Exception:  # a bug of ours must cost one file's precision, not the whole scan
        logger.warning("python matcher failed, falling back to text", exc_info=True)
        return None
    return scanner.result()


def _source_text(data: bytes) -> str:
    """Decode the file for the parsers; a stray invalid byte becomes U+FFFD, not a lost parse.

    libcst cannot take the lone surrogates `surrogateescape` would produce, and a Latin-1
    byte in a comment should not cost the file its comment and docstring exemptions.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("utf-8", "replace")


class _Rejected(enum.Enum):
    """Why `ast` gave no tree."""

    BEYOND = "beyond CPython's limits: nesting or recursion depth, memory, NUL bytes"
    SYNTAX = "a syntax error for the running interpreter"


def _parse_ast(source: str) -> ast.Module | _Rejected:
    """CPython's tree of the file: the endpoint rules' input, and libcst's guard.

    On shapes CPython runs out of nesting or recursion depth on (hundreds of nested brackets,
    `+` or `.` chains of thousands of links) libcst crawls for minutes, exhausts memory or
    overflows the stack, while CPython gives up in milliseconds; and what CPython cannot parse
    is no program anyway, so text matching is the right treatment (BEYOND). Other syntax
    errors (SYNTAX) may be grammar newer than the running interpreter, which libcst knows.
    """
    with warnings.catch_warnings():  # invalid escapes warn on Python 3.12+
        warnings.simplefilter("ignore")
        try:
            return ast.parse(source)
        except SyntaxError as error:
            if "too many nested" in str(error):
                return _Rejected.BEYOND
            return _Rejected.SYNTAX
        except (RecursionError, MemoryError, ValueError):
            return _Rejected.BEYOND


def _parse(source: str) -> cst.Module:
    """`libcst.parse_module` on a thread with a large stack (see PARSE_STACK_BYTES)."""
    import libcst as cst

    outcome: list[cst.Module | Exception] = []

    def parse() -> None:
        try:
            outcome.append(cst.parse_module(source))
        except Exception as error:  # re-raised in the calling thread
            outcome.append(error)

    # A daemon, so Ctrl-C during a parse does not wait for it to finish.
    thread: threading.Thread | None
    thread = threading.Thread(target=parse, name="keyguard-libcst", daemon=True)
    try:
        previous = threading.stack_size(PARSE_STACK_BYTES)
    except ValueError:  # a platform that refuses the size
        return cst.parse_module(source)
    try:
        thread.start()  # the stack size is read here
    except RuntimeError:  # the stack could not be allocated
        thread = None
    finally:
        threading.stack_size(previous)  # the setting is process-wide: restore it at once
    if thread is None:
        return cst.parse_module(source)
    thread.join()
    result = outcome[0]
    if isinstance(result, Exception):
        raise result
    return result


def _walk(module: cst.Module, handlers: Mapping[type[cst.CSTNode], Handler]) -> None:
    """Visit every node once, each parent before its children, calling the handler for its type.

    A plain walk over the nodes' dataclass fields rather than a `CSTVisitor`: libcst's visitor
    rebuilds every node it leaves, which took 0.27 s on a 100 KB module against 0.11 s for this
    walk, more than the parse itself. Whitespace is half of all nodes and never holds a string,
    so it is not entered (only the whitespace that holds comments, when a rule reads them).
    Iterative, so deeply nested code cannot exhaust the stack.
    """
    import libcst as cst

    barren: set[type[Any]] = {cst.SimpleWhitespace, cst.Newline}
    if cst.Comment not in handlers:
        barren |= {cst.EmptyLine, cst.TrailingWhitespace, cst.ParenthesizedWhitespace}
    # Whether to enter a value of this type; cached because CSTNode is an ABC and isinstance
    # through ABCMeta was a quarter of the walk.
    enters: dict[type[Any], bool] = {}
    field_names: dict[type[Any], tuple[str, ...]] = {}
    stack: list[Any] = [module]
    while stack:
        node = stack.pop()
        kind = type(node)
        handler = handlers.get(kind)
        if handler is not None:
            handler(node)
        names = field_names.get(kind)
        if names is None:
            names = field_names[kind] = tuple(field.name for field in dataclasses.fields(node))
        for name in names:
            value = getattr(node, name)
            values = value if type(value) is tuple or type(value) is list else (value,)
            for child in values:
                child_kind = type(child)
                enter = enters.get(child_kind)
                if enter is None:
                    enter = enters[child_kind] = (
                        issubclass(child_kind, cst.CSTNode) and child_kind not in barren
                    )
                if enter:
                    stack.append(child)


@dataclass(frozen=True, slots=True)
class _Check:
    """A rule with its secret group names ready: the first of them that matched is the secret."""

    rule: Rule
    groups: tuple[str, ...]

    @classmethod
    def of(cls, rule: Rule) -> _Check:
        index = rule.pattern.groupindex
        names = sorted((name for name in index if name.startswith("secret")), key=index.__getitem__)
        return cls(rule, tuple(names))

    def wanted(self, lowered: bytes) -> bool:
        """Run a regex only on a value holding one of the rule's keywords: most values hold none."""
        return any(keyword in lowered for keyword in self.rule.keywords)

    def find_all(self, value: bytes) -> Iterator[str]:
        """Yield the secret of every match in `value`."""
        for match in self.rule.pattern.finditer(value):
            secret = self._secret(match)
            if secret:
                yield secret

    def find_at_start(self, value: bytes) -> str | None:
        """The secret when `value` starts with a match: the literal IS the URL.

        A URL further in ("see http://... for details") is prose, not an endpoint; so is one
        after leading whitespace, which is formatted text (help or docs assembled from lines).
        """
        match = self.rule.pattern.match(value)
        return self._secret(match) if match else None

    def _secret(self, match: re.Match[bytes]) -> str | None:
        for name in self.groups:
            raw = match.group(name)
            if raw is not None:
                return _group_text(raw) or None
        return None


def _group_text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:  # a pattern that cut a character in two
        return raw.decode("utf-8", "replace")


def _encode(text: str) -> bytes:
    """Rule patterns are bytes regexes; surrogatepass keeps a `"\\ud800"` literal from raising."""
    return text.encode("utf-8", "surrogatepass")


@dataclass(slots=True)
class _Literal:
    """A string expression folded to its value: literal runs split at each f-string `{...}`.

    `leaves` are the tokens the value came from (string literals or a comment), in source order:
    a secret found verbatim in one of them gets its exact span.
    """

    runs: list[str]
    leaves: list[cst.CSTNode]


@dataclass(slots=True)
class _Cursor:
    """Where to look for the next secret of a literal, so a repeated value gets its own span."""

    leaf: int = 0
    offset: int = 0


def _is_string(node: cst.CSTNode) -> bool:
    import libcst as cst

    return isinstance(node, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString))


def _fold(operands: Sequence[cst.BaseExpression], consumed: set[cst.CSTNode] | None) -> _Literal:
    """Evaluate adjacent string operands (implicit or `+` concatenation) into one `_Literal`.

    Every string node taken in is added to `consumed`, so the walk does not report it again
    on its own when it reaches it.
    """
    import libcst as cst

    runs = [""]
    leaves: list[cst.CSTNode] = []
    stack = list(reversed(operands))
    while stack:
        node = stack.pop()
        if consumed is not None:
            consumed.add(node)
        if isinstance(node, cst.ConcatenatedString):
            stack.append(node.right)
            stack.append(node.left)
        elif isinstance(node, cst.SimpleString):
            runs[-1] += _simple_value(node)
            leaves.append(node)
        elif isinstance(node, cst.FormattedString):
            for part in node.parts:
                if isinstance(part, cst.FormattedStringText):
                    runs[-1] += _fstring_text(node, part.value)
                else:
                    runs.append("")
            leaves.append(node)
    return _Literal(runs, leaves)


def _literal_eval(text: str) -> str | bytes | None:
    """Evaluate one string token; None when Python itself would reject it."""
    with warnings.catch_warnings():  # "\d" warns on Python 3.12+; a scanner must stay quiet
        warnings.simplefilter("ignore")
        try:
            value = ast.literal_eval(text)
        except (SyntaxError, ValueError):
            return None
    return value if isinstance(value, (str, bytes)) else None


def _simple_value(node: cst.SimpleString) -> str:
    """The literal's value; bytes decode as UTF-8 (else Latin-1), so `b"sk_live_..."` counts too."""
    raw = node.raw_value
    if "\\" not in raw:  # the common case needs no evaluation
        return raw
    value = _literal_eval(node.value)
    if value is None:
        return raw
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value.decode("latin-1")
    return value


def _fstring_text(node: cst.FormattedString, text: str) -> str:
    """Unescape one literal part of an f-string (`{{`, and backslash escapes unless raw)."""
    if "{" in text or "}" in text:
        text = text.replace("{{", "{").replace("}}", "}")
    if "\\" not in text or "r" in node.prefix.lower():
        return text
    value = _literal_eval(node.quote + text + node.quote)
    return value if isinstance(value, str) else text


def _string_operands(expr: cst.BaseExpression) -> list[cst.BaseExpression] | None:
    """The operands of a string expression made only of literals, or None if it holds a name."""
    import libcst as cst

    if _is_string(expr):
        return [expr]
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Add):
        operands = _add_operands(expr, None)
        if all(_is_string(operand) for operand in operands):
            return operands
    return None


def _add_operands(
    node: cst.BinaryOperation, consumed: set[cst.CSTNode] | None
) -> list[cst.BaseExpression]:
    """Flatten a chain of `+` into its operands, left to right (iteratively: chains get long)."""
    import libcst as cst

    operands: list[cst.BaseExpression] = []
    stack: list[cst.BaseExpression] = [node]
    while stack:
        expr = stack.pop()
        if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Add):
            if consumed is not None:
                consumed.add(expr)
            stack.append(expr.right)
            stack.append(expr.left)
        else:
            operands.append(expr)
    return operands


def _string_runs(operands: Sequence[cst.BaseExpression]) -> Iterator[list[cst.BaseExpression]]:
    """Yield each run of adjacent string operands: `x + "a" + "b"` folds `"a" + "b"` only."""
    run: list[cst.BaseExpression] = []
    for operand in operands:
        if _is_string(operand):
            run.append(operand)
        elif run:
            yield run
            run = []
    if run:
        yield run


def _constant(expr: cst.BaseExpression) -> str | None:
    """The value of a plain literal (a dict key, an env var name), or None if it is not one."""
    operands = _string_operands(expr)
    if operands is None:
        return None
    literal = _fold(operands, None)
    return literal.runs[0] if len(literal.runs) == 1 else None


def _last_name(expr: cst.BaseExpression) -> str | None:
    """`settings.CLIENT_SECRET` -> "CLIENT_SECRET": a binding is named by its last component."""
    import libcst as cst

    if isinstance(expr, cst.Name):
        return expr.value
    if isinstance(expr, cst.Attribute):
        return expr.attr.value
    return None


def _target_name(target: cst.BaseExpression) -> str | None:
    """The name an assignment binds: a name, an attribute, or a `config["key"]` subscript."""
    import libcst as cst

    if isinstance(target, cst.Subscript):
        if len(target.slice) == 1 and isinstance(target.slice[0].slice, cst.Index):
            return _constant(target.slice[0].slice.value)
        return None
    return _last_name(target)


def _alternatives(value: cst.BaseExpression) -> Iterator[cst.BaseExpression]:
    """Each value an expression may produce: `getenv("X") or "literal"` hard-codes the literal."""
    import libcst as cst

    stack = [value]
    while stack:
        expr = stack.pop()
        if isinstance(expr, cst.BooleanOperation) and isinstance(expr.operator, cst.Or):
            stack.extend((expr.right, expr.left))
        elif isinstance(expr, cst.IfExp):
            stack.extend((expr.orelse, expr.body))
        else:
            yield expr


def _env_read(call: cst.Call) -> tuple[str, cst.BaseExpression | None] | None:
    """(variable name, default) of `os.getenv(NAME[, default])` or `os.environ.get(...)`.

    The default, when there is one, is a value hard-coded for that variable.
    """
    import libcst as cst

    func = call.func
    if isinstance(func, cst.Attribute):
        method = func.attr.value
        if method != "getenv" and not (
            method in ENV_GETTERS and _last_name(func.value) == "environ"
        ):
            return None
    elif not (isinstance(func, cst.Name) and func.value == "getenv"):
        return None
    positional = [arg.value for arg in call.args if arg.keyword is None and not arg.star]
    keywords = {arg.keyword.value: arg.value for arg in call.args if arg.keyword is not None}
    key = positional[0] if positional else keywords.get("key")
    default = positional[1] if len(positional) > 1 else keywords.get("default")
    name = _constant(key) if key is not None else None
    return (name, default) if name else None


class _Lines:
    """Where each line of the decoded source starts, built on the first hit: most files have none.

    Lines break where libcst and CPython break them (NEWLINE): at `\\r\\n`, `\\r` and `\\n`.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self._starts: list[int] | None = None

    def starts(self) -> list[int]:
        if self._starts is None:
            self._starts = [0, *(match.end() for match in NEWLINE.finditer(self.source))]
        return self._starts

    def position(self, offset: int) -> tuple[int, int]:
        """1-based line and column (in code points) of an offset into the source."""
        starts = self.starts()
        index = bisect.bisect_right(starts, offset) - 1
        return index + 1, offset - starts[index] + 1

    def offset(self, line: int, byte_column: int) -> int:
        """The offset of an `ast` position: a 1-based line and a column in UTF-8 bytes."""
        start = self.starts()[line - 1]
        head = self.source[start : start + byte_column]
        if head.isascii():  # the common case: as many bytes as code points
            return start + byte_column
        line_end = self.source.find("\n", start)
        text = self.source[start : len(self.source) if line_end == -1 else line_end]
        encoded = text.encode("utf-8", "surrogatepass")[:byte_column]
        return start + len(encoded.decode("utf-8", "replace"))


class _Locator:
    """Turn tokens into offsets and offsets into 1-based positions, computing as little as possible.

    libcst's PositionProvider costs twice the parse (0.5 s on a 100 KB module) and most files
    that reach this module have no hit at all. A token whose text occurs once in the file is
    found with `str.find`; only a repeated one makes us ask libcst, once per file.
    """

    def __init__(self, source: str, module: cst.Module) -> None:
        self.source = source
        self.module = module
        self.lines = _Lines(source)
        self._tokens: dict[cst.CSTNode, tuple[int, str, int]] = {}
        self._ranges: Mapping[cst.CSTNode, CodeRange] | None = None

    def span(self, leaves: Sequence[cst.CSTNode], secret: str, cursor: _Cursor) -> tuple[int, int]:
        """Offsets of `secret` where it appears verbatim in a leaf, else of the whole expression.

        Escapes and concatenation mean the value is not in the source as such; then the whole
        string expression is the best span there is.
        """
        for index in range(cursor.leaf, len(leaves)):
            offset, text, body = self.token(leaves[index])
            start = max(body, cursor.offset) if index == cursor.leaf else body
            found = text.find(secret, start)
            if found != -1:
                cursor.leaf, cursor.offset = index, found + len(secret)
                return offset + found, offset + found + len(secret)
        first_offset = self.token(leaves[0])[0]
        last_offset, last_text, _ = self.token(leaves[-1])
        return first_offset, last_offset + len(last_text)

    def token(self, leaf: cst.CSTNode) -> tuple[int, str, int]:
        """(offset, text, where the value starts in the text) of a literal or comment token."""
        cached = self._tokens.get(leaf)
        if cached is None:
            text, body = self._token_text(leaf)
            cached = self._tokens[leaf] = (self._offset_of(leaf, text), text, body)
        return cached

    def position(self, offset: int) -> tuple[int, int]:
        """1-based line and column (in code points) of an offset into the source."""
        return self.lines.position(offset)

    def _token_text(self, leaf: cst.CSTNode) -> tuple[str, int]:
        import libcst as cst

        if isinstance(leaf, cst.SimpleString):
            return leaf.value, len(leaf.prefix) + len(leaf.quote)
        if isinstance(leaf, cst.FormattedString):
            bare = leaf.with_changes(lpar=(), rpar=())  # parentheses are not part of the token
            return self.module.code_for_node(bare), len(leaf.start)
        if isinstance(leaf, cst.Comment):
            return leaf.value, 0
        raise TypeError(f"not a token: {type(leaf).__name__}")

    def _offset_of(self, leaf: cst.CSTNode, text: str) -> int:
        first = self.source.find(text)
        if first != -1 and self.source.find(text, first + 1) == -1:
            return first  # the token's text occurs once: this is the token
        # Repeated (or, defensively, not found): ask libcst where this one is.
        start = self._code_range(leaf).start
        offset = self.lines.starts()[start.line - 1] + start.column
        # The range includes parentheses around the token; skip them.
        return offset + max(0, self.module.code_for_node(leaf).find(text))

    def _code_range(self, leaf: cst.CSTNode) -> CodeRange:
        if self._ranges is None:
            from libcst.metadata import MetadataWrapper, PositionProvider

            wrapper = MetadataWrapper(self.module, unsafe_skip_copy=True)
            self._ranges = wrapper.resolve(PositionProvider)
        return self._ranges[leaf]


class _Scanner:
    """Secret and binding rules over one libcst module: the walk calls its handlers.

    Secret rules search every string value and comment; binding rules (`assigned_to`) report
    literal values bound to a matching name. Endpoint rules are not taken here: `_EndpointFinder`
    decides them on the `ast` tree, so their semantics live in one place.
    """

    def __init__(self, source: str, module: cst.Module, rules: Sequence[Rule]) -> None:
        self.locator = _Locator(source, module)
        checks = [_Check.of(rule) for rule in rules if rule.kind != "endpoint"]
        self.binding_checks = [check for check in checks if check.rule.assigned_to is not None]
        self.secret_checks = [check for check in checks if check.rule.assigned_to is None]
        # Most literals hold no keyword of any rule: one test rules them out.
        self.literal_keywords = tuple(
            {kw for check in self.secret_checks for kw in check.rule.keywords}
        )
        self.hits: list[Hit] = []
        # String nodes already reported as part of a larger expression (a concatenation).
        self.consumed: set[cst.CSTNode] = set()

    def handlers(self) -> dict[type[cst.CSTNode], Handler]:
        """Only the node types the given rules need: the fewer handlers, the cheaper the walk."""
        import libcst as cst

        table: dict[type[cst.CSTNode], Handler] = {}
        if self.secret_checks:
            for kind in (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString):
                table[kind] = self._on_string
            table[cst.BinaryOperation] = self._on_binary
            table[cst.Comment] = self._on_comment
        if self.binding_checks:
            table.update(
                {
                    cst.Assign: self._on_assign,
                    cst.AnnAssign: self._on_ann_assign,
                    cst.NamedExpr: self._on_named_expr,
                    cst.Arg: self._on_arg,
                    cst.Param: self._on_param,
                    cst.DictElement: self._on_dict_element,
                    cst.Dict: self._on_dict,
                    cst.Call: self._on_call,
                    cst.BooleanOperation: self._on_or,
                }
            )
        return table

    def result(self) -> list[Hit]:
        """The hits sorted by position; a value bound twice (`A = B = "..."`) is reported once."""
        unique = {
            (hit.rule.id, hit.line, hit.column, hit.end_line, hit.end_column, hit.secret): hit
            for hit in self.hits
        }
        return sorted(unique.values(), key=lambda hit: (hit.line, hit.column, hit.rule.id))

    # -- string values and comments ---------------------------------------------------------

    def _on_string(self, node: cst.BaseString) -> None:
        if node not in self.consumed:
            self._check_literal(_fold([node], self.consumed))

    def _on_binary(self, node: cst.BinaryOperation) -> None:
        import libcst as cst

        if node in self.consumed or not isinstance(node.operator, cst.Add):
            return
        for run in _string_runs(_add_operands(node, self.consumed)):
            self._check_literal(_fold(run, self.consumed))

    def _on_comment(self, node: cst.Comment) -> None:
        self._check_literal(_Literal([node.value], [node]))

    def _check_literal(self, literal: _Literal) -> None:
        """Every secret rule on every run of the value (the text between f-string `{...}`)."""
        encoded = [_encode(run) for run in literal.runs]
        lowered = [value.lower() for value in encoded]
        if not any(keyword in value for value in lowered for keyword in self.literal_keywords):
            return
        for check in self.secret_checks:
            cursor = _Cursor()
            for value, lower in zip(encoded, lowered, strict=True):
                if check.wanted(lower):
                    for secret in check.find_all(value):
                        self._emit(check.rule, secret, literal.leaves, cursor)

    def _emit(
        self, rule: Rule, secret: str, leaves: Sequence[cst.CSTNode], cursor: _Cursor
    ) -> None:
        start, end = self.locator.span(leaves, secret, cursor)
        line, column = self.locator.position(start)
        end_line, end_column = self.locator.position(end)
        self.hits.append(Hit(rule, secret, line, column, end_line, end_column))

    # -- values bound to a name (assigned_to rules) -------------------------------------------

    def _on_assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self._bind_target(target.target, node.value)

    def _on_ann_assign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._bind_target(node.target, node.value)

    def _on_named_expr(self, node: cst.NamedExpr) -> None:
        self._bind_target(node.target, node.value)

    def _on_arg(self, node: cst.Arg) -> None:
        if node.keyword is not None:
            self._bind(node.keyword.value, node.value)

    def _on_param(self, node: cst.Param) -> None:
        if node.default is not None:
            self._bind(node.name.value, node.default)

    def _on_dict_element(self, node: cst.DictElement) -> None:
        key = _constant(node.key)
        if key is not None:
            self._bind(key, node.value)

    def _on_dict(self, node: cst.Dict) -> None:
        """`{"client_id": ..., "secret": "..."}`: the secret of the client the dict names."""
        import libcst as cst

        elements = [e for e in node.elements if isinstance(e, cst.DictElement)]
        keys = [_constant(element.key) for element in elements]
        if not any(key is not None and key.lower() in CLIENT_ID_KEYS for key in keys):
            return
        for key, element in zip(keys, elements, strict=True):
            if key == "secret":
                self._bind(CLIENT_SECRET_NAME, element.value)

    def _on_call(self, node: cst.Call) -> None:
        read = _env_read(node)
        if read is not None and read[1] is not None:
            self._bind(read[0], read[1])
        if _last_name(node.func) in POSITIONAL_CLIENT_SECRET:
            positional = [arg.value for arg in node.args if arg.keyword is None and not arg.star]
            if len(positional) > 1:
                self._bind(CLIENT_SECRET_NAME, positional[1])

    def _on_or(self, node: cst.BooleanOperation) -> None:
        """`os.getenv("CLIENT_SECRET") or "..."`: the literal is that variable's fallback."""
        import libcst as cst

        if not isinstance(node.operator, cst.Or):
            return
        for candidate in _alternatives(node.left):
            read = _env_read(candidate) if isinstance(candidate, cst.Call) else None
            if read is not None:
                self._bind(read[0], node.right)

    def _bind_target(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        """Pair targets with values, element by element for `ID, SECRET = "...", "..."`."""
        import libcst as cst

        pairs = [(target, value)]
        while pairs:
            target, value = pairs.pop()
            if (
                isinstance(target, (cst.Tuple, cst.List))
                and isinstance(value, (cst.Tuple, cst.List))
                and len(target.elements) == len(value.elements)
                and all(isinstance(e, cst.Element) for e in (*target.elements, *value.elements))
            ):
                targets = [element.value for element in target.elements]
                values = [element.value for element in value.elements]
                pairs.extend(zip(targets, values, strict=True))
                continue
            name = _target_name(target)
            if name is not None:
                self._bind(name, value)

    def _bind(self, name: str, value: cst.BaseExpression) -> None:
        """Report a non-empty literal bound to `name` for each binding rule the name matches."""
        lowered = _encode(name).lower()
        for check in self.binding_checks:
            assigned = check.rule.assigned_to
            if assigned is None or not check.wanted(lowered) or not assigned.search(name):
                continue
            for candidate in _alternatives(value):
                operands = _string_operands(candidate)
                if operands is None:
                    continue
                literal = _fold(operands, None)
                if len(literal.runs) != 1 or not literal.runs[0].strip():
                    continue  # an f-string with {...}, or an empty default
                self._emit(check.rule, literal.runs[0], literal.leaves, _Cursor())


# -- endpoint rules, on CPython's ast --------------------------------------------------------

# The opening of a string token at a node's start: prefix letters (b, rb, f, ...), then quotes.
STRING_OPENING = re.compile(r"""[A-Za-z]{0,2}(?:\"\"\"|'''|"|')""")
# Source text that adds nothing to a string's value: line continuations inside the literal
# (`"""\` at the end of a line) and the seams of implicit concatenation (`"" "http://..."`).
VALUELESS = re.compile(r"""(?:\\(?:\r\n?|\n)|["']+\s*[A-Za-z]{0,2}["']+)*""")
# Methods whose string arguments are matched against a URL, not fetched.
# str methods whose arguments are matched against text, never requested: a prefix checked,
# a separator split on (`profile_url.split("http://host/user/")`), a substring searched for.
URL_MATCHERS = frozenset(
    {"startswith", "endswith", "removeprefix", "removesuffix", "split", "rsplit", "partition"}
    | {"rpartition", "find", "rfind", "index", "rindex", "count", "strip", "lstrip", "rstrip"}
)
# Line breaks as CPython counts them, for finding the lines that hold a keyword.
NEWLINE_BYTES = re.compile(rb"\r\n?|\n")


def _template_types() -> tuple[type[ast.AST], ...]:
    """f-strings, and t-strings on Python 3.14+: literal parts between expression parts."""
    kinds: list[type[ast.AST]] = [ast.JoinedStr]
    template = getattr(ast, "TemplateStr", None)
    if isinstance(template, type) and issubclass(template, ast.AST):
        kinds.append(template)
    return tuple(kinds)


TEMPLATE_TYPES = _template_types()


def _is_ast_string(node: ast.AST) -> bool:
    """A str or bytes literal (implicit concatenation included), an f-string or a t-string."""
    if type(node) is ast.Constant:
        return isinstance(node.value, (str, bytes))
    return isinstance(node, TEMPLATE_TYPES)


def _literal_start(node: ast.AST) -> tuple[bytes, bool]:
    """(the literal text a string node starts with, whether that is its whole value).

    For an f-string that is the text before its first `{...}`; on every supported version the
    parser has already merged adjacent literal text (and implicit concatenation) into one part.
    """
    if type(node) is ast.Constant:
        value = node.value
        return (value, True) if isinstance(value, bytes) else (_encode(str(value)), True)
    text: list[bytes] = []
    for part in getattr(node, "values", ()):
        if type(part) is not ast.Constant or not isinstance(part.value, str):
            return b"".join(text), False
        text.append(_encode(part.value))
    return b"".join(text), True


def _ast_alternatives(value: ast.expr) -> Iterator[ast.expr]:
    """Each value an expression may produce: `a or "literal"`, `"x" if debug else "y"`."""
    stack = [value]
    while stack:
        expr = stack.pop()
        if isinstance(expr, ast.BoolOp) and isinstance(expr.op, ast.Or):
            stack.extend(reversed(expr.values))
        elif isinstance(expr, ast.IfExp):
            stack.extend((expr.orelse, expr.body))
        else:
            yield expr


def _ast_str(node: ast.expr | None) -> str | None:
    """The value of a plain str literal (a dict key, an env var name), else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _ast_target_name(target: ast.expr) -> str | None:
    """The name an assignment binds: `name`, `obj.attr` -> attr, `table["key"]` -> key."""
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute):
        return target.attr
    if isinstance(target, ast.Subscript):
        return _ast_str(target.slice)
    return None


def _ast_env_read(call: ast.Call) -> tuple[str, ast.expr] | None:
    """(variable name, default) of `os.getenv(NAME, default)` or `os.environ.get(NAME, default)`."""
    func = call.func
    if isinstance(func, ast.Attribute):
        owner = func.value
        owner_name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", None)
        if func.attr != "getenv" and not (func.attr in ENV_GETTERS and owner_name == "environ"):
            return None
    elif not (isinstance(func, ast.Name) and func.id == "getenv"):
        return None
    positional = [arg for arg in call.args if not isinstance(arg, ast.Starred)]
    keywords = {keyword.arg: keyword.value for keyword in call.keywords if keyword.arg}
    name = _ast_str(positional[0] if positional else keywords.get("key"))
    default = positional[1] if len(positional) > 1 else keywords.get("default")
    return (name, default) if name and default is not None else None


def _candidate_lines(data: bytes, keywords: Iterable[bytes]) -> list[int]:
    """Sorted 1-based numbers of the lines that hold a keyword (case-insensitively)."""
    lowered = data.lower()
    offsets: set[int] = set()
    for keyword in keywords:
        found = lowered.find(keyword) if keyword else -1
        while found != -1:
            offsets.add(found)
            found = lowered.find(keyword, found + 1)
    if not offsets:
        return []
    if b"\r" in data:  # old Mac line ends: count them as CPython does
        starts = [0, *(match.end() for match in NEWLINE_BYTES.finditer(data))]
        return sorted({bisect.bisect_right(starts, offset) for offset in offsets})
    lines: list[int] = []
    line, previous = 1, 0
    for offset in sorted(offsets):
        line += data.count(b"\n", previous, offset)
        previous = offset
        if not lines or lines[-1] != line:
            lines.append(line)
    return lines


NESTED_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


class _EndpointFinder:
    """Endpoint rules over the `ast` tree: string values in code that ARE a URL.

    Reported: a value whose UTF-8 text starts, at its first character, with a URL the rule's
    pattern matches. Values are str and bytes literals (implicit concatenation is one node
    already), runs of literals joined with `+` (`"http://host" + "/v1"` is one value), and
    f-strings (t-strings) by the literal text before their first `{...}`.

    Not reported:
    - a value that starts with whitespace, or holds the URL further in: formatted text, prose,
      help texts ("see http://... for details");
    - string statements (docstrings, attribute docs after `x = 1`): their value is thrown away;
      strings inside an f-string statement's `{...}` are still code;
    - comments: `ast` has none;
    - a value bound to a name the rule's `exempt_names` matches, searched in `snake_name` form:
      assignment targets (`NS_VIZ = ...`; `self.website = ...` by its attribute;
      `links["homepage"] = ...` by its key; element by element for `A, B = "...", "..."`),
      annotated assignments, `:=`, keyword arguments (`setup(homepage=...)`), dict entries with
      a str key (`{"homepage": ...}`), parameter defaults, and `os.getenv(NAME, default)`. The
      name covers the bound value itself, each alternative of an `or` or a conditional
      expression (`HOMEPAGE = env or "http://..."`), and what the lists, tuples, sets and dict
      values in it hold, at any depth (`_TESTS = [{"url": "http://..."}]`, `LINKS = ((name,
      "http://..."),)`); not the arguments of a call in it: those are values of their own.
    A rule with `assigned_to` counts only values bound, in the same ways, to a matching name.

    Only statements spanning a line that holds a rule keyword are entered, so a file costs its
    parse and a walk over a few statements. The price: a keyword the source spells only
    through escapes (`"\\x68ttp://"`) or across implicitly concatenated pieces is not seen.
    """

    def __init__(self, data: bytes, source: str, rules: Sequence[Rule]) -> None:
        self.data = data
        self.lines = _Lines(source)
        self.checks = [_Check.of(rule) for rule in rules]
        self.hits: list[Hit] = []
        # Nodes are keyed by id(): the tree outlives the walk, so no id is reused meanwhile.
        self.bound: dict[int, list[str]] = {}  # value node -> the names it is bound to
        self.quiet: set[int] = set()  # string nodes not checked on their own
        self.chained: set[int] = set()  # `+` nodes folded with the chain they belong to
        self.handlers: dict[type[ast.AST], Callable[[Any], None]] = {
            ast.Expr: self._on_expression_statement,
            ast.BinOp: self._on_binary,
            ast.Assign: self._on_assign,
            ast.AnnAssign: self._on_ann_assign,
            ast.NamedExpr: self._on_named_expr,
            ast.keyword: self._on_keyword,
            ast.Dict: self._on_dict,
            ast.arguments: self._on_arguments,
            ast.FunctionDef: self._on_function,
            ast.AsyncFunctionDef: self._on_function,
            ast.Call: self._on_call,
            ast.Compare: self._on_compare,
        }

    def scan(self, tree: ast.Module) -> list[Hit]:
        """Walk the statements near a keyword, parents before children; return the hits."""
        candidates = _candidate_lines(
            self.data, {keyword for check in self.checks for keyword in check.rule.keywords}
        )
        if not candidates:
            return []
        stack: list[ast.AST] = [tree]
        while stack:
            node = stack.pop()
            if isinstance(node, ast.stmt) and not _spans_candidate(node, candidates):
                continue
            kind = type(node)
            if isinstance(node, ast.Constant):
                if id(node) not in self.quiet and isinstance(node.value, (str, bytes)):
                    self._check(_literal_start(node)[0], node, node, self.bound.get(id(node)))
                continue
            if kind in TEMPLATE_TYPES:
                self._on_template(node, stack)
                continue
            handler = self.handlers.get(kind)
            if handler is not None:
                handler(node)
            stack.extend(ast.iter_child_nodes(node))
        return self.hits

    # -- string values ----------------------------------------------------------------------

    def _on_template(self, node: ast.AST, stack: list[ast.AST]) -> None:
        """Check the f-string's start; walk the code in its `{...}`, never its literal parts."""
        if id(node) not in self.quiet:
            self._check(_literal_start(node)[0], node, node, self.bound.get(id(node)))
        for part in getattr(node, "values", ()):
            if type(part) is ast.Constant:
                continue
            inner = getattr(part, "value", None)
            if isinstance(inner, ast.AST):
                stack.append(inner)
            spec = getattr(part, "format_spec", None)
            if isinstance(spec, ast.AST):  # `{x:>{width}}`: a format, not a value
                self.quiet.add(id(spec))
                stack.append(spec)

    def _on_expression_statement(self, node: ast.Expr) -> None:
        """A string statement is documentation: its value is thrown away, nothing connects to it."""
        if _is_ast_string(node.value):
            self.quiet.add(id(node.value))

    def _on_binary(self, node: ast.BinOp) -> None:
        """Fold each run of literals in a `+` chain into one value: `base + "http://h" + "/v1"`."""
        if id(node) in self.chained or not isinstance(node.op, ast.Add):
            return
        operands: list[ast.expr] = []
        stack: list[ast.expr] = [node]
        while stack:
            expr = stack.pop()
            if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
                self.chained.add(id(expr))
                stack.extend((expr.right, expr.left))
            else:
                operands.append(expr)
        names = self.bound.get(id(node))
        run: list[ast.expr] = []
        for operand in [*operands, None]:
            if operand is not None and _is_ast_string(operand):
                run.append(operand)
                continue
            if run:
                value = b""
                for literal in run:
                    self.quiet.add(id(literal))
                    text, whole = _literal_start(literal)
                    value += text
                    if not whole:
                        break
                self._check(value, run[0], run[-1], names)
                run = []

    def _check(
        self, value: bytes, first: ast.AST, last: ast.AST, names: Sequence[str] | None
    ) -> None:
        """Report each rule whose URL starts `value`, unless a name it is bound to rules it out."""
        lowered = value.lower()
        for check in self.checks:
            if not check.wanted(lowered):
                continue
            url = check.find_at_start(value)
            if url and _counts(check.rule, names or ()):
                start, end = self._span(first, last, url)
                line, column = self.lines.position(start)
                end_line, end_column = self.lines.position(end)
                self.hits.append(Hit(check.rule, url, line, column, end_line, end_column))

    def _span(self, first: ast.AST, last: ast.AST, url: str) -> tuple[int, int]:
        """Offsets of the URL where the source spells it verbatim, else of the whole value.

        Found from the value's start, after its opening quote. The value starts with the URL,
        so only source that adds nothing to the value may come before a verbatim copy
        (VALUELESS); a copy after anything else is a later one, the first being written with
        escapes. Escapes and `"http://" "host"` pieces get the value's span.
        """
        source = self.lines.source
        start = self.lines.offset(getattr(first, "lineno", 1), getattr(first, "col_offset", 0))
        end_line = getattr(last, "end_lineno", None)
        end_column = getattr(last, "end_col_offset", None)
        if end_line is None or end_column is None:  # every expression has them since 3.8
            end = start + len(url)
        else:
            end = self.lines.offset(end_line, end_column)
        opening = STRING_OPENING.match(source, start)
        if opening is not None:
            found = source.find(url, opening.end(), end)
            if found != -1 and VALUELESS.fullmatch(source, opening.end(), found):
                return found, found + len(url)
        return start, end

    # -- values bound to a name -------------------------------------------------------------

    def _bind(self, name: str, value: ast.expr) -> None:
        """Bind `name` to the value, its alternatives, and what containers in it hold: a list
        or a dict bound to a name is a collection of such values (`_TESTS = [{"url": …}]`)."""
        stack = [value]
        while stack:
            for alternative in _ast_alternatives(stack.pop()):
                self.bound.setdefault(id(alternative), []).append(name)
                if isinstance(alternative, (ast.List, ast.Tuple, ast.Set)):
                    stack.extend(alternative.elts)
                elif isinstance(alternative, ast.Dict):
                    stack.extend(alternative.values)

    def _bind_target(self, target: ast.expr, value: ast.expr) -> None:
        """Pair targets with values, element by element for `NS, URL = "...", "..."`."""
        pairs = [(target, value)]
        while pairs:
            target, value = pairs.pop()
            if (
                isinstance(target, (ast.Tuple, ast.List))
                and isinstance(value, (ast.Tuple, ast.List))
                and len(target.elts) == len(value.elts)
                and not any(isinstance(e, ast.Starred) for e in (*target.elts, *value.elts))
            ):
                pairs.extend(zip(target.elts, value.elts, strict=True))
                continue
            name = _ast_target_name(target)
            if name is not None:
                self._bind(name, value)

    def _on_assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._bind_target(target, node.value)

    def _on_ann_assign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self._bind_target(node.target, node.value)

    def _on_named_expr(self, node: ast.NamedExpr) -> None:
        self._bind_target(node.target, node.value)

    def _on_keyword(self, node: ast.keyword) -> None:
        if node.arg is not None:  # not `**kwargs`
            self._bind(node.arg, node.value)

    def _on_dict(self, node: ast.Dict) -> None:
        for key, value in zip(node.keys, node.values, strict=True):
            if key is not None and _is_ast_string(key):
                self.quiet.add(id(key))  # a key: an identifier the mapping looks up
            name = _ast_str(key)
            if name is not None:
                self._bind(name, value)

    def _on_arguments(self, node: ast.arguments) -> None:
        """Parameter defaults: `defaults` belong to the last positional parameters."""
        positional = [*node.posonlyargs, *node.args]
        for parameter, default in zip(
            positional[len(positional) - len(node.defaults) :], node.defaults, strict=True
        ):
            self._bind(parameter.arg, default)
        for parameter, keyword_default in zip(node.kwonlyargs, node.kw_defaults, strict=True):
            if keyword_default is not None:
                self._bind(parameter.arg, keyword_default)

    def _on_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        """What a function returns is bound to its name: `def get_profile_url(): return "..."`.

        Only the function's own `return`s count, not those of functions or classes nested in it.
        """
        stack: list[ast.AST] = list(node.body)
        while stack:
            child = stack.pop()
            if isinstance(child, ast.Return) and child.value is not None:
                self._bind(node.name, child.value)
            elif isinstance(child, ast.stmt) and not isinstance(child, NESTED_SCOPES):
                stack.extend(ast.iter_child_nodes(child))

    def _on_compare(self, node: ast.Compare) -> None:
        """`claim == "http://…"`, `url in ("http://…",)`: a value compared with, not requested."""
        for operand in (node.left, *node.comparators):
            elements = operand.elts if isinstance(operand, (ast.Tuple, ast.List, ast.Set)) else ()
            for value in (operand, *elements):
                if _is_ast_string(value):
                    self.quiet.add(id(value))

    def _on_call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Attribute) and node.func.attr in URL_MATCHERS | {"replace"}:
            # `url.startswith("http://…")`: a prefix matched; `.replace(old, new)`: only `old`
            arguments = node.args[:1] if node.func.attr == "replace" else node.args
            for argument in arguments:
                elements = argument.elts if isinstance(argument, ast.Tuple) else ()
                for value in (argument, *elements):
                    if _is_ast_string(value):
                        self.quiet.add(id(value))
        read = _ast_env_read(node)
        if read is not None:
            self._bind(*read)


def _spans_candidate(node: ast.stmt, candidates: list[int]) -> bool:
    """Whether the statement (with its decorators, which sit above it) spans a candidate line."""
    first = node.lineno
    for decorator in getattr(node, "decorator_list", ()):
        first = min(first, decorator.lineno)
    last = node.end_lineno if node.end_lineno is not None else first
    index = bisect.bisect_left(candidates, first)
    return index < len(candidates) and candidates[index] <= last


def _counts(rule: Rule, names: Sequence[str]) -> bool:
    """Whether the names a value is bound to let it count for the rule (see `_EndpointFinder`)."""
    exempt = rule.exempt_names
    if exempt is not None and any(exempt.search(snake_name(name)) for name in names):
        return False
    assigned = rule.assigned_to
    return assigned is None or any(assigned.search(name) for name in names)
