"""The service's lifecycle: graceful shutdown under load, scheduled sealing, sealing at start,
and refusing bad settings.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sealtrail import backend
from sealtrail.core.merkle import verify_consistency
from sealtrail.ledger.audit import audit

from ..service import SEALTRAIL, Service, cli, env_for, free_port
from .client import Api, assert_problem, check_checkpoint, event, poll, verifier_for

CONCURRENT = 200
TOTAL = 250


def _metric(api: Api, name: str) -> float:
    for line in api.get("/metrics").body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def _sealed_total(api: Api, want: int) -> None:
    """The sealed-checkpoints counter reaches ``want`` (it is bumped just after the
    checkpoint is stored, so poll) and stays there a moment later."""
    name = "sealtrail_checkpoints_sealed_total"
    poll(lambda: True if _metric(api, name) >= want else None, 5, f"{name} >= {want}")
    assert _metric(api, name) == want


def _body(i: int) -> dict[str, Any]:
    return event(i, cid=f"load-{i}", stream=f"contract:{i % 10}")


async def _appends_with_sigterm(svc: Service) -> dict[int, tuple[str, Any]]:
    """POST CONCURRENT events at once; when the first is acknowledged, SIGTERM the service
    and POST TOTAL - CONCURRENT more while it shuts down.

    Returns i -> ("ack", event) | ("http", (status, body)) | ("conn", error).
    """
    outcome: dict[int, tuple[str, Any]] = {}
    first_ack = asyncio.Event()
    headers = {"Authorization": f"Bearer {svc.keys['int_sub1']}"}
    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(i: int) -> None:
            try:
                async with session.post(
                    f"{svc.url}/v1/events", json=_body(i), headers=headers
                ) as r:
                    data = await r.read()
                    if r.status == 201:
                        outcome[i] = ("ack", json.loads(data))
                        first_ack.set()
                    else:
                        outcome[i] = ("http", (r.status, r.headers.get("Content-Type"), data))
            except (aiohttp.ClientError, ConnectionError) as e:
                outcome[i] = ("conn", repr(e))

        tasks = [asyncio.create_task(one(i)) for i in range(CONCURRENT)]
        await asyncio.wait_for(first_ack.wait(), 30)
        assert svc.proc is not None
        svc.proc.send_signal(signal.SIGTERM)
        # Late ones arrive while the service is shutting down.
        tasks += [asyncio.create_task(one(i)) for i in range(CONCURRENT, TOTAL)]
        await asyncio.gather(*tasks)
    return outcome


def test_sigterm_with_appends_in_flight_loses_no_acknowledged_event(start_service: Any) -> None:
    svc = start_service()
    outcome = asyncio.run(_appends_with_sigterm(svc))
    assert svc.proc is not None
    assert svc.proc.wait(60) == 0, svc.log()

    acked = {i: ev for i, (kind, ev) in outcome.items() if kind == "ack"}
    others = {i: o for i, o in outcome.items() if o[0] != "ack"}
    assert acked
    for i, (kind, detail) in others.items():
        # Not acknowledged: the connection was closed, or the service said "busy, retry".
        if kind == "http":
            status, ctype, _ = detail
            assert status == 503, (i, detail)
            assert ctype.startswith("application/problem+json"), (i, detail)

    # Offline: every acknowledged event is stored, at its index, with its hash; audit is clean.
    stores, signer = backend.open_store(svc.data_dir)
    store = stores.ledger
    try:
        report = audit(store, signer.verifier())
        assert report.ok, [p.to_json() for p in report.problems]
        size = store.size()
        for i, ev in acked.items():
            stored = store.event(ev["index"])
            assert stored is not None, i
            assert stored.leaf_hash.hex() == ev["leaf_hash"]
            assert stored.client_event_id == f"load-{i}"
        ids = [store.event(n).client_event_id for n in range(size)]  # type: ignore[union-attr]
        assert len(ids) == len(set(ids)), "an append was stored twice"
        assert set(ids) <= {f"load-{i}" for i in range(TOTAL)}
    finally:
        store.close()

    # Restarted on the same data: the events are served as acknowledged; the clients' retries
    # of everything else complete the set, each event exactly once.
    api = Api(start_service(data_dir=svc.data_dir))
    for ev in acked.values():
        assert api.get(f"/v1/events/{ev['index']}", "aud_hq").json() == ev
    for i in range(TOTAL):
        r = api.post("/v1/events", _body(i), key="int_sub1")
        if i in acked:  # a retry of an acknowledged append: the original
            assert r.status == 200, (i, r)
            assert r.json() == acked[i]
        else:  # 200 when it was committed but the answer was lost, 201 when it was not
            assert r.status in (200, 201), (i, r)
    events = api.all_events()
    assert sorted(e["client_event_id"] for e in events) == sorted(f"load-{i}" for i in range(TOTAL))
    assert [e["index"] for e in events] == list(range(TOTAL))
    cp = api.wait_for_checkpoint(TOTAL)
    check_checkpoint(cp, verifier_for(svc))


def test_interval_sealing_only_when_the_log_grew(start_service: Any) -> None:
    api = Api(start_service(checkpoint_interval="0.5", checkpoint_size="100000"))
    assert api.latest_checkpoint() is None
    api.append_batch([event(i) for i in range(3)])
    cp = poll(
        lambda: c if (c := api.latest_checkpoint()) and c["size"] == 3 else None,
        timeout=5,
        what="a checkpoint of the 3 events",
    )
    # The log does not grow: over four intervals, no other checkpoint is sealed.
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        assert api.latest_checkpoint() == cp
        time.sleep(0.1)
    _sealed_total(api, 1)
    # It grows again: a new checkpoint, consistent with the previous one.
    api.append(event(4))
    cp2 = api.wait_for_checkpoint(4, timeout=5)
    assert cp2["size"] == 4
    c = api.get("/v1/checkpoints/consistency", "aud_hq", params={"from": 3, "to": 4}).json()
    verify_consistency(
        3,
        4,
        bytes.fromhex(cp["root"]),
        bytes.fromhex(cp2["root"]),
        [bytes.fromhex(h) for h in c["proof"]],
    )
    _sealed_total(api, 2)


def test_size_trigger_seals_long_before_the_interval(start_service: Any) -> None:
    api = Api(start_service(checkpoint_interval="3600", checkpoint_size="50"))
    # The sealer's first tick comes within half a second of the start; let it pass on the
    # empty log, or it may seal the first events itself before the size trigger does.
    time.sleep(1.0)
    for i in range(49):
        api.append(event(i))
    assert api.latest_checkpoint() is None  # 49 < 50, and the hour has not passed
    for i in range(49, 60):
        api.append(event(i))
    cp = api.wait_for_checkpoint(50, timeout=5)
    assert 50 <= cp["size"] <= 60
    check_checkpoint(cp, verifier_for(api.svc))
    _sealed_total(api, 1)
    assert _metric(api, "sealtrail_unsealed_events") == 60 - cp["size"]


def test_unsealed_events_are_sealed_at_start(start_service: Any, tmp_path: Path) -> None:
    settings = {"checkpoint_interval": "3600", "checkpoint_size": "1000"}
    svc = start_service(**settings)
    api = Api(svc)
    api.append_batch([event(i) for i in range(5)])
    assert_problem(api.get("/v1/checkpoints/latest", "aud_hq"), 404)
    assert svc.stop() == 0
    # While it is down, two more events are appended with the CLI.
    lines = tmp_path / "more.jsonl"
    lines.write_text("\n".join(json.dumps(event(f"cli-{i}")) for i in range(2)) + "\n")
    cli(svc.data_dir, "append", "--tenant", "sub2", "--file", str(lines))

    api = Api(start_service(data_dir=svc.data_dir, **settings))
    cp = api.wait_for_checkpoint(7, timeout=5)
    assert cp["size"] == 7
    check_checkpoint(cp, verifier_for(svc))
    assert [e["tenant"] for e in api.all_events()] == ["sub1"] * 5 + ["sub2"] * 2


BAD_SETTINGS = [
    ({"listen": "nonsense"}, "SEALTRAIL_LISTEN"),
    ({"listen": "127.0.0.1:70000"}, "SEALTRAIL_LISTEN"),
    ({"checkpoint_size": "0"}, "SEALTRAIL_CHECKPOINT_SIZE"),
    ({"checkpoint_interval": "abc"}, "SEALTRAIL_CHECKPOINT_INTERVAL"),
    ({"checkpoint_interval": "nan"}, "SEALTRAIL_CHECKPOINT_INTERVAL"),
    ({"max_body_bytes": "10"}, "SEALTRAIL_MAX_BODY_BYTES"),
    ({"public_rate_limit": "0"}, "SEALTRAIL_PUBLIC_RATE_LIMIT"),
    ({"db_url": "mysql://db/x"}, "SEALTRAIL_DB_URL"),
    ({"db_url": "postgresql://"}, "SEALTRAIL_DB_URL"),
    ({"foo": "1"}, "SEALTRAIL_FOO"),
]


def _serve(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SEALTRAIL, "serve"], env=env, capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize(("settings", "name"), BAD_SETTINGS)
def test_bad_settings_refuse_to_start(
    provisioned: Any, tmp_path: Path, settings: dict[str, str], name: str
) -> None:
    good = {"data_dir": str(provisioned.data_dir), "listen": f"127.0.0.1:{free_port()}"}
    r = _serve(env_for(**{**good, **settings}))
    assert r.returncode != 0
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("sealtrail: error: ")
    assert name in lines[0]


def test_unknown_key_in_the_config_file_refuses_to_start(provisioned: Any, tmp_path: Path) -> None:
    config = tmp_path / "sealtrail.toml"
    config.write_text("checkpoint_interval = 1.0\ncheckpoint_sizes = 10\n")
    env = env_for(data_dir=str(provisioned.data_dir), config=str(config))
    r = _serve(env)
    assert r.returncode != 0
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert "checkpoint_sizes" in lines[0]


def test_address_in_use_is_a_one_line_error(provisioned: Any, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        data = tmp_path / "data"
        subprocess.run(["cp", "-a", str(provisioned.data_dir), str(data)], check=True)
        r = _serve(env_for(data_dir=str(data), listen=f"127.0.0.1:{port}"))
    assert r.returncode != 0
    # The service logs to stderr too; the failure itself must be one line, not a traceback.
    assert "Traceback" not in r.stderr, r.stderr
    assert r.stderr.splitlines()[-1].startswith("sealtrail: error: "), r.stderr
    assert str(port) in r.stderr.splitlines()[-1]
