"""`keyguard fix` for Python: replace hard-coded keys with `os.environ[...]` reads, with libcst.

This is a rewriter, not a scanner, so it lives apart from `python.py` (which only reads trees):
the findings come from the engine as usual, and this module only edits the concrete syntax
tree at their positions, so every comment and every byte of formatting outside the replaced
literals stays as it was. It is imported by `fix.py` only when a Python file has something to
fix, so no scan ever pays for it.

Shapes handled (each has a snapshot test): a literal bound to a name, attribute, keyword,
parameter default or dict key; a key inside a longer string or an f-string (the literal
becomes an f-string reading the variable); a key split by implicit concatenation; an
environment fallback (`os.environ.get("K", "sk_…")`, `os.getenv("K") or "sk_…"`), which
becomes `os.environ["K"]`. Keys in docstrings, bare strings and bytes are not rewritten: no
environment read can stand there.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar, cast

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

if TYPE_CHECKING:
    from keyguard.models import Location

__all__ = ["NameFor", "PythonFix", "rewrite_python"]

# (index of the target, the name the literal is bound to or None, forced?, env names the file
# reads) -> the variable to use. A forced name (the `K` of `os.environ.get("K", …)`) is used as
# it is, or refused (None) when the env file already gives it another value.
NameFor = Callable[[int, "str | None", bool, frozenset[str]], "str | None"]
STRINGS = (cst.SimpleString, cst.FormattedString, cst.ConcatenatedString)
Node = TypeVar("Node", bound=cst.CSTNode)
OTHER_QUOTE = {'"': "'", "'": '"'}


@dataclass
class PythonFix:
    """What the rewrite did: the new source (None if unchanged) and, per target, an outcome.

    `outcomes[i]` is (name, replacement code) for a fixed target, or (None, reason) for one
    left as it was. Neither ever holds the secret.
    """

    data: bytes | None
    outcomes: dict[int, tuple[str | None, str]] = field(default_factory=dict)


def rewrite_python(
    data: bytes, targets: Sequence[tuple[Location, str]], name_for: NameFor
) -> PythonFix | str:
    """Rewrite the literals holding `targets` ((location, secret) pairs); a string says why the
    whole file was left untouched (not valid Python, or libcst would not reproduce it)."""
    try:
        ast.parse(data)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return "not valid Python: fix the syntax first (nothing was changed)"
    try:
        module = cst.parse_module(data)
    except (cst.ParserSyntaxError, RecursionError, MemoryError):
        return "libcst cannot parse this file (nothing was changed)"
    if module.bytes != data:
        return "libcst does not reproduce this file exactly (nothing was changed)"
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    positions = wrapper.resolve(PositionProvider)
    survey = _Survey(positions, targets)
    wrapper.visit(survey)
    result = PythonFix(None)
    plan = _Plan(survey, targets, name_for, result)
    plan.decide()
    if not plan.replacements:
        return result
    rewritten = wrapper.module.visit(_Rewriter(plan.replacements))
    if plan.needs_import:
        rewritten = _add_import(rewritten)
    data_out = rewritten.bytes
    try:  # the result must parse again, with libcst and with this Python's own parser
        cst.parse_module(data_out)
        ast.parse(data_out)
    except (cst.ParserSyntaxError, SyntaxError, ValueError, RecursionError):
        return "the rewrite would not parse: left untouched (a keyguard bug: please report it)"
    result.data = data_out
    return result


# --- reading the file ------------------------------------------------------------------------


def _contains(span: CodeRange, location: Location) -> bool:
    """Does the node at `span` (libcst: 0-based columns) hold the secret at `location`?"""
    start = (location.line, location.column - 1)
    end = (location.end_line, location.end_column - 1)
    return (span.start.line, span.start.column) <= start and end <= (
        span.end.line,
        span.end.column,
    )


def _constant(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def _is_environ(node: cst.BaseExpression) -> bool:
    return (isinstance(node, cst.Attribute) and node.attr.value == "environ") or (
        isinstance(node, cst.Name) and node.value == "environ"
    )


def _env_read(node: cst.BaseExpression) -> tuple[str, cst.BaseExpression | None] | None:
    """(variable, default) of `os.environ.get(K[, d])`, `os.getenv(K[, d])`, `os.environ[K]`."""
    if isinstance(node, cst.Subscript):
        if _is_environ(node.value) and len(node.slice) == 1:
            index = node.slice[0].slice
            if isinstance(index, cst.Index):
                name = _constant(index.value)
                return (name, None) if name else None
        return None
    if not isinstance(node, cst.Call):
        return None
    func = node.func
    getter = (isinstance(func, cst.Attribute) and func.attr.value == "getenv") or (
        isinstance(func, cst.Name) and func.value == "getenv"
    )
    if not getter and not (
        isinstance(func, cst.Attribute) and func.attr.value == "get" and _is_environ(func.value)
    ):
        return None
    positional = [arg.value for arg in node.args if arg.keyword is None and not arg.star]
    keywords = {arg.keyword.value: arg.value for arg in node.args if arg.keyword is not None}
    key = positional[0] if positional else keywords.get("key")
    default = positional[1] if len(positional) > 1 else keywords.get("default")
    name = _constant(key) if key is not None else None
    return (name, default) if name else None


@dataclass
class _Site:
    """The outermost string expression holding a target, and the nodes above it."""

    node: cst.BaseExpression
    ancestors: tuple[cst.CSTNode, ...]


class _Survey(cst.CSTVisitor):
    """One walk: where each target sits, how the file reaches `os`, what env names it reads."""

    def __init__(self, positions: object, targets: Sequence[tuple[Location, str]]) -> None:
        super().__init__()
        self.positions = positions  # a Mapping[CSTNode, CodeRange]
        self.targets = targets
        self.sites: dict[int, _Site] = {}
        self.stack: list[cst.CSTNode] = []
        self.os_name: str | None = None  # `import os` (as X) at module level
        self.environ_name: str | None = None  # `from os import environ` (as X)
        self.env_names: set[str] = set()

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, STRINGS) and not isinstance(self.parent, cst.ConcatenatedString):
            span: CodeRange = self.positions[node]  # type: ignore[index]
            for index, (location, _secret) in enumerate(self.targets):
                if index not in self.sites and _contains(span, location):
                    assert isinstance(node, cst.BaseExpression)
                    self.sites[index] = _Site(node, tuple(self.stack))
        if isinstance(node, cst.Subscript | cst.Call):
            read = _env_read(node)
            if read is not None:
                self.env_names.add(read[0])
        if isinstance(node, cst.Import | cst.ImportFrom) and self._module_level():
            self._note_import(node)
        self.stack.append(node)
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self.stack.pop()

    @property
    def parent(self) -> cst.CSTNode | None:
        return self.stack[-1] if self.stack else None

    def _module_level(self) -> bool:
        # Module > SimpleStatementLine > Import, or inside a top-level `try:`; not under an
        # `if` (`if TYPE_CHECKING: import os` binds nothing at run time), a def or a class.
        scoped = cst.FunctionDef | cst.ClassDef | cst.If | cst.While | cst.For | cst.With
        return not any(isinstance(node, scoped) for node in self.stack)

    def _note_import(self, node: cst.Import | cst.ImportFrom) -> None:
        if isinstance(node, cst.Import):
            for alias in node.names:
                dotted = cst.Module([]).code_for_node(alias.name)
                if dotted == "os" or (dotted.startswith("os.") and alias.asname is None):
                    if alias.asname is None:
                        self.os_name = self.os_name or "os"
                    elif isinstance(alias.asname.name, cst.Name):
                        self.os_name = self.os_name or alias.asname.name.value
            return
        if (
            node.relative
            or not isinstance(node.module, cst.Name)
            or node.module.value != "os"
            or isinstance(node.names, cst.ImportStar)
        ):
            return
        for alias in node.names:
            if isinstance(alias.name, cst.Name) and alias.name.value == "environ":
                asname = alias.asname
                bound = asname.name if asname is not None else alias.name
                if isinstance(bound, cst.Name):
                    self.environ_name = self.environ_name or bound.value


# --- deciding ----------------------------------------------------------------------------------


def _binding_name(site: _Site) -> str | None:
    """The name the literal is bound to: assignment target, keyword, parameter or dict key."""
    child: cst.CSTNode = site.node
    for node in reversed(site.ancestors):
        if isinstance(node, cst.Assign) and node.value is child:
            return _target_name(node.targets[0].target)
        if isinstance(node, cst.AnnAssign | cst.AugAssign) and node.value is child:
            return _target_name(node.target)
        if isinstance(node, cst.NamedExpr) and node.value is child:
            return _target_name(node.target)
        if isinstance(node, cst.Arg):
            return node.keyword.value if node.keyword is not None else None
        if isinstance(node, cst.Param) and node.default is child:
            return node.name.value
        if isinstance(node, cst.DictElement) and node.value is child:
            return _constant(node.key)
        if not isinstance(node, cst.IfExp | cst.BooleanOperation):
            return None
        child = node
    return None


def _target_name(target: cst.BaseExpression) -> str | None:
    if isinstance(target, cst.Name):
        return target.value
    if isinstance(target, cst.Attribute):
        return target.attr.value
    if isinstance(target, cst.Subscript) and len(target.slice) == 1:
        index = target.slice[0].slice
        return _constant(index.value) if isinstance(index, cst.Index) else None
    return None


def _whole_value(node: cst.BaseExpression) -> str | None:
    """The value of a literal made of plain strings only (one, or implicitly concatenated)."""
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    if isinstance(node, cst.ConcatenatedString):
        left, right = _whole_value(node.left), _whole_value(node.right)
        return None if left is None or right is None else left + right
    if isinstance(node, cst.FormattedString) and all(
        isinstance(part, cst.FormattedStringText) for part in node.parts
    ):
        text = "".join(
            part.value for part in node.parts if isinstance(part, cst.FormattedStringText)
        )
        return None if "\\" in text else text.replace("{{", "{").replace("}}", "}")
    return None


def _has_comment(node: cst.CSTNode) -> bool:
    found = False

    class Finder(cst.CSTVisitor):
        def visit_Comment(self, comment: cst.Comment) -> None:
            nonlocal found
            found = True

    node.visit(Finder())
    return found


def _leaves(node: cst.BaseExpression) -> list[cst.SimpleString | cst.FormattedString]:
    if isinstance(node, cst.ConcatenatedString):
        return [*_leaves(node.left), *_leaves(node.right)]
    assert isinstance(node, cst.SimpleString | cst.FormattedString)
    return [node]


class _Plan:
    """Decide, per target, which node changes into what; collect the replacements."""

    def __init__(
        self,
        survey: _Survey,
        targets: Sequence[tuple[Location, str]],
        name_for: NameFor,
        result: PythonFix,
    ) -> None:
        self.survey = survey
        self.targets = targets
        self.name_for = name_for
        self.result = result
        self.env_names = frozenset(survey.env_names)
        self.replacements: dict[cst.CSTNode, cst.CSTNode] = {}
        # Strings that get a key spliced in: node -> [(secret, name)], built in one go later.
        self.splices: dict[cst.SimpleString | cst.FormattedString, list[tuple[str, str]]] = {}
        self.needs_import = False

    def environ(self) -> str:
        if self.survey.os_name is not None:
            return f"{self.survey.os_name}.environ"
        if self.survey.environ_name is not None:
            return self.survey.environ_name
        self.needs_import = True
        return "os.environ"

    def read(self, name: str, quote: str = '"') -> str:
        return f"{self.environ()}[{quote}{name}{quote}]"

    def decide(self) -> None:
        for index, (location, secret) in enumerate(self.targets):
            site = self.survey.sites.get(index)
            if site is None:
                self.result.outcomes[index] = (
                    None,
                    "not in a string literal (a comment?): remove it by hand",
                )
                continue
            reason = self._decide(index, site, secret, location)
            if reason is not None:
                self.result.outcomes[index] = (None, reason)
        for node, pieces in self.splices.items():
            self.replacements[node] = _splice(node, pieces, self)

    def _decide(self, index: int, site: _Site, secret: str, location: Location) -> str | None:
        node = site.node
        parent = site.ancestors[-1] if site.ancestors else None
        if isinstance(parent, cst.Expr):
            return "in a docstring or a bare string: remove it by hand"
        if node in self.replacements:
            return None  # the same literal, already replaced for another finding
        whole = _whole_value(node) == secret
        if whole:
            fallback = self._fallback(site)
            if fallback is not None:
                call, variable = fallback
                name = self.name_for(index, variable, True, self.env_names)
                if name is None:
                    return f"the env file already sets {variable} to another value"
                code = self.read(name)
                self.replacements[call] = _keep_parens(call, cst.parse_expression(code))
                self.result.outcomes[index] = (name, code)
                return None
            if isinstance(node, cst.ConcatenatedString) and _has_comment(
                node.with_changes(lpar=(), rpar=())
            ):
                return "a comment sits between the pieces of the key: join them by hand"
            name = self._name(index, _binding_name(site))
            code = self.read(name)
            self.replacements[node] = _keep_parens(node, cst.parse_expression(code))
            self.result.outcomes[index] = (name, code)
            return None
        leaf = next(
            (
                leaf
                for leaf in _leaves(node)
                if _contains(self.survey.positions[leaf], location)  # type: ignore[index]
            ),
            None,
        )
        if leaf is None:
            return "the key is split across literals mixed with other text: join them by hand"
        if isinstance(leaf, cst.SimpleString) and "b" in leaf.prefix.lower():
            return "in a bytes literal: no environment read can stand there"
        raw = (
            [leaf.value]
            if isinstance(leaf, cst.SimpleString)
            else [part.value for part in leaf.parts if isinstance(part, cst.FormattedStringText)]
        )
        if not any(secret in text for text in raw):
            return "the key is written with escapes or split by an expression: fix it by hand"
        name = self._name(index, None)
        self.splices.setdefault(leaf, []).append((secret, name))
        quote = OTHER_QUOTE[_quote_of(leaf)[0]]
        self.result.outcomes[index] = (name, "{" + self.read(name, quote) + "}")
        return None

    def _name(self, index: int, preferred: str | None) -> str:
        name = self.name_for(index, preferred, False, self.env_names)
        assert name is not None  # only a forced name can be refused
        return name

    def _fallback(self, site: _Site) -> tuple[cst.BaseExpression, str] | None:
        """`os.environ.get("K", literal)` or `os.getenv("K") or literal`: (expression, K)."""
        ancestors = site.ancestors
        if len(ancestors) >= 2 and isinstance(ancestors[-1], cst.Arg):
            call = ancestors[-2]
            if isinstance(call, cst.Call):
                read = _env_read(call)
                if read is not None and read[1] is site.node:
                    return call, read[0]
        if ancestors and isinstance(ancestors[-1], cst.BooleanOperation):
            operation = ancestors[-1]
            if isinstance(operation.operator, cst.Or) and operation.right is site.node:
                read = _env_read(operation.left)
                if read is not None and read[1] is None:
                    return operation, read[0]
        return None


def _keep_parens(old: cst.CSTNode, new: cst.BaseExpression) -> cst.BaseExpression:
    """The replacement keeps the parentheses (and the comments inside them) of the old node."""
    lpar = getattr(old, "lpar", ())
    rpar = getattr(old, "rpar", ())
    return new.with_changes(lpar=lpar, rpar=rpar) if lpar else new


def _quote_of(leaf: cst.SimpleString | cst.FormattedString) -> str:
    if isinstance(leaf, cst.SimpleString):
        return leaf.quote
    return leaf.start[len(leaf.start.rstrip("'\"")) :]


def _splice(
    leaf: cst.SimpleString | cst.FormattedString,
    pieces: list[tuple[str, str]],
    plan: _Plan,
) -> cst.CSTNode:
    """The string with each secret replaced by `{os.environ['NAME']}`: an f-string."""
    quote = _quote_of(leaf)
    inner = OTHER_QUOTE[quote[0]]
    if isinstance(leaf, cst.SimpleString):
        prefix = leaf.prefix.lower().replace("u", "")
        body = leaf.value[len(leaf.prefix) + len(quote) : -len(quote)]
        body = body.replace("{", "{{").replace("}", "}}")
        for secret, name in pieces:
            body = body.replace(secret, "{" + plan.read(name, inner) + "}")
        code = f"{prefix}f{quote}{body}{quote}"
        return _keep_parens(leaf, cst.parse_expression(code))
    parts: list[cst.BaseFormattedStringContent] = []
    for part in leaf.parts:
        if not isinstance(part, cst.FormattedStringText):
            parts.append(part)
            continue
        texts: list[cst.BaseFormattedStringContent] = [part]
        for secret, name in pieces:
            split: list[cst.BaseFormattedStringContent] = []
            for text in texts:
                if not isinstance(text, cst.FormattedStringText) or secret not in text.value:
                    split.append(text)
                    continue
                chunks = text.value.split(secret)
                expression = cst.parse_expression(plan.read(name, inner))
                for number, chunk in enumerate(chunks):
                    if number:
                        split.append(cst.FormattedStringExpression(expression=expression))
                    if chunk:
                        split.append(cst.FormattedStringText(chunk))
            texts = split
        parts.extend(texts)
    return leaf.with_changes(parts=parts)


# --- rewriting ---------------------------------------------------------------------------------


class _Rewriter(cst.CSTTransformer):
    """Swap the decided nodes; everything else (comments, spacing) is left as parsed."""

    def __init__(self, replacements: dict[cst.CSTNode, cst.CSTNode]) -> None:
        super().__init__()
        self.replacements = replacements

    def on_visit(self, node: cst.CSTNode) -> bool:
        return node not in self.replacements  # a replaced node's insides do not matter

    def on_leave(
        self, original_node: Node, updated_node: Node
    ) -> Node | cst.RemovalSentinel | cst.FlattenSentinel[Node]:
        replacement = self.replacements.get(original_node)
        # An expression stands where an expression stood: the node type differs, the role not.
        return updated_node if replacement is None else cast("Node", replacement)


def _is_docstring(statement: cst.BaseStatement) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, cst.SimpleString | cst.ConcatenatedString)
    )


def _is_future(statement: cst.BaseStatement) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and any(
        isinstance(small, cst.ImportFrom)
        and isinstance(small.module, cst.Name)
        and small.module.value == "__future__"
        for small in statement.body
    )


def _add_import(module: cst.Module) -> cst.Module:
    """`import os` after the docstring and `__future__` imports, before the other imports.

    Comments that sit right above the statement that follows stay with it; only the blank
    lines before them move above the new import.
    """
    body = list(module.body)
    index = 0
    if body and _is_docstring(body[0]):
        index = 1
    while index < len(body) and _is_future(body[index]):
        index += 1
    new = cst.parse_statement("import os\n")
    header = list(module.header)
    if index < len(body):
        following = body[index]
        lines = list(following.leading_lines)
        split = len(lines)
        while split and lines[split - 1].comment is not None:
            split -= 1
        blank, comments = lines[:split], lines[split:]
        if index == 0 and not lines:
            # Comments right above the first statement are the module's header for libcst:
            # those after a blank line belong to the statement, not to the file.
            run = len(header)
            while run and header[run - 1].comment is not None:
                run -= 1
            if 0 < run < len(header) and header[run - 1].comment is None:
                comments = header[run:]
                header = header[:run]
        new = new.with_changes(leading_lines=blank)
        spacer = [cst.EmptyLine()] if not _is_import(following) else []
        body[index] = following.with_changes(leading_lines=[*spacer, *comments])
    else:
        new = new.with_changes(leading_lines=[cst.EmptyLine()] if body else [])
    body.insert(index, new)
    return module.with_changes(body=body, header=header)


def _is_import(statement: cst.BaseStatement) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and isinstance(
        statement.body[0], cst.Import | cst.ImportFrom
    )
