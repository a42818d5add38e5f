"""``sealtrail serve`` on PostgreSQL, end to end: a real server the tests start (tests/pg.py), a
fresh database, the real CLI and service in subprocesses.

Tenants and keys are made by the CLI on the PostgreSQL URL; the service appends over HTTP, seals
checkpoints, gets them stamped by the built-in development TSA (RFC 3161 over HTTP), and exports
a contract's certification package; the service is then stopped and the package verified
offline by ``sealtrail verify`` (no database, no data directory), and the database audited by
``sealtrail audit``. What the service said it stored is read back from PostgreSQL itself, so a
service that silently fell back to a SQLite file would fail here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from standardwebhooks import Webhook

from sealtrail.sdk import Client
from sealtrail.verifier import layout
from tests.integration.api.client import Api, event, poll
from tests.integration.service import SEALTRAIL, cli, env_for, start
from tests.integration.webhooks.conftest import FAST
from tests.integration.webhooks.receiver import Receiver
from tests.integration.webhooks.test_webhooks import wait_acked
from tests.unit.signing.pdfs import make_pdf

pytestmark = pytest.mark.slow

STREAM = "contract:pg-2026-0001"
TYPES = ("initiate", "approve", "sign", "view", "download")


def _run(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SEALTRAIL, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300
    )


def _stamped(api: Api, size: int) -> dict[str, Any]:
    def get() -> dict[str, Any] | None:
        r = api.get(f"/v1/checkpoints/{size}", "aud_hq")
        if r.status != 200:
            return None
        cp: dict[str, Any] = r.json()
        return cp if cp["timestamp"]["status"] == "stamped" else None

    return poll(get, 60, f"checkpoint {size} stamped by the dev TSA")


def _count(url: str, table: str) -> int:
    with psycopg.connect(url, connect_timeout=10) as con:
        row = con.execute(f"SELECT count(*) FROM {table}").fetchone()  # type: ignore[arg-type]
        assert row is not None
        return int(row[0])


def test_serve_on_postgresql_appends_seals_stamps_exports_and_verifies_offline(
    pg_db_url: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    env = env_for(db_url=pg_db_url)
    cli(data, "init", env=env)
    cli(data, "tenants", "create", "hq", "--name", "Acme Group", env=env)
    cli(data, "tenants", "create", "sub1", "--parent", "hq", "--name", "Acme 上海", env=env)
    keys = {
        "int_sub1": cli(
            data, "keys", "create", "--tenant", "sub1", "--role", "integrator", env=env
        ),
        "aud_hq": cli(data, "keys", "create", "--tenant", "hq", "--role", "auditor", env=env),
    }
    assert not (data / "ledger.db").exists()  # the database is PostgreSQL, not a file here
    assert _count(pg_db_url, "tenants") == 2
    assert _count(pg_db_url, "api_keys") == 2

    svc = start(
        data,
        tmp_path / "service.log",
        db_url=pg_db_url,
        checkpoint_interval="0.5",
        checkpoint_size="50",
    )
    svc.keys = {name: str(k["key"]) for name, k in keys.items()}
    api = Api(svc)
    try:
        acked = [
            api.append(event(i, stream=STREAM, etype=t, cid=f"pg-{i}"), key="int_sub1")
            for i, t in enumerate(TYPES)
        ]
        assert [e["index"] for e in acked] == list(range(len(TYPES)))
        # an idempotent retry returns the original, never a second event
        again = api.post("/v1/events", event(0, stream=STREAM, etype="initiate", cid="pg-0"),
                         key="int_sub1")  # fmt: skip
        assert again.status in (200, 201), again
        assert again.json()["index"] == 0
        noise = api.append(event(9, stream="contract:other"), key="int_sub1")
        cp = api.wait_for_checkpoint(noise["index"] + 1, timeout=30)
        stamped = _stamped(api, cp["size"])
        assert stamped["timestamp"]["tsa"].endswith("/devtsa/")

        r = api.get(f"/v1/streams/{STREAM}/package", "aud_hq", params={"tenant": "sub1"})
        assert r.status == 200, r
        package = tmp_path / "package.zip"
        package.write_bytes(r.body)
        export_index = int(r.headers["X-Sealtrail-Export-Event"])
    finally:
        assert svc.stop() == 0, svc.log()

    # What the service acknowledged is in PostgreSQL: the events, the export event, a
    # checkpoint and its token (the timestamps table of anchoring's PostgreSQL store).
    assert _count(pg_db_url, "events") == export_index + 1 == len(TYPES) + 2
    assert _count(pg_db_url, "checkpoints") >= 1
    with psycopg.connect(pg_db_url, connect_timeout=10) as con:
        row = con.execute(
            "SELECT token IS NOT NULL, tsa FROM timestamps WHERE size = %s", (cp["size"],)
        ).fetchone()
    assert row is not None
    assert row[0] is True
    assert row[1].endswith("/devtsa/")

    audited = cli(data, "audit", env=env)
    assert audited["ok"] is True, audited
    assert audited["size"] == export_index + 1

    # Offline: the package alone, the pinned ledger key and the roots a notary pins (the dev
    # TSA's, and the service seal's that seals report.pdf); no database, no data directory.
    vkey = (data / "ledger.pub").read_text().strip()
    root = tmp_path / "roots.pem"
    root.write_bytes(
        (data / "devtsa" / "ca.pem").read_bytes() + (data / "service-seal" / "ca.pem").read_bytes()
    )
    shutil.rmtree(data)
    away = tmp_path / "elsewhere"
    away.mkdir()
    plain = env_for()
    base = ["verify", str(package), "--trust-root", str(root), "--ledger-key", vkey]
    # nothing failed; never anchored (no chain configured): incomplete, exit 8, anchors named
    r = _run(*base, "--json", env=plain, cwd=away)
    assert r.returncode == 8, r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert [c["id"] for c in report["checks"] if c["status"] == "failed"] == []
    not_checked = {c["id"] for c in report["checks"] if c["status"] == "not_checked"}
    assert not_checked == {"anchors.receipts", "anchors.chain"}, report
    assert report["coverage"]["events"] == len(TYPES)
    checks = {c["id"]: c for c in report["checks"]}
    assert checks["timestamps.tokens"]["status"] == "passed"
    assert checks["trust.ledger_key"]["status"] == "passed"
    # a policy that accepts no anchoring: every other claim checked and passed, exit 0
    r = _run(*base, "--accept", "anchors.", "--json", env=plain, cwd=away)
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["verdict"] == "passed"

    # A tampered copy of the package fails offline (the verifier reads what PostgreSQL served).
    files = layout.read_zip(package.read_bytes())
    files["streams.json"] = files["streams.json"].replace(b"sub1", b"sub2")
    bad = tmp_path / "bad.zip"
    bad.write_bytes(layout.zip_bytes(files))
    r = _run("verify", str(bad), "--trust-root", str(root), "--ledger-key", vkey,
             env=plain, cwd=away)  # fmt: skip
    assert r.returncode == 1, r.stdout + r.stderr


def test_audit_on_postgresql_finds_a_row_edited_behind_the_service(
    pg_db_url: str, tmp_path: Path
) -> None:
    """The operator edits PostgreSQL directly: ``sealtrail audit`` names the damage."""
    data = tmp_path / "data"
    env = env_for(db_url=pg_db_url)
    cli(data, "init", env=env)
    cli(data, "tenants", "create", "acme", env=env)
    events = tmp_path / "events.jsonl"
    events.write_text(
        "\n".join(
            json.dumps({"stream": "contract:1", "type": "sign", "actor": {"id": f"u-{i}"}})
            for i in range(6)
        )
    )
    cli(data, "append", "--tenant", "acme", "--file", str(events), env=env)
    cli(data, "checkpoint", env=env)
    assert cli(data, "audit", env=env)["ok"] is True
    with psycopg.connect(pg_db_url, connect_timeout=10) as con:
        edited = con.execute(
            "UPDATE events SET body = convert_to(replace(convert_from(body, 'UTF8'), "
            "'\"u-3\"', '\"u-9\"'), 'UTF8') WHERE idx = 3"
        )
        assert edited.rowcount == 1
    r = _run("--data-dir", str(data), "audit", "--json", env=env, cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    problems = json.loads(r.stdout)["problems"]
    codes = {(p["code"], p["index"]) for p in problems}
    assert {
        ("leaf_hash_mismatch", 3),
        ("chain_broken", 4),
        ("checkpoint_root_mismatch", None),
    } <= codes


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A callback receiver on a local port (tests/integration/webhooks/receiver.py)."""
    r = Receiver()
    try:
        yield r
    finally:
        r.close()


def test_seals_and_callbacks_on_postgresql(
    pg_db_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    """The seal registry (a seal made, used on a PDF, suspended) and callbacks (a subscription,
    a delivery queued in the append's transaction and delivered signed) on PostgreSQL."""
    data = tmp_path / "data"
    env = env_for(db_url=pg_db_url)
    cli(data, "init", env=env)
    cli(data, "tenants", "create", "acme", env=env)
    admin = cli(data, "keys", "create", "--tenant", "acme", "--role", "admin", env=env)
    key = cli(data, "keys", "create", "--tenant", "acme", "--role", "integrator", env=env)
    made = cli(data, "seals", "create", "--tenant", "acme", "--kind", "contract",
               "--name", "Acme 合同专用章", env=env)  # fmt: skip
    src, out = tmp_path / "in.pdf", tmp_path / "out.pdf"
    src.write_bytes(make_pdf(1))
    r = _run("--data-dir", str(data), "sign", "--tenant", "acme", "--seal", made["id"], str(src),
             "-o", str(out), env=env, cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    cli(data, "seals", "suspend", made["id"], "--reason", "audit", env=env)
    listed = cli(data, "seals", "list", "--tenant", "acme", env=env)
    assert [(s["id"], s["status"]) for s in listed["seals"]] == [(made["id"], "suspended")]
    assert _count(pg_db_url, "seal_uses") == 1

    svc = start(data, tmp_path / "service.log", db_url=pg_db_url, **FAST)
    try:
        c = Client(svc.url, str(admin["key"]))
        hook: dict[str, Any] = c.create_webhook(receiver.url, ["sign"])
        assert [h["id"] for h in c.webhooks()] == [hook["id"]]
        appended = Client(svc.url, str(key["key"])).append(event(1))
        (call,) = wait_acked(receiver, 1)
        Webhook(hook["secret"]).verify(call.body, call.headers)
        assert call.json()["data"]["event"]["index"] == appended["index"]
        log = list(c.webhook_deliveries(hook["id"]))
        assert [(d["status"], d["event_index"]) for d in log] == [("delivered", appended["index"])]
        # a rotated secret: the next callback is signed with both (the overlap)
        new = c.rotate_webhook_secret(hook["id"])["secret"]
        Client(svc.url, str(key["key"])).append(event(2))
        calls = wait_acked(receiver, 2)
        assert len(calls[1].headers["webhook-signature"].split(" ")) == 2
        Webhook(new).verify(calls[1].body, calls[1].headers)
        Webhook(hook["secret"]).verify(calls[1].body, calls[1].headers)
        # the seal's events reached the log through the outbox, which is empty now
        poll(lambda: True if _count(pg_db_url, "seal_outbox") == 0 else None, 30,
             "the seal outbox drained")  # fmt: skip
    finally:
        assert svc.stop() == 0, svc.log()
    with psycopg.connect(pg_db_url, connect_timeout=10) as con:
        row = con.execute(
            "SELECT secret, previous_secret FROM webhook WHERE id = %s", (hook["id"],)
        ).fetchone()
        types = [t for (t,) in con.execute("SELECT type FROM events ORDER BY idx")]
    assert row is not None
    assert row[0].startswith("enc1:")
    assert row[1].startswith("enc1:")
    assert hook["secret"] not in str(row)
    assert new not in str(row)
    assert types == ["seal:created", "seal-use:used", "seal:suspended", "sign", "sign"]
    audited = cli(data, "audit", env=env)
    assert audited["ok"] is True, audited
