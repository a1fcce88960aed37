"""Pre-commit latency benchmark: `keyguard scan` over five small staged files.

pre-commit runs the hook's console script once per commit with the staged file names::

    keyguard scan app.py client.js docker-compose.yaml .env README.md

so what counts is start-up: interpreter, imports, rule loading, config discovery. This script
writes five realistic files (one ``.env`` holding a freshly generated test key, so the hook
finds exactly one KG102 warning and exits 1, as it would on a real commit) into a temporary git
repository, then times that command: ``--warmup`` untimed runs, then ``--runs`` timed ones.

It also runs ``python -X importtime -c "import keyguard.cli"`` and prints the most expensive
imports, and checks with ``python -X importtime -m keyguard scan ...`` whether the heavy
optional dependencies (libcst, sarif_om, attrs) were imported by a plain console scan.

No key-shaped literal appears in this file: the key is built at run time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import shutil
import statistics
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# keyguard's own list: a generated fake must never look like a placeholder to it.
from _common import table

from keyguard.filters import KEY_PLACEHOLDER_WORDS as PLACEHOLDER_WORDS

HEAVY_PACKAGES = ("libcst", "sarif_om", "attrs", "attr")

APP_PY = '''"""Order service: HTTP handlers and settings."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from decimal import Decimal

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    """Everything the service reads from its environment at start-up."""

    database_url: str
    payments_key: str
    currency: str = "eur"
    page_size: int = 50

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            database_url=os.environ["DATABASE_URL"],
            payments_key=os.environ["STRIPE_SECRET_KEY"],
            currency=os.environ.get("CURRENCY", "eur"),
            page_size=int(os.environ.get("PAGE_SIZE", "50")),
        )


@dataclass
class LineItem:
    sku: str
    quantity: int
    unit_price: Decimal

    @property
    def total(self) -> Decimal:
        return self.unit_price * self.quantity


def order_total(items: list[LineItem], *, discount: Decimal = Decimal(0)) -> Decimal:
    """Sum of the line items minus the discount, never below zero."""
    subtotal = sum((item.total for item in items), Decimal(0))
    return max(subtotal - discount, Decimal(0))


def paginate(rows: list[dict[str, object]], page: int, size: int) -> list[dict[str, object]]:
    if page < 1 or size < 1:
        raise ValueError("page and size start at 1")
    start = (page - 1) * size
    return rows[start : start + size]


def handle_create_order(payload: dict[str, object], settings: Settings) -> dict[str, object]:
    raw_items = payload.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        return {"error": "an order needs at least one item"}
    items = [
        LineItem(str(row["sku"]), int(row["quantity"]), Decimal(str(row["unit_price"])))
        for row in raw_items
    ]
    total = order_total(items)
    log.info("order with %d item(s), total %s %s", len(items), total, settings.currency)
    return {"total": str(total), "currency": settings.currency, "items": len(items)}
'''

CLIENT_JS = """// Browser client for the order service.
const API_BASE = "https://orders.acme-shop.io/api/v1";

async function request(path, { method = "GET", body } = {}) {
  const response = await fetch(`${API_BASE}${path}`, {
    method,
    headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "include",
  });
  if (!response.ok) {
    throw new Error(`${method} ${path} failed: ${response.status}`);
  }
  return response.json();
}

export async function listOrders(page = 1) {
  return request(`/orders?page=${page}`);
}

export async function createOrder(items) {
  if (!Array.isArray(items) || items.length === 0) {
    throw new Error("an order needs at least one item");
  }
  return request("/orders", { method: "POST", body: { items } });
}

export function formatTotal(order, locale = "en-GB") {
  return new Intl.NumberFormat(locale, {
    style: "currency",
    currency: order.currency.toUpperCase(),
  }).format(Number(order.total));
}

export function renderOrders(container, orders) {
  container.replaceChildren(
    ...orders.map((order) => {
      const row = document.createElement("li");
      row.className = "order-row";
      row.textContent = `#${order.id} - ${formatTotal(order)}`;
      return row;
    }),
  );
}

document.addEventListener("DOMContentLoaded", async () => {
  const list = document.querySelector("#orders");
  const { orders } = await listOrders();
  renderOrders(list, orders);
});
"""

COMPOSE_YAML = """# Local development stack for the order service.
services:
  api:
    build: .
    command: ["gunicorn", "orders.app:create_app()", "--bind", "0.0.0.0:8000"]
    env_file: .env
    ports:
      - "8000:8000"
    depends_on:
      db:
        condition: service_healthy
      cache:
        condition: service_started
    restart: unless-stopped

  worker:
    build: .
    command: ["python", "-m", "orders.worker"]
    env_file: .env
    depends_on:
      - db
      - cache

  db:
    image: postgres:16-alpine
    environment:
      POSTGRES_DB: orders
      POSTGRES_USER: orders
      POSTGRES_PASSWORD_FILE: /run/secrets/db_password
    volumes:
      - db-data:/var/lib/postgresql/data
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -U orders"]
      interval: 5s
      retries: 10

  cache:
    image: redis:7-alpine

volumes:
  db-data:
"""

DOTENV = """# Local settings for docker compose; never commit real production values.
APP_ENV=development
LOG_LEVEL=debug
PAGE_SIZE=50
CURRENCY=eur

# Database
DATABASE_URL=postgresql://orders@db:5432/orders
DATABASE_POOL_SIZE=5
DATABASE_POOL_TIMEOUT=30

# Cache
REDIS_URL=redis://cache:6379/0
CACHE_TTL_SECONDS=300

# Payments (test mode)
STRIPE_SECRET_KEY=$key
STRIPE_WEBHOOK_TOLERANCE=300
PAYMENTS_RETRY_LIMIT=3

# Mail
SMTP_HOST=mailpit
SMTP_PORT=1025
MAIL_FROM=orders@acme-shop.io

# Feature flags
FEATURE_GIFT_CARDS=false
FEATURE_SPLIT_SHIPMENTS=true
FEATURE_NEW_CHECKOUT=false
SESSION_COOKIE_SECURE=false
SESSION_COOKIE_SAMESITE=lax
"""

README_MD = """# Order service

The order service takes orders from the web shop, charges them through the payment provider
and hands them to fulfilment. It is a small WSGI application with a background worker.

## Running it locally

1. Copy `.env.sample` to `.env` and fill in the values for your machine.
2. Start the stack:

   ```bash
   docker compose up --build
   ```

3. Open the API docs at <https://localhost:8000/docs> once the health check passes.

## Configuration

| variable | default | meaning |
|---|---|---|
| `DATABASE_URL` | - | PostgreSQL connection string |
| `STRIPE_SECRET_KEY` | - | payment provider key; test mode locally |
| `PAGE_SIZE` | 50 | orders per page in list endpoints |
| `CURRENCY` | eur | ISO 4217 code used for new orders |
| `LOG_LEVEL` | info | `debug`, `info`, `warning` or `error` |

Settings are read once at start-up by `Settings.from_env()`; a missing required variable
stops the process with a clear message instead of failing on the first request.

## Tests

```bash
python -m pytest -q
```

The test suite starts a throwaway database with `testcontainers`; Docker must be running.
Payment calls are recorded with `vcrpy`, so the suite never talks to the provider.

## Deploying

Merges to `main` build an image and deploy it to staging. Production deploys are manual:

```bash
make release VERSION=1.4.0
```

The release job tags the image, runs the migrations and rolls the pods one at a time.

## Security

Keys never live in the repository: production reads them from the secret manager, and the
pre-commit hooks run keyguard on every commit to catch a key pasted by mistake.
Report vulnerabilities to security@acme-shop.io rather than in a public issue.

## Licence

MIT, see `LICENSE`.
"""


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def make_test_key() -> str:
    """A test-mode secret key with a random body: prefix split so no literal sits here."""
    alphabet = string.ascii_letters + string.digits
    while True:
        body = "".join(secrets.choice(alphabet) for _ in range(32))
        lowered = body.lower()
        if (
            any(c.isdigit() for c in body)
            and any(c.isalpha() for c in body)
            and not any(word in lowered for word in PLACEHOLDER_WORDS)
        ):
            return "sk" + "_test_" + body


def write_files(directory: Path) -> list[str]:
    """The five staged files, as pre-commit would pass them (relative to the repository root)."""
    files = {
        "app.py": APP_PY,
        "client.js": CLIENT_JS,
        "docker-compose.yaml": COMPOSE_YAML,
        ".env": string.Template(DOTENV).substitute(key=make_test_key()),
        "README.md": README_MD,
    }
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    if shutil.which("git"):
        subprocess.run(["git", "init", "-q", str(directory)], check=False)
    return list(files)


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = min(len(ordered), max(1, math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


def time_command(
    command: Sequence[str], cwd: Path, env: Mapping[str, str], warmup: int, runs: int
) -> list[float]:
    """Wall seconds of `runs` executions after `warmup` untimed ones; output discarded."""
    for _ in range(warmup):
        subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, check=False)
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, check=False)
        timings.append(time.perf_counter() - started)
    return timings


def bytecode_envs(scratch: Path) -> list[tuple[str, dict[str, str]]]:
    """The environment as it is, and one where compiled bytecode is cached out of tree.

    With PYTHONDONTWRITEBYTECODE set (as in some containers and CI images) an editable install
    recompiles keyguard's modules on every run. PYTHONPYCACHEPREFIX keeps a bytecode cache in
    the scratch directory instead, so the source tree gets no __pycache__ directories.
    """
    current = dict(os.environ)
    cached = {k: v for k, v in current.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cached["PYTHONPYCACHEPREFIX"] = str(scratch / "pycache")
    flags = [
        f"{name}={current[name]}"
        for name in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
        if name in current
    ]
    label = f"environment as is ({', '.join(flags) or 'bytecode cached in __pycache__'})"
    return [(label, current), ("bytecode cached (PYTHONPYCACHEPREFIX=<tmp>)", cached)]


@dataclass(frozen=True)
class ImportTime:
    """One line of `-X importtime`: microseconds spent in the module itself and in total."""

    module: str
    self_us: int
    cumulative_us: int


def parse_importtime(stderr: str) -> list[ImportTime]:
    entries = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        self_part, cumulative_part, name = line[len("import time:") :].split("|", 2)
        entries.append(ImportTime(name.strip(), int(self_part), int(cumulative_part)))
    return entries


def importtime(
    args: Sequence[str], env: Mapping[str, str], cwd: Path | None = None
) -> list[ImportTime]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    return parse_importtime(result.stderr)


def median_importtime(args: Sequence[str], env: Mapping[str, str], repeat: int) -> list[ImportTime]:
    """Per-module median over `repeat` runs (after one warm-up): single runs are noisy."""
    importtime(args, env)
    samples: dict[str, list[ImportTime]] = {}
    for _ in range(repeat):
        for entry in importtime(args, env):
            samples.setdefault(entry.module, []).append(entry)
    return [
        ImportTime(
            module,
            int(statistics.median(e.self_us for e in entries)),
            int(statistics.median(e.cumulative_us for e in entries)),
        )
        for module, entries in samples.items()
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument("--runs", type=int, default=30, help="timed runs (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs (default: %(default)s)")
    parser.add_argument(
        "--top", type=int, default=10, help="imports to list (default: %(default)s)"
    )
    parser.add_argument(
        "--import-repeat",
        type=int,
        default=5,
        help="importtime runs to take the median of (default: %(default)s)",
    )
    parser.add_argument(
        "--keyguard",
        type=Path,
        default=Path(sys.executable).parent / "keyguard",
        help="the console script pre-commit runs (default: the one next to this Python)",
    )
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmup < 0 or args.top < 1 or args.import_repeat < 1:
        parser.error("--runs, --top and --import-repeat must be positive")
    if not args.keyguard.exists():
        parser.error(f"{args.keyguard} not found; pass --keyguard")

    with tempfile.TemporaryDirectory(prefix="keyguard-precommit-") as scratch:
        repo = Path(scratch, "repo")
        repo.mkdir()
        names = write_files(repo)
        command = [str(args.keyguard), "scan", *names]
        sizes = ", ".join(
            f"{name} ({len((repo / name).read_text().splitlines())} lines)" for name in names
        )
        print(f"files: {sizes}")
        print(f"command (cwd = a fresh git repository): {' '.join(command)}")

        check = subprocess.run(
            [*command, "--format", "json"], cwd=repo, capture_output=True, text=True, check=False
        )
        try:
            by_rule = json.loads(check.stdout)["summary"]["by_rule"]
        except (ValueError, KeyError):
            by_rule = {}
        print(f"sanity (same command with --format json): exit {check.returncode}, {by_rule}")
        if check.returncode != 1 or by_rule != {"KG102": 1}:
            print("WARNING: expected exit 1 and one KG102 finding for the planted test key")
            print(check.stdout[-2000:] + check.stderr)

        print(f"load average before timing: {os.getloadavg()[0]:.2f} ({cores()} cores)")
        rows = []
        envs = bytecode_envs(Path(scratch))
        for label, env in envs:
            rows.append((label, "", "", "", ""))
            for name, timed in (
                ("  keyguard scan (5 files)", command),
                (
                    '  python -c "import keyguard.cli"',
                    [sys.executable, "-c", "import keyguard.cli"],
                ),
                ('  python -c "pass"', [sys.executable, "-c", "pass"]),
            ):
                t = time_command(timed, repo, env, args.warmup, args.runs)
                rows.append(
                    (
                        name,
                        f"{statistics.median(t):.3f}",
                        f"{percentile(t, 0.9):.3f}",
                        f"{min(t):.3f}",
                        f"{max(t):.3f}",
                    )
                )
        print()
        print(f"Wall seconds, {args.runs} runs after {args.warmup} warm-up(s)")
        print()
        print(table(("command", "median", "p90", "min", "max"), rows))
        print(f"load average after timing: {os.getloadavg()[0]:.2f}")

        cached_env = envs[-1][1]
        scan_imports = importtime(["-m", "keyguard", "scan", *names], cached_env, cwd=repo)
        cli_imports = median_importtime(
            ["-c", "import keyguard.cli"], cached_env, args.import_repeat
        )

    print()
    print(
        f'Most expensive imports of "import keyguard.cli" '
        f"(bytecode cached, median of {args.import_repeat} runs, microseconds)"
    )
    print()
    top = sorted(cli_imports, key=lambda e: e.cumulative_us, reverse=True)[: args.top]
    print(
        table(
            ("module", "cumulative us", "self us"),
            [(e.module, e.cumulative_us, e.self_us) for e in top],
        )
    )
    print()
    print(f"By self time (the module's own code, children excluded), top {args.top}")
    print()
    top_self = sorted(cli_imports, key=lambda e: e.self_us, reverse=True)[: args.top]
    print(
        table(
            ("module", "self us", "cumulative us"),
            [(e.module, e.self_us, e.cumulative_us) for e in top_self],
        )
    )

    print()
    print(f"Imported by the scan on top of keyguard.cli (one run, top {args.top} cumulative)")
    print()
    before = {entry.module for entry in cli_imports}
    extra = sorted(
        (e for e in scan_imports if e.module not in before),
        key=lambda e: e.cumulative_us,
        reverse=True,
    )[: args.top]
    print(
        table(
            ("module", "cumulative us", "self us"),
            [(e.module, e.cumulative_us, e.self_us) for e in extra],
        )
    )

    print()
    print("Heavy packages imported by `python -X importtime -m keyguard scan <5 files>`:")
    loaded = {entry.module for entry in scan_imports}
    total_us = sum(entry.self_us for entry in scan_imports)
    for package in HEAVY_PACKAGES:
        modules = [m for m in loaded if m == package or m.startswith(package + ".")]
        cost = sum(e.self_us for e in scan_imports if e.module in modules)
        verdict = f"YES ({len(modules)} modules, {cost / 1000:.1f} ms)" if modules else "no"
        print(f"  {package:9} {verdict}")
    print(f"  ({len(loaded)} modules imported in all, {total_us / 1000:.1f} ms of import time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
