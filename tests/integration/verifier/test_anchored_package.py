"""A package whose checkpoint is anchored on a real chain, end to end: ``sealtrail contract
deploy``, a real ``sealtrail serve`` anchoring on a Ganache that mines a block a second, the
export over HTTP, ``sealtrail verify --rpc`` (before and after the data directory is deleted),
a cross-check of the anchor with plain web3, and an altered receipt that the chain refutes."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web3 import HTTPProvider, Web3

from sealtrail.core.canonical import canonicalize_restricted
from sealtrail.verifier import layout

from ..api.client import Api, event, poll
from ..chain.conftest import CHAIN_ID, KEYS, Ganache, start_ganache
from ..conftest import Provisioned, StartService
from ..service import SEALTRAIL, cli, env_for

pytestmark = pytest.mark.ganache

K = 2
STREAM = "contract:anchored-1"


@pytest.fixture(scope="module")
def ticking_ganache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ganache]:
    """A Ganache that mines a block every second (confirmations come on their own)."""
    g = start_ganache(tmp_path_factory.mktemp("ticking") / "ganache.log", "--miner.blockTime", "1")
    try:
        yield g
    finally:
        g.stop()


def verify(pkg: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    """``sealtrail verify PKG ARGS --json``: exit status, report, stderr."""
    r = subprocess.run(
        [SEALTRAIL, "verify", str(pkg), *args, "--json"],
        capture_output=True, text=True, check=False, env=env_for(), timeout=120,
    )  # fmt: skip
    return r.returncode, json.loads(r.stdout), r.stderr


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["status"] for c in report["checks"]}


def test_anchored_package_verifies_on_chain_and_without_the_service(
    ticking_ganache: Ganache, start_service: StartService, provisioned: Provisioned, tmp_path: Path
) -> None:
    g = ticking_ganache
    data = tmp_path / "data"
    shutil.copytree(provisioned.data_dir, data)
    deployed = cli(data, "contract", "deploy", env=env_for(chain_rpc_url=g.url, chain_key=KEYS[0]))
    key_path = tmp_path / "anchorer.key"
    key_path.write_text(KEYS[0] + "\n")
    key_path.chmod(0o600)
    svc = start_service(
        data_dir=data,
        chain_rpc_url=g.url,
        chain_key_file=str(key_path),
        chain_confirmations=str(K),
        chain_poll_interval="0.2",
    )
    api = Api(svc)
    for i, etype in enumerate(("initiate", "approve", "sign")):
        api.append(event(i, stream=STREAM, etype=etype))
    size = api.wait_for_checkpoint(3, timeout=10)["size"]

    def final() -> dict[str, Any] | None:
        anchor: dict[str, Any] = api.get(f"/v1/checkpoints/{size}", "aud_hq").json()["anchor"]
        return anchor if anchor["status"] == "final" else None

    poll(final, 60, f"checkpoint {size} anchored final")

    # 1. The export over HTTP: the header is the body's hash; the export is an event.
    r = api.get(f"/v1/streams/{STREAM}/package", "aud_hq", params={"tenant": "sub1"})
    assert r.status == 200, r
    digest = hashlib.sha256(r.body).hexdigest()
    assert r.headers["X-Sealtrail-Package-SHA256"] == digest
    stream = api.get(f"/v1/streams/{STREAM}", "aud_hq", params={"tenant": "sub1"}).json()
    assert stream["events"][-1]["type"] == "export"
    assert stream["events"][-1]["attributes"]["package_sha256"] == digest
    pkg = tmp_path / "package.zip"
    pkg.write_bytes(r.body)
    files = layout.read_zip(r.body)
    manifest = json.loads(files[layout.MANIFEST])
    target = manifest["target"]["size"]
    assert manifest["target"]["reason"] == "latest checkpoint with a final anchor"
    receipt = json.loads(files[layout.anchor_name(target)])
    assert receipt["status"] == "final"
    assert receipt["chain_id"] == CHAIN_ID
    assert receipt["contract"] == deployed["address"]

    # 2. sealtrail verify --rpc, with the ledger key and the roots pinned.
    roots = tmp_path / "roots.pem"
    roots.write_bytes(files[layout.TSA_ROOTS] + (data / "service-seal" / "ca.pem").read_bytes())
    vkey = (data / "ledger.pub").read_text().strip()
    pinned = ("--trust-root", str(roots), "--ledger-key", vkey)
    code, report, err = verify(pkg, "--rpc", g.url, *pinned)
    assert code == 0, err + json.dumps(report, indent=1)
    st = statuses(report)
    assert st["anchors.receipts"] == st["anchors.chain"] == "passed", report
    assert "failed" not in st.values()
    assert report["package_sha256"] == digest

    # 3. The same anchor, looked up with plain web3: receipt, block, the Anchored log.
    w3 = Web3(HTTPProvider(g.url))
    tx = w3.eth.get_transaction_receipt(receipt["tx_hash"])
    assert tx["status"] == 1
    assert tx["blockNumber"] == receipt["block_number"]
    assert "0x" + bytes(tx["blockHash"]).hex() == receipt["block_hash"]
    (log,) = [lg for lg in tx["logs"] if lg["logIndex"] == receipt["log_index"]]
    assert log["address"] == Web3.to_checksum_address(receipt["contract"])
    # contract version 2 (what `contract deploy` deploys): the map root is anchored too
    assert receipt["contract_version"] == 2
    topic = Web3.keccak(text="Anchored(bytes32,uint64,bytes32,bytes32,address)")
    origin = vkey.split("+")[0]
    assert [bytes(t) for t in log["topics"]] == [
        bytes(topic),
        hashlib.sha256(origin.encode()).digest(),
        target.to_bytes(32, "big"),
    ]
    assert "0x" + bytes(log["topics"][1]).hex() == receipt["log_id"]
    assert bytes(log["data"])[:32].hex() == receipt["root"][2:]
    note = files[layout.note_name(target)].decode()
    map_line = [x for x in note.split("\n") if x.startswith("sealtrail-map/v1 ")]
    assert len(map_line) == 1
    map_root = base64.b64decode(map_line[0].split(" ")[1])
    assert bytes(log["data"])[32:64] == map_root
    assert receipt["map_root"] == "0x" + map_root.hex()
    assert st["anchors.map_root"] == "passed"
    assert receipt["root"][2:] == manifest["target"]["root"]
    block = w3.eth.get_block(receipt["block_number"])
    assert "0x" + bytes(block["hash"]).hex() == receipt["block_hash"]

    # 4. Without the service and its data directory: the package alone, and the chain.
    assert svc.stop() == 0
    shutil.rmtree(data)
    code, report, err = verify(pkg, "--rpc", g.url, *pinned)
    assert code == 0, err
    assert statuses(report)["anchors.chain"] == "passed"
    assert report["verdict"] == report["status"] == "passed"
    # without a node: nothing failed but the chain was not asked (exit 8), unless the caller's
    # policy is offline
    code, report, err = verify(pkg, *pinned)
    assert (code, report["verdict"]) == (8, "incomplete"), err
    assert err.strip() == "sealtrail: error: incomplete: not checked: anchors.chain"
    code, report, err = verify(pkg, "--offline", *pinned)
    assert (code, report["verdict"], report["status"]) == (0, "passed", "incomplete"), err
    # ... and with the key not pinned, --offline does not help
    code, report, err = verify(pkg, "--offline", "--trust-root", str(roots))
    assert (code, report["verdict"]) == (8, "incomplete"), err
    assert "trust.ledger_key" in err

    # 5. A receipt altered to another block (the manifest's hash rewritten to match): the
    # receipt still reads well, but the chain refutes it.
    name = layout.anchor_name(target)
    altered = {**receipt, "block_number": receipt["block_number"] + 1}
    files[name] = canonicalize_restricted(altered)
    manifest["files"][name] = hashlib.sha256(files[name]).hexdigest()
    files[layout.MANIFEST] = canonicalize_restricted(manifest)
    bad = tmp_path / "altered.zip"
    bad.write_bytes(layout.zip_bytes(files))
    code, report, err = verify(bad, "--rpc", g.url, *pinned)
    assert code == 1
    st = statuses(report)
    assert st["manifest.files"] == st["anchors.receipts"] == "passed"
    assert st["anchors.chain"] == "failed"
    check = next(c for c in report["checks"] if c["id"] == "anchors.chain")
    assert check["reason"] == "anchor_not_on_chain"
    assert f"receipt says {receipt['block_number'] + 1}" in check["detail"]
    assert name in check["detail"]
    assert err.startswith("sealtrail: error: anchors.chain failed:")
    assert zipfile.ZipFile(io.BytesIO(bad.read_bytes())).testzip() is None
