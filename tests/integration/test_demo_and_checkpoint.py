"""``sealtrail demo`` never touches a ledger the user did not name, and ``sealtrail checkpoint``
(or a demo on a named ledger) under a running service stops with a clear line and exit code 9
before writing anything (issue 15, items 5 and 6) — the real CLI, real SQLite files, a real
service."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .service import SEALTRAIL, cli, env_for, start

EXIT_SERVICE_RUNNING = 9


def _run(cwd: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    env = env_for(**settings)
    env["TMPDIR"] = str(cwd / "tmp")
    (cwd / "tmp").mkdir(exist_ok=True)
    return subprocess.run(
        [SEALTRAIL, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=120
    )


def _snapshot(d: Path) -> dict[str, str]:
    return {
        str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(d.rglob("*"))
        if p.is_file()
    }


def _size(data: Path) -> int:
    return int(cli(data, "audit")["size"])


def test_demo_leaves_the_default_ledger_byte_identical(tmp_path: Path) -> None:
    data = tmp_path / "data"  # the README's default data dir, relative to the working dir
    cli(data, "init")
    cli(data, "tenants", "create", "acme")
    before = _snapshot(data)
    r = _run(tmp_path, "demo")
    assert r.returncode == 0, r.stderr
    assert _snapshot(data) == before
    # it says where it wrote, and that is a fresh temporary directory with an audited ledger
    written = Path(r.stdout.split(" in ", 1)[1].split(":\n", 1)[0])
    assert written.is_relative_to(tmp_path / "tmp")
    assert (written / "ledger.db").exists()
    assert f"temporary directory {written}" in r.stdout
    assert "OK: every event" in r.stdout


def test_demo_json_names_its_temporary_directory(tmp_path: Path) -> None:
    r = _run(tmp_path, "demo", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["temporary"] is True
    assert Path(out["data_dir"]).is_relative_to(tmp_path / "tmp")
    assert not (tmp_path / "data").exists()  # the default data dir was not even created
    assert out["audit"]["ok"] is True


def test_demo_while_the_service_runs_on_the_default_ledger(tmp_path: Path) -> None:
    data = tmp_path / "data"
    cli(data, "init")
    svc = start(data, tmp_path / "service.log")
    try:
        size = _size(data)
        r = _run(tmp_path, "demo")
        assert r.returncode == 0, r.stderr
        assert _size(data) == size
        tenants = [t["id"] for t in cli(data, "tenants", "list")["tenants"]]
        assert "demo" not in tenants
    finally:
        svc.stop()


@pytest.mark.parametrize("how", ["flag", "env", "config"])
def test_demo_writes_into_a_data_dir_named_explicitly(tmp_path: Path, how: str) -> None:
    named = tmp_path / "named"
    if how == "flag":
        r = _run(tmp_path, "--data-dir", str(named), "demo", "--json")
    elif how == "env":
        r = _run(tmp_path, "demo", "--json", data_dir=str(named))
    else:
        cfg = tmp_path / "sealtrail.toml"
        cfg.write_text(f'data_dir = "{named}"\n')
        r = _run(tmp_path, "--config", str(cfg), "demo", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["temporary"], out["data_dir"]) == (False, str(named))
    assert _size(named) == 6


def test_checkpoint_under_a_running_service_exits_9_with_one_clear_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    cli(data, "init")
    cli(data, "tenants", "create", "acme")
    svc = start(data, tmp_path / "service.log", checkpoint_interval="3600")
    try:
        before = _snapshot_checkpoints(data)
        r = _run(tmp_path, "--data-dir", str(data), "checkpoint")
        assert r.returncode == EXIT_SERVICE_RUNNING, r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1
        assert lines[0].startswith("sealtrail: error: a running service holds")
        assert "seals its checkpoints itself" in lines[0]
        assert "stop the service" in lines[0]
        rj = _run(tmp_path, "--data-dir", str(data), "checkpoint", "--json")
        assert rj.returncode == EXIT_SERVICE_RUNNING
        assert json.loads(rj.stdout)["error"]["code"] == "sequencer_held"
        assert _snapshot_checkpoints(data) == before
    finally:
        svc.stop()
    # with the service stopped, the same command seals
    r = _run(tmp_path, "--data-dir", str(data), "checkpoint")
    assert r.returncode == 0, r.stderr


def test_demo_on_a_named_ledger_a_service_runs_writes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    cli(data, "init")
    svc = start(data, tmp_path / "service.log")
    try:
        size = _size(data)
        r = _run(tmp_path, "--data-dir", str(data), "demo")
        assert r.returncode == EXIT_SERVICE_RUNNING, r.stderr
        assert "a running service holds" in r.stderr
        assert _size(data) == size
        assert "demo" not in [t["id"] for t in cli(data, "tenants", "list")["tenants"]]
    finally:
        svc.stop()


def _snapshot_checkpoints(data: Path) -> Any:
    return cli(data, "audit")["checkpoints"]


def test_readme_documents_every_exit_code() -> None:
    from sealtrail.api import error_codes

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    table = readme.split("Exit codes:", 1)[1].split("\n\n", 2)[1]
    documented = {
        int(row.split("|")[1]) for row in table.splitlines() if row[:3].strip("| ").isdigit()
    }
    used = {m.exit_code for m in error_codes.TABLE.values()} | {0}
    assert used <= documented, sorted(used - documented)
