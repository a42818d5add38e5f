"""File modes in the data directory (issue 15, item 6), checked by stat on what the real CLI and
a real running service create: the directory 0700; the database, its -wal/-shm files and every
private key 0600; public files may stay readable. A data directory left open by an older
Sealtrail is tightened when opened, and the log says so."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from typing import Any

from .service import SEALTRAIL, cli, env_for


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_init_creates_private_files_even_under_a_permissive_umask(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = env_for()
    r = subprocess.run(
        ["sh", "-c", f"umask 000 && exec {SEALTRAIL} --data-dir {data} init --json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert _mode(data) == 0o700
    assert _mode(data / "ledger.db") == 0o600
    assert _mode(data / "ledger.key") == 0o600


def test_a_running_service_keeps_database_wal_shm_and_keys_private(start_service: Any) -> None:
    svc = start_service()
    data: Path = svc.data_dir
    # the dev TSA and WAL files exist once the service runs
    assert (data / "devtsa" / "tsa.key").exists()
    wal = data / "ledger.db-wal"
    shm = data / "ledger.db-shm"
    assert wal.exists()
    assert shm.exists()
    assert _mode(data) == 0o700
    for private in (data / "ledger.db", wal, shm, data / "ledger.key"):
        assert _mode(private) == 0o600, private
    assert _mode(data / "devtsa") == 0o700
    for key in (data / "devtsa").glob("*.key"):
        assert _mode(key) == 0o600, key
    # every key file anywhere in the data dir (seal master key, service seal, …) is private
    for key in data.rglob("*.key"):
        assert _mode(key) & 0o077 == 0, key
    # public files may stay readable by others, but never writable by them
    for public in [data / "ledger.pub", *(data / "devtsa").glob("*.pem")]:
        assert _mode(public) & 0o022 == 0, public


def test_an_old_open_data_dir_is_tightened_on_open_and_logged(tmp_path: Path) -> None:
    data = tmp_path / "data"
    cli(data, "init")
    cli(data, "tenants", "create", "acme")
    # as Sealtrail before this change (and `mkdir -p` in scripts) left them
    os.chmod(data, 0o755)
    os.chmod(data / "ledger.db", 0o644)
    r = subprocess.run(
        [SEALTRAIL, "--data-dir", str(data), "tenants", "list", "--json"],
        capture_output=True,
        text=True,
        env=env_for(),
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert _mode(data) == 0o700
    assert _mode(data / "ledger.db") == 0o600
    assert "tightened to 0700" in r.stderr
    assert "ledger.db was mode 644" in r.stderr
    assert "tightened to 0600" in r.stderr
    # once tight, nothing more is said
    again = subprocess.run(
        [SEALTRAIL, "--data-dir", str(data), "tenants", "list", "--json"],
        capture_output=True,
        text=True,
        env=env_for(),
        timeout=60,
    )
    assert again.returncode == 0
    assert "tightened" not in again.stderr


def test_a_readable_checkpoint_key_is_still_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    cli(data, "init")
    os.chmod(data / "ledger.key", 0o644)
    r = subprocess.run(
        [SEALTRAIL, "--data-dir", str(data), "audit"],
        capture_output=True,
        text=True,
        env=env_for(),
        timeout=60,
    )
    assert r.returncode == 2
    assert "readable by others" in r.stderr
    assert "chmod 600" in r.stderr
