"""The anchoring contract as data: its compiled artifacts, and the log id that names a log on
chain.

Pure (no web3, no I/O beyond reading the packaged artifacts), so that a verifier can use it
alone. The artifacts are written by ``node contracts_sol/compile.js`` (contracts_sol/README.md)
into both ``contracts_sol/build/`` and this package, byte for byte the same.

Two versions (docs/FORMAT.md §6.1): **1** ``SealtrailAnchor`` anchors (size, log root);
**2** ``SealtrailAnchorV2`` anchors (size, log root, map root). New deployments get
:data:`CURRENT_VERSION`; anchors made on version 1 stay readable and verifiable.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from sealtrail.core.errors import InvalidInputError

#: contract version → the artifact file shipped in this package
ARTIFACT_FILES = {1: "SealtrailAnchor.json", 2: "SealtrailAnchorV2.json"}
#: the version of the artifact file of version 1 (kept for callers that named it)
ARTIFACT_FILE = ARTIFACT_FILES[1]
#: the version new deployments get
CURRENT_VERSION = 2
#: keccak256 of each version's ``Anchored`` event signature (topic 0 of its logs)
ANCHORED_SIGNATURES = {
    1: "Anchored(bytes32,uint64,bytes32,address)",
    2: "Anchored(bytes32,uint64,bytes32,bytes32,address)",
}
ANCHORED_TOPICS = {
    1: bytes.fromhex("7196d6002b555d592bc808cc522b6e167501be1b6185fd206cd187b7330acf7a"),
    2: bytes.fromhex("a5a075337b25e826b34aaec08938fe05a4c35aca3e469eb0debb58759e5a0b5b"),
}
#: the map root a version-2 anchor gives for a checkpoint whose note has no map line
NO_MAP_ROOT = bytes(32)


@dataclass(frozen=True)
class ContractArtifact:
    """The compiled SealtrailAnchor contract (contracts_sol/build/SealtrailAnchor.json)."""

    contract_name: str
    abi: tuple[dict[str, Any], ...]
    bytecode: bytes
    deployed_bytecode: bytes
    compiler_version: str
    source_sha256: str
    #: the contract's version (1: log roots; 2: log roots and map roots)
    version: int = 1

    @classmethod
    def from_json(cls, text: str | bytes, version: int = 1) -> ContractArtifact:
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
                version=version,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise InvalidInputError(f"not a contract artifact: {e}") from e


@cache
def load_artifact(version: int = CURRENT_VERSION) -> ContractArtifact:
    """The artifact of contract ``version`` shipped in this package (read once)."""
    if version not in ARTIFACT_FILES:
        raise InvalidInputError(f"no anchoring contract version {version!r} (want 1 or 2)")
    name = ARTIFACT_FILES[version]
    text = resources.files("sealtrail.anchoring").joinpath(name).read_bytes()
    return ContractArtifact.from_json(text, version)


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
