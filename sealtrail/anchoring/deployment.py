"""Where this ledger anchors: the deployed contract, remembered in the data directory.

``sealtrail contract deploy`` deploys SealtrailAnchor, authorises the anchorer for this ledger's
log id and writes ``DATA_DIR/chain.json`` (docs/FORMAT.md §6.1); ``sealtrail serve`` then anchors
there without further settings. ``chain_contract`` in the settings overrides the file.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sealtrail.anchoring.chain import ChainClient
from sealtrail.anchoring.contract import log_id_for
from sealtrail.core.errors import ConfigError

DEPLOYMENT_FILE = "chain.json"


@dataclass(frozen=True)
class Deployment:
    """A SealtrailAnchor contract this ledger anchors to."""

    chain_id: int
    contract: str
    log_id: bytes
    owner: str
    anchorers: tuple[str, ...]
    tx_hash: bytes
    block_number: int
    created_at: str

    def to_json(self) -> dict[str, Any]:
        """The JSON object of ``chain.json`` and of ``contract deploy --json``."""
        return {
            "address": self.contract,
            "chain_id": self.chain_id,
            "log_id": "0x" + self.log_id.hex(),
            "owner": self.owner,
            "anchorers": list(self.anchorers),
            "tx_hash": "0x" + self.tx_hash.hex(),
            "block_number": self.block_number,
            "created_at": self.created_at,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Deployment:
        """Parse :meth:`to_json`'s object; ``ValueError``/``KeyError``/``TypeError`` if bad."""
        return cls(
            chain_id=int(obj["chain_id"]),
            contract=str(obj["address"]),
            log_id=bytes.fromhex(str(obj["log_id"]).removeprefix("0x")),
            owner=str(obj["owner"]),
            anchorers=tuple(str(a) for a in obj["anchorers"]),
            tx_hash=bytes.fromhex(str(obj["tx_hash"]).removeprefix("0x")),
            block_number=int(obj["block_number"]),
            created_at=str(obj["created_at"]),
        )


def load_deployment(data_dir: Path) -> Deployment | None:
    """The remembered deployment, or None if there is none."""
    path = data_dir / DEPLOYMENT_FILE
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e}") from None
    try:
        return Deployment.from_json(json.loads(text))
    except (ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"{path} is not a deployment record: {e}") from None


def save_deployment(data_dir: Path, d: Deployment) -> None:
    """Write ``chain.json`` atomically (temporary file, fsync, rename)."""
    path = data_dir / DEPLOYMENT_FILE
    tmp = path.with_name(f"{path.name}.tmp-{secrets.token_hex(4)}")
    try:
        with open(tmp, "w") as f:
            json.dump(d.to_json(), f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fd = os.open(data_dir, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def deploy(client: ChainClient, origin: str, anchorers: list[str], created_at: str) -> Deployment:
    """Deploy a contract owned by ``client``'s account and authorise ``anchorers`` (default:
    that account) for the log ``origin``; waits until each transaction is mined."""
    log_id = log_id_for(origin)
    address = client.deploy()
    receipt = client.last_deploy_receipt
    who = anchorers or [client.address]
    for a in who:
        client.authorise(log_id, a)
    return Deployment(
        chain_id=client.chain_id,
        contract=address,
        log_id=log_id,
        owner=client.address,
        anchorers=tuple(who),
        tx_hash=receipt.tx_hash if receipt else b"",
        block_number=receipt.block_number if receipt else 0,
        created_at=created_at,
    )
