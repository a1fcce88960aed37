"""How fast can each parser answer "is this http:// in a string literal that is not a docstring?"

keyguard decides its endpoint rule on Python files with CPython's `ast` and keeps libcst for
what needs the concrete tree (split keys, client-secret bindings). This script measures the
three candidates on every Python file of a tree that mentions `http://`, parsing each file
with each parser (median of `--repeat` passes) and counting the `http://` strings each finds
outside docstrings, so the speed comparison is between parsers that give the same answer. It
prints the time to parse alone and to parse and answer (walking the tree or the tokens):

    .venv/bin/python benchmarks/bench_parsers.py [TREE]      # default: the standard library

It needs libcst (a keyguard dependency), so run it with the project's virtualenv.
"""

from __future__ import annotations

import argparse
import ast
import io
import statistics
import sysconfig
import time
import tokenize
import warnings
from collections.abc import Callable
from pathlib import Path

KEYWORD = "http://"


def candidates(root: Path, limit: int) -> list[str]:
    """Sources of the Python files under `root` that contain the keyword (UTF-8 only)."""
    sources = []
    for path in sorted(root.rglob("*.py")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if KEYWORD in text and len(text) <= limit:
            sources.append(text)
    return sources


def _docstring_nodes(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def with_ast(source: str) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = ast.parse(source)
    docstrings = _docstring_nodes(tree)
    return sum(
        1
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and KEYWORD in node.value
        and id(node) not in docstrings
    )


def with_tokenize(source: str) -> int:
    """STRING tokens that are not a statement of their own (the usual docstring test)."""
    count = 0
    previous = tokenize.NEWLINE
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    for token in tokens:
        if token.type == tokenize.STRING and KEYWORD in token.string:
            standalone = previous in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)
            count += not standalone
        if token.type not in (tokenize.COMMENT, tokenize.NL):
            previous = token.type
    return count


def with_libcst(source: str) -> int:
    import libcst as cst

    module = cst.parse_module(source)

    class Counter(cst.CSTVisitor):
        def __init__(self) -> None:
            self.count = 0
            self.docstrings: set[int] = set()

        def _mark(self, body: object) -> None:
            statements = getattr(body, "body", body)
            if isinstance(statements, (list, tuple)) and statements:
                first = statements[0]
                if isinstance(first, cst.SimpleStatementLine) and first.body:
                    expr = first.body[0]
                    if isinstance(expr, cst.Expr):
                        self.docstrings.add(id(expr.value))

        def visit_Module(self, node: cst.Module) -> None:
            self._mark(node.body)

        def visit_ClassDef(self, node: cst.ClassDef) -> None:
            self._mark(node.body)

        def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
            self._mark(node.body)

        def visit_SimpleString(self, node: cst.SimpleString) -> None:
            if KEYWORD in node.value and id(node) not in self.docstrings:
                self.count += 1

    counter = Counter()
    module.visit(counter)
    return counter.count


def parse_ast(source: str) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ast.parse(source)
    return 0


def parse_tokenize(source: str) -> int:
    for _ in tokenize.generate_tokens(io.StringIO(source).readline):
        pass
    return 0


def parse_libcst(source: str) -> int:
    import libcst as cst

    cst.parse_module(source)
    return 0


# (name, parse only, parse and answer)
PARSERS: list[tuple[str, Callable[[str], int], Callable[[str], int]]] = [
    ("ast", parse_ast, with_ast),
    ("tokenize", parse_tokenize, with_tokenize),
    ("libcst", parse_libcst, with_libcst),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tree", nargs="?", type=Path, default=Path(sysconfig.get_paths()["stdlib"]))
    parser.add_argument("--repeat", type=int, default=3, help="passes per parser [3]")
    parser.add_argument(
        "--max-bytes", type=int, default=512 * 1024, help="skip larger files [512 KiB]"
    )
    args = parser.parse_args()
    sources = candidates(args.tree, args.max_bytes)
    size = sum(len(source.encode("utf-8")) for source in sources)
    print(f"{len(sources)} Python files with {KEYWORD!r} under {args.tree}, {size / 1e6:.1f} MB")
    print(f"{'parser':10} {'parse s':>8} {'MB/s':>6} {'answer s':>9} {'MB/s':>6} {'strings':>8}")
    for name, parse_only, answer in PARSERS:
        parse_seconds, _ = run(parse_only, sources, args.repeat)
        answer_seconds, found = run(answer, sources, args.repeat)
        print(
            f"{name:10} {parse_seconds:8.2f} {size / 1e6 / parse_seconds:6.1f} "
            f"{answer_seconds:9.2f} {size / 1e6 / answer_seconds:6.1f} {found:8}",
            flush=True,
        )


def run(parse: Callable[[str], int], sources: list[str], repeat: int) -> tuple[float, int]:
    """Median seconds over `repeat` passes, and the strings found outside docstrings."""
    times, found = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        found = 0
        for source in sources:
            try:
                found += parse(source)
            except Exception:  # a file one parser rejects counts as nothing
                continue
        times.append(time.perf_counter() - started)
    return statistics.median(times), found


if __name__ == "__main__":
    main()
