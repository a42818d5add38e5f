"""Anchoring through the whole product: ``sealtrail contract deploy``, a real ``sealtrail serve``
anchoring every checkpoint on a real Ganache that mines a block a second, the checkpoint JSON
and /metrics, ``sealtrail audit --rpc``, and a chain that is down when the service starts."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sealtrail.anchoring.chain import connect
from sealtrail.anchoring.deployment import load_deployment

from ..api.client import Api, event, poll
from ..conftest import Provisioned, StartService
from ..service import SEALTRAIL, cli, env_for
from .conftest import ADDRESSES, CHAIN_ID, KEYS, Ganache, start_ganache

pytestmark = pytest.mark.ganache

K = 2


@pytest.fixture(scope="module")
def ticking_ganache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ganache]:
    """A Ganache that mines a block every second, as run.sh starts it (so confirmations come
    even when nobody sends transactions)."""
    g = start_ganache(tmp_path_factory.mktemp("ticking") / "ganache.log", "--miner.blockTime", "1")
    try:
        yield g
    finally:
        g.stop()


@pytest.fixture
def data(provisioned: Provisioned, tmp_path: Path) -> Path:
    """A fresh copy of the provisioned data directory (tenants and keys, no service yet)."""
    copy = tmp_path / "data"
    shutil.copytree(provisioned.data_dir, copy)
    return copy


def key_file(tmp_path: Path, key: str) -> Path:
    path = tmp_path / "anchorer.key"
    path.write_text(key + "\n")
    path.chmod(0o600)
    return path


def deploy(data_dir: Path, url: str) -> dict[str, Any]:
    return cli(data_dir, "contract", "deploy", env=env_for(chain_rpc_url=url, chain_key=KEYS[0]))


def chain_settings(url: str, key_path: Path) -> dict[str, str]:
    return {
        "chain_rpc_url": url,
        "chain_key_file": str(key_path),
        "chain_confirmations": str(K),
        "chain_poll_interval": "0.2",
    }


def metric(api: Api, name: str) -> float:
    for line in api.get("/metrics").body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def failed_audit(data: Path, *args: str) -> list[dict[str, str]]:
    """Run ``sealtrail audit [args] --json``, expect exit 1, return the problems it names."""
    r = subprocess.run(
        [SEALTRAIL, "--data-dir", str(data), "audit", *args, "--json"],
        capture_output=True,
        text=True,
        env=env_for(),
        timeout=60,
    )
    assert r.returncode == 1, r.stderr
    problems: list[dict[str, str]] = json.loads(r.stdout)["problems"]
    return problems


def final_anchor(api: Api, size: int, timeout: float = 40) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        got = api.get(f"/v1/checkpoints/{size}", "aud_hq")
        anchor: dict[str, Any] = got.json()["anchor"]
        return anchor if anchor["status"] == "final" else None

    return poll(check, timeout, f"checkpoint {size} anchored final")


def test_deploy_then_serve_anchors_every_checkpoint_to_final(
    ticking_ganache: Ganache, start_service: StartService, data: Path, tmp_path: Path
) -> None:
    g = ticking_ganache

    deployed = deploy(data, g.url)
    origin = cli(data, "init")["origin"]
    assert deployed["deployed"] is True
    assert deployed["chain_id"] == CHAIN_ID
    assert deployed["log_id"] == "0x" + hashlib.sha256(origin.encode()).hexdigest()
    assert deployed["owner"] == ADDRESSES[0]
    assert deployed["anchorers"] == [ADDRESSES[0]]
    remembered = load_deployment(data)
    assert remembered is not None
    assert remembered.contract == deployed["address"]
    again = deploy(data, g.url)  # once: the remembered contract is kept
    assert again["deployed"] is False
    assert again["address"] == deployed["address"]

    api = Api(start_service(data_dir=data, **chain_settings(g.url, key_file(tmp_path, KEYS[0]))))
    for i in range(3):
        api.append(event(i))
    first = api.wait_for_checkpoint(3, timeout=10)
    anchor = final_anchor(api, first["size"])
    assert anchor["chain_id"] == CHAIN_ID
    assert anchor["contract"] == deployed["address"]
    assert anchor["confirmations"] >= K
    assert anchor["required_confirmations"] == K
    assert anchor["last_error"] is None

    # What the service says, a chain node says too (read-only client, no key).
    reader = connect(g.url, None, CHAIN_ID, contract_address=deployed["address"])
    root = bytes.fromhex(first["root"])
    record = reader.lookup(bytes.fromhex(deployed["log_id"][2:]), root)
    assert record is not None
    assert (record.tree_size, record.block_number) == (first["size"], anchor["block_number"])
    receipt = reader.receipt(bytes.fromhex(anchor["tx_hash"][2:]))
    assert receipt is not None
    assert "0x" + receipt.block_hash.hex() == anchor["block_hash"]
    assert receipt.log_index == anchor["log_index"]

    # An online backup now (docs/OPERATIONS.md): restored later, it lacks what follows.
    backup = tmp_path / "backup.db"
    with sqlite3.connect(data / "ledger.db") as live, sqlite3.connect(backup) as copy:
        live.backup(copy)

    for i in range(3, 5):
        api.append(event(i))
    second = api.wait_for_checkpoint(5, timeout=10)
    final_anchor(api, second["size"])
    assert metric(api, "sealtrail_anchored_size") >= second["size"]
    assert metric(api, "sealtrail_anchor_gas_used_total") > 100_000  # two anchors
    assert metric(api, "sealtrail_anchor_insufficient_funds") == 0
    poll(lambda: metric(api, "sealtrail_anchors_pending") == 0 or None, 10, "no anchor pending")
    assert KEYS[0][2:] not in api.svc.log()  # the key is never logged
    assert api.svc.stop() == 0

    out = cli(data, "audit", "--rpc", g.url)
    assert out["ok"] is True
    assert out["anchors"]["checked"] is True
    assert out["anchors"]["final"] >= 2
    assert out["anchors"]["chain_latest_size"] == second["size"]

    # Restoring the older backup: `audit --rpc` proves the restore incomplete against the chain.
    restored = tmp_path / "restored"
    shutil.copytree(data, restored, ignore=shutil.ignore_patterns("ledger.db*", "ganache"))
    shutil.copy(backup, restored / "ledger.db")
    assert cli(restored, "audit")["ok"] is True  # offline, the older log is self-consistent
    problems = failed_audit(restored, "--rpc", g.url)
    assert [p["code"] for p in problems] == ["log_behind_chain"]
    assert f"anchor of size {second['size']}" in problems[0]["message"]

    # A stored anchor the chain does not back is a finding (exit 1), named.
    with sqlite3.connect(data / "ledger.db") as db:
        db.execute(
            "UPDATE anchors SET block_hash = ? WHERE size = ?", (b"\x11" * 32, first["size"])
        )
    problems = failed_audit(data, "--rpc", g.url)
    assert [p["code"] for p in problems] == ["anchor_not_on_chain"]
    assert f"checkpoint {first['size']}" in problems[0]["message"]

    # Offline too: a stored anchor naming another root is found without any node.
    with sqlite3.connect(data / "ledger.db") as db:
        db.execute("UPDATE anchors SET root = ? WHERE size = ?", (b"\x22" * 32, second["size"]))
    problems = failed_audit(data)
    assert [p["code"] for p in problems] == ["anchor_mismatch"]
    assert f"checkpoint {second['size']}" in problems[0]["message"]


def test_chain_down_at_start_is_retried_until_it_comes_back(
    start_service: StartService, data: Path, tmp_path: Path
) -> None:
    g = start_ganache(
        tmp_path / "g1.log", "--miner.blockTime", "1", "--database.dbPath", str(tmp_path / "db")
    )
    port = g.port
    try:
        deploy(data, g.url)
        g.stop()  # the node is down when the service starts

        api = Api(
            start_service(data_dir=data, **chain_settings(g.url, key_file(tmp_path, KEYS[0])))
        )
        api.append(event(0))
        cp = api.wait_for_checkpoint(1, timeout=10)
        poll(
            lambda: (
                metric(api, 'sealtrail_anchor_failures_total{code="chain_unavailable"}') >= 1
                or None
            ),
            15,
            "a failed round counted",
        )
        anchor = api.get(f"/v1/checkpoints/{cp['size']}", "aud_hq").json()["anchor"]
        assert anchor["status"] == "pending"  # visibly waiting, never "anchored"
        # The gauges are refreshed at every sealing tick even while rounds back off.
        poll(lambda: metric(api, "sealtrail_anchors_pending") == 1 or None, 10, "1 pending")
        poll(lambda: metric(api, "sealtrail_anchor_lag_seconds") > 0 or None, 10, "lag > 0")

        g = start_ganache(
            tmp_path / "g2.log",
            "--miner.blockTime",
            "1",
            "--database.dbPath",
            str(tmp_path / "db"),
            port=port,
        )
        final_anchor(api, cp["size"], timeout=90)  # back-off is at most 60 s
    finally:
        g.stop()


def test_settings_that_cannot_anchor_stop_the_service_with_one_line(
    start_service: StartService,
) -> None:
    with pytest.raises(RuntimeError) as info:
        start_service(chain_rpc_url="http://127.0.0.1:9")  # no key
    assert "SEALTRAIL_CHAIN_KEY" in str(info.value)
    with pytest.raises(RuntimeError) as info:
        start_service(chain_rpc_url="http://127.0.0.1:9", chain_key=KEYS[1])  # no contract
    assert "sealtrail contract deploy" in str(info.value)
    assert KEYS[1][2:] not in str(info.value)


def test_contract_authorise_and_revoke_rotate_the_anchorer(data: Path, ganache: Ganache) -> None:
    deployed = deploy(data, ganache.url)
    owner = env_for(chain_rpc_url=ganache.url, chain_key=KEYS[0])
    reader = connect(ganache.url, None, CHAIN_ID, contract_address=deployed["address"])
    log_id = bytes.fromhex(deployed["log_id"][2:])
    assert not reader.is_anchorer(log_id, ADDRESSES[2])
    out = cli(data, "contract", "authorise", "--anchorer", ADDRESSES[2], env=owner)
    assert out["authorised"] is True
    assert reader.is_anchorer(log_id, ADDRESSES[2])
    out = cli(data, "contract", "revoke", "--anchorer", ADDRESSES[0], env=owner)
    assert out["authorised"] is False
    assert not reader.is_anchorer(log_id, ADDRESSES[0])
    # Only the owner may: the new anchorer's key is refused by the contract, in one line.
    r = subprocess.run(
        [SEALTRAIL, "--data-dir", str(data), "contract", "authorise", "--anchorer", ADDRESSES[1]],
        capture_output=True,
        text=True,
        env=env_for(chain_rpc_url=ganache.url, chain_key=KEYS[2]),
        timeout=60,
    )
    assert r.returncode != 0
    assert r.stderr.count("\n") == 1, r.stderr
    bad = subprocess.run(
        [SEALTRAIL, "--data-dir", str(data), "contract", "authorise", "--anchorer", "0x12"],
        capture_output=True,
        text=True,
        env=owner,
        timeout=60,
    )
    assert bad.returncode == 2, bad.stderr
    assert "not an address" in bad.stderr
