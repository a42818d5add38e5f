"""The verifiable map: keys, values, hashing, proofs and their verification (pure; no I/O).

Each checkpoint commits to a map derived from the log's first N events (docs/MAP.md): for each
(tenant, stream) the stream's head, for each document fingerprint the events naming it. The map
is a binary sparse Merkle tree over 256-bit *key hashes* in which a key sits at the shallowest
depth (at least 1) where it is alone in its subtree (the single-leaf shortcut of the Diem/Aptos
Jellyfish Merkle tree), so proofs hold about log2(n) + 1 siblings rather than 256.

This module is everything a verifier needs; building and proving live in
:mod:`sealtrail.core.vmap_tree`, deriving the map from events in :mod:`sealtrail.core.vmap_log`.

Hashing (docs/MAP.md §3). Every preimage starts with an ASCII tag ending in NUL, so none can be
taken for an RFC 9162 log leaf (prefix 0x00) or node (prefix 0x01), nor for one another:

* key hash   ``K(key) = SHA-256("sealtrail/map/v1/key\\0" || key)`` with its first bit replaced
  by the key's kind (0 stream, 1 document): the two kinds live in the two halves of the tree;
* value hash ``V(value) = SHA-256("sealtrail/map/v1/value\\0" || value)``;
* leaf       ``SHA-256("sealtrail/map/v1/leaf\\0" || key_hash || value_hash)``;
* node       ``SHA-256("sealtrail/map/v1/node\\0" || left || right)``;
* empty subtree ``EMPTY = SHA-256("sealtrail/map/v1/empty\\0")``.

The node at depth 0 (the root) is always an internal node, even for an empty or one-key map:
its left subtree holds the streams, its right one the documents.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sealtrail.core.errors import MapProofError as MapProofError

HASH_SIZE = 32
KEY_BITS = 256
#: a leaf sits at depth 1..256, so a proof has 1..256 siblings
MAX_SIBLINGS = KEY_BITS

KEY_TAG = b"sealtrail/map/v1/key\x00"
VALUE_TAG = b"sealtrail/map/v1/value\x00"
LEAF_TAG = b"sealtrail/map/v1/leaf\x00"
NODE_TAG = b"sealtrail/map/v1/node\x00"
EMPTY_TAG = b"sealtrail/map/v1/empty\x00"
DOC_CHAIN_TAG = b"sealtrail/map/v1/doc-chain\x00"

_sha256 = hashlib.sha256

#: the hash of an empty subtree (at any depth >= 1)
EMPTY = _sha256(EMPTY_TAG).digest()
#: the root of the empty map: an internal node over two empty halves
EMPTY_ROOT = _sha256(NODE_TAG + EMPTY + EMPTY).digest()

KIND_STREAM = 0x01
KIND_DOCUMENT = 0x02
_KIND_BIT = {KIND_STREAM: 0, KIND_DOCUMENT: 1}

MAX_TENANT_BYTES = 255
MAX_STREAM_BYTES = 4096
VALUE_SIZE = 1 + 8 + 8 + HASH_SIZE
_U64 = 1 << 64


# --------------------------------------------------------------------------------------------
# Keys (docs/MAP.md §1). Encoded keys are kind-tagged and length-prefixed, so no two different
# (kind, fields) tuples share an encoding.


def stream_key(tenant: str, stream: str) -> bytes:
    """Encode the key of stream ``(tenant, stream)``.

    ``0x01 || u16(len(tenant)) || tenant || u16(len(stream)) || stream``, lengths in bytes of
    UTF-8, big-endian. Requires non-empty strings of at most 255 and 4096 UTF-8 bytes (events
    allow 64 and 256 characters).
    """
    if type(tenant) is not str or type(stream) is not str:
        raise TypeError("tenant and stream must be str")
    t, s = tenant.encode("utf-8"), stream.encode("utf-8")
    if not 0 < len(t) <= MAX_TENANT_BYTES:
        raise ValueError(f"tenant has {len(t)} UTF-8 bytes, want 1..{MAX_TENANT_BYTES}")
    if not 0 < len(s) <= MAX_STREAM_BYTES:
        raise ValueError(f"stream has {len(s)} UTF-8 bytes, want 1..{MAX_STREAM_BYTES}")
    return bytes([KIND_STREAM]) + len(t).to_bytes(2, "big") + t + len(s).to_bytes(2, "big") + s


def document_key(sha256: bytes) -> bytes:
    """Encode the key of the document whose SHA-256 is ``sha256`` (32 bytes): ``0x02 || sha256``."""
    if type(sha256) is not bytes:
        raise TypeError(f"sha256 must be bytes, got {type(sha256).__name__}")
    if len(sha256) != HASH_SIZE:
        raise ValueError(f"document sha256 has {len(sha256)} bytes, want {HASH_SIZE}")
    return bytes([KIND_DOCUMENT]) + sha256


def _check_key(key: bytes) -> int:
    """Return the kind of an encoded key; ValueError if it is not a well-formed encoding."""
    if type(key) is not bytes:
        raise TypeError(f"key must be bytes, got {type(key).__name__}")
    if not key:
        raise ValueError("empty key")
    kind = key[0]
    if kind == KIND_DOCUMENT:
        if len(key) != 1 + HASH_SIZE:
            raise ValueError(f"document key has {len(key)} bytes, want {1 + HASH_SIZE}")
        return kind
    if kind == KIND_STREAM:
        parts = decode_stream_key(key)
        if stream_key(*parts) != key:
            raise ValueError("stream key is not in normal form")
        return kind
    raise ValueError(f"unknown key kind 0x{kind:02x}")


def decode_stream_key(key: bytes) -> tuple[str, str]:
    """Return ``(tenant, stream)`` from an encoded stream key; ValueError when malformed."""
    if len(key) < 5 or key[0] != KIND_STREAM:
        raise ValueError("not a stream key")
    tl = int.from_bytes(key[1:3], "big")
    if len(key) < 5 + tl:
        raise ValueError("stream key is truncated")
    sl = int.from_bytes(key[3 + tl : 5 + tl], "big")
    if len(key) != 5 + tl + sl:
        raise ValueError(f"stream key has {len(key)} bytes, its lengths say {5 + tl + sl}")
    try:
        return key[3 : 3 + tl].decode("utf-8"), key[5 + tl :].decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("stream key is not UTF-8") from None


def key_hash(key: bytes) -> bytes:
    """The 256-bit position of an encoded key: SHA-256 over the tag and key, first bit = kind.

    Requires an encoding from :func:`stream_key` or :func:`document_key` (checked).
    """
    kind = _check_key(key)
    h = bytearray(_sha256(KEY_TAG + key).digest())
    h[0] = (h[0] & 0x7F) | (_KIND_BIT[kind] << 7)
    return bytes(h)


# --------------------------------------------------------------------------------------------
# Values (docs/MAP.md §2): 49 bytes, ``kind || u64 count || u64 last_index || 32-byte hash``.


@dataclass(frozen=True, slots=True)
class StreamHead:
    """The value of a stream key: its number of events and its last event (index, leaf hash)."""

    count: int
    last_index: int
    last_leaf_hash: bytes

    def encode(self) -> bytes:
        """``0x01 || u64 count || u64 last_index || last_leaf_hash``."""
        return _encode_value(KIND_STREAM, self.count, self.last_index, self.last_leaf_hash)


@dataclass(frozen=True, slots=True)
class DocumentEvents:
    """The value of a document key: the events naming it, in log order, as a running hash.

    ``chain`` is ``c_count`` where ``c_0`` is 32 zero bytes and
    ``c_i = SHA-256("sealtrail/map/v1/doc-chain\\0" || c_{i-1} || u64 index_i || leaf_hash_i)``.
    """

    count: int
    last_index: int
    chain: bytes

    def encode(self) -> bytes:
        """``0x02 || u64 count || u64 last_index || chain``."""
        return _encode_value(KIND_DOCUMENT, self.count, self.last_index, self.chain)

    def extend(self, index: int, leaf_hash: bytes) -> DocumentEvents:
        """The value after one more event (``index`` > ``last_index``) naming the document."""
        if index <= self.last_index:
            raise ValueError(f"event index {index} is not after {self.last_index}")
        return DocumentEvents(self.count + 1, index, doc_chain_step(self.chain, index, leaf_hash))


ZERO_CHAIN = bytes(HASH_SIZE)


def doc_chain_step(chain: bytes, index: int, leaf_hash: bytes) -> bytes:
    """One step of a document's running hash (see :class:`DocumentEvents`)."""
    if not 0 <= index < _U64:
        raise ValueError(f"index {index} is out of range")
    if len(chain) != HASH_SIZE or len(leaf_hash) != HASH_SIZE:
        raise ValueError("chain and leaf_hash must be 32 bytes")
    return _sha256(DOC_CHAIN_TAG + chain + index.to_bytes(8, "big") + leaf_hash).digest()


def document_events(pairs: Sequence[tuple[int, bytes]]) -> DocumentEvents:
    """The value for the events ``(index, leaf_hash)`` naming a document, in log order.

    Requires at least one pair and strictly increasing indices: what a verifier calls on the
    events a package shows, to compare with the value proven in the map.
    """
    if not pairs:
        raise ValueError("a document value needs at least one event")
    chain, last = ZERO_CHAIN, -1
    for index, leaf in pairs:
        if index <= last:
            raise ValueError(f"indices not increasing: {index} after {last}")
        chain, last = doc_chain_step(chain, index, leaf), index
    return DocumentEvents(len(pairs), last, chain)


def _encode_value(kind: int, count: int, last_index: int, h: bytes) -> bytes:
    if not 1 <= count <= last_index + 1 or last_index >= _U64:
        raise ValueError(f"need 1 <= count <= last_index + 1 < 2**64, got {count}, {last_index}")
    if type(h) is not bytes or len(h) != HASH_SIZE:
        raise ValueError(f"hash must be {HASH_SIZE} bytes")
    return bytes([kind]) + count.to_bytes(8, "big") + last_index.to_bytes(8, "big") + h


def decode_value(value: bytes) -> StreamHead | DocumentEvents:
    """Parse a 49-byte value; ValueError when its kind, length or ranges are wrong."""
    if type(value) is not bytes:
        raise TypeError(f"value must be bytes, got {type(value).__name__}")
    if len(value) != VALUE_SIZE:
        raise ValueError(f"value has {len(value)} bytes, want {VALUE_SIZE}")
    count = int.from_bytes(value[1:9], "big")
    last = int.from_bytes(value[9:17], "big")
    if not 1 <= count <= last + 1:
        raise ValueError(f"need 1 <= count <= last_index + 1, got {count}, {last}")
    if value[0] == KIND_STREAM:
        return StreamHead(count, last, value[17:])
    if value[0] == KIND_DOCUMENT:
        return DocumentEvents(count, last, value[17:])
    raise ValueError(f"unknown value kind 0x{value[0]:02x}")


def value_hash(value: bytes) -> bytes:
    """``SHA-256("sealtrail/map/v1/value\\0" || value)``."""
    return _sha256(VALUE_TAG + value).digest()


# --------------------------------------------------------------------------------------------
# Tree hashing.


def leaf_hash(k: bytes, v: bytes) -> bytes:
    """Hash of the leaf holding key hash ``k`` and value hash ``v``."""
    return _sha256(LEAF_TAG + k + v).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash of an internal node over two subtree hashes."""
    return _sha256(NODE_TAG + left + right).digest()


def bit(k: bytes, depth: int) -> int:
    """Bit ``depth`` (0 = most significant of byte 0) of a key hash: 0 goes left, 1 right."""
    return (k[depth >> 3] >> (7 - (depth & 7))) & 1


def shares_prefix(a: bytes, b: bytes, nbits: int) -> bool:
    """Whether key hashes ``a`` and ``b`` agree on their first ``nbits`` bits."""
    shift = KEY_BITS - nbits
    return int.from_bytes(a, "big") >> shift == int.from_bytes(b, "big") >> shift


# --------------------------------------------------------------------------------------------
# Proofs.


@dataclass(frozen=True, slots=True)
class MapLeaf:
    """The leaf a proof ends at: its key hash and value hash."""

    key_hash: bytes
    value_hash: bytes


@dataclass(frozen=True, slots=True)
class MapProof:
    """A path from a key's position to the root; one form for inclusion and non-inclusion.

    ``siblings`` run leaf to root: ``siblings[i]`` is the sibling at depth ``len(siblings) - i``.
    ``leaf`` is the leaf at depth ``len(siblings)`` on the key's path, or None when the subtree
    there is empty. It proves inclusion when ``leaf.key_hash`` is the key's hash, and
    non-inclusion when it is another key's or None.
    """

    siblings: tuple[bytes, ...]
    leaf: MapLeaf | None

    def to_json(self) -> dict[str, Any]:
        """The JSON form (docs/MAP.md §5): lowercase hex."""
        return {
            "leaf": None
            if self.leaf is None
            else {"key_hash": self.leaf.key_hash.hex(), "value_hash": self.leaf.value_hash.hex()},
            "siblings": [s.hex() for s in self.siblings],
        }

    def size_bytes(self) -> int:
        """Binary size: 32 bytes per sibling, 64 for a leaf."""
        return HASH_SIZE * len(self.siblings) + (2 * HASH_SIZE if self.leaf else 0)


_HEX64 = re.compile(r"[0-9a-f]{64}\Z")
_PROOF_FIELDS = frozenset({"leaf", "siblings"})
_LEAF_FIELDS = frozenset({"key_hash", "value_hash"})


def _bad(message: str) -> MapProofError:
    return MapProofError("malformed", message)


def _hex_hash(value: object, name: str) -> bytes:
    if type(value) is not str:
        raise _bad(f"{name}: want a string of 64 lowercase hex digits, got {type(value).__name__}")
    if not _HEX64.match(value):
        raise _bad(f"{name}: want 64 lowercase hex digits, got {len(value)} characters")
    return bytes.fromhex(value)


def _fields(obj: object, allowed: frozenset[str], name: str) -> dict[str, Any]:
    if type(obj) is not dict:
        raise _bad(f"{name}: want an object, got {type(obj).__name__}")
    for k in obj:
        if k not in allowed:
            raise _bad(f"{name}: unknown field {str(k)[:40]!r}")
    for k in sorted(allowed):
        if k not in obj:
            raise _bad(f"{name}: field {k!r} is missing")
    return obj


def proof_from_json(obj: object) -> MapProof:
    """Parse the JSON form of a proof; every field's type, length and range is checked.

    Raises :class:`MapProofError` (reason ``malformed``, ``too_many_siblings`` or
    ``no_siblings``) and nothing else, whatever ``obj`` is.
    """
    o = _fields(obj, _PROOF_FIELDS, "proof")
    sib = o["siblings"]
    if type(sib) is not list:
        raise _bad(f"proof.siblings: want an array, got {type(sib).__name__}")
    if len(sib) > MAX_SIBLINGS:
        raise MapProofError(
            "too_many_siblings", f"proof has {len(sib)} siblings, want at most {MAX_SIBLINGS}"
        )
    if not sib:
        raise MapProofError("no_siblings", "proof has 0 siblings, want at least 1")
    siblings = tuple(_hex_hash(s, f"proof.siblings[{i}]") for i, s in enumerate(sib))
    leaf = None
    if o["leaf"] is not None:
        lf = _fields(o["leaf"], _LEAF_FIELDS, "proof.leaf")
        leaf = MapLeaf(
            _hex_hash(lf["key_hash"], "proof.leaf.key_hash"),
            _hex_hash(lf["value_hash"], "proof.leaf.value_hash"),
        )
    return MapProof(siblings, leaf)


# --------------------------------------------------------------------------------------------
# Verification (docs/MAP.md §6). Pure; returns None or raises MapProofError.


def _check_hash(value: object, name: str) -> bytes:
    if type(value) is not bytes:
        raise TypeError(f"{name} must be bytes, got {type(value).__name__}")
    if len(value) != HASH_SIZE:
        raise MapProofError("malformed", f"{name} has {len(value)} bytes, want {HASH_SIZE}")
    return value


def _check_proof(proof: object) -> MapProof:
    if not isinstance(proof, MapProof):
        raise TypeError(f"proof must be a MapProof, got {type(proof).__name__}")
    n = len(proof.siblings)
    if n > MAX_SIBLINGS:
        raise MapProofError("too_many_siblings", f"proof has {n} siblings, want <= {MAX_SIBLINGS}")
    if n == 0:
        raise MapProofError("no_siblings", "proof has 0 siblings, want at least 1")
    for i, s in enumerate(proof.siblings):
        _check_hash(s, f"siblings[{i}]")
    if proof.leaf is not None:
        _check_hash(proof.leaf.key_hash, "leaf.key_hash")
        _check_hash(proof.leaf.value_hash, "leaf.value_hash")
    return proof


def root_from_proof(k: bytes, proof: MapProof) -> bytes:
    """Fold ``proof`` up the path of key hash ``k``; the caller compares with the root.

    Requires a proof checked for sizes (as :func:`verify_inclusion` does).
    """
    n = len(proof.siblings)
    h = EMPTY if proof.leaf is None else leaf_hash(proof.leaf.key_hash, proof.leaf.value_hash)
    sha, tag = _sha256, NODE_TAG
    for i, s in enumerate(proof.siblings):
        depth = n - 1 - i  # the parent's depth; the bit there chooses the side
        if (k[depth >> 3] >> (7 - (depth & 7))) & 1:
            h = sha(tag + s + h).digest()
        else:
            h = sha(tag + h + s).digest()
    return h


def _check_root(root: bytes, k: bytes, proof: MapProof) -> None:
    got = root_from_proof(k, proof)
    if got != root:
        raise MapProofError(
            "root_mismatch", f"calculated root {got.hex()} does not match expected {root.hex()}"
        )


def verify_inclusion(root: bytes, key: bytes, value: bytes, proof: MapProof) -> None:
    """Check that the map with ``root`` maps encoded ``key`` to encoded ``value``.

    Requires ``key`` from :func:`stream_key`/:func:`document_key` and ``value`` of the same kind
    (:meth:`StreamHead.encode`, :meth:`DocumentEvents.encode`). Raises :class:`MapProofError`.
    """
    # docs/MAP.md §6.1, steps 1-5.
    _check_hash(root, "root")
    p = _check_proof(proof)
    k = key_hash(key)
    if type(value) is not bytes:
        raise TypeError(f"value must be bytes, got {type(value).__name__}")
    if not value or value[0] != key[0]:
        got = f"0x{value[0]:02x}" if value else "empty"
        raise MapProofError("value_mismatch", f"value kind {got} does not match key kind")
    if p.leaf is None:
        raise MapProofError("no_leaf", "proof ends at an empty subtree: it proves absence")
    if p.leaf.key_hash != k:
        raise MapProofError(
            "key_mismatch", f"proof is for key hash {p.leaf.key_hash.hex()}, want {k.hex()}"
        )
    v = value_hash(value)
    if p.leaf.value_hash != v:
        raise MapProofError(
            "value_mismatch", f"proof has value hash {p.leaf.value_hash.hex()}, want {v.hex()}"
        )
    _check_root(root, k, p)


def verify_non_inclusion(root: bytes, key: bytes, proof: MapProof) -> None:
    """Check that the map with ``root`` holds no value for encoded ``key``.

    Raises :class:`MapProofError`.
    """
    # docs/MAP.md §6.2, steps 1-5.
    _check_hash(root, "root")
    p = _check_proof(proof)
    k = key_hash(key)
    n = len(p.siblings)
    if p.leaf is not None:
        if p.leaf.key_hash == k:
            raise MapProofError("key_present", f"proof shows key hash {k.hex()} in the map")
        if not shares_prefix(p.leaf.key_hash, k, n):
            raise MapProofError(
                "leaf_off_path",
                f"leaf key hash {p.leaf.key_hash.hex()} does not share the first {n} bits"
                f" of {k.hex()}",
            )
    _check_root(root, k, p)


# --------------------------------------------------------------------------------------------
# The checkpoint's extension line (docs/FORMAT.md §5.1, docs/MAP.md §9).

#: the first word of the checkpoint extension line naming the map root
MAP_EXTENSION = "sealtrail-map/v1"


def map_extension(root: bytes) -> str:
    """The checkpoint extension line committing to map ``root`` (32 bytes)."""
    if type(root) is not bytes or len(root) != HASH_SIZE:
        raise ValueError(f"map root must be {HASH_SIZE} bytes")
    return f"{MAP_EXTENSION} {base64.b64encode(root).decode()}"


def map_root_of(extensions: Sequence[str]) -> bytes | None:
    """The map root a checkpoint's extension lines commit to, or None (a checkpoint before the
    map). Raises ValueError when a line starting with the map's word is malformed or repeated."""
    found: bytes | None = None
    for line in extensions:
        word, _, rest = line.partition(" ")
        if word != MAP_EXTENSION:
            continue
        if found is not None:
            raise ValueError(f"more than one {MAP_EXTENSION} line")
        if not re.fullmatch(r"[A-Za-z0-9+/]{43}=", rest):
            raise ValueError(f"malformed {MAP_EXTENSION} line: want 32 bytes of base64")
        found = base64.b64decode(rest)
    return found
