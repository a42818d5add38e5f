"""``sealtrail audit``'s progress line: on stderr when stderr is a terminal or ``--progress``
says so, never otherwise, and the report on stdout is the same either way."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
from pathlib import Path

import pytest

from sealtrail.api.cli.audit import ProgressMeter
from tests.unit.api.test_cli import SEALTRAIL, event, ok_json, run


@pytest.fixture
def data(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    ok_json(d, "init")
    ok_json(d, "tenants", "create", "acme", "--name", "Acme Ltd")
    lines = "\n".join(json.dumps(event(n, stream=f"contract:{n % 3}")) for n in range(40))
    ok_json(d, "append", "--tenant", "acme", stdin=lines)
    ok_json(d, "checkpoint")
    return d


def test_progress_only_when_asked_and_the_report_unchanged(data: Path) -> None:
    quiet = run(data, "audit", "--json")  # stderr is a pipe: no progress by default
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""
    forced = run(data, "audit", "--json", "--progress", "--page-size", "7")
    assert forced.returncode == 0, forced.stderr
    assert "audit events: 40/40 events" in forced.stderr
    assert "audit map: 40/40 events" in forced.stderr
    assert "ETA" in forced.stderr
    assert json.loads(forced.stdout) == json.loads(quiet.stdout)
    off = run(data, "audit", "--json", "--no-progress")
    assert off.stderr == ""
    assert json.loads(off.stdout) == json.loads(quiet.stdout)


def test_progress_by_default_on_a_terminal(data: Path) -> None:
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALTRAIL_")}
    try:
        r = subprocess.run(
            [SEALTRAIL, "--data-dir", str(data), "audit", "--json"],
            stdout=subprocess.PIPE,
            stderr=slave,
            env=env,
            timeout=60,
        )
        os.close(slave)
        slave = -1
        seen = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO once the terminal's other side is closed
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if slave != -1:
            os.close(slave)
        os.close(master)
    assert r.returncode == 0
    assert json.loads(r.stdout)["ok"] is True
    assert b"audit events: 40/40 events" in seen


def test_progress_meter_rate_eta_and_throttling() -> None:
    now = [0.0]
    out = io.StringIO()
    meter = ProgressMeter(out, interval=1.0, clock=lambda: now[0])
    meter("events", 0, 1000)
    now[0] = 0.5
    meter("events", 100, 1000)  # within the interval: not printed
    now[0] = 2.0
    meter("events", 500, 1000)
    now[0] = 2.1
    meter("events", 1000, 1000)  # the end of a phase is always printed
    meter("map", 10, 1000)
    meter.close()
    lines = out.getvalue().split("\n")
    assert len(lines) == 3
    assert lines[-1] == ""
    first = lines[0].split("\r")
    assert [s.split(" events,")[0] for s in first if s] == [
        "audit events: 0/1,000",
        "audit events: 500/1,000",
        "audit events: 1,000/1,000",
    ]
    assert "250/s, ETA 0m02s" in first[2]
    assert "100/s" not in out.getvalue()
    assert lines[1].strip().startswith("audit map: 10/1,000 events")


def test_progress_meter_silent_without_calls() -> None:
    out = io.StringIO()
    ProgressMeter(out).close()
    assert out.getvalue() == ""
