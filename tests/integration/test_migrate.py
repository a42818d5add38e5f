"""``sealtrail migrate``: a ledger copied into another database, then proven identical.

Sources are real SQLite data directories filled through the real CLI (events, checkpoints,
tenants, keys, a seal that signed a PDF and was suspended). Targets: another SQLite file (the
whole registry, seals included), and MongoDB — the nx-27017 stand-in over a real socket, or a
real server when ``SEALTRAIL_TEST_MONGODB_URI`` is set (tests/mongo.py). The stand-in mis-stores
the first insert of a transaction (it also saves the command's readConcern as a document), which
the seal registry's inserts hit: the seal-registry copy into MongoDB runs on a real server only.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import event_obj
from tests.integration.service import SEALTRAIL, cli, env_for, start
from tests.mongo import mongodb_url, stand_in_lacks
from tests.unit.signing.pdfs import make_pdf

pytestmark = pytest.mark.slow


def run(data: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SEALTRAIL, "--data-dir", str(data), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env_for(**settings),
    )


def filled(tmp_path: Path, *, seals: bool) -> Path:
    """A data directory with tenants, keys, 25 events, two checkpoints (and a used seal)."""
    data = tmp_path / "data"
    cli(data, "init")
    cli(data, "tenants", "create", "hq", "--name", "Acme Group")
    cli(data, "tenants", "create", "sub1", "--parent", "hq")
    cli(data, "keys", "create", "--tenant", "sub1", "--role", "integrator")
    revoked = cli(data, "keys", "create", "--tenant", "hq", "--role", "auditor")
    cli(data, "keys", "revoke", revoked["id"])
    events = tmp_path / "events.jsonl"
    events.write_text(
        "\n".join(
            json.dumps(
                {
                    "stream": f"contract:{i % 3}",
                    "type": "sign",
                    "actor": {"id": "u-1"},
                    "client_event_id": f"m-{i}",
                }
            )
            for i in range(20)
        )
    )
    cli(data, "append", "--tenant", "sub1", "--file", str(events))
    cli(data, "checkpoint")
    if seals:
        made = cli(data, "seals", "create", "--tenant", "sub1", "--kind", "contract",
                   "--name", "Acme Shanghai")  # fmt: skip
        src, out = tmp_path / "in.pdf", tmp_path / "out.pdf"
        src.write_bytes(make_pdf(1))
        r = run(data, "sign", "--tenant", "sub1", "--seal", made["id"], str(src), "-o", str(out))
        assert r.returncode == 0, r.stderr
        cli(data, "seals", "suspend", made["id"], "--reason", "audit")
    more = tmp_path / "more.jsonl"
    more.write_text(json.dumps({"stream": "contract:x", "type": "view", "actor": {"id": "u-2"}}))
    cli(data, "append", "--tenant", "sub1", "--file", str(more))
    cli(data, "checkpoint")
    return data


def migrate(data: Path, to: str) -> subprocess.CompletedProcess[str]:
    return run(data, "migrate", "--to", to, "--json")


def test_sqlite_to_sqlite_copies_everything_and_verifies_it(tmp_path: Path) -> None:
    data = filled(tmp_path, seals=True)
    target = tmp_path / "copy.db"
    r = migrate(data, f"sqlite:///{target}")
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout)
    assert out["verified"] is True
    assert out["problems"] == []
    copied = out["copied"]
    assert copied["tenants"] == 2
    assert copied["api_keys"] == 2
    assert copied["checkpoints"] >= 2
    assert copied["seal_registry_rows"] >= 2  # the seal and its CA, the use …
    before = cli(data, "audit")
    moved = run(data, "audit", "--json", db_url=f"sqlite:///{target}")
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert json.loads(moved.stdout)["size"] == before["size"]
    # the verifiable map came along: every committed map root recomputed, none missing
    assert copied["map_nodes"] > 0
    assert json.loads(moved.stdout)["map_roots_checked"] == before["map_roots_checked"] >= 2
    listed = run(data, "seals", "list", "--tenant", "sub1", "--json", db_url=f"sqlite:///{target}")
    assert listed.returncode == 0, listed.stderr
    assert [s["status"] for s in json.loads(listed.stdout)["seals"]] == ["suspended"]


def test_a_target_that_is_not_empty_is_refused(tmp_path: Path) -> None:
    data = filled(tmp_path, seals=False)
    target = tmp_path / "copy.db"
    assert migrate(data, f"sqlite:///{target}").returncode == 0
    again = run(data, "migrate", "--to", f"sqlite:///{target}")
    assert again.returncode == 5
    assert again.stderr.count("\n") == 1
    assert "not empty" in again.stderr


def test_bad_target_url_and_a_running_service_are_refused(tmp_path: Path) -> None:
    data = filled(tmp_path, seals=False)
    bad = run(data, "migrate", "--to", "mysql://db/x")
    assert bad.returncode == 2
    assert "--to" in bad.stderr
    svc = start(data, tmp_path / "svc.log")
    try:
        busy = run(data, "migrate", "--to", f"sqlite:///{tmp_path / 'x.db'}")
        assert busy.returncode == 6, busy.stderr
        assert "stop every worker" in busy.stderr
    finally:
        assert svc.stop() == 0


def test_sqlite_to_mongodb_copies_the_ledger_and_the_service_runs_on_it(tmp_path: Path) -> None:
    data = filled(tmp_path, seals=False)
    with mongodb_url(tmp_path / "mongo") as url:
        r = migrate(data, url)
        assert r.returncode == 0, r.stdout + r.stderr
        out = json.loads(r.stdout)
        assert out["verified"] is True
        assert out["copied"]["events"] == 21
        moved = run(data, "audit", "--json", db_url=url)
        assert moved.returncode == 0, moved.stdout + moved.stderr
        assert json.loads(moved.stdout)["size"] == 21
        # the verifiable map came along: every committed map root recomputed, none missing
        before = cli(data, "audit")
        assert out["copied"]["map_nodes"] > 0
        assert json.loads(moved.stdout)["map_roots_checked"] == before["map_roots_checked"] >= 2
        # The service runs on the copy: the same checkpoint, and it takes new events.
        key = cli(data, "keys", "create", "--tenant", "sub1", "--role", "integrator",
                  env=env_for(db_url=url))["key"]  # fmt: skip
        svc = start(data, tmp_path / "svc.log", db_url=url)
        try:
            auth = {"Authorization": f"Bearer {key}"}
            latest = urllib.request.Request(f"{svc.url}/v1/checkpoints/latest", headers=auth)
            with urllib.request.urlopen(latest, timeout=10) as resp:
                assert json.loads(resp.read())["size"] == 21
            req = urllib.request.Request(
                f"{svc.url}/v1/events",
                data=json.dumps(event_obj("after-move")).encode(),
                method="POST",
                headers={**auth, "Content-Type": "application/json"},
            )
            with urllib.request.urlopen(req, timeout=30) as resp:
                assert json.loads(resp.read())["index"] == 21
        finally:
            assert svc.stop() == 0, svc.log()
        final = run(data, "audit", "--json", db_url=url)
        assert final.returncode == 0, final.stdout + final.stderr
        assert json.loads(final.stdout)["size"] == 22
        # a checkpoint sealed on MongoDB after the move continues the copied map
        sealed = cli(data, "checkpoint", env=env_for(db_url=url))
        assert sealed["size"] == 22
        again = run(data, "audit", "--json", db_url=url)
        assert again.returncode == 0, again.stdout + again.stderr
        assert json.loads(again.stdout)["map_roots_checked"] == before["map_roots_checked"] + 1


@stand_in_lacks("a correct first insert in a transaction (it also stores the readConcern)")
def test_sqlite_to_mongodb_copies_the_seal_registry(tmp_path: Path) -> None:
    data = filled(tmp_path, seals=True)
    with mongodb_url(tmp_path / "mongo") as url:
        r = migrate(data, url)
        assert r.returncode == 0, r.stdout + r.stderr
        assert json.loads(r.stdout)["verified"] is True
        listed = run(data, "seals", "list", "--tenant", "sub1", "--json", db_url=url)
        assert [s["status"] for s in json.loads(listed.stdout)["seals"]] == ["suspended"]
