"""The anchoring contract as data: its compiled artifact, and the log id that names a log on chain.

Pure (no web3, no I/O beyond reading the packaged artifact), so that a verifier can use it alone.
The artifact is written by ``node contracts_sol/compile.js`` (contracts_sol/README.md) into both
``contracts_sol/build/`` and this package, byte for byte the same.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from sealtrail.core.errors import InvalidInputError

ARTIFACT_FILE = "SealtrailAnchor.json"


@dataclass(frozen=True)
class ContractArtifact:
    """The compiled SealtrailAnchor contract (contracts_sol/build/SealtrailAnchor.json)."""

    contract_name: str
    abi: tuple[dict[str, Any], ...]
    bytecode: bytes
    deployed_bytecode: bytes
    compiler_version: str
    source_sha256: str

    @classmethod
    def from_json(cls, text: str | bytes) -> ContractArtifact:
        """Parse an artifact file; raises :class:`InvalidInputError` if a field is missing."""
        try:
            obj = json.loads(text)
            return cls(
                contract_name=str(obj["contractName"]),
                abi=tuple(obj["abi"]),
                bytecode=bytes.fromhex(obj["bytecode"].removeprefix("0x")),
                deployed_bytecode=bytes.fromhex(obj["deployedBytecode"].removeprefix("0x")),
                compiler_version=str(obj["compiler"]["version"]),
                source_sha256=str(obj["sourceSha256"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise InvalidInputError(f"not a contract artifact: {e}") from e


@cache
def load_artifact() -> ContractArtifact:
    """The artifact shipped in this package (read once)."""
    text = resources.files("sealtrail.anchoring").joinpath(ARTIFACT_FILE).read_bytes()
    return ContractArtifact.from_json(text)


def log_id_for(origin: str) -> bytes:
    """The log id of the log whose checkpoints carry ``origin`` (docs/FORMAT.md §5).

    Log id = SHA-256 of the origin's UTF-8 bytes, 32 bytes (the contract's ``bytes32 logId``).
    Requires a non-empty origin without a newline, as a checkpoint's first line is.
    """
    if not isinstance(origin, str):
        raise TypeError(f"origin must be str, got {type(origin).__name__}")
    if not origin or "\n" in origin:
        raise InvalidInputError(f"origin must be one non-empty line, got {origin!r}")
    return hashlib.sha256(origin.encode("utf-8")).digest()
