"""Smoke-run bench/bench_map.py with ``--quick``: it exits 0 and prints its tables.

Lives here until tests/test_bench_smoke.py (not this branch's file) takes ``bench_map.py`` into
its ``EXPECTED`` table with the headings below. No timing is asserted.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench" / "bench_map.py"

EXPECTED = [
    "## Verifiable map",
    "### Map build and update",
    "### Map proofs (median of N)",
    "### Map proof size",
    "### Map targets",
    "hashlib loop, same number of hashes (baseline)",
    "MemoryMap.from_items",
    "SQLite point read by primary key (baseline)",
    "every proof verified against root",
]


def test_quick_run_prints_its_tables(tmp_path: Path) -> None:
    args = [sys.executable, str(BENCH), "--quick", "--tmp-dir", str(tmp_path)]
    run = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    for heading in EXPECTED:
        assert heading in run.stdout, f"{heading!r} missing from:\n{run.stdout}"
    assert "| ---" in run.stdout
    assert ("PASS" in run.stdout) or ("MISS" in run.stdout)
