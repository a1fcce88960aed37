"""Tests for the Python matcher: what each rule kind finds in Python, and exactly where.

Endpoint rules run on CPython's `ast`, every other rule on libcst's tree.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys

import pytest

from keyguard.models import Hit
from keyguard.python import MAX_PARSE_BYTES, scan_python
from keyguard.ruleset import builtin_rules, expand_fakes

RULES = {rule.id: rule for rule in builtin_rules()}

# Built at run time: this file must hold no key-shaped literal.
KEY = expand_fakes("sk_live_{{alnum:24}}")  # 32 characters
BODY = KEY.removeprefix("sk_live_")
SECRET = expand_fakes("{{alnum:32}}")


def fill(template: str) -> str:
    """Put the fakes into a snippet; markers instead of str.format keep Python's braces readable."""
    return template.replace("<KEY>", KEY).replace("<BODY>", BODY).replace("<SECRET>", SECRET)


def scan(template: str, *rule_ids: str) -> list[Hit]:
    hits = scan_python(fill(template).encode("utf-8"), [RULES[rule_id] for rule_id in rule_ids])
    assert hits is not None, "the snippet should parse"
    return hits


def spans(hits: list[Hit]) -> list[tuple[str, int, int, int, int]]:
    return [(hit.rule.id, hit.line, hit.column, hit.end_line, hit.end_column) for hit in hits]


# -- secret rules: every string value and comment ----------------------------------------------


def test_key_in_a_string_gets_its_exact_one_based_span() -> None:
    hits = scan('import os\n\nsecret = "<KEY>"\n', "KG101")
    assert spans(hits) == [("KG101", 3, 11, 3, 43)]
    assert hits[0].secret == KEY


def test_key_in_a_comment_is_found() -> None:
    hits = scan("x = 1  # old key: <KEY>\n", "KG101")
    assert spans(hits) == [("KG101", 1, 19, 1, 51)]
    assert hits[0].secret == KEY


def test_key_in_a_docstring_is_found() -> None:
    hits = scan('def charge():\n    """Uses <KEY> for now."""\n', "KG101")
    assert spans(hits) == [("KG101", 2, 13, 2, 45)]


def test_key_in_a_multiline_string_gets_its_line_and_column() -> None:
    hits = scan('DOC = """\nfirst line\n    key=<KEY>\n"""\n', "KG101")
    assert spans(hits) == [("KG101", 3, 9, 3, 41)]


def test_columns_count_code_points_not_bytes() -> None:
    hits = scan('note = "café <KEY>"\n', "KG101")
    assert spans(hits) == [("KG101", 1, 14, 1, 46)]


def test_crlf_line_endings_count_as_one_line_break() -> None:
    hits = scan('a = 1\r\nb = """x\r\n  <KEY>"""\r\n', "KG101")
    assert spans(hits) == [("KG101", 3, 3, 3, 35)]


def test_implicit_concatenation_is_joined_and_spans_the_expression() -> None:
    hits = scan('key = ("sk_live_"\n       "<BODY>")\n', "KG101")
    assert [hit.secret for hit in hits] == [KEY]
    assert spans(hits) == [("KG101", 1, 8, 2, 34)]


def test_plus_concatenation_of_literals_is_folded() -> None:
    hits = scan('key = "sk_live_" + "<BODY>"\n', "KG101")
    assert [hit.secret for hit in hits] == [KEY]
    assert spans(hits) == [("KG101", 1, 7, 1, 46)]


def test_plus_concatenation_folds_the_literal_run_after_a_name() -> None:
    hits = scan('url = base + "sk_live_" + "<BODY>" + suffix\n', "KG101")
    assert [hit.secret for hit in hits] == [KEY]


def test_fstring_literal_parts_are_searched() -> None:
    hits = scan('header = f"Bearer <KEY> for {user}"\n', "KG101")
    assert spans(hits) == [("KG101", 1, 19, 1, 51)]


def test_fstring_expression_breaks_the_value() -> None:
    assert scan('key = f"sk_live_{prefix}<BODY>"\n', "KG101") == []


def test_strings_inside_fstring_expressions_are_searched() -> None:
    hits = scan("""msg = f"{lookup('<KEY>')}"\n""", "KG101")
    assert spans(hits) == [("KG101", 1, 18, 1, 50)]


def test_bytes_literal_is_searched() -> None:
    hits = scan('key = b"<KEY>"\n', "KG101")
    assert spans(hits) == [("KG101", 1, 9, 1, 41)]
    assert hits[0].secret == KEY


def test_escaped_value_is_found_with_the_whole_string_as_span() -> None:
    hits = scan('key = "\\x73k_live_<BODY>"\n', "KG101")
    assert [hit.secret for hit in hits] == [KEY]
    assert spans(hits) == [("KG101", 1, 7, 1, 44)]


def test_the_same_key_twice_in_one_string_gets_two_spans() -> None:
    hits = scan('pair = "<KEY> <KEY>"\n', "KG101")
    assert spans(hits) == [("KG101", 1, 9, 1, 41), ("KG101", 1, 42, 1, 74)]


def test_the_same_token_on_two_lines_gets_each_position() -> None:
    hits = scan('A = "<KEY>"\nB = "<KEY>"\n', "KG101")
    assert spans(hits) == [("KG101", 1, 6, 1, 38), ("KG101", 2, 6, 2, 38)]


def test_publishable_keys_and_identifiers_are_not_keys() -> None:
    code = 'pk = "pk_live_<BODY>"\ntask_live_update = "desk_live_<BODY>"\n'
    assert scan(code, "KG101") == []


def test_every_rule_runs_in_one_scan() -> None:
    code = 'API = "http://api.example.com/v1"\nKEY = "<KEY>"\nCLIENT_SECRET = "<SECRET>"\n'
    hits = scan(code, "KG101", "KG202", "KG301")
    assert [hit.rule.id for hit in hits] == ["KG301", "KG101", "KG202"]


# -- binding rules (assigned_to): literals bound to a client-secret name ------------------------

BOUND = [
    ('CLIENT_SECRET = "<SECRET>"\n', 1, 18),
    ('class Config:\n    client_secret = "<SECRET>"\n', 2, 22),
    ('class Config:\n    CLIENT_SECRET: str = "<SECRET>"\n', 2, 27),
    ('def __init__(self):\n    self.client_secret = "<SECRET>"\n', 2, 27),
    ('settings.GOOGLE_CLIENT_SECRET = "<SECRET>"\n', 1, 34),
    ('config["client_secret"] = "<SECRET>"\n', 1, 28),
    ('CLIENT_ID, CLIENT_SECRET = "my-app", "<SECRET>"\n', 1, 39),
    ('session.fetch_token(url, client_secret="<SECRET>")\n', 1, 41),
    ('payload = {"grant_type": "code", "client_secret": "<SECRET>"}\n', 1, 52),
    ('def exchange(code, client_secret="<SECRET>"):\n    pass\n', 1, 35),
    ('SECRET = os.environ.get("OAUTH_CLIENT_SECRET", "<SECRET>")\n', 1, 49),
    ('SECRET = os.getenv("CLIENT_SECRET", "<SECRET>")\n', 1, 38),
    ('SECRET = environ.get("CLIENT_SECRET", default="<SECRET>")\n', 1, 48),
    ('SECRET = os.getenv("CLIENT_SECRET") or "<SECRET>"\n', 1, 41),
    ('clientSecret = "<SECRET>"\n', 1, 17),
    ('CLIENT_SECRET = "<SECRET>" if DEBUG else os.environ["CLIENT_SECRET"]\n', 1, 18),
]


@pytest.mark.parametrize(("code", "line", "column"), BOUND)
def test_literal_bound_to_a_client_secret_name_is_reported(
    code: str, line: int, column: int
) -> None:
    hits = scan(code, "KG202")
    assert spans(hits) == [("KG202", line, column, line, column + len(SECRET))]
    assert hits[0].secret == SECRET


NOT_BOUND = [
    'CLIENT_SECRET = os.environ["CLIENT_SECRET"]\n',
    "client_secret = settings.OAUTH_CLIENT_SECRET\n",
    'CLIENT_SECRET = load_secret("<SECRET>")\n',
    'def exchange(client_secret: str = "") -> str:\n    return client_secret\n',
    'CLIENT_SECRET = f"{prefix}<SECRET>"\n',
    'CLIENT_ID = "<SECRET>"\n',
    'SECRET = os.environ.get("DATABASE_URL", "<SECRET>")\n',
    'SECRET = os.getenv("CLIENT_SECRET")\n',
    '# CLIENT_SECRET = "<SECRET>"\n',
]


@pytest.mark.parametrize("code", NOT_BOUND)
def test_non_literal_empty_or_unrelated_values_are_not_reported(code: str) -> None:
    assert scan(code, "KG202") == []


def test_a_value_bound_to_two_names_is_reported_once() -> None:
    hits = scan('CLIENT_SECRET = OAUTH_CLIENT_SECRET = "<SECRET>"\n', "KG202")
    assert spans(hits) == [("KG202", 1, 40, 1, 72)]


def test_a_concatenated_literal_is_a_literal() -> None:
    hits = scan('CLIENT_SECRET = "<SECRET>" + "tail"\n', "KG202")
    assert [hit.secret for hit in hits] == [SECRET + "tail"]
    assert spans(hits) == [("KG202", 1, 17, 1, 60)]


# -- endpoint rules: a literal in code that IS a URL -------------------------------------------

ENDPOINTS = [
    ('API_BASE = "http://api.example.com/v1"\n', 1, 13, "http://api.example.com/v1"),
    (
        'resp = requests.get("http://api.example.com/v1/users", headers=h)\n',
        1,
        22,
        "http://api.example.com/v1/users",
    ),
    ('BASE = f"http://api.example.com/v1/{version}"\n', 1, 10, "http://api.example.com/v1/"),
    ('URL = "http://api.example.com" + "/v1"\n', 1, 7, "http://api.example.com/v1"),
    ('class Client:\n    base = "http://10.0.3.7:8080"\n', 2, 13, "http://10.0.3.7:8080"),
]


@pytest.mark.parametrize(("code", "line", "column", "url"), ENDPOINTS)
def test_string_literal_that_is_a_url_is_an_endpoint(
    code: str, line: int, column: int, url: str
) -> None:
    hits = scan(code, "KG301")
    assert [(hit.line, hit.column, hit.secret) for hit in hits] == [(line, column, url)]


NOT_ENDPOINTS = [
    "# see http://api.example.com/docs for the old endpoint\n",
    '"""Client for http://api.example.com/v1."""\n',
    'def get():\n    """Fetch from http://api.example.com/v1 (deprecated)."""\n',
    'class Api:\n    """http://api.example.com/v1"""\n',
    'class Api:\n    """Old API:\n    http://api.example.com/v1\n    """\n',
    'TIMEOUT = 30\n"""http://api.example.com/v1 answers within this many seconds."""\n',
    'raise ValueError("see http://api.example.com for details")\n',
    'parser.add_argument("--url", help="base URL, e.g. http://api.example.com")\n',
    'API_BASE = "https://api.example.com/v1"\n',
    'URL = f"{scheme}://api.example.com"\n',
    # Whitespace before the URL makes the value formatted text (help or docs assembled from
    # lines), not an endpoint. This case used to be reported, with the value stripped first.
    'URL = "  http://api.example.com/token"\n',
    'USAGE = "\\n    http://api.example.com/v1 is the default\\n"\n',
    'URL = f"{base}http://api.example.com/v1"\n',
    'URL = f"{base}" "http://api.example.com/v1"\n',
    "API = 1\n'http://api.example.com/v1'\n",
    "API = 1\nb'http://api.example.com/v1'\n",
    'API = 1\nf"http://api.example.com/{version}"\n',
    'message = "Fetching " + "http://api.example.com/v1"\n',
]


@pytest.mark.parametrize("code", NOT_ENDPOINTS)
def test_urls_in_comments_docstrings_and_prose_are_not_endpoints(code: str) -> None:
    assert scan(code, "KG301") == []


def test_a_url_returned_from_a_function_is_code() -> None:
    code = 'def base():\n    """The base URL."""\n    return "http://api.example.com/v1"\n'
    assert spans(scan(code, "KG301")) == [("KG301", 3, 13, 3, 38)]


def test_a_string_after_the_docstring_is_code() -> None:
    code = '"""Module docs."""\nAPI = "http://api.example.com/v1"\n'
    assert spans(scan(code, "KG301")) == [("KG301", 2, 8, 2, 33)]


def test_a_key_in_a_docstring_is_still_a_secret_while_its_url_is_not_an_endpoint() -> None:
    code = '"""Call http://api.example.com/v1 with <KEY>."""\n'
    assert [hit.rule.id for hit in scan(code, "KG101", "KG301")] == ["KG101"]


MORE_ENDPOINTS = [
    # bytes count too; the span is the URL itself, after the prefix and the quote
    ('URL = b"http://api.example.com/v1"\n', (1, 9, 1, 34)),
    ('URL = rb"http://api.example.com/v1"\n', (1, 10, 1, 35)),
    # an f-string's first literal part, ending where the first {...} starts
    ('URL = f"http://api.example.com/v1{query}"\n', (1, 9, 1, 34)),
    ('URL = ("http://api.example.com" f"/v1{query}")\n', (1, 8, 1, 46)),
    # a string inside an f-string's {...} is code
    ("""log(f"{get('http://api.example.com/v1')}")\n""", (1, 13, 1, 38)),
    # a run of literals after a name is folded and checked from its own start
    ('url = base + "http://api.example.com" + "/v1"\n', (1, 14, 1, 46)),
    # a line continuation right after the quote adds nothing to the value
    ('URL = """\\\nhttp://api.example.com/v1"""\n', (2, 1, 2, 26)),
    # an empty piece before the URL in an implicit concatenation adds nothing either
    ('URL = ("" "http://api.example.com/v1")\n', (1, 12, 1, 37)),
    # a decorator sits above the line its function starts on
    ('@client.get("http://api.example.com/v1")\ndef fetch():\n    pass\n', (1, 14, 1, 39)),
    # old Mac line ends count as CPython counts them
    ('import os\rAPI = "http://api.example.com/v1"\r', (2, 8, 2, 33)),
    # a name that is not exempt changes nothing
    ('API_URL = "http://api.example.com/v1"\n', (1, 12, 1, 37)),
]


@pytest.mark.parametrize(("code", "span"), MORE_ENDPOINTS)
def test_endpoint_value_forms_and_their_exact_spans(
    code: str, span: tuple[int, int, int, int]
) -> None:
    hits = scan(code, "KG301")
    assert spans(hits) == [("KG301", *span)]
    assert hits[0].secret == "http://api.example.com/v1"


def test_a_url_written_with_escapes_spans_the_whole_value() -> None:
    hits = scan('URL = "http://api.example.com/v\\x31"\n', "KG301")
    assert [hit.secret for hit in hits] == ["http://api.example.com/v1"]
    assert spans(hits) == [("KG301", 1, 7, 1, 37)]


def test_a_url_split_across_implicitly_concatenated_pieces_spans_them_all() -> None:
    hits = scan('URL = ("http://api.example"\n       ".com/v1")\n', "KG301")
    assert [hit.secret for hit in hits] == ["http://api.example.com/v1"]
    assert spans(hits) == [("KG301", 1, 8, 2, 17)]


def test_columns_count_code_points_before_the_url() -> None:
    # ast counts UTF-8 bytes: "é" is two, "€" three, "😀" four; a hit counts code points.
    hits = scan('label = "é€😀"; API = "http://api.example.com/v1"\n', "KG301")
    assert spans(hits) == [("KG301", 1, 23, 1, 48)]
    hits = scan('café = "é"\nAPI = ("😀", "http://api.example.com/v1")\n', "KG301")
    assert spans(hits) == [("KG301", 2, 14, 2, 39)]


def test_a_multiline_value_after_non_ascii_spans_to_its_end() -> None:
    hits = scan('x = "€"; URL = ("http://api.example"\n    "€.com")\n', "KG301")
    assert [hit.secret for hit in hits] == ["http://api.example"]
    hits = scan('x = "€"; URL = ("http://api.ex\\x61mple.com/v1"\n    "/€")\n', "KG301")
    assert spans(hits) == [("KG301", 1, 17, 2, 9)]


EXEMPT_BY_NAME = [
    'setup(name="acme", homepage="http://acme.example.org")\n',
    'NS_VIZ = "http://www.gexf.net/1.1draft/viz"\n',
    'META = {"homepage": "http://acme.example.org", "name": "acme"}\n',
    'app = FastAPI(docs_url="http://docs.example.org/api")\n',
    'class Site:\n    def __init__(self):\n        self.website = "http://acme.example.org"\n',
    'links["homepage"] = "http://acme.example.org"\n',
    'HOMEPAGE_URL: str = "http://acme.example.org"\n',
    'def render(page, homepage="http://acme.example.org"):\n    pass\n',
    'def render(page, *, docsUrl="http://docs.example.org"):\n    pass\n',
    'HOMEPAGE = os.environ.get("HOMEPAGE") or "http://acme.example.org"\n',
    'XMLNS = "http://a.example.org/ns" if strict else "http://b.example.org/ns"\n',
    'HOMEPAGE = os.getenv("ACME_HOMEPAGE", "http://acme.example.org")\n',
    'if (license_url := "http://license.example.org/mit"):\n    pass\n',
    'HOMEPAGE = "http://acme.example.org" + "/about"\n',
    'HOMEPAGE = f"http://acme.example.org/{lang}"\n',
]


@pytest.mark.parametrize("code", EXEMPT_BY_NAME)
def test_a_url_bound_to_an_exempt_name_is_not_an_endpoint(code: str) -> None:
    assert scan(code, "KG301") == []


NAMED_BUT_STILL_ENDPOINTS = [
    # element by element: only the namespace is exempt
    ('XMLNS, API = "http://ns.example.org/x", "http://api.example.com/v1"\n', 1, 42),
    # a dict's other entries are not covered by one exempt key
    ('META = {"homepage": "x", "api": "http://api.example.com/v1"}\n', 1, 34),
    # the name covers the bound value, not literals nested in it: this is a request
    ('HOMEPAGE = fetch("http://api.example.com/v1")\n', 1, 19),
    # no snake_case word of the name is exempt ("newsletter" holds "ns" only as letters)
    ('NEWSLETTER_API = "http://api.example.com/v1"\n', 1, 19),
]


@pytest.mark.parametrize(("code", "line", "column"), NAMED_BUT_STILL_ENDPOINTS)
def test_exempt_names_cover_only_the_value_bound_to_them(code: str, line: int, column: int) -> None:
    hits = scan(code, "KG301")
    assert [(hit.line, hit.column, hit.secret) for hit in hits] == [
        (line, column, "http://api.example.com/v1")
    ]


def test_an_endpoint_rule_with_assigned_to_counts_only_values_bound_to_that_name() -> None:
    rule = dataclasses.replace(RULES["KG301"], assigned_to=re.compile(r"(?i)redirect_uri$"))
    code = (
        'API = "http://api.example.com/v1"\n'
        'REDIRECT_URI = "http://app.example.com/callback"\n'
        'flow(redirect_uri="http://app.example.com/done")\n'
    )
    hits = scan_python(code.encode(), [rule])
    assert hits is not None
    assert [(hit.line, hit.secret) for hit in hits] == [
        (2, "http://app.example.com/callback"),
        (3, "http://app.example.com/done"),
    ]


def test_a_file_with_a_key_and_a_url_gets_both_hits_with_exact_spans() -> None:
    code = 'API = "http://api.example.com/v1"  # <KEY>\nKEY = "<KEY>"\n'
    hits = scan(code, "KG101", "KG301")
    assert spans(hits) == [
        ("KG301", 1, 8, 1, 33),
        ("KG101", 1, 38, 1, 70),
        ("KG101", 2, 8, 2, 40),
    ]


def test_an_endpoint_only_scan_does_not_import_libcst() -> None:
    code = (
        "import sys\n"
        "from keyguard.python import scan_python\n"
        "from keyguard.ruleset import builtin_rules\n"
        "rules = [rule for rule in builtin_rules() if rule.id == 'KG301']\n"
        "source = b'def get():\\n    return fetch(\"http://api.example.com/v1\")\\n'\n"
        "hits = scan_python(source, rules)\n"
        "assert [(hit.line, hit.column) for hit in hits] == [(2, 19)], hits\n"
        "sys.exit('libcst' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True)
    assert result.returncode == 0, result.stderr.decode()


# -- files libcst cannot take ------------------------------------------------------------------


def test_unparseable_file_returns_none() -> None:
    assert scan_python(fill('def broken(:\n    key = "<KEY>"\n').encode(), [RULES["KG101"]]) is None


def test_python_2_print_statement_returns_none() -> None:
    assert scan_python(b'print "hello"\n', [RULES["KG101"]]) is None
    assert scan_python(b'print "http://api.example.com/v1"\n', [RULES["KG301"]]) is None


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="needs a grammar newer than CPython's")
def test_grammar_newer_than_the_interpreter_is_text_for_endpoints_libcst_for_keys() -> None:
    # `type` statements are Python 3.12: libcst parses them, an older `ast` does not.
    data = fill('type Url = str\nKEY = "<KEY>"\nAPI = "http://api.example.com/v1"\n').encode()
    hits = scan_python(data, [RULES["KG101"]])
    assert hits is not None
    assert spans(hits) == [("KG101", 2, 8, 2, 40)]
    # Endpoints need the ast tree: the whole file goes to text matching instead.
    assert scan_python(data, [RULES["KG101"], RULES["KG301"]]) is None


def test_invalid_utf8_in_a_comment_does_not_cost_the_parse() -> None:
    data = b"# caf\xe9\n" + fill('key = "<KEY>"\n').encode()
    hits = scan_python(data, [RULES["KG101"]])
    assert hits is not None
    assert spans(hits) == [("KG101", 2, 8, 2, 40)]


def test_nesting_beyond_what_cpython_accepts_returns_none_quickly() -> None:
    # libcst takes seconds per thousand levels, then overflows its stack; CPython stops at 200.
    code = "x = " + "(" * 5000 + "1" + ")" * 5000 + "\n"
    assert scan_python(code.encode(), [RULES["KG101"]]) is None


@pytest.mark.skipif(sys.version_info < (3, 11), reason="CPython 3.10 parses such chains")
def test_a_chain_cpython_cannot_parse_returns_none_quickly() -> None:
    # libcst's time grows with the square of a chain's length: 10,000 links take a minute.
    code = "x = " + " + ".join(['"a"'] * 20000) + "\n"
    assert scan_python(code.encode(), [RULES["KG101"]]) is None


def test_a_file_over_the_size_limit_returns_none() -> None:
    data = fill('key = "<KEY>"\n').encode() + b"# padding\n" * (MAX_PARSE_BYTES // 10)
    assert scan_python(data, [RULES["KG101"]]) is None


def test_a_long_valid_chain_does_not_crash_the_process() -> None:
    # 20,000 links overflow libcst's parser on the default 8 MB stack: a SIGSEGV, which would
    # take pytest down with it, hence the child process.
    code = (
        "from keyguard.python import scan_python\n"
        "from keyguard.ruleset import builtin_rules\n"
        "source = ('x = ' + ' and '.join(['a'] * 20000) + '  # ' + 'sk_live_' + '\\n').encode()\n"
        "assert scan_python(source, builtin_rules()) == []\n"
    )
    result = subprocess.run([sys.executable, "-c", code], check=False, timeout=120)
    assert result.returncode == 0


def test_no_rules_means_no_hits() -> None:
    assert scan_python(b"def broken(:\n", []) == []


def test_importing_the_module_does_not_import_libcst() -> None:
    code = "import sys, keyguard.python; sys.exit('libcst' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
