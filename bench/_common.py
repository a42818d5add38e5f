"""Shared pieces of the benchmarks: sample events, fresh ledgers, timing, tables.

Benchmarks never assert timings. Every figure is printed next to a baseline measured in the same
run, because the machines these run on are small and noisy: only ratios travel.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sealtrail import backend
from sealtrail.backend import Stores, sqlite_stores
from sealtrail.ledger.log import Ledger
from sealtrail.ledger.sqlite_store import SQLiteLedgerStore

TENANT = "acme"
EVENTS_PER_STREAM = 5
_TYPES = ("initiate", "approve", "sign", "view", "download")


def sample_event(i: int) -> dict[str, Any]:
    """Integrator event number ``i``, shaped like docs/FORMAT.md's example (~530 stored bytes).

    Five events per contract stream (initiate, approve, sign, view, download), so one event in
    five opens a new stream; every event has its own document hash and client event id.
    """
    return {
        "stream": f"contract:{i // EVENTS_PER_STREAM}",
        "type": _TYPES[i % EVENTS_PER_STREAM],
        "actor": {"id": "u-42", "name": "Li Lei", "org": "Acme Ltd", "role": "legal-person"},
        "documents": [
            {"name": "c.pdf", "sha256": hashlib.sha256(i.to_bytes(8, "big")).hexdigest()}
        ],
        "occurred_at": "2026-11-24T10:00:00Z",
        "client_event_id": f"erp-{i}",
        "attributes": {"ip": "203.0.113.7", "seal_id": "seal-1"},
    }


def stores_of(ledger: Ledger) -> Stores:
    """Every domain's store on the SQLite database of ``ledger`` (its store's shared handle)."""
    store = ledger.store
    assert isinstance(store, SQLiteLedgerStore)
    return sqlite_stores(store.db)


def make_ledger(root: Path, name: str) -> Ledger:
    """A new, empty ledger in ``root/name`` (``init`` then ``open_store``), with the callbacks'
    outbox hooked on its commits as the service has it (no subscription: the hot path's cost)."""
    from sealtrail.webhooks.outbox import install

    data_dir = root / name
    backend.init(data_dir)
    store, signer = backend.open_store(data_dir)
    ledger = Ledger(store.ledger, signer)
    install(ledger.writer, store.webhooks)
    return ledger


def open_ledger(data_dir: Path) -> Ledger:
    """The ledger of an initialised data directory (created when missing)."""
    backend.init(data_dir)
    store, signer = backend.open_store(data_dir)
    return Ledger(store.ledger, signer)


def connect_durable(path: Path) -> sqlite3.Connection:
    """A plain SQLite connection with the ledger's durability: WAL, ``synchronous=FULL``."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = FULL")
    return con


@contextmanager
def scratch_dir(parent: str | None) -> Iterator[Path]:
    """A temporary directory under ``parent`` (the system temp dir when None), removed after."""
    with tempfile.TemporaryDirectory(prefix="sealtrail-bench-", dir=parent) as d:
        yield Path(d)


def arg_parser(description: str) -> argparse.ArgumentParser:
    """The options every benchmark takes."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run of a few seconds")
    return p


def rate(n: int, seconds: float) -> float:
    """Events per second."""
    return n / seconds if seconds > 0 else float("inf")


def median(values: Sequence[float]) -> float:
    """The median (of per-repetition figures)."""
    return statistics.median(values)


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of already sorted values (``0 < p <= 100``)."""
    k = max(0, min(len(sorted_values) - 1, -(-len(sorted_values) * p // 100) - 1))
    return sorted_values[int(k)]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Wall time of one call of ``fn`` in seconds, and its result."""
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def fmt_int(x: float) -> str:
    """12,345."""
    return f"{x:,.0f}"


def fmt_ratio(x: float) -> str:
    """0.42×."""
    return f"{x:.2f}×"


def fmt_us(seconds: float) -> str:
    """Microseconds, for latencies."""
    return f"{seconds * 1e6:,.1f} µs"


def verdict(ok: bool) -> str:
    """Target text (benchmarks report, they never assert)."""
    return "PASS" if ok else "MISS"


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print a Markdown table under a ``### title`` heading."""
    cells = [[str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print(f"\n### {title}\n")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("| " + " | ".join("-" * w for w in widths) + " |")
    for r in cells:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")
    sys.stdout.flush()


def load_average() -> str:
    """1-minute load average (other work on a 2-core machine shows up in every figure)."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "unknown"


def code_version() -> str:
    """The commit benchmarked, and whether the work tree differed from it."""
    repo = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    return out.stdout.strip()


def print_header(name: str, quick: bool, notes: Sequence[str] = ()) -> None:
    """Say what ran where: the machine, Python, SQLite, the time, quick or full."""
    print(f"## {name}{' (--quick: smoke sizes, figures not meaningful)' if quick else ''}\n")
    print(
        f"- {platform.platform()}, {os.cpu_count()} CPUs; Python {platform.python_version()}; "
        f"SQLite {sqlite3.sqlite_version}; {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}"
    )
    print(f"- code: {code_version()}; load average at start: {load_average()}")
    for n in notes:
        print(f"- {n}")
    sys.stdout.flush()


def print_footer() -> None:
    """The load at the end: a run that overlapped other work says so."""
    print(f"\nload average at the end: {load_average()}")
