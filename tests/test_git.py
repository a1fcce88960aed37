"""What git holds, in real temporary repositories: `scan --staged`, `scan --diff`, `history`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from keyguard.git import FileDiff, _repository_uri, parse_patch
from keyguard.provenance import Commit
from tests.conftest import SHARED, fake, git, located

pytestmark = pytest.mark.slow

SCHEMA = SHARED / "schemas" / "sarif-schema-2.1.0.json"


class Repo:
    """A scratch repository: write files, commit them on a clock of our own, run keyguard."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.day = 0
        root.mkdir()
        self.ok("init", "-q", "-b", "main")

    def ok(self, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
        done = git(*args, cwd=cwd or self.root, env=env)
        assert done.returncode == 0, f"git {args}: {done.stderr}"
        return done.stdout

    def write(self, name: str, text: str | bytes) -> None:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)

    def commit(self, message: str, *, author: str = "Ann Dev") -> str:
        """Stage everything and commit it on 2024-01-N for the Nth commit; return the sha."""
        self.day += 1
        date = f"2024-01-{self.day:02d}T12:00:00+00:00"
        self.ok("add", "-A")
        self.ok(
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            message,
            f"--author={author} <a@x.invalid>",
            env={"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date},
        )
        return self.ok("rev-parse", "HEAD").strip()

    def keyguard(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "keyguard", *args],
            cwd=cwd or self.root,
            capture_output=True,
            text=True,
            env={**os.environ, "NO_COLOR": "1"},
            check=False,
            timeout=300,
        )

    def report(self, *args: str) -> dict[str, Any]:
        done = self.keyguard(*args, "--format", "json")
        assert done.returncode in (0, 1), done.stderr
        document: dict[str, Any] = json.loads(done.stdout)
        return document


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "repo")


def key(prefix: str = "sk_live_") -> str:
    return fake(prefix + "{{alnum:24}}")


def where(document: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [(f["rule_id"], f["path"], f["line"]) for f in document["findings"]]


# --- history ---------------------------------------------------------------------------------


def test_a_deleted_key_is_still_found_with_its_commit(repo: Repo) -> None:
    live = key()
    repo.write("app.py", "import os\n")
    repo.commit("start")
    repo.write("settings.py", f'DEBUG = False\nAPI_KEY = "{live}"\n')
    added = repo.commit("add settings", author="Bob Leak")
    repo.write("settings.py", 'DEBUG = False\nAPI_KEY = os.environ["API_KEY"]\n')
    repo.commit("read the key from the environment")

    assert repo.report("scan", ".")["findings"] == []
    done = repo.keyguard("history")
    assert done.returncode == 1, done.stderr
    assert (
        f"settings.py:2:12: KG101 [error] Live secret key committed to source: sk_live_…{live[-4:]}"
        in located(done.stdout)
    )
    assert f"added in {added[:7]} on 2024-01-02 by Bob Leak; not in HEAD" in done.stdout
    assert "Revoke and rotate it" in done.stdout
    assert "in 3 commits" in done.stdout  # the summary counts commits, not files
    assert live not in done.stdout + done.stderr

    [finding] = repo.report("history")["findings"]
    assert finding["commit"] == {
        "sha": added,
        "short": added[:7],
        "author": "Bob Leak",
        "email": "a@x.invalid",
        "date": "2024-01-02T12:00:00+00:00",
        "commits": 1,
        "in_head": False,
    }


def test_one_finding_per_secret_and_file_with_the_first_commit_and_a_count(repo: Repo) -> None:
    live = key()
    repo.write("a.env", f"KEY={live}\n")
    first = repo.commit("add")
    repo.write("a.env", f"# a comment above adds no key line\nKEY={live}\n")
    repo.commit("comment")
    repo.write("a.env", f"# a comment above adds no key line\nexport KEY={live}\n")
    repo.commit("export")  # the key's line changed: added again
    repo.write("a.env", "# gone\n")
    repo.commit("delete")
    repo.write("a.env", f"# back\nKEY={live}\nAGAIN={live}\n")  # twice in one commit: counts once
    repo.commit("restore")
    repo.write("b.env", f"KEY={live}\n")  # another file: another finding
    repo.commit("copy")

    document = repo.report("history")
    assert where(document) == [("KG101", "a.env", 1), ("KG101", "b.env", 1)]
    history = document["findings"][0]["commit"]
    assert history["sha"] == first
    assert history["commits"] == 3
    assert history["in_head"] is True
    assert "still in HEAD" in document["findings"][0]["message"]
    assert "then remove it" in document["findings"][0]["message"]


def test_endpoints_on_added_code_lines_count_and_comment_only_ones_never_do(repo: Repo) -> None:
    """An added line whose http:// is a comment sends no blob to a scan, yet everything a file
    scan would report on an added code line is found, each key in a Python blob once."""
    url = "http" + "://api.example.com/v1"
    docs = "http" + "://docs.example.org/guide"
    live = key()
    repo.write("app/api.py", f"import requests\n\nx = 1  # see {docs}\n")
    repo.write("lib/api.js", f"// {docs}\nconst y = 1; // {docs}\n")
    repo.write("deploy/app.yaml", f"name: app  # {docs}\n")
    first = repo.commit("comments only")
    repo.write(
        "app/api.py",
        f"import requests\n\nx = 1  # see {docs}\n"
        f'KEY = "{live}"  # {docs}\n'
        f'BASE = "{url}"  # {docs}\n'
        f"z = 2  # {docs}\n",
    )
    repo.write("lib/api.js", f"// {docs}\nconst y = 1; // {docs}\nfetch('{url}'); // {docs}\n")
    repo.write("deploy/app.yaml", f"name: app  # {docs}\nbase_url: {url}  # {docs}\n")
    second = repo.commit("code lines")
    repo.write("app/api.py", f"import requests\n\nx = 1  # see {docs}\nw = 3  # {docs}\n")
    repo.commit("key and endpoint removed, a comment added")

    document = repo.report("history")
    assert where(document) == [
        ("KG101", "app/api.py", 4),
        ("KG301", "app/api.py", 5),
        ("KG301", "deploy/app.yaml", 2),
        ("KG301", "lib/api.js", 3),
    ]
    assert {f["commit"]["sha"] for f in document["findings"]} == {second} != {first}
    assert all(f["commit"]["commits"] == 1 for f in document["findings"])


def test_a_long_history_finds_the_same_with_either_prefilter(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past LARGE_HISTORY_CHANGES changed files the history switches to Hyperscan (when it
    loads): what it finds before and after the switch is what the stdlib backend finds."""
    from keyguard.gitscan import LARGE_HISTORY_CHANGES

    planted = {3: key(), LARGE_HISTORY_CHANGES + 40: key("sk_test_")}
    for number in range(LARGE_HISTORY_CHANGES + 50):
        text = f"# see http://docs.example.org/{number}\nvalue = {number}\n"
        if number in planted:
            text += f'KEY = "{planted[number]}"\n'
        if number == LARGE_HISTORY_CHANGES + 45:
            text += 'API = "http://api.example.com/v1"\n'
        repo.write(f"pkg/m{number:03d}.py", text)
    repo.commit("many files")
    default = where(repo.report("history"))
    monkeypatch.setenv("KEYGUARD_PREFILTER", "stdlib")
    assert where(repo.report("history")) == default
    assert sorted(default) == [
        ("KG101", "pkg/m003.py", 3),
        ("KG102", f"pkg/m{LARGE_HISTORY_CHANGES + 40:03d}.py", 3),
        ("KG301", f"pkg/m{LARGE_HISTORY_CHANGES + 45:03d}.py", 3),
    ]


def test_renames_are_followed(repo: Repo) -> None:
    live = key()
    repo.write("old/config.py", f'KEY = "{live}"\n')
    first = repo.commit("add")
    repo.ok("mv", "old", "new")
    repo.write("new/config.py", f'KEY = "{live}"\nDEBUG = True\n')  # renamed and edited
    repo.commit("rename")

    document = repo.report("history")
    assert where(document) == [("KG101", "old/config.py", 1)], "a rename adds no line"
    assert document["findings"][0]["commit"]["in_head"] is True

    followed = repo.report("history", "new/config.py")
    assert where(followed) == [("KG101", "old/config.py", 1)]
    assert followed["findings"][0]["commit"]["sha"] == first


def test_branches_merges_and_every_ref(repo: Repo) -> None:
    merged, unmerged, resolved = key(), key(), key()
    repo.write("shared.txt", "base\n")
    repo.commit("base")
    repo.ok("checkout", "-q", "-b", "feature")
    repo.write("feature.env", f"KEY={merged}\n")
    feature = repo.commit("feature key")
    repo.write("shared.txt", "feature side\n")
    repo.commit("feature edit")
    repo.ok("checkout", "-q", "-b", "experiment", "main")
    repo.write("experiment.env", f"KEY={unmerged}\n")
    repo.commit("unmerged key")
    repo.ok("checkout", "-q", "main")
    repo.write("shared.txt", "main side\n")
    repo.commit("main edit")
    conflicted = git("merge", "-q", "feature", cwd=repo.root)
    assert conflicted.returncode != 0, "the merge must conflict"
    # The conflict's resolution adds a line of its own: an evil merge.
    repo.write("shared.txt", f"main side\nKEY={resolved}\n")
    merge = repo.commit("merge feature")

    document = repo.report("history")
    by_path = {f["path"]: f["commit"] for f in document["findings"]}
    assert set(by_path) == {"feature.env", "shared.txt"}
    assert by_path["feature.env"]["sha"] == feature
    assert by_path["shared.txt"]["sha"] == merge
    assert document["summary"]["commits_scanned"] == 5

    everything = repo.report("history", "--all")
    by_path = {f["path"]: f["commit"] for f in everything["findings"]}
    assert set(by_path) == {"feature.env", "shared.txt", "experiment.env"}
    assert by_path["experiment.env"]["in_head"] is False


def test_since_and_range_choose_the_commits(repo: Repo) -> None:
    early, late = key(), key("sk_test_")
    repo.write("early.env", f"KEY={early}\n")
    first = repo.commit("early")
    repo.write("late.env", f"KEY={late}\n")
    second = repo.commit("late")
    repo.write("README", "docs\n")
    third = repo.commit("docs")

    assert where(repo.report("history", "--since", first)) == [("KG102", "late.env", 1)]
    assert where(repo.report("history", "--range", f"{first}..{second}")) == [
        ("KG102", "late.env", 1)
    ]
    assert repo.report("history", "--range", f"{second}..{third}")["findings"] == []
    assert len(repo.report("history", "--range", first)["findings"]) == 1
    assert repo.report("history", "--since", "HEAD~1")["summary"]["commits_scanned"] == 1


def test_history_applies_the_config_suppressions_and_filters(repo: Repo) -> None:
    repo.write(".keyguard.toml", "exclude = [\"vendor/\"]\nallowlist = ['DEMO$']\n")
    repo.write("vendor/lib.env", f"KEY={key()}\n")
    repo.write("ignored.py", f'KEY = "{key()}"  # keyguard: ignore[KG101]\n')
    repo.write("demo.env", f"KEY={fake('sk_live_{{alnum:20}}DEMO')}\n")
    repo.write("placeholder.env", "KEY=sk_live_XXXXXXXXXXXXXXXXXXXXXXXX\n")
    repo.write("public/client.js", f"const stripe = Stripe('{key('sk_test_')}');\n")
    repo.commit("all sorts")

    document = repo.report("history")
    assert where(document) == [("KG102", "public/client.js", 1), ("KG201", "public/client.js", 1)]


def test_binary_huge_and_attribute_binary_files(repo: Repo) -> None:
    hidden, bundled = key(), key()
    repo.write(".keyguard.toml", 'max_file_size = "4KiB"\n')
    repo.write("logo.png", b"\x89PNG\r\n\x1a\n\0\0" + hidden.encode())
    repo.write("big.env", "x" * 5000 + f"\nKEY={hidden}\n")
    # Text that .gitattributes marks binary: git shows no lines, a file scan reads it.
    repo.write(".gitattributes", "*.min.js binary\n")
    repo.write("app.min.js", f"var a='{bundled}';\n")
    repo.commit("assets")
    repo.write("app.min.js", f"var a='{bundled}';var b=1;\n")  # the key is not new here
    repo.commit("rebuild")

    document = repo.report("history")
    assert where(document) == [("KG101", "app.min.js", 1)]
    assert document["findings"][0]["commit"]["commits"] == 1
    skipped = {s["path"]: s["reason"] for s in document["skipped"]}
    assert skipped["logo.png"] == "binary file"
    assert skipped["big.env"].startswith("larger than max_file_size")


def test_history_reports_validate_and_carry_the_commit(repo: Repo) -> None:
    live = key()
    repo.write("odd name é.py", f'KEY = "{live}"\n')
    sha = repo.commit("add")
    repo.ok("remote", "add", "origin", "https://user:token@example.invalid/acme/shop.git")

    done = repo.keyguard("history", "--format", "sarif")
    assert done.returncode == 1, done.stderr
    assert live not in done.stdout
    assert "user:token" not in done.stdout
    document = json.loads(done.stdout)
    run = document["runs"][0]
    [result] = run["results"]
    assert result["properties"]["commit"] == sha
    assert result["properties"]["inHead"] is True
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == (
        "odd%20name%20%C3%A9.py"
    )
    [provenance] = run["versionControlProvenance"]
    assert provenance == {
        "repositoryUri": "https://example.invalid/acme/shop.git",
        "revisionId": sha,
        "branch": "main",
        "mappedTo": {"uriBaseId": "%SRCROOT%"},
    }
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == repo.root.resolve().as_uri() + "/"
    if SCHEMA.exists():
        import jsonschema

        jsonschema.Draft7Validator(json.loads(SCHEMA.read_text())).validate(document)

    github = repo.keyguard("history", "--format", "github")
    assert github.stdout.startswith("::error file=odd name é.py,line=1,")
    assert f"added in {sha[:7]} on 2024-01-01" in github.stdout


def test_history_from_a_subdirectory_names_paths_from_the_top(repo: Repo) -> None:
    repo.write("src/app/keys.env", f"KEY={key()}\n")
    repo.write("other/keys.env", f"KEY={key()}\n")
    repo.commit("add")
    inside = repo.keyguard("history", ".", "--format", "json", cwd=repo.root / "src")
    assert where(json.loads(inside.stdout)) == [("KG101", "src/app/keys.env", 1)]


def test_an_empty_repository_has_no_history(repo: Repo) -> None:
    done = repo.keyguard("history")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "No findings in 0 commits.\n"


def test_a_shallow_clone_is_scanned_with_a_warning(repo: Repo, tmp_path: Path) -> None:
    old, new = key(), key()
    repo.write("old.env", f"KEY={old}\n")
    repo.commit("old")
    repo.write("old.env", "KEY=\n")
    repo.commit("gone")
    repo.write("new.env", f"KEY={new}\n")
    repo.commit("new")
    clone = tmp_path / "clone"
    repo.ok("clone", "-q", "--depth", "1", f"file://{repo.root}", str(clone), cwd=tmp_path)
    done = repo.keyguard("history", "--format", "json", cwd=clone)
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1 and "shallow clone" in done.stderr
    assert where(json.loads(done.stdout)) == [("KG101", "new.env", 1)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("history", "--since", "nope"), "unknown revision 'nope'"),
        (("history", "--range", "HEAD..nope"), "unknown revision 'nope'"),
        (("history", "--range", "--all"), "bad revision '--all'"),
        (("history", "--range", "HEAD", "--all"), "cannot be combined"),
        (("scan", "--diff", "nope"), "unknown revision 'nope'"),
        (("scan", "--staged", "--diff", "HEAD"), "cannot be combined"),
        (("history", ".", "/"), "outside the repository"),
    ],
)
def test_git_errors_are_one_line_with_exit_2(
    repo: Repo, args: tuple[str, ...], message: str
) -> None:
    repo.write("a.txt", "a\n")
    repo.commit("a")
    done = repo.keyguard(*args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("args", [("history",), ("scan", "--staged"), ("scan", "--diff", "x")])
def test_outside_a_repository_is_one_line_with_exit_2(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "keyguard", *args],
        cwd=plain,
        capture_output=True,
        text=True,
        # A repository above tmp_path must not be found (the ceiling stops git looking).
        env={**os.environ, "GIT_CEILING_DIRECTORIES": str(tmp_path)},
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr == "keyguard: error: not a git repository: .\n"


# --- scan --staged ---------------------------------------------------------------------------


def test_staged_scans_the_index_not_the_work_tree(repo: Repo) -> None:
    staged_key, unstaged_key = key(), key("sk_test_")
    repo.write("app.py", "import os\n")
    repo.commit("start")
    # Partly staged: the key is in the index only; the work tree has moved on without it.
    repo.write("app.py", f'import os\nKEY = "{staged_key}"\n')
    repo.ok("add", "app.py")
    repo.write("app.py", 'import os\nKEY = os.environ["KEY"]\n')
    # The other way round: the work tree has a key the index does not.
    repo.write("other.py", "x = 1\n")
    repo.ok("add", "other.py")
    repo.write("other.py", f'x = 1\nKEY = "{unstaged_key}"\n')
    repo.write("untracked.py", f'KEY = "{unstaged_key}"\n')

    document = repo.report("scan", "--staged")
    assert where(document) == [("KG101", "app.py", 2)]
    assert document["summary"]["files_scanned"] == 2
    assert where(repo.report("scan", "--staged", "other.py")) == []
    assert where(repo.report("scan", "other.py")) == [("KG102", "other.py", 2)]


def test_staged_before_the_first_commit_and_from_a_subdirectory(repo: Repo) -> None:
    repo.write("web/public/app.js", f"const key = '{key('sk_test_')}';\n")
    repo.write("web/.keyguard.toml", 'disable = ["KG201"]\n')
    repo.ok("add", "-A")
    done = repo.keyguard("scan", "--staged", "--format", "json", cwd=repo.root / "web")
    assert where(json.loads(done.stdout)) == [("KG102", "web/public/app.js", 1)]


def test_named_paths_are_taken_literally_not_as_globs(repo: Repo) -> None:
    repo.write("pages/[id].tsx", "export default function Page() { return null; }\n")
    repo.write("pages/i.tsx", f"const key = '{key()}';\n")  # what the glob [id] would match
    repo.ok("add", "-A")
    assert repo.report("scan", "--staged", "pages/[id].tsx")["findings"] == []
    repo.commit("pages")
    assert repo.report("history", "pages/[id].tsx")["findings"] == []
    assert len(repo.report("history", "pages/i.tsx")["findings"]) == 2  # KG101 and KG201


def test_a_plain_git_hook_with_staged_refuses_what_the_index_would_commit(repo: Repo) -> None:
    hook = repo.root / ".git" / "hooks" / "pre-commit"
    hook.write_text(f"#!/bin/sh\nexec {sys.executable} -m keyguard scan --staged\n")
    hook.chmod(0o755)
    live = key()
    repo.write("billing.py", f'KEY = "{live}"\n')
    repo.ok("add", "billing.py")
    repo.write("billing.py", 'import os\nKEY = os.environ["KEY"]\n')  # fixed, but not staged
    refused = git("commit", "-m", "leak", cwd=repo.root)
    assert refused.returncode != 0
    output = refused.stdout + refused.stderr  # git hands a hook's output to stderr
    assert "billing.py:1:8: KG101 [error]" in located(output) and live not in output
    repo.ok("add", "billing.py")
    repo.ok("commit", "-q", "-m", "clean")


def test_staged_skips_binaries_deletions_and_the_config_excludes(repo: Repo) -> None:
    repo.write("gone.env", f"KEY={key()}\n")
    repo.commit("old")
    repo.ok("rm", "-q", "gone.env")
    repo.write(".keyguard.toml", 'exclude = ["vendor/"]\n')
    repo.write("vendor/x.env", f"KEY={key()}\n")
    repo.write("blob.bin", b"\0\0" + key().encode())
    repo.ok("add", "-A")
    document = repo.report("scan", "--staged")
    assert document["findings"] == []
    assert [(s["path"], s["reason"]) for s in document["skipped"]] == [("blob.bin", "binary file")]


# --- scan --diff -----------------------------------------------------------------------------


def test_diff_reports_only_lines_added_since_the_base(repo: Repo) -> None:
    old, new, loose = key(), key(), key("sk_test_")
    repo.write("settings.py", f'OLD = "{old}"\n')
    repo.write("api.yaml", "base: http://api.example.com/v1\n")
    repo.commit("old findings")
    repo.ok("checkout", "-q", "-b", "pr")
    repo.write("settings.py", f'OLD = "{old}"\nNEW = "{new}"\n')
    repo.commit("pr change")
    repo.ok("checkout", "-q", "main")
    repo.write("main.txt", "main moved on\n")
    repo.commit("main")
    repo.ok("checkout", "-q", "pr")
    repo.write("notes.env", f"KEY={loose}\n")  # untracked: added whole

    full = repo.report("scan", ".")
    assert len(full["findings"]) == 4
    document = repo.report("scan", "--diff", "main")
    assert where(document) == [("KG102", "notes.env", 1), ("KG101", "settings.py", 2)]
    assert where(repo.report("scan", "--since", "main", "settings.py")) == [
        ("KG101", "settings.py", 2)
    ]
    (repo.root / "notes.env").unlink()
    repo.ok("checkout", "-q", "main")
    repo.write(".gitattributes", "*.min.js binary\n")  # no lines: the two versions are compared
    repo.write("public/app.min.js", f"var a='{old}';\n")
    repo.commit("bundle")
    repo.ok("checkout", "-q", "-b", "bundle-pr")
    repo.write("public/app.min.js", f"var a='{old}';var b='{new}';\n")
    repo.commit("bundle change")
    bundle = repo.report("scan", "--diff", "main")
    assert {(f["rule_id"], f["redacted"][-4:]) for f in bundle["findings"]} == {
        ("KG101", new[-4:]),
        ("KG201", new[-4:]),
    }
    repo.ok("checkout", "-q", "main")
    clean = repo.keyguard("scan", "--diff", "main")
    assert clean.returncode == 0 and "No findings" in clean.stdout


def test_a_plain_scan_does_not_load_the_git_modules(tmp_path: Path) -> None:
    """pre-commit runs name files: they must not pay for keyguard.git or subprocess."""
    (tmp_path / "a.py").write_text("x = 1\n")
    # What the CLI's own imports bring in does not count (click loads subprocess on 3.10).
    code = (
        "import sys\n"
        "from keyguard.cli import main\n"
        "before = set(sys.modules)\n"
        "try:\n"
        "    main(['scan', 'a.py'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "wanted = ('keyguard.git', 'keyguard.gitscan', 'subprocess')\n"
        "loaded = [m for m in wanted if m in sys.modules and m not in before]\n"
        "print(','.join(loaded), file=sys.stderr)\n"
        "print('keyguard.git' in before, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert done.stderr.split("\n")[:2] == ["", "False"]


# --- the patch parser ------------------------------------------------------------------------


def test_parse_patch_names_quoted_paths_and_counts_added_lines() -> None:
    sha = "1" * 40
    patch = [
        b"\0"
        + b"\0".join([sha.encode(), b"1111111", b"2024-01-01T00:00:00+00:00", b"A", b"a@x"])
        + b"\n",
        b"\n",
        b'diff --git "a/tab\\there" "b/tab\\there"\n',
        b"new file mode 100644\n",
        b"index " + b"0" * 40 + b".." + b"2" * 40 + b"\n",
        b"--- /dev/null\n",
        b'+++ "b/tab\\there"\n',
        b"@@ -0,0 +1,2 @@\n",
        b"+one\n",
        b"+++two\n",  # an added line that reads like a header
        b"\\ No newline at end of file\n",
        b"diff --git a/sp ace.txt b/sp ace.txt\n",
        b"index " + b"3" * 40 + b".." + b"4" * 40 + b" 100644\n",
        b"--- a/sp ace.txt\n",
        b"+++ b/sp ace.txt\t\n",
        b"@@ -3,2 +3,0 @@ context\n",
        b"-gone\n",
        b"-gone\n",
        b"@@ -9 +7,2 @@\n",
        b"-old\n",
        b"+new\n",
        b"+new\n",
        b"diff --cc merged.txt\n",
        b"index " + b"5" * 40 + b"," + b"6" * 40 + b".." + b"7" * 40 + b"\n",
        b"--- a/merged.txt\n",
        b"+++ b/merged.txt\n",
        b"@@@ -2,1 -2,1 +2,3 @@@\n",
        b" -theirs\n",
        b"++evil\n",
        b" +ours\n",
        b"+ ours too\n",
        b"diff --git a/caf\xc3\xa9.bin b/caf\xc3\xa9.bin\n",
        b"index " + b"8" * 40 + b".." + b"9" * 40 + b" 100644\n",
        b"Binary files a/caf\xc3\xa9.bin and b/caf\xc3\xa9.bin differ\n",
    ]
    commit, tab, space, merged, binary = parse_patch(patch)
    assert isinstance(commit, Commit) and commit.sha == sha and commit.day == "2024-01-01"
    assert isinstance(tab, FileDiff) and tab.path == "tab\there"
    assert (tab.old, tab.new, tab.lines) == (None, "2" * 40, [1, 2])
    assert tab.text == [b"one\n", b"++two\n"]
    assert isinstance(space, FileDiff) and space.path == "sp ace.txt" and space.lines == [7, 8]
    assert isinstance(merged, FileDiff) and merged.path == "merged.txt"
    assert merged.lines == [2] and merged.old == "5" * 40
    assert isinstance(binary, FileDiff) and binary.path == "café.bin" and binary.binary


@pytest.mark.parametrize(
    ("remote", "uri"),
    [
        (
            "https://x-access-token:ghp_abc@github.com/acme/shop.git",
            "https://github.com/acme/shop.git",
        ),
        ("git@github.com:acme/shop.git", "ssh://github.com/acme/shop.git"),
        ("ssh://git@host:2222/acme/shop", "ssh://host:2222/acme/shop"),
        ("../upstream", "file:///srv/upstream"),
    ],
)
def test_remote_urls_lose_their_credentials(remote: str, uri: str) -> None:
    assert _repository_uri(remote, Path("/srv/repo")) == uri


def test_the_added_line_shortcuts_find_what_scanning_every_changed_blob_finds(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fast path (added lines decide whether a blob is scanned; scans remembered by blob
    id) reports exactly what scanning every changed blob afresh reports: a key on a line whose
    http:// is a comment, an endpoint in code, a blob that comes back, a renamed file."""
    from keyguard import gitscan
    from keyguard.config import load_config
    from keyguard.git import open_repository

    url = "http" + "://api.example.com/v1"
    docs = "http" + "://docs.example.org/guide"
    live, other = key(), key()
    repo.write("app/client.py", f"import requests\n\nx = 1  # {docs}\n")
    repo.write("web/app.js", f"// {docs}\nconst a = 1; // {docs}\n")
    repo.commit("comments only")
    keyed = f'import requests\n\nx = 1  # {docs}\nKEY = "{live}"  # {docs}\n'
    repo.write("app/client.py", keyed)
    repo.write("web/app.js", f"// {docs}\nconst a = 1; // {docs}\nfetch('{url}'); // {docs}\n")
    repo.commit("a key beside a comment, an endpoint in code")
    repo.write("app/client.py", f"import requests\n\nx = 1  # {docs}\n")
    repo.commit("key removed")
    repo.write("app/client.py", keyed)
    repo.commit("the same blob back")
    repo.ok("mv", "app", "src")
    repo.write("src/client.py", keyed + f'OTHER = "{other}"  # {docs}\nBASE = "{url}"\n')
    repo.commit("renamed and edited")

    repository = open_repository(repo.root)
    config = load_config(repo.root)

    def run(pathspecs: tuple[str, ...] = (), follow: bool = False) -> list[tuple[Any, ...]]:
        result = gitscan.history(
            repository, config, revisions=["HEAD"], pathspecs=pathspecs, follow=follow
        )
        return [
            (f.rule.id, f.location.path, f.location.line, f.fingerprint, f.provenance)
            for f in result.findings
        ]

    scans: list[str] = []
    scan_once = gitscan._scan_blob_once

    def counted(object_id: str | None, path: str, *args: Any) -> Any:
        scans.append(path)
        return scan_once(object_id, path, *args)

    monkeypatch.setattr(gitscan, "_scan_blob_once", counted)
    fast = run(), run(("src/client.py",), follow=True)
    fast_scans = len(scans)
    assert {(rule, path) for rule, path, *_ in fast[0]} == {
        ("KG101", "app/client.py"),
        ("KG101", "src/client.py"),
        ("KG301", "src/client.py"),
        ("KG301", "web/app.js"),
    }
    with monkeypatch.context() as patch:
        patch.setattr(gitscan, "may_hit", lambda *args: True)
        patch.setattr(gitscan._Scanned, "CACHED", 0)
        full = run(), run(("src/client.py",), follow=True)
    assert fast == full
    assert fast_scans < len(scans) - fast_scans, "the shortcuts passed no blob over"
