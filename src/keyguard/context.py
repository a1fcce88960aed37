"""Decide whether a file is client-side code: shipped to a browser or a phone, read by anyone.

The decision uses the path first (cheap, and what a reviewer looks at), then a few content
markers. Server markers win over client markers: a Next.js API route that mentions `window` in
a comment still runs on the server. The config's `client_paths` / `server_paths` override both.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from keyguard.lazyre import lazy_compile

if TYPE_CHECKING:
    import pathspec

__all__ = [
    "PUBLIC_BUILD_VARIABLE",
    "BrowserSpans",
    "ContextRules",
    "is_client_side",
    "is_server_template",
    "is_source_map",
    "is_test_path",
    "is_third_party",
    "may_assign_build_variables",
    "public_build_assignment",
    "split_path",
    "suffix_of",
]

CLIENT_SUFFIXES = frozenset({".html", ".htm", ".vue", ".svelte", ".jsx", ".tsx", ".swift", ".dart"})
SCRIPT_SUFFIXES = frozenset({".js", ".mjs", ".cjs", ".ts", ".mts", ".cts"})
ANDROID_SUFFIXES = frozenset({".kt", ".java"})
CLIENT_DIRS = frozenset({"public", "static", "assets", "www", "frontend", "client", "web"})
SERVER_DIRS = frozenset({"server", "backend", "functions", "lambda", "lambdas", "cmd"})
SERVER_PATH = lazy_compile(r"(?:^|/)(?:pages|app|src/pages|src/app)/api/")
CLIENT_PATH = lazy_compile(r"(?:^|/)src/components/")
# Folders whose every script is bundled into the browser app by convention, whatever it reads
# at build time (`process.env.NODE_ENV` is inlined by the bundler): Rails' `app/javascript/`
# (importmap, jsbundling, Webpacker) and Angular's `src/environments/environment*.ts`.
BUNDLED_PATH = lazy_compile(r"(?:^|/)(?:app/javascript|src/environments)/")
# Server-side templates: rendered on the server, but their markup (a `<script>` block, an
# attribute value) is the page the browser gets. `.js.erb` is JavaScript sent as a response.
TEMPLATE_ENDINGS = (
    ".blade.php",
    ".erb",
    ".jinja",
    ".jinja2",
    ".j2",
    ".twig",
    ".cshtml",
    ".razor",
    ".njk",
    ".ejs",
    ".hbs",
    ".handlebars",
    ".mustache",
    ".liquid",
    ".djhtml",
    ".phtml",
)
SCRIPT_TEMPLATE_ENDINGS = (".js.erb", ".js.ejs", ".js.twig", ".js.j2", ".js.jinja")
SCRIPT_BLOCK = lazy_compile(rb"<script\b[^>]*>.*?(?:</script\s*>|\Z)", re.IGNORECASE | re.DOTALL)
# An HTML start tag with its attributes; quoted values may hold template tags (`<%= … %>`).
START_TAG = lazy_compile(rb"""<[A-Za-z][\w:.-]*(?:[^<>"']|"[^"]{0,4096}"|'[^']{0,4096}')*>""")

SERVER_MARKERS = lazy_compile(
    rb"""^\s*["']use server["']"""
    rb"""|require\(\s*["'](?:express|koa|fastify|http|fs|child_process)["']\s*\)"""
    rb"""|from\s+["'](?:express|koa|fastify|next/server|node:[a-z_]+)["']|\bimport\s+Vapor\b"""
    rb"""|process\.env\.(?!(?:REACT_APP_|NEXT_PUBLIC_|VUE_APP_|VITE_|EXPO_PUBLIC_"""
    rb"""|NUXT_PUBLIC_|GATSBY_))""",
    re.MULTILINE,
)
CLIENT_MARKERS = lazy_compile(
    rb"""^\s*["']use client["']|\bwindow\.|\bdocument\.|\blocalStorage\b|\bsessionStorage\b"""
    rb"""|from\s+["'](?:react|react-dom|react-dom/client|react-native|vue|svelte"""
    rb"""|@angular/core|expo[\w/-]*)["']"""
    rb"""|require\(\s*["'](?:react|react-native|vue)["']\s*\)|import\.meta\.env\.""",
    re.MULTILINE,
)
TEST_DIRS = frozenset(
    {"test", "tests", "testing", "__tests__", "__mocks__", "spec", "specs", "testdata", "e2e"}
    | {"__snapshots__", "snapshots", "__fixtures__", "fixtures", "cypress", "mocks"}
)
# `unit_tests/`, `integration-tests/`, `test_utils/`, `test-data/`: a test tree by its name.
TEST_DIR = lazy_compile(
    r"^(?:.+[_-]tests?|tests?[_-](?:data|utils?|helpers?|support|fixtures|resources|e2e))$"
)
TEST_FILE = lazy_compile(
    r"^(?:test_.*\.py|tests?\.py|.*_tests?\.(?:py|go|rb|exs?|dart|rs)|conftest\.py"
    r"|.*\.(?:test|spec|e2e|cy)\.[cm]?[jt]sx?|.*_spec\.rb|.*Tests?\.(?:java|kt|swift|cs|php|scala)"
    r"|.*\.snap|.*\.ambr)$"
)
# Front-end build tools copy variables with these prefixes into the browser bundle
# (Create React App, Next.js, Vite, Vue CLI, Expo, Gatsby, Nuxt, SvelteKit): a secret assigned
# to one is client-side wherever the assignment is written (.env, compose files, Dockerfiles).
PUBLIC_PREFIXES = (
    r"(?:REACT_APP_|NEXT_PUBLIC_|VITE_|VUE_APP_|EXPO_PUBLIC_|GATSBY_|NUXT_PUBLIC_|PUBLIC_)"
)
PUBLIC_BUILD_VARIABLE = lazy_compile(
    rb"(?m)^[ \t]*(?:(?:export|ENV|ARG)[ \t]+|-[ \t]+)?[\"']?" + PUBLIC_PREFIXES.encode() + rb"\w*"
)
PUBLIC_ASSIGNMENT = lazy_compile(
    r"^[ \t]*(?:(?:export|ENV|ARG)[ \t]+|-[ \t]+)?[\"']?" + PUBLIC_PREFIXES + r"\w*[\"']?[ \t]*[=:]"
)
ANDROID_RESOURCES = lazy_compile(r"(?:^|/)res/(?:values[\w-]*|xml|raw)/")
GRADLE_APP_VALUES = lazy_compile(rb"\b(?:buildConfigField|resValue|manifestPlaceholders)\b")
ANDROID_IMPORT = lazy_compile(rb"^\s*import\s+(?:android|androidx)\.", re.MULTILINE)


def split_path(path: str) -> tuple[list[str], str]:
    """(directories, file name) of a posix path; string work, cheaper than pathlib per file."""
    *directories, name = path.split("/")
    return directories, name


def suffix_of(name: str) -> str:
    """The last extension with its dot (`.js`), or "" (`Makefile`, `.env`), like pathlib."""
    dot = name.rfind(".")
    return name[dot:] if dot > 0 else ""


@dataclass(frozen=True, slots=True)
class ContextRules:
    """The config's overrides, compiled once per scan."""

    client: pathspec.GitIgnoreSpec | None = None
    server: pathspec.GitIgnoreSpec | None = None

    @classmethod
    def from_globs(cls, client: Sequence[str], server: Sequence[str]) -> ContextRules:
        if not client and not server:
            return cls()
        import pathspec

        return cls(
            # backend: see discover._compile (Hyperscan compiles far too slowly for a few globs).
            client=pathspec.GitIgnoreSpec.from_lines(client, backend="simple") if client else None,
            server=pathspec.GitIgnoreSpec.from_lines(server, backend="simple") if server else None,
        )


def is_client_side(path: str, data: bytes, overrides: ContextRules | None = None) -> bool:
    """True when the file at `path` (posix, relative) runs in a browser or a mobile app."""
    if overrides is not None:
        if overrides.server is not None and overrides.server.match_file(path):
            return False
        if overrides.client is not None and overrides.client.match_file(path):
            return True
    lowered = path.lower()
    directories, name = split_path(lowered)
    suffix = suffix_of(name)
    if SERVER_PATH.search(lowered) or not SERVER_DIRS.isdisjoint(directories):
        return False
    if name.endswith(SCRIPT_TEMPLATE_ENDINGS):
        return True
    if suffix in SCRIPT_SUFFIXES and BUNDLED_PATH.search(lowered):
        return True
    if suffix in CLIENT_SUFFIXES or suffix in SCRIPT_SUFFIXES:
        if SERVER_MARKERS.search(data):
            return False
        if suffix in CLIENT_SUFFIXES or CLIENT_PATH.search(lowered):
            return True
        return not CLIENT_DIRS.isdisjoint(directories) or bool(CLIENT_MARKERS.search(data))
    if suffix in ANDROID_SUFFIXES:
        return bool(ANDROID_IMPORT.search(data))
    return suffix in (".m", ".mm") or _ships_in_an_app(lowered, name, suffix, data)


def is_server_template(path: str, overrides: ContextRules | None = None) -> bool:
    """A template rendered on the server (Blade, ERB, Jinja, Twig, Razor, ...), not overridden.

    Such a file is server-side except where its markup reaches the browser (`BrowserSpans`).
    A config override decides the whole file instead.
    """
    if overrides is not None and any(
        spec is not None and spec.match_file(path) for spec in (overrides.client, overrides.server)
    ):
        return False
    name = split_path(path.lower())[1]
    return name.endswith(TEMPLATE_ENDINGS) and not name.endswith(SCRIPT_TEMPLATE_ENDINGS)


class BrowserSpans:
    """The parts of a server template that the browser receives as code or markup.

    `<script>` blocks and HTML start tags (inline handlers, `data-*` and other attribute
    values). A value elsewhere (a `{% set %}`, `@php`, `<% %>` or `@{ }` block, or text
    that the server prints) is treated as server-side: what the page shows of it is
    decided by server code, which is where the secret then lives.
    """

    __slots__ = ("_ends", "_starts")

    def __init__(self, data: bytes) -> None:
        spans = browser_spans(data)
        self._starts = [start for start, _ in spans]
        self._ends = [end for _, end in spans]

    def inside(self, offset: int) -> bool:
        index = bisect_right(self._starts, offset) - 1
        return index >= 0 and offset < self._ends[index]


def browser_spans(data: bytes) -> list[tuple[int, int]]:
    """The `<script>` blocks and start tags of a page, sorted (see `BrowserSpans`)."""
    spans = [match.span() for match in SCRIPT_BLOCK.finditer(data)]
    position = 0
    for script_start, script_end in [*spans, (len(data), len(data))]:
        spans.extend(match.span() for match in START_TAG.finditer(data, position, script_start))
        position = script_end
    spans.sort()
    return spans


def _ships_in_an_app(path: str, name: str, suffix: str, data: bytes) -> bool:
    """Files compiled into a mobile app's package, readable by anyone who unpacks it.

    Android's manifest and resources (`<meta-data android:value=…>`, `res/values/*.xml`),
    Gradle `buildConfigField` / `resValue` (they become BuildConfig constants and resources),
    and iOS property lists and build settings (`Info.plist`, `*.xcconfig`).
    """
    if name == "androidmanifest.xml" or suffix == ".xcconfig":
        return True
    if suffix == ".xml":
        return ANDROID_RESOURCES.search(path) is not None
    if name.endswith((".gradle", ".gradle.kts")):
        return GRADLE_APP_VALUES.search(data) is not None
    return name.endswith("info.plist")  # Info.plist, GoogleService-Info.plist


def is_test_path(path: str) -> bool:
    """Test code: its URLs are fixtures and mocks, never a request the product sends.

    Secrets in tests are still reported (a key is leaked wherever it is committed); only the
    endpoint rule skips test files. Every common layout counts: test trees (`tests/`,
    `unit_tests/`, `__tests__/`, `spec/`), snapshots (`__snapshots__/`, `*.snap`, syrupy's
    `*.ambr`), fixtures and mocks, Django's `tests.py`, `test_*.py` / `*_test.go` /
    `*.spec.ts` / `*Test.java` files.
    """
    directories, name = split_path(path)
    lowered = [part.lower() for part in directories]
    return (
        not TEST_DIRS.isdisjoint(lowered)
        or any(TEST_DIR.match(part) for part in lowered)
        or bool(TEST_FILE.match(name))
    )


ENV_FILE_SUFFIXES = frozenset({".yml", ".yaml", ".sh", ".bash", ".toml", ".ini", ".cfg", ".json"})


def may_assign_build_variables(path: str) -> bool:
    """Where build-time variables are set: .env files, compose/CI YAML, Dockerfiles, scripts."""
    name = split_path(path.lower())[1]
    return (
        name.startswith(".env")
        or name.endswith(".env")
        or name.startswith("dockerfile")
        or suffix_of(name) in ENV_FILE_SUFFIXES
    )


def public_build_assignment(line: str) -> bool:
    """`REACT_APP_STRIPE_KEY=…`, `  VITE_SECRET: …`: a value that the bundler makes public."""
    return PUBLIC_ASSIGNMENT.match(line) is not None


THIRD_PARTY_DIRS = frozenset(
    {"vendor", "vendors", "vendored", "_vendor", "_vendored", "third_party", "third-party"}
    | {"thirdparty"}
    | {"node_modules", "bower_components", "jspm_packages"}
)
BUNDLE_NAME = lazy_compile(r"^.+[.-](?:min|bundle|umd|prod)\.(?:[cm]?js|css)$")
BUNDLE_SUFFIXES = frozenset({".js", ".mjs", ".cjs", ".css"})
PAGE_SUFFIXES = frozenset({".html", ".htm"})  # generated only when minified (see is_third_party)
# A bundler's last line: the file was generated from sources elsewhere (webpack, rollup, tsc).
SOURCE_MAP = lazy_compile(rb"[#@] sourceMappingURL=\S+\s*(?:\*/\s*)?$")
# Minified code: lines this long on average are written by a tool, not a person.
MINIFIED_LINE = 250
MINIFIED_MIN_BYTES = 2048


def is_source_map(path: str) -> bool:
    """A bundler's source map (`app.js.map`): JSON that a tool wrote from sources elsewhere.

    Its `names` array lists every identifier of the sources side by side (`"clientSecret",
    "_yield$x"`), and its `sourcesContent` holds them escaped, where no `name = "value"`
    pattern reads a value: there only a key that is whole in itself (`sk_live_…`) is a finding.
    """
    return split_path(path.lower())[1].endswith(".map")


def is_third_party(path: str, data: bytes) -> bool:
    """Vendored or generated code: the fix belongs upstream or in the sources, not here.

    `vendor/`, `third_party/`, `node_modules/`; `*.min.js`, `*.bundle.js`, `*.min.css`, source
    maps (`*.map`); and JS, CSS or HTML that a tool wrote (a `sourceMappingURL` last line, or
    lines averaging 250+ characters: a minified page, a bundle analyzer's report).
    Only the endpoint and OAuth rules treat it differently (they count these findings, see
    `ScanStats.third_party_endpoints`); a secret is leaked wherever it is committed.
    """
    directories, name = split_path(path.lower())
    if not THIRD_PARTY_DIRS.isdisjoint(directories) or BUNDLE_NAME.match(name):
        return True
    if is_source_map(path):  # sources copied by a bundler
        return True
    suffix = suffix_of(name)
    if suffix not in BUNDLE_SUFFIXES and suffix not in PAGE_SUFFIXES:
        return False
    if len(data) < MINIFIED_MIN_BYTES:
        return False
    if SOURCE_MAP.search(data, max(0, len(data) - 512)):
        return True
    return len(data) > MINIFIED_LINE * (data.count(b"\n") + 1)
