"""Throughput benchmark for `keyguard scan`: wall time, MB/s, files/s, peak memory and recall.

Two corpora live under ``benchmarks/corpus/`` (git-ignored, built once and reused):

* ``stdlib``: a copy of the running interpreter's standard library (``site-packages`` and
  ``__pycache__`` left out): real code, almost no secrets, so it measures the prefilter path.
* ``synthetic``: about 2,000 generated files in a dozen languages (~50 MB, deterministic for a
  given seed) with N planted keys, OAuth client secrets and plain-http endpoints, plus decoys
  that must NOT be reported (publishable keys, placeholders, env reads, loopback URLs). It
  measures throughput on files that do reach the matchers and the libcst parser, and checks
  recall: every planted secret must be reported on its line.

Each corpus gets a ``.keyguard.toml`` at its root so the scan uses keyguard's defaults instead
of the repository's config (which excludes ``benchmarks/corpus/``).

Every scan runs as a child process, exactly as a user would run it::

    keyguard scan <corpus> --format json -o <tmpfile> [--jobs 1]

with the default number of jobs and with ``--jobs 1``, one warm-up then ``--repeat`` timed runs.
Memory: ``os.wait4`` gives the child's ``ru_maxrss``; on Linux that is the largest single process
of the tree once the pool workers have been reaped (keyguard joins its pool), not their sum. The
sum over the live process tree is sampled from ``/proc`` (PSS, so pages shared after ``fork`` are
not counted twice) every ``--sample-interval`` seconds; short spikes between samples are missed.

No key-shaped literal appears in this file: every key is built at run time from a prefix split in
two and a random body.

Exit status: 0, or 1 when a planted secret was missed or ``--jobs 1`` and the default disagree.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import string
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# keyguard's own list: a generated fake must never look like a placeholder to it.
from _common import disk_usage, reuse_or_build, table

from keyguard.filters import PLACEHOLDER_WORDS

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_CORPUS_DIR = BENCH_DIR / "corpus"
GENERATOR_VERSION = 2
MB = 1_000_000
CORPUS_CONFIG = (
    "# Benchmark corpus: scan it with keyguard's defaults, not the repository's config\n"
    "# (which excludes benchmarks/corpus/). Written by benchmarks/bench_throughput.py.\n"
)

# --------------------------------------------------------------------------------------------
# Secrets, built at run time
# --------------------------------------------------------------------------------------------

ALNUM = string.ascii_letters + string.digits
LOWER_ALNUM = string.ascii_lowercase + string.digits
# Split so that this file holds no key prefix followed by a body.
PREFIX = {
    "sk_live": "sk" + "_live_",
    "sk_test": "sk" + "_test_",
    "rk_live": "rk" + "_live_",
    "pk_live": "pk" + "_live_",
}
EXPECTED_RULES = {
    "sk_live": ("KG101",),
    "sk_test": ("KG102",),
    "rk_live": ("KG103",),
    # KG201 in code keyguard judges client-side, KG202 elsewhere: either one counts.
    "client_secret": ("KG201", "KG202"),
    "http": ("KG301",),
}
# Share of the planted items per kind (the rest of the rounding goes to the first kind).
KIND_SHARES = {"sk_live": 0.25, "sk_test": 0.2, "rk_live": 0.15, "client_secret": 0.2, "http": 0.2}
# Words keyguard treats as a sign of a placeholder; a random body holding one is drawn again.


def random_body(rng: random.Random, length: int) -> str:
    """Letters and digits, at least one of each, with no placeholder word inside."""
    while True:
        body = "".join(rng.choices(ALNUM, k=length))
        lowered = body.lower()
        if (
            any(c.isdigit() for c in body)
            and any(c.isalpha() for c in body)
            and not any(word in lowered for word in PLACEHOLDER_WORDS)
        ):
            return body


def make_secret(kind: str, rng: random.Random) -> str:
    """A fresh value of one planted kind: a key, a client secret or an http:// endpoint."""
    if kind in ("sk_live", "sk_test", "rk_live"):
        return PREFIX[kind] + random_body(rng, rng.choice((24, 32, 48, 99)))
    if kind == "client_secret":
        return random_body(rng, rng.randint(32, 48))
    if kind == "http":
        label = "".join(rng.choices(LOWER_ALNUM, k=10))
        tld = rng.choice(("com", "io", "net"))
        path = rng.choice(("v1", "v2/charges", "oauth/token", "api", "hooks/ingest"))
        return "http" + f"://api-{label}.{tld}/{path}"
    raise ValueError(kind)


def decoy_values(rng: random.Random) -> dict[str, str]:
    """Values that look interesting to a prefilter but must never be reported."""
    label = "".join(rng.choices(string.ascii_lowercase, k=8))
    return {
        "pk": PREFIX["pk_live"] + random_body(rng, 24),
        "placeholder": PREFIX["sk_test"] + "X" * 24,
        "localurl": "http" + f"://localhost:{rng.choice((3000, 5000, 8000, 8080))}/health",
        "docurl": "http" + f"://docs.{label}.io/guide",
        "svgns": "http" + "://www.w3.org/2000/svg",
        "schemaurl": "http" + "://json-schema.org/draft-07/schema#",
    }


# --------------------------------------------------------------------------------------------
# Synthetic corpus: languages
# --------------------------------------------------------------------------------------------

NOUNS = (
    "account",
    "invoice",
    "payment",
    "order",
    "customer",
    "session",
    "refund",
    "ledger",
    "report",
    "webhook",
    "network",
    "bookmark",
    "artifact",
    "shipment",
    "product",
    "cart",
    "coupon",
    "profile",
    "tenant",
    "workspace",
)
VERBS = (
    "load",
    "save",
    "create",
    "update",
    "delete",
    "sync",
    "validate",
    "render",
    "fetch",
    "mark",
    "fork",
    "resolve",
    "schedule",
    "archive",
    "export",
)
FIELDS = (
    "name",
    "email",
    "amount",
    "currency",
    "status",
    "created_at",
    "updated_at",
    "work_id",
    "network_id",
    "country",
    "total",
    "quantity",
    "description",
    "owner",
)
ARGS = ("payload", "request", "rows", "items", "options", "batch", "context", "records")
OPTS = ("limit", "retries", "timeout", "page_size", "max_items", "work_limit", "offset")
VARS = ("result", "values", "collected", "out", "matches", "selected")
ITEMS = ("item", "row", "entry", "record", "value")
WORDS = ("pending", "active", "archived", "draft", "eu-west-1", "standard", "blocked", "gold")
SERVICES = ("billing", "checkout", "identity", "catalog", "shipping", "notifier", "search")
SUFFIXES = ("Store", "Client", "Cache", "Manager", "Repository", "View", "Panel")


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("-", "_").split("_"))


def fill(template: str, rng: random.Random, extra: dict[str, str] | None = None) -> str:
    """Substitute a fresh draw of vocabulary into a `string.Template` text."""
    noun, verb, fld = rng.choice(NOUNS), rng.choice(VERBS), rng.choice(FIELDS)
    svc, opt = rng.choice(SERVICES), rng.choice(OPTS)
    mapping = {
        "noun": noun,
        "Noun": _camel(noun),
        "verb": verb,
        "Verb": _camel(verb),
        "field": fld,
        "Field": _camel(fld),
        "FIELD": fld.upper(),
        "arg": rng.choice(ARGS),
        "opt": opt,
        "OPT": opt.upper(),
        "var": rng.choice(VARS),
        "item": rng.choice(ITEMS),
        "word": rng.choice(WORDS),
        "num": str(rng.randint(2, 500)),
        "num2": str(rng.randint(1, 99)),
        "svc": svc,
        "SVC": svc.upper(),
        "Suffix": rng.choice(SUFFIXES),
        "ver": f"{rng.randint(1, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 9)}",
    }
    if extra:
        mapping.update(extra)
    return string.Template(template).substitute(mapping)


@dataclass(frozen=True)
class Language:
    """How to write one kind of file: where it lives, how big, what it says, where keys go."""

    name: str
    suffix: str
    dirs: tuple[str, ...]
    weight: float  # share of the files
    size: float  # relative size
    header: str
    blocks: tuple[str, ...]
    plants: dict[str, tuple[str, ...]]
    decoys: tuple[str, ...] = ()


PY = Language(
    name="py",
    suffix=".py",
    dirs=("services/$svc/app", "services/$svc/tests", "backend/$svc", "tools"),
    weight=0.24,
    size=1.2,
    header='''"""$Noun helpers for the $svc service."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

log = logging.getLogger(__name__)
''',
    blocks=(
        '''

def ${verb}_${noun}($arg: dict, *, $opt: int = $num) -> list[str]:
    """$Verb the $noun records that belong to ``$arg``."""
    $var = []
    for $item in $arg.get("$field", []):
        if $item is None or $item == "$word":
            continue
        $var.append(str($item).strip())
    log.debug("${verb}_${noun}: %d item(s)", len($var))
    return $var[:$opt]
''',
        '''

class ${Noun}${Suffix}:
    """Keeps $noun state between calls; not thread-safe."""

    def __init__(self, $arg: str, $opt: int = $num) -> None:
        self.$arg = $arg
        self.$opt = $opt
        self._cache: dict[str, str] = {}

    def $verb(self, key: str) -> str | None:
        value = self._cache.get(key)
        if value is None and self.$opt > $num2:
            value = f"{self.$arg}:{key}"
        return value
''',
        """

@dataclass(frozen=True)
class ${Noun}Record:
    $field: str
    $opt: int = $num
    network_id: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {"$field": self.$field, "$opt": self.$opt, "network_id": self.network_id}
""",
    ),
    plants={
        "key": (
            'STRIPE_SECRET_KEY = "$secret"',
            'stripe.api_key = "$secret"',
            'PAYMENTS_KEY: str = "$secret"',
        ),
        "client_secret": (
            'CLIENT_SECRET = "$secret"',
            'oauth.register("$svc", client_id="$svc-web", client_secret="$secret")',
        ),
        "http": ('PAYMENTS_API_URL = "$secret"', 'response = session.get("$secret", timeout=10)'),
    },
    decoys=(
        'STRIPE_SECRET_KEY = os.environ["STRIPE_SECRET_KEY"]',
        'PUBLISHABLE_KEY = "$pk"',
        'HEALTH_URL = "$localurl"',
        "# Docs: $docurl",
        "# export STRIPE_SECRET_KEY=$placeholder",
        'client_secret = os.environ.get("OAUTH_CLIENT_SECRET", "")',
        "desk_test_runner = None",
    ),
)

_JS_BLOCKS = (
    """

/** $Verb every $noun in `$arg`, at most `$opt` of them. */
export async function $verb${Noun}($arg, { $opt = $num } = {}) {
  const $var = [];
  for (const $item of $arg.$field ?? []) {
    if ($item == null || $item === "$word") continue;
    $var.push(String($item).trim());
  }
  logger.debug(`$verb${Noun}: $${$var.length} item(s)`);
  return $var.slice(0, $opt);
}
""",
    """

export class ${Noun}${Suffix} {
  constructor($arg, $opt = $num) {
    this.$arg = $arg;
    this.$opt = $opt;
    this.cache = new Map();
  }

  $verb(key) {
    const value = this.cache.get(key);
    if (value === undefined && this.$opt > $num2) {
      return `$${this.$arg}:$${key}`;
    }
    return value ?? null;
  }
}
""",
)
_TS_BLOCKS = (
    """

export interface ${Noun}${Suffix}Options {
  $opt?: number;
  $field: string;
  networkId?: string | null;
}

export async function $verb${Noun}(
  $arg: Record<string, unknown>,
  options: ${Noun}${Suffix}Options = { $field: "$word" },
): Promise<string[]> {
  const $var: string[] = [];
  const limit = options.$opt ?? $num;
  for (const [key, $item] of Object.entries($arg)) {
    if ($item === null || key === options.$field) continue;
    $var.push(`$${key}=$${String($item)}`);
  }
  return $var.slice(0, limit);
}
""",
    *_JS_BLOCKS,
)
_SCRIPT_PLANTS: dict[str, tuple[str, ...]] = {
    "key": (
        'const stripe = new Stripe("$secret");',
        'export const STRIPE_SECRET_KEY = "$secret";',
    ),
    "client_secret": (
        'const clientSecret = "$secret";',
        'export const oauth = { clientId: "$svc-web", client_secret: "$secret" };',
    ),
    "http": (
        'export const API_BASE_URL = "$secret";',
        'const response = await fetch("$secret", { method: "POST" });',
    ),
}
_SCRIPT_DECOYS = (
    "const secretKey = process.env.STRIPE_SECRET_KEY;",
    'const publishableKey = "$pk";',
    'const devServer = "$localurl";',
    "// Docs: $docurl",
    'const svgNs = "$svgns";',
    "const clientSecret = process.env.OAUTH_CLIENT_SECRET;",
)
JS = Language(
    name="js",
    suffix=".js",
    dirs=("web/public/js", "server/routes", "web/src/lib", "packages/$svc/lib"),
    weight=0.14,
    size=1.2,
    header='import { logger } from "../logger.js";\nimport Stripe from "stripe";\n',
    blocks=_JS_BLOCKS,
    plants=_SCRIPT_PLANTS,
    decoys=_SCRIPT_DECOYS,
)
TS = Language(
    name="ts",
    suffix=".ts",
    dirs=("web/src/api", "packages/$svc/src", "server/handlers", "web/src/components"),
    weight=0.12,
    size=1.0,
    header='import { logger } from "./logger";\nimport Stripe from "stripe";\n',
    blocks=_TS_BLOCKS,
    plants=_SCRIPT_PLANTS,
    decoys=_SCRIPT_DECOYS,
)
TSX = Language(
    name="tsx",
    suffix=".tsx",
    dirs=("web/src/components", "web/src/pages"),
    weight=0.05,
    size=0.8,
    header=(
        'import { useEffect, useState } from "react";\n'
        'import { logger } from "../logger";\n'
        'import Stripe from "stripe";\n'
    ),
    blocks=(
        """

export function ${Noun}${Suffix}({ $arg }: { $arg: string }) {
  const [$var, set${Noun}] = useState<string[]>([]);
  useEffect(() => {
    $verb${Noun}($arg).then(set${Noun});
  }, [$arg]);
  return (
    <div className="$noun-$word">
      {$var.map(($item) => (
        <span key={$item}>{$item}</span>
      ))}
    </div>
  );
}
""",
        *_TS_BLOCKS,
    ),
    plants=_SCRIPT_PLANTS,
    decoys=_SCRIPT_DECOYS,
)
GO = Language(
    name="go",
    suffix=".go",
    dirs=("cmd/$svc", "internal/$svc", "pkg/$svc"),
    weight=0.1,
    size=1.2,
    header='package $svc\n\nimport (\n\t"context"\n\t"fmt"\n\t"os"\n)\n',
    blocks=(
        """

// $Verb${Noun} will $verb the $noun with the given id.
func (s *${Noun}${Suffix}) $Verb${Noun}(ctx context.Context, id string) (*${Noun}, error) {
	if id == "" {
		return nil, fmt.Errorf("$noun: empty id")
	}
	row := s.db.QueryRowContext(ctx, "SELECT $field FROM ${noun}s WHERE id = $$1", id)
	var out ${Noun}
	if err := row.Scan(&out.$Field); err != nil {
		return nil, fmt.Errorf("$verb $noun %s: %w", id, err)
	}
	return &out, nil
}
""",
        """

type ${Noun}${Suffix} struct {
	$Field   string `json:"$field"`
	$Verb    bool   `json:"$verb,omitempty"`
	Limit    int    `json:"$opt"`
	Network  string `json:"network_id"`
}
""",
    ),
    plants={
        "key": ('var stripeKey = "$secret"', 'const paymentsKey = "$secret"'),
        "client_secret": (
            'var oauthConfig = &oauth2.Config{\n\tClientID:     "$svc-web",\n'
            '\tClientSecret: "$secret",\n}',
        ),
        "http": ('const paymentsBaseURL = "$secret"', 'var webhookURL = "$secret"'),
    },
    decoys=(
        'var secretKey = os.Getenv("STRIPE_SECRET_KEY")',
        'var devURL = "$localurl"',
        "// Docs: $docurl",
    ),
)
YAML = Language(
    name="yaml",
    suffix=".yaml",
    dirs=("deploy/$svc", "config", "ci/workflows"),
    weight=0.08,
    size=0.6,
    header="# $svc deployment settings\nversion: 3\n",
    blocks=(
        """
$svc-$noun:
  replicas: $num
  image: registry.acme.io/$svc/$noun:$ver
  resources:
    limits:
      cpu: "${num2}00m"
      memory: ${num}Mi
  env:
    - name: $FIELD
      value: "$word"
    - name: LOG_LEVEL
      value: info
""",
    ),
    plants={
        "key": ("stripe_secret_key: $secret", 'payments_key: "$secret"'),
        "client_secret": ("client_secret: $secret", 'oauth_client_secret: "$secret"'),
        "http": ("api_base_url: $secret", 'webhook_endpoint: "$secret"'),
    },
    decoys=(
        "client_secret: $${OAUTH_CLIENT_SECRET}",
        "health_url: $localurl",
        "# docs: $docurl",
        "publishable_key: $pk",
    ),
)
JSON = Language(
    name="json",
    suffix=".json",
    dirs=("config", "fixtures/$svc", "data"),
    weight=0.08,
    size=1.5,
    header="",
    blocks=(),
    plants={
        "key": ("stripe_secret_key", "payments_key"),
        "client_secret": ("client_secret",),
        "http": ("api_base_url", "webhook_endpoint"),
    },
)
MARKDOWN = Language(
    name="md",
    suffix=".md",
    dirs=("docs", "docs/$svc"),
    weight=0.08,
    size=0.8,
    header="# The $svc service\n\nHow the $svc service stores and serves ${noun}s.\n",
    blocks=(
        """
## $Verb the $noun

The $svc service keeps every $noun in its own table. Call `${verb}_${noun}` with the $field
and an optional $opt (default $num); it returns the matching records in insertion order.
Records marked as $word are skipped unless `include_$word` is set.

```bash
$svc-cli $verb $noun --$opt $num --format json
```

| field | type | notes |
|---|---|---|
| $field | string | required |
| $opt | int | default $num |
""",
    ),
    plants={"key": ("```bash\nexport STRIPE_SECRET_KEY=$secret\n```",)},
    decoys=(
        "See $docurl for the full reference.",
        "Use a test key such as `$placeholder` while developing.",
    ),
)
ENV = Language(
    name="env",
    suffix=".env",
    dirs=("deploy/$svc",),
    weight=0.03,
    size=0.08,
    header="# $svc environment\n",
    blocks=(
        "${SVC}_${OPT}=$num\n${SVC}_LOG_LEVEL=info\n${SVC}_DATABASE=${svc}_$noun\n",
        "${FIELD}_DEFAULT=$word\n",
    ),
    plants={
        "key": ("STRIPE_SECRET_KEY=$secret", 'export STRIPE_API_KEY="$secret"'),
        "client_secret": ("OAUTH_CLIENT_SECRET=$secret",),
        "http": ("PAYMENTS_API_URL=$secret",),
    },
    decoys=(
        "STRIPE_PUBLISHABLE_KEY=$pk",
        "HEALTH_URL=$localurl",
        "# STRIPE_SECRET_KEY=$placeholder",
    ),
)
TOML = Language(
    name="toml",
    suffix=".toml",
    dirs=("services/$svc",),
    weight=0.04,
    size=0.2,
    header='[project]\nname = "$svc"\nversion = "$ver"\n',
    blocks=('\n[$svc.$noun]\n$opt = $num\n$field = "$word"\nenabled = true\n',),
    plants={
        "key": ('secret_key = "$secret"',),
        "client_secret": ('client_secret = "$secret"',),
        "http": ('base_url = "$secret"',),
    },
    decoys=('publishable_key = "$pk"', 'health_url = "$localurl"'),
)
SHELL = Language(
    name="sh",
    suffix=".sh",
    dirs=("scripts", "deploy/$svc"),
    weight=0.04,
    size=0.4,
    header="#!/usr/bin/env bash\nset -euo pipefail\n",
    blocks=(
        """
${verb}_${noun}() {
  local $arg="$$1"
  if [ -z "$$$arg" ]; then
    echo "usage: ${verb}_${noun} <$arg>" >&2
    return 2
  fi
  $svc-cli $verb "$$$arg" --$opt $num
}
""",
    ),
    plants={
        "key": ('export STRIPE_SECRET_KEY="$secret"',),
        "client_secret": ('export CLIENT_SECRET="$secret"',),
        "http": ('API_URL="$secret"',),
    },
    decoys=(
        'export STRIPE_SECRET_KEY="$${STRIPE_SECRET_KEY:?missing}"',
        "curl -fsS $localurl >/dev/null",
    ),
)
LANGUAGES = (PY, JS, TS, TSX, GO, YAML, JSON, MARKDOWN, ENV, TOML, SHELL)


# keyguard does not apply the endpoint rule (KG301) to test code: http:// plants stay out of it.
TEST_DIRS = frozenset({"test", "tests", "testing", "spec", "specs", "__tests__", "e2e"})


def _eligible(kind: str, language: Language, path: str) -> bool:
    if _plant_group(kind) not in language.plants:
        return False
    return kind != "http" or TEST_DIRS.isdisjoint(path.split("/")[:-1])


def _plant_group(kind: str) -> str:
    return "key" if kind in ("sk_live", "sk_test", "rk_live") else kind


# --------------------------------------------------------------------------------------------
# Synthetic corpus: generation
# --------------------------------------------------------------------------------------------


@dataclass
class Plant:
    """One planted secret: where it is and what keyguard must say about it."""

    kind: str
    value: str
    path: str = ""
    line: int = 0

    def record(self) -> dict[str, Any]:
        """What the manifest keeps: never the secret, only what identifies its finding."""
        tail = self.value if self.kind == "http" else self.value[-4:]
        return {
            "kind": self.kind,
            "path": self.path,
            "line": self.line,
            "rules": list(EXPECTED_RULES[self.kind]),
            "tail": tail,
        }


def _json_text(rng: random.Random, target: int, plants: list[Plant], decoys: dict[str, str]) -> str:
    """A JSON document of records; planted and decoy pairs go into random records."""
    records: list[dict[str, Any]] = []
    size = 0
    while size < target or not records:
        record: dict[str, Any] = {
            "id": rng.randint(1, 10**9),
            rng.choice(FIELDS): rng.choice(WORDS),
            rng.choice(OPTS): rng.randint(1, 1000),
            "network_id": f"net-{rng.randint(1000, 9999)}",
            "tags": rng.sample(WORDS, 3),
            "owner": {"service": rng.choice(SERVICES), "team": rng.choice(NOUNS)},
        }
        records.append(record)
        size += 260
    for plant in plants:
        key = rng.choice(JSON.plants[_plant_group(plant.kind)])
        rng.choice(records)[key] = plant.value
    if rng.random() < 0.3:
        chosen = rng.choice(records)
        chosen["publishable_key"] = decoys["pk"]
        chosen["health_url"] = decoys["localurl"]
    document = {"$schema": decoys["schemaurl"], rng.choice(SERVICES): records}
    return json.dumps(document, indent=2) + "\n"


def _code_text(
    language: Language,
    rng: random.Random,
    target: int,
    plants: list[Plant],
    decoys: dict[str, str],
) -> str:
    parts = [fill(language.header, rng)]
    size = len(parts[0])
    while size < target:
        block = fill(rng.choice(language.blocks), rng)
        parts.append(block)
        size += len(block)
    inserts: list[str] = []
    for plant in plants:
        template = rng.choice(language.plants[_plant_group(plant.kind)])
        inserts.append(fill(template, rng, {"secret": plant.value}))
    if language.decoys and rng.random() < 0.35:
        for template in rng.sample(language.decoys, min(2, len(language.decoys))):
            inserts.append(fill(template, rng, decoys))
    for text in inserts:
        parts.insert(rng.randint(1, len(parts)), f"\n{text}\n")
    return "".join(parts)


def _locate(text: str, plant: Plant) -> int:
    offset = text.find(plant.value)
    if offset < 0:
        raise RuntimeError(f"generator bug: planted value missing from {plant.path}")
    return text.count("\n", 0, offset) + 1


def generate_synthetic(
    root: Path, *, files: int, size_mb: float, keys: int, seed: int
) -> dict[str, Any]:
    """Write the synthetic corpus under `root` and return its manifest (no secrets in it)."""
    rng = random.Random(seed)
    weights = [language.weight for language in LANGUAGES]
    mean_factor = sum(w * lang.size for w, lang in zip(weights, LANGUAGES, strict=True)) / sum(
        weights
    )
    average = size_mb * MB / files
    chosen = rng.choices(LANGUAGES, weights=weights, k=files)
    paths: list[str] = []
    for index, language in enumerate(chosen):
        directory = fill(rng.choice(language.dirs), rng)
        stem = f"{rng.choice(VERBS)}_{rng.choice(NOUNS)}_{index:04d}"
        if language is ENV:
            paths.append(f"{directory}/{stem}/.env")
        else:
            paths.append(f"{directory}/{stem}{language.suffix}")

    counts = {kind: int(keys * share) for kind, share in KIND_SHARES.items()}
    counts["sk_live"] += keys - sum(counts.values())
    by_file: dict[int, list[Plant]] = {}
    for kind, count in counts.items():
        eligible = [i for i, lang in enumerate(chosen) if _eligible(kind, lang, paths[i])]
        for _ in range(count):
            index = rng.choice(eligible)
            by_file.setdefault(index, []).append(Plant(kind, make_secret(kind, rng)))

    total = 0
    plants: list[Plant] = []
    for index, (language, relative) in enumerate(zip(chosen, paths, strict=True)):
        target = int(average * language.size / mean_factor * rng.uniform(0.25, 1.75))
        planted = by_file.get(index, [])
        decoys = decoy_values(rng)
        if language is JSON:
            text = _json_text(rng, target, planted, decoys)
        else:
            text = _code_text(language, rng, target, planted, decoys)
        for plant in planted:
            plant.path = relative
            plant.line = _locate(text, plant)
            plants.append(plant)
        target_path = root / relative
        target_path.parent.mkdir(parents=True, exist_ok=True)
        data = text.encode("utf-8")
        target_path.write_bytes(data)
        total += len(data)
    (root / ".keyguard.toml").write_text(CORPUS_CONFIG, encoding="utf-8")
    plants.sort(key=lambda p: (p.path, p.line))
    return {
        "files": files,
        "bytes": total,
        "by_language": dict(Counter(lang.name for lang in chosen)),
        "plants": [plant.record() for plant in plants],
    }


def ensure_synthetic(
    corpus_dir: Path, *, files: int, size_mb: float, keys: int, seed: int, regenerate: bool
) -> tuple[Path, dict[str, Any]]:
    """Reuse the synthetic corpus when its manifest matches these parameters, else rebuild it."""
    root = corpus_dir / "synthetic"
    manifest_path = corpus_dir / "synthetic.manifest.json"
    params = {
        "generator": GENERATOR_VERSION,
        "files": files,
        "size_mb": size_mb,
        "keys": keys,
        "seed": seed,
    }
    return reuse_or_build(
        root,
        manifest_path,
        params,
        regenerate=regenerate,
        announce=f"{files} files, ~{size_mb:g} MB, {keys} planted secrets",
        build=lambda target: generate_synthetic(target, **params_for(params)),
    )


def params_for(params: dict[str, Any]) -> dict[str, Any]:
    return {key: params[key] for key in ("files", "size_mb", "keys", "seed")}


# --------------------------------------------------------------------------------------------
# Standard-library corpus
# --------------------------------------------------------------------------------------------


def ensure_stdlib(corpus_dir: Path) -> Path:
    """Copy this interpreter's standard library once (no site-packages, no __pycache__)."""
    root = corpus_dir / "stdlib"
    if root.is_dir():
        print(f"reusing {root}")
        return root
    source = Path(sysconfig.get_paths()["stdlib"])
    print(f"copying {source} -> {root} ...")
    partial = corpus_dir / "stdlib.partial"
    if partial.exists():
        shutil.rmtree(partial)

    def ignore(directory: str, names: list[str]) -> set[str]:
        skipped = {name for name in names if name == "__pycache__"}
        if Path(directory) == source:
            skipped |= {name for name in names if name == "site-packages"}
        return skipped

    shutil.copytree(source, partial, symlinks=True, ignore=ignore)
    (partial / ".keyguard.toml").write_text(CORPUS_CONFIG, encoding="utf-8")
    partial.rename(root)
    return root


# --------------------------------------------------------------------------------------------
# Running keyguard
# --------------------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            found.extend(int(child) for child in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def _memory_kib(pid: int) -> int:
    """Proportional set size (PSS) when the kernel offers it, else resident set size."""
    for name, key in (("smaps_rollup", "Pss:"), ("status", "VmRSS:")):
        try:
            text = Path(f"/proc/{pid}/{name}").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    return 0


class TreeSampler(threading.Thread):
    """Poll /proc for the summed memory of a process and all its descendants; keep the peak."""

    def __init__(self, pid: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak_kib = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            total = 0
            pending = [self.pid]
            while pending:
                pid = pending.pop()
                total += _memory_kib(pid)
                pending.extend(_children(pid))
            self.peak_kib = max(self.peak_kib, total)
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


@dataclass
class Run:
    """One timed scan."""

    wall: float
    cpu: float  # user + system seconds of the CLI and its reaped pool workers
    max_rss_kib: int
    tree_kib: int | None
    report: dict[str, Any]


def scan_once(keyguard: Path, corpus: Path, jobs: int | None, output: Path, interval: float) -> Run:
    """Run one scan as a child process; time it and measure its memory."""
    command = scan_command(keyguard, corpus, jobs, output)
    with tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
        sampler = TreeSampler(process.pid, interval) if interval > 0 else None
        if sampler is not None:
            sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        if sampler is not None:
            sampler.stop()
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode not in (0, 1):
            stderr.seek(0)
            message = stderr.read().decode("utf-8", "replace").strip()
            raise SystemExit(
                f"keyguard failed (exit {process.returncode}): {' '.join(command)}\n{message}"
            )
    report = json.loads(output.read_text(encoding="utf-8"))
    cpu = usage.ru_utime + usage.ru_stime
    return Run(wall, cpu, usage.ru_maxrss, sampler.peak_kib if sampler else None, report)


def scan_command(keyguard: Path, corpus: Path, jobs: int | None, output: Path) -> list[str]:
    command = [str(keyguard), "scan", str(corpus), "--format", "json", "-o", str(output)]
    if jobs is not None:
        command += ["--jobs", str(jobs)]
    return command


@dataclass
class Series:
    """Every timed run of one corpus with one jobs setting."""

    corpus: str
    jobs: int | None
    runs: list[Run] = field(default_factory=list)
    load: float = 0.0  # 1-minute load average when the series started

    @property
    def label(self) -> str:
        return f"default ({available_cores()})" if self.jobs is None else str(self.jobs)

    @property
    def median(self) -> float:
        return statistics.median(run.wall for run in self.runs)

    @property
    def summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = self.runs[-1].report["summary"]
        return summary

    @property
    def findings(self) -> list[dict[str, Any]]:
        findings: list[dict[str, Any]] = self.runs[-1].report["findings"]
        return findings

    def stable(self) -> bool:
        """Every repetition reported the same findings."""
        return all(run.report["findings"] == self.findings for run in self.runs)


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def bench_corpus(
    keyguard: Path, name: str, corpus: Path, repeat: int, interval: float
) -> list[Series]:
    """One warm-up and `repeat` timed scans, with the default jobs and with --jobs 1."""
    result = []
    with tempfile.TemporaryDirectory(prefix="keyguard-bench-") as scratch:
        output = Path(scratch, "report.json")
        for jobs in (None, 1):
            series = Series(name, jobs, load=os.getloadavg()[0])
            print(f"  {' '.join(scan_command(keyguard, corpus, jobs, output))}")
            scan_once(keyguard, corpus, jobs, output, interval)  # warm-up: page cache, imports
            for _ in range(repeat):
                series.runs.append(scan_once(keyguard, corpus, jobs, output, interval))
            print(f"    median {series.median:.2f} s over {repeat} run(s)")
            result.append(series)
    return result


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------


def _normalise_path(path: str, corpus: Path) -> str:
    candidate = Path(path)
    if not candidate.is_absolute():
        candidate = Path.cwd() / candidate
    try:
        return candidate.resolve().relative_to(corpus.resolve()).as_posix()
    except ValueError:
        return path


def check_recall(
    manifest: dict[str, Any], findings: list[dict[str, Any]], corpus: Path
) -> tuple[bool, str]:
    """Match every planted secret to a finding on its line; list misses and stray findings."""
    by_line: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for finding in findings:
        key = (_normalise_path(finding["path"], corpus), finding["line"])
        by_line.setdefault(key, []).append(finding)
    planted_lines = set()
    per_kind: Counter[str] = Counter()
    found_kind: Counter[str] = Counter()
    misses: list[str] = []
    for plant in manifest["plants"]:
        key = (plant["path"], plant["line"])
        planted_lines.add(key)
        per_kind[plant["kind"]] += 1
        on_line = by_line.get(key, [])
        hit = any(
            f["rule_id"] in plant["rules"] and f["redacted"].endswith(plant["tail"])
            for f in on_line
        )
        if hit:
            found_kind[plant["kind"]] += 1
        else:
            reported = ", ".join(f"{f['rule_id']} {f['redacted']}" for f in on_line) or "nothing"
            misses.append(
                f"  MISS {plant['path']}:{plant['line']} {plant['kind']} "
                f"(want {'/'.join(plant['rules'])} ...{plant['tail'][-4:]}; got {reported})"
            )
    rows = [
        (kind, per_kind[kind], found_kind[kind], f"{100 * found_kind[kind] / per_kind[kind]:.1f}%")
        for kind in EXPECTED_RULES
        if per_kind[kind]
    ]
    planted, found = sum(per_kind.values()), sum(found_kind.values())
    rows.append(("all", planted, found, f"{100 * found / planted:.1f}%" if planted else "-"))
    lines = ["", "Recall on the planted secrets (synthetic corpus)", ""]
    lines.append(table(("kind", "planted", "found", "recall"), rows))
    lines.extend(misses)
    stray = [
        f for f in findings if (_normalise_path(f["path"], corpus), f["line"]) not in planted_lines
    ]
    lines.append("")
    lines.append(
        f"Findings on lines with no planted secret (decoys that should stay quiet): {len(stray)}"
    )
    for finding in stray[:10]:
        lines.append(
            f"  {finding['path']}:{finding['line']} {finding['rule_id']} {finding['redacted']}"
        )
    if len(stray) > 10:
        lines.append(f"  ... and {len(stray) - 10} more")
    return found == planted, "\n".join(lines)


def _finding_key(finding: dict[str, Any]) -> tuple[str, int, int, str]:
    return (finding["path"], finding["line"], finding["column"], finding["rule_id"])


def compare_jobs(series: list[Series]) -> tuple[bool, list[str]]:
    """Do the default-jobs and --jobs 1 scans of each corpus report the very same findings?"""
    ok = True
    lines = []
    for name in dict.fromkeys(s.corpus for s in series):
        default, single = (s for s in series if s.corpus == name)
        same = default.findings == single.findings
        stable = default.stable() and single.stable()
        ok = ok and same and stable
        verdict = "identical" if same else "DIFFERENT"
        lines.append(
            f"  {name}: default jobs vs --jobs 1: {verdict} "
            f"({len(default.findings)} vs {len(single.findings)} findings); "
            f"repeats {'stable' if stable else 'UNSTABLE'}"
        )
        if not same:
            a = set(map(_finding_key, default.findings))
            b = set(map(_finding_key, single.findings))
            for key in sorted(a - b)[:5]:
                lines.append(f"    only with default jobs: {key}")
            for key in sorted(b - a)[:5]:
                lines.append(f"    only with --jobs 1: {key}")
    return ok, lines


def print_results(series: list[Series], disks: dict[str, tuple[int, int]], sampling: bool) -> None:
    print()
    print("Corpora")
    print()
    rows: list[tuple[object, ...]] = []
    for name, (files, size) in disks.items():
        summary = next(s.summary for s in series if s.corpus == name)
        rows.append(
            (
                name,
                files,
                f"{size / MB:.1f}",
                summary["files_scanned"],
                f"{summary['bytes_scanned'] / MB:.1f}",
                summary["skipped"],
                summary["findings"],
                ", ".join(f"{k} {v}" for k, v in summary["by_rule"].items()) or "-",
            )
        )
    print(
        table(
            (
                "corpus",
                "files",
                "MB on disk",
                "files scanned",
                "MB scanned",
                "skipped",
                "findings",
                "by rule",
            ),
            rows,
        )
    )
    print()
    print(f"Timings (wall seconds, {len(series[0].runs)} runs after 1 warm-up; MB = 10^6 bytes)")
    print()
    rows = []
    for s in series:
        summary = s.summary
        median = s.median
        tree = [run.tree_kib for run in s.runs if run.tree_kib is not None]
        rows.append(
            (
                s.corpus,
                s.label,
                f"{median:.2f}",
                f"{min(run.wall for run in s.runs):.2f}",
                f"{max(run.wall for run in s.runs):.2f}",
                f"{statistics.median(run.cpu for run in s.runs):.2f}",
                f"{summary['bytes_scanned'] / MB / median:.1f}",
                f"{summary['files_scanned'] / median:.0f}",
                f"{max(run.max_rss_kib for run in s.runs) / 1024:.0f}",
                f"{max(tree) / 1024:.0f}" if tree else "-",
                f"{s.load:.2f}",
            )
        )
    print(
        table(
            (
                "corpus",
                "jobs",
                "median s",
                "min s",
                "max s",
                "CPU s",
                "MB/s",
                "files/s",
                "max RSS MiB",
                "tree PSS MiB",
                "load",
            ),
            rows,
        )
    )
    print()
    print("  MB/s and files/s: what keyguard reports as scanned (bytes_scanned, files_scanned)")
    print("  divided by the median wall time, process start-up included.")
    print("  CPU s: median user + system seconds of the CLI and its pool workers (os.wait4).")
    print("  load: 1-minute load average when the series started; anything well above 0 means")
    print("  other work shared the cores and the wall times are pessimistic.")
    print("  max RSS: ru_maxrss from os.wait4, i.e. the largest single process of the tree")
    print("  (the CLI or one reaped pool worker), not their sum.")
    if sampling:
        print("  tree PSS: peak of the summed PSS of the CLI and its pool workers, sampled")
        print("  from /proc; spikes shorter than the sampling interval are missed.")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="The corpora are built under --corpus-dir once and reused on later runs.",
    )
    parser.add_argument(
        "--corpus-dir", type=Path, default=DEFAULT_CORPUS_DIR, help="default: %(default)s"
    )
    parser.add_argument("--repeat", "-r", type=int, default=5, help="timed runs per setting")
    parser.add_argument("--files", type=int, default=2000, help="synthetic corpus: files")
    parser.add_argument("--size-mb", type=float, default=50.0, help="synthetic corpus: MB")
    parser.add_argument("--keys", type=int, default=200, help="synthetic corpus: planted secrets")
    parser.add_argument("--seed", type=int, default=20261128, help="synthetic corpus: seed")
    parser.add_argument("--regenerate", action="store_true", help="rebuild the synthetic corpus")
    parser.add_argument("--skip-stdlib", action="store_true", help="skip the stdlib corpus")
    parser.add_argument("--skip-synthetic", action="store_true", help="skip the synthetic corpus")
    parser.add_argument(
        "--sample-interval",
        type=float,
        default=0.05,
        help="seconds between /proc memory samples; 0 turns sampling off (default: %(default)s)",
    )
    parser.add_argument(
        "--keyguard",
        type=Path,
        default=Path(sys.executable).parent / "keyguard",
        help="the keyguard executable (default: the one next to this Python)",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.files < 1 or args.keys < 0 or args.size_mb <= 0:
        parser.error("--repeat and --files must be positive, --keys non-negative")
    if not args.keyguard.exists():
        parser.error(f"{args.keyguard} not found; pass --keyguard")
    args.corpus_dir.mkdir(parents=True, exist_ok=True)
    interval = args.sample_interval if Path("/proc/self/smaps_rollup").exists() else 0.0

    corpora: list[tuple[str, Path]] = []
    manifest: dict[str, Any] | None = None
    if not args.skip_stdlib:
        corpora.append(("stdlib", ensure_stdlib(args.corpus_dir)))
    if not args.skip_synthetic:
        synthetic, manifest = ensure_synthetic(
            args.corpus_dir,
            files=args.files,
            size_mb=args.size_mb,
            keys=args.keys,
            seed=args.seed,
            regenerate=args.regenerate,
        )
        corpora.append(("synthetic", synthetic))
    if not corpora:
        parser.error("nothing to do: both corpora skipped")

    print(f"keyguard: {args.keyguard}; {available_cores()} core(s) available")
    load = os.getloadavg()[0]
    if load > 0.5:
        print(f"WARNING: load average {load:.2f} before the first run: timings will be noisy")
    series: list[Series] = []
    disks: dict[str, tuple[int, int]] = {}
    for name, root in corpora:
        disks[name] = disk_usage(root)
        print(f"\n{name}: {disks[name][0]} files, {disks[name][1] / MB:.1f} MB on disk")
        series.extend(bench_corpus(args.keyguard, name, root, args.repeat, interval))

    print_results(series, disks, interval > 0)
    ok, lines = compare_jobs(series)
    print()
    print("Findings, default jobs vs --jobs 1 (full JSON finding objects compared)")
    print("\n".join(lines))
    for s in series:
        internal = [
            entry for entry in s.runs[-1].report["skipped"] if "internal error" in entry["reason"]
        ]
        if internal:
            ok = False
            print(f"  WARNING {s.corpus} jobs={s.label}: {len(internal)} internal error(s), e.g.")
            print(f"    {internal[0]['path']}: {internal[0]['reason']}")
    if manifest is not None:
        default = next(s for s in series if s.corpus == "synthetic" and s.jobs is None)
        recalled, text = check_recall(manifest, default.findings, dict(corpora)["synthetic"])
        print(text)
        ok = ok and recalled
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
