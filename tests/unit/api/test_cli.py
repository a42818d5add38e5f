"""The ``sealtrail`` command line, run as a user runs it: the installed console script."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sealtrail.core import merkle
from sealtrail.core.note import NoteVerifier, verify_checkpoint
from tests.conftest import write_lock_held

SEALTRAIL = str(Path(sys.executable).with_name("sealtrail"))
DOC = "ab" * 32


def event(n: int, stream: str = "contract:1", **extra: object) -> dict[str, object]:
    e: dict[str, object] = {
        "stream": stream,
        "type": "sign",
        "actor": {"id": f"u-{n}", "name": "Li Lei", "org": "Acme Ltd", "role": "legal-person"},
        "documents": [{"name": "contract.pdf", "sha256": DOC}],
        "occurred_at": "2026-11-24T10:00:00Z",
        "client_event_id": f"erp-{n}",
        "attributes": {"ip": "203.0.113.7", "seal_id": "seal-1"},
    }
    e.update(extra)
    return e


def run(data: Path, *args: str, stdin: str | None = None, env: dict[str, str] | None = None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SEALTRAIL_")}
    full_env.update(env or {})
    return subprocess.run(
        [SEALTRAIL, "--data-dir", str(data), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
    )


def ok_json(data: Path, *args: str, stdin: str | None = None) -> dict:
    r = run(data, *args, "--json", stdin=stdin)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    out = ok_json(d, "init")
    assert out["created"] is True
    ok_json(d, "tenants", "create", "acme", "--name", "Acme Ltd")
    return d


def test_init_is_idempotent_and_key_is_private(data: Path) -> None:
    again = ok_json(data, "init")
    assert again["created"] is False
    assert (data / "ledger.key").stat().st_mode & 0o777 == 0o600
    NoteVerifier.from_vkey(again["verifier_key"])
    assert (data / "ledger.pub").read_text().strip() == again["verifier_key"]


def test_commands_refuse_an_uninitialised_data_dir(tmp_path: Path) -> None:
    r = run(tmp_path / "nothing", "audit")
    assert r.returncode == 3
    assert r.stderr.strip().startswith("sealtrail: error: no ledger in")
    assert len(r.stderr.strip().splitlines()) == 1


def test_append_one_object_prints_index_and_leaf_hash(data: Path) -> None:
    out = ok_json(data, "append", "--tenant", "acme", stdin=json.dumps(event(1)))
    (ev,) = out["events"]
    assert ev["index"] == 0
    assert ev["tenant"] == "acme"
    assert ev["prev"] is None
    assert ev["duplicate"] is False
    assert len(ev["salt"]) == 32
    assert len(bytes.fromhex(ev["leaf_hash"])) == 32


def test_append_json_lines_and_pretty_object(data: Path) -> None:
    lines = "\n".join(json.dumps(event(n)) for n in range(5)) + "\n\n"
    out = ok_json(data, "append", "--tenant", "acme", stdin=lines)
    assert [e["index"] for e in out["events"]] == [0, 1, 2, 3, 4]
    assert [e["prev"] for e in out["events"][1:]] == [e["leaf_hash"] for e in out["events"][:-1]]
    pretty = json.dumps(event(9), indent=2)
    out = ok_json(data, "append", "--tenant", "acme", stdin=pretty)
    assert out["events"][0]["index"] == 5


def test_append_retry_returns_original(data: Path) -> None:
    first = ok_json(data, "append", "--tenant", "acme", stdin=json.dumps(event(1)))
    again = ok_json(data, "append", "--tenant", "acme", stdin=json.dumps(event(1)))
    assert again["events"][0]["duplicate"] is True
    assert again["events"][0]["leaf_hash"] == first["events"][0]["leaf_hash"]
    r = run(data, "append", "--tenant", "acme", stdin=json.dumps(event(1, stream="other")))
    assert r.returncode == 5
    assert "erp-1" in r.stderr


def test_bad_line_in_json_lines_writes_nothing(data: Path) -> None:
    bad = dict(event(2))
    bad["documents"] = [{"name": "x.pdf", "sha256": "abc"}]
    lines = json.dumps(event(1)) + "\n" + json.dumps(bad) + "\n"
    r = run(data, "append", "--tenant", "acme", "--json", stdin=lines)
    assert r.returncode == 2
    err = json.loads(r.stdout)["error"]
    assert err["code"] == "invalid_event"
    assert err["message"].startswith("line 2: documents[0].sha256: want 64 hex digits")
    assert ok_json(data, "audit")["size"] == 0


@pytest.mark.parametrize(
    ("stdin", "needle"),
    [
        ('{"stream":"s","type":"sign","actor":{"id":"u"},"stream":"t"}', "duplicate object key"),
        ('{"stream":"s","type":"sign","actor":{"id":"u"},"attributes":{"n":NaN}}', "NaN"),
        (
            '{"stream":"s","type":"sign","actor":{"id":"u"},"attributes":{"n":9007199254740992}}',
            "beyond",
        ),
        ('{"stream":"s","type":"sign","actor":{"id":"u"},"extra":1}', "extra: unknown field"),
        ('{"stream":"s","type":"sign"}', "actor: is required"),
        ("", "no event on input"),
        ("[1, 2]", "want an object"),
    ],
)
def test_bad_input_is_one_line_exit_2(data: Path, stdin: str, needle: str) -> None:
    r = run(data, "append", "--tenant", "acme", stdin=stdin)
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_bad_tenant_is_rejected(data: Path) -> None:
    r = run(data, "append", "--tenant", "Not A Tenant", stdin=json.dumps(event(1)))
    assert r.returncode == 2
    assert "--tenant" in r.stderr
    r = run(data, "append", "--tenant", "nobody", stdin=json.dumps(event(1)))
    assert r.returncode == 4
    assert "sealtrail tenants create nobody" in r.stderr


def test_tenants_and_keys(data: Path) -> None:
    sub = ok_json(data, "tenants", "create", "acme-sh", "--parent", "acme")
    assert sub["parent"] == "acme"
    r = run(data, "tenants", "create", "acme")
    assert r.returncode == 5
    r = run(data, "tenants", "create", "orphan", "--parent", "nope")
    assert r.returncode == 4
    ids = [t["id"] for t in ok_json(data, "tenants", "list")["tenants"]]
    assert ids == ["acme", "acme-sh"]
    key = ok_json(data, "keys", "create", "--tenant", "acme", "--role", "auditor", "--label", "x")
    assert key["key"].startswith(f"stk_{key['id']}_")
    listed = ok_json(data, "keys", "list")["keys"]
    assert [k["id"] for k in listed] == [key["id"]]
    assert "key" not in listed[0]
    assert key["key"] not in (data / "ledger.db").read_bytes().decode("latin-1")
    revoked = ok_json(data, "keys", "revoke", key["id"])
    assert revoked["revoked_at"] is not None
    r = run(data, "keys", "create", "--tenant", "acme", "--role", "root")
    assert r.returncode == 2


def test_checkpoint_proofs_and_audit(data: Path) -> None:
    assert ok_json(data, "checkpoint")["new"] is False  # empty log
    lines = "\n".join(json.dumps(event(n, stream=f"c:{n % 3}")) for n in range(11))
    ok_json(data, "append", "--tenant", "acme", stdin=lines)
    first = ok_json(data, "checkpoint")
    assert first["new"] is True
    assert first["size"] == 11
    assert ok_json(data, "checkpoint")["new"] is False
    ok_json(data, "append", "--tenant", "acme", stdin=json.dumps(event(20)))
    second = ok_json(data, "checkpoint")
    assert second["size"] == 12

    verifier = NoteVerifier.from_vkey((data / "ledger.pub").read_text().strip())
    cp = verify_checkpoint(second["note"], verifier)
    assert cp.root.hex() == second["root"]

    for i in range(12):
        p = ok_json(data, "proof", "inclusion", "--index", str(i))
        assert p["size"] == 12
        assert p["checkpoint"] == second["note"]
        merkle.verify_inclusion(
            bytes.fromhex(p["leaf_hash"]), i, 12, [bytes.fromhex(h) for h in p["proof"]], cp.root
        )
    c = ok_json(data, "proof", "consistency", "--from", "11")
    merkle.verify_consistency(
        11, 12, bytes.fromhex(first["root"]), cp.root, [bytes.fromhex(h) for h in c["proof"]]
    )
    assert c["old_checkpoint"] == first["note"]

    report = ok_json(data, "audit")
    assert report["ok"] is True
    assert report["size"] == 12
    assert report["checkpoints"] == 2
    assert report["problems"] == []


def test_proof_errors(data: Path) -> None:
    r = run(data, "proof", "inclusion", "--index", "0")
    assert r.returncode == 4
    assert "no checkpoint" in r.stderr
    ok_json(data, "append", "--tenant", "acme", stdin=json.dumps(event(1)))
    r = run(data, "proof", "inclusion", "--index", "5", "--size", "1")
    assert r.returncode == 4
    r = run(data, "proof", "inclusion", "--index", "0", "--size", "7")
    assert r.returncode == 4
    assert "beyond the log size 1" in r.stderr
    r = run(data, "proof", "inclusion", "--index", "-1")
    assert r.returncode == 2


def test_audit_exit_status_follows_tampering(data: Path) -> None:
    lines = "\n".join(json.dumps(event(n)) for n in range(8))
    ok_json(data, "append", "--tenant", "acme", stdin=lines)
    ok_json(data, "checkpoint")
    assert run(data, "audit").returncode == 0
    con = sqlite3.connect(data / "ledger.db")
    body = con.execute("SELECT body FROM events WHERE idx = 3").fetchone()[0]
    tampered = body.replace(b'"Li Lei"', b'"Li Lie"')
    assert tampered != body
    con.execute("UPDATE events SET body = ? WHERE idx = 3", (tampered,))
    con.commit()
    con.close()
    r = run(data, "audit", "--json")
    assert r.returncode == 1
    report = json.loads(r.stdout)
    assert report["ok"] is False
    assert {"code": "leaf_hash_mismatch", "index": 3} in [
        {"code": p["code"], "index": p["index"]} for p in report["problems"]
    ]
    text = run(data, "audit")
    assert text.returncode == 1
    assert "FAILED" in text.stdout
    assert "event 3: stored leaf hash" in text.stdout


def test_busy_ledger_exits_6_and_writes_nothing(data: Path, tmp_path: Path) -> None:
    with write_lock_held(data / "ledger.db"):
        cfg = tmp_path / "fast.toml"
        cfg.write_text("busy_timeout = 0.3\n")
        start = time.monotonic()
        r = run(
            data, "--config", str(cfg), "append", "--tenant", "acme", stdin=json.dumps(event(1))
        )
        assert r.returncode == 6, r.stderr
        assert "busy" in r.stderr
        assert time.monotonic() - start < 30  # it gave up instead of waiting for the holder
    assert ok_json(data, "audit")["size"] == 0


def test_settings_errors(data: Path, tmp_path: Path) -> None:
    r = run(data, "audit", env={"SEALTRAIL_NO_SUCH_THING": "1"})
    assert r.returncode == 2
    assert "unknown environment variable SEALTRAIL_NO_SUCH_THING" in r.stderr
    cfg = tmp_path / "bad.toml"
    cfg.write_text('data_dirr = "x"\n')
    r = run(data, "--config", str(cfg), "audit")
    assert r.returncode == 2
    assert "unknown setting 'data_dirr'" in r.stderr
    r = run(data, "audit", env={"SEALTRAIL_BUSY_TIMEOUT": "soon"})
    assert r.returncode == 2


def test_data_dir_from_environment(tmp_path: Path) -> None:
    d = tmp_path / "envdata"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALTRAIL_")}
    env["SEALTRAIL_DATA_DIR"] = str(d)
    r = subprocess.run([SEALTRAIL, "init", "--json"], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["data_dir"] == str(d)
    assert (d / "ledger.db").exists()


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    out = ok_json(tmp_path / "demo", "demo")
    assert len(out["events"]) == 6
    assert out["audit"]["ok"] is True
    p = out["inclusion_proof"]
    merkle.verify_inclusion(
        bytes.fromhex(p["leaf_hash"]),
        p["index"],
        p["size"],
        [bytes.fromhex(h) for h in p["proof"]],
        bytes.fromhex(out["checkpoint"]["root"]),
    )


def test_help_lists_every_command() -> None:
    r = subprocess.run([SEALTRAIL, "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    for cmd in ("init", "append", "checkpoint", "proof", "audit", "demo"):
        assert cmd in r.stdout
