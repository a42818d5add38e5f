"""Smoke-run every benchmark with ``--quick``: it exits 0 and prints its tables.

No timing is asserted here (the figures of a quick run mean nothing); bench/ says how to run the
real thing and docs/PERFORMANCE.md holds the figures.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"

EXPECTED = {
    "bench_append.py": [
        "## Durable appends",
        "### Appends per second (best of repetitions)",
        "### Append targets",
        "| path ",
        "raw SQLite (id, body)",
        "sequencer, concurrency",
        "ledger.append, batch",
    ],
    "bench_map.py": [
        "## Verifiable map",
        "### Map build and update",
        "### Map proofs (median of N)",
        "### Map proof size",
        "### Map targets",
        "hashlib loop, same number of hashes (baseline)",
        "MemoryMap.from_items",
        "SQLite point read by primary key (baseline)",
        "every proof verified against root",
    ],
    "bench_map_append.py": [
        "## Appends while sealing, with and without the map",
        "### Appends per second while sealing (median of rounds)",
        "### Map append targets",
        "map in a child process",
    ],
    "bench_merkle.py": [
        "## Merkle root",
        "### Merkle root timings",
        "### Merkle targets",
        "tight hashlib loop",
        "merkle.root (ours)",
        "pymerkle and merkle.root agree",
    ],
    "bench_packages.py": [
        "## Certification packages",
        "### Package build and verify (one stream of N events)",
        "### Package targets",
        "verify_package, 1,000 events, offline",
        "| 1,000 ",
    ],
    "bench_signing.py": [
        "## PDF sealing",
        "### Seals per second (sequential)",
        "### Validation time",
        "### Sealing targets",
        "pyHanko, no timestamp (B-B)",
        "sign_pdf B-T (ours)",
    ],
    "bench_pg.py": [
        "## PostgreSQL: appends and proofs",
        "### Single-worker appends per second on PostgreSQL (best of repetitions)",
        "### Proof latency on PostgreSQL",
        "### PostgreSQL targets",
        "raw PostgreSQL (id, body), 1 per commit",
        "ledger.append, batch 100",
        "synchronous_commit=on",
        "verified against the root: all OK.",
    ],
    "bench_proofs.py": [
        "## Proof generation",
        "### Proof latency",
        "### Proof targets",
        "SQLite point read by primary key (baseline)",
        "ledger.inclusion_proof(index, size)",
        "ledger.consistency_proof(old, size)",
        "all OK.",
    ],
    "bench_strictjson.py": [
        "## Strict JSON reader",
        "### Per event, best of rounds",
        "### Strict reader targets",
        "json.loads (baseline)",
        "strictjson.loads",
    ],
    "bench_validate.py": [
        "## Event validation",
        "### Per event, best of rounds",
        "### Validation targets",
        "parse_event_input",
        "stored: decode_event",
    ],
}


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_quick_run_prints_its_tables(script: str, tmp_path: Path) -> None:
    args = [sys.executable, str(BENCH / script), "--quick"]
    if script in ("bench_append.py", "bench_map.py", "bench_map_append.py"):
        args += ["--tmp-dir", str(tmp_path)]
    if script == "bench_proofs.py":
        args += ["--data-dir", str(tmp_path / "ledger")]
    run = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    for heading in EXPECTED[script]:
        assert heading in run.stdout, f"{heading!r} missing from:\n{run.stdout}"
    assert "| ---" in run.stdout
    assert ("PASS" in run.stdout) or ("MISS" in run.stdout)


def test_quick_http_run_prints_its_tables(tmp_path: Path) -> None:
    """bench_http.py starts a real service and a trivial aiohttp server and loads both."""
    args = [sys.executable, str(BENCH / "bench_http.py"), "--quick", "--tmp-dir", str(tmp_path)]
    run = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    for heading in [
        "## HTTP appends",
        "### Single appends (POST /v1/events)",
        "### Batches of 1,000 (POST /v1/events/batch)",
        "### HTTP targets",
        "shares the",  # the load generator shares the CPUs with the servers: said so
        "| service | 64 ",
        "| trivial | 64 ",
        "single appends/s, concurrency 64",
        "events stored by the service:",
    ]:
        assert heading in run.stdout, f"{heading!r} missing from:\n{run.stdout}"
    assert "| ---" in run.stdout
    assert ("PASS" in run.stdout) or ("MISS" in run.stdout)


def test_quick_wrk_run_checks_stored_against_acknowledged(tmp_path: Path) -> None:
    """bench_wrk.py drives a real service with wrk and checks the log against the 2xx answers."""
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (Debian: apt-get install wrk)")
    args = [sys.executable, str(BENCH / "bench_wrk.py"), "--quick", "--tmp-dir", str(tmp_path)]
    run = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    for heading in [
        "## HTTP appends under wrk",
        "### Single appends under wrk (POST /v1/events)",
        "### Batches under wrk (POST /v1/events/batch)",
        "### Stored versus acknowledged",
        "### wrk targets (issue 20)",
        "| service | 64 ",
        "| trivial | 64 ",
        "service CPU per event, batches of 100, c = 1",
        "log size reported by each service equal to the rows of its file: yes",
    ]:
        assert heading in run.stdout, f"{heading!r} missing from:\n{run.stdout}"
    checks = run.stdout.split("### Stored versus acknowledged", 1)[1].split("###", 1)[0]
    assert checks.count("| OK ") == 7, checks
    assert "FAILED" not in checks, checks
    assert ("PASS" in run.stdout) or ("MISS" in run.stdout)


def test_quick_workers_run_prints_its_tables(tmp_path: Path) -> None:
    """bench_workers.py starts 1, 2 and 4 services on one data dir and checks each log."""
    args = [sys.executable, str(BENCH / "bench_workers.py"), "--quick", "--tmp-dir", str(tmp_path)]
    run = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    for heading in [
        "## Several workers on one SQLite database",
        "### Single appends over N workers (POST /v1/events, round-robin)",
        "### Single-append latency by path",
        "### Batches of 100 over N workers (POST /v1/events/batch, round-robin)",
        "### Log checks after each N",
        "shares the",  # the load generator shares the CPUs with the workers: said so
        "| 1       | ",
        "| 4       | ",
        "equal, dense, audit OK",
    ]:
        assert heading in run.stdout, f"{heading!r} missing from:\n{run.stdout}"
    assert "| ---" in run.stdout


def test_quick_workers_run_on_postgresql(tmp_path: Path) -> None:
    """``--backend postgresql``: a throwaway cluster, a fresh database per N (a reused one would
    fail the log check: its size would not equal the appends acknowledged), checks passed."""
    from tests.pg import require_pg_bin

    require_pg_bin()
    args = [
        sys.executable,
        str(BENCH / "bench_workers.py"),
        "--quick",
        "--no-batches",
        "--backend",
        "postgresql",
        "--tmp-dir",
        str(tmp_path),
    ]
    run = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    for heading in [
        "## Several workers on one PostgreSQL database",
        "synchronous_commit=on, fsync=on",
        "one fresh PostgreSQL database per N",
        "### Single appends over N workers (POST /v1/events, round-robin)",
        "### Log checks after each N",
        "| 4       | ",
    ]:
        assert heading in run.stdout, f"{heading!r} missing from:\n{run.stdout}"
    assert run.stdout.count("equal, dense, audit OK") == 3, run.stdout
    assert "SQLite database" not in run.stdout


def test_workers_checks_read_postgresql_and_catch_a_wrong_log(
    pg_db_url: str, tmp_path: Path
) -> None:
    """bench_workers' after-run checks on PostgreSQL: the CLI provisions the database of the URL,
    the raw reads (log end, queue, lease) go to it, and a log that disagrees with the
    acknowledgements (swapped indices, an ack the log lacks, an event never acked) fails."""
    sys.path.insert(0, str(BENCH))
    import _common as c
    import bench_workers as bw

    from sealtrail import backend
    from sealtrail.core.event import parse_event_input
    from sealtrail.ledger.log import Ledger

    key = bw.provision(tmp_path / "data", pg_db_url)
    assert key
    assert not (tmp_path / "data" / "ledger.db").exists()  # nothing went to SQLite
    stores, signer = backend.open_store(tmp_path / "data", db_url=pg_db_url)
    ledger = Ledger(stores.ledger, signer)
    try:
        ledger.append(c.TENANT, [parse_event_input(c.sample_event(i)) for i in range(3)])
    finally:
        ledger.close_sync()
    assert (bw.log_end(pg_db_url), bw.queue_rows(pg_db_url)) == (3, 0)
    assert bw.commits_in(pg_db_url, 0, 3) == 1
    assert bw.read_lease(pg_db_url) is None

    cluster = bw.Cluster(tmp_path, [], key, pg_db_url)
    cluster.acked = {"erp-0": 0, "erp-1": 1, "erp-2": 2}
    assert cluster.check_log() == (3, [])
    for acked in (
        {"erp-0": 0, "erp-1": 2, "erp-2": 1},  # swapped
        {"erp-0": 0, "erp-1": 1},  # erp-2 in the log, never acknowledged
        {"erp-0": 0, "erp-1": 1, "erp-2": 2, "erp-3": 3},  # acknowledged, not in the log
    ):
        cluster.acked = acked
        size, problems = cluster.check_log()
        assert size == 3
        assert problems, acked


def test_quick_anchoring_run_prints_its_tables(tmp_path: Path) -> None:
    """bench_anchoring.py starts two Ganache chains (node_modules) and the development TSA."""
    cli = BENCH.parent / "node_modules" / "ganache" / "dist" / "node" / "cli.js"
    if not cli.exists() or shutil.which("node") is None:
        pytest.skip("Ganache is not installed: run `npm ci` at the repo root")
    args = [
        sys.executable,
        str(BENCH / "bench_anchoring.py"),
        "--quick",
        "--tmp-dir",
        str(tmp_path),
    ]
    run = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    for heading in [
        "## Anchoring and trusted time",
        "### Gas per anchor and per event (Ganache, instamine)",
        "### Append to final anchor (Ganache, --miner.blockTime 1)",
        "### Checkpoints sealed faster than blocks (k = 1)",
        "### Timestamp round trip (development TSA, local HTTP)",
        "| plain ETH transfer (baseline) ",
        "| first anchor of a log ",
        "| later anchor ",
        "TimestampClient.timestamp, a session per call",
        "every token verified: 40/40",
    ]:
        assert heading in run.stdout, f"{heading!r} missing from:\n{run.stdout}"
    assert "| ---" in run.stdout
