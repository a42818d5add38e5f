"""C2SP signed notes with Ed25519, and tlog checkpoints (pure; no I/O).

Formats (C2SP signed-note and tlog-checkpoint; golang.org/x/mod/sumdb/note):

* a note is UTF-8 text with no control characters but ``\\n``, ending in ``\\n``; then a blank
  line; then one or more lines ``— <name> <base64(key hash || signature)>\\n`` (U+2014);
* the key hash is the first 4 bytes of ``SHA-256(name || "\\n" || 0x01 || public key)``;
* a verifier key is ``<name>+<8 hex key hash>+<base64(0x01 || public key)>``;
* a checkpoint's text is ``<origin>\\n<size>\\n<base64 root>\\n`` plus optional extension lines.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sealtrail.core.errors import NoteError
from sealtrail.core.merkle import HASH_SIZE

ALG_ED25519 = 0x01
MAX_SIGNATURES = 100
_DASH = "\u2014 "
_NAME_RE = re.compile(r"[^\s+]+\Z")


def _b64decode(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"{what} is not valid base64") from None
    if base64.b64encode(raw).decode() != text:
        raise NoteError(f"{what} is not canonical base64")
    return raw


def _check_name(name: str) -> None:
    if not name or not _NAME_RE.match(name) or not name.isprintable():
        raise NoteError(f"bad key name {name!r}: want non-empty, no spaces, no '+'")


def key_hash(name: str, public_key: bytes) -> bytes:
    """The 4-byte key hash of an Ed25519 key (C2SP signed-note)."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()[:4]


@dataclass(frozen=True)
class NoteVerifier:
    """A named Ed25519 public key that checks note signatures."""

    name: str
    hash: bytes
    public_key: bytes

    @classmethod
    def from_vkey(cls, vkey: str) -> NoteVerifier:
        """Parse ``name+hash+base64key``; reject anything not exactly well-formed."""
        parts = vkey.split("+", 2)
        if len(parts) != 3:
            raise NoteError("malformed verifier key: want name+hash+key")
        name, hash_hex, key_b64 = parts
        _check_name(name)
        if not re.fullmatch(r"[0-9a-f]{8}", hash_hex):
            raise NoteError("malformed verifier key: want an 8-hex-digit key hash")
        raw = _b64decode(key_b64, "verifier key")
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise NoteError("malformed verifier key: want an Ed25519 key (0x01 + 32 bytes)")
        h = bytes.fromhex(hash_hex)
        if key_hash(name, raw[1:]) != h:
            raise NoteError("malformed verifier key: key hash does not match the key")
        return cls(name, h, raw[1:])

    @property
    def vkey(self) -> str:
        """The verifier key string."""
        key = base64.b64encode(bytes([ALG_ED25519]) + self.public_key).decode()
        return f"{self.name}+{self.hash.hex()}+{key}"

    def verify(self, text: bytes, signature: bytes) -> bool:
        """True when ``signature`` is this key's Ed25519 signature of ``text``."""
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, text)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class NoteSigner:
    """A named Ed25519 private key that signs notes. Never print or log it."""

    name: str
    private_key: Ed25519PrivateKey = field(repr=False)

    @classmethod
    def generate(cls, name: str) -> NoteSigner:
        """A fresh key. The only place randomness enters this module."""
        _check_name(name)
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def from_skey(cls, skey: str) -> NoteSigner:
        """Parse ``PRIVATE+KEY+name+hash+base64(0x01 || seed)`` (the Go note format)."""
        parts = skey.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise NoteError("malformed signer key: want PRIVATE+KEY+name+hash+key")
        name, hash_hex, key_b64 = parts[2:]
        _check_name(name)
        raw = _b64decode(key_b64, "signer key")
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise NoteError("malformed signer key: want an Ed25519 seed (0x01 + 32 bytes)")
        signer = cls(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if signer.verifier().hash.hex() != hash_hex:
            raise NoteError("malformed signer key: key hash does not match the key")
        return signer

    @property
    def skey(self) -> str:
        """The private key string (secret)."""
        from cryptography.hazmat.primitives import serialization as s

        seed = self.private_key.private_bytes(s.Encoding.Raw, s.PrivateFormat.Raw, s.NoEncryption())
        key = base64.b64encode(bytes([ALG_ED25519]) + seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier().hash.hex()}+{key}"

    def verifier(self) -> NoteVerifier:
        """The matching public key."""
        from cryptography.hazmat.primitives import serialization as s

        pub = self.private_key.public_key().public_bytes(s.Encoding.Raw, s.PublicFormat.Raw)
        return NoteVerifier(self.name, key_hash(self.name, pub), pub)

    def sign(self, text: str) -> str:
        """Return ``text`` as a signed note with this key's signature."""
        _check_text(text)
        v = self.verifier()
        sig = self.private_key.sign(text.encode())
        return f"{text}\n{_DASH}{self.name} {base64.b64encode(v.hash + sig).decode()}\n"


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise NoteError("malformed note: text holds a lone surrogate") from None
    if not text.endswith("\n"):
        raise NoteError("malformed note: text must end in a newline")
    bad = re.search(r"[\x00-\x09\x0b-\x1f\x7f]", text)
    if bad:
        raise NoteError(f"malformed note: control character U+{ord(bad.group()):04X} in text")


@dataclass(frozen=True)
class Signature:
    """One signature line of a note."""

    name: str
    hash: bytes
    signature: bytes


@dataclass(frozen=True)
class Note:
    """An opened note: its text and which signatures verified."""

    text: str
    verified: tuple[Signature, ...]
    unverified: tuple[Signature, ...]


def open_note(msg: bytes | str, verifiers: list[NoteVerifier]) -> Note:
    """Parse a signed note and check its signatures against ``verifiers``.

    Signatures by unknown keys are returned as unverified; a signature by a known key that does
    not verify is an error; so is a note with no verified signature. Raises :class:`NoteError`.
    """
    if isinstance(msg, bytes):
        try:
            msg = msg.decode("utf-8")
        except UnicodeDecodeError:
            raise NoteError("malformed note: not UTF-8") from None
    try:
        msg.encode("utf-8")
    except UnicodeEncodeError:
        raise NoteError("malformed note: holds a lone surrogate") from None
    if not msg.endswith("\n"):
        raise NoteError("malformed note: does not end in a newline")
    split = msg.rfind("\n\n")
    if split < 0:
        raise NoteError("malformed note: no signature block")
    text, block = msg[: split + 1], msg[split + 2 :]
    _check_text(text)
    lines = block.split("\n")[:-1]
    if not lines:
        raise NoteError("malformed note: no signature lines")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"malformed note: {len(lines)} signatures, at most {MAX_SIGNATURES}")
    by_id = {(v.name, v.hash): v for v in verifiers}
    verified: list[Signature] = []
    unverified: list[Signature] = []
    seen: set[tuple[str, bytes]] = set()
    for line in lines:
        if not line.startswith(_DASH):
            raise NoteError(f"malformed note: unexpected line {line[:40]!r}")
        parts = line[len(_DASH) :].split(" ")
        if len(parts) != 2:
            raise NoteError("malformed note: signature line is not '— name signature'")
        name, sig_b64 = parts
        _check_name(name)
        raw = _b64decode(sig_b64, "signature")
        if len(raw) < 5:
            raise NoteError("malformed note: signature too short")
        sig = Signature(name, raw[:4], raw[4:])
        key = (name, sig.hash)
        v = by_id.get(key)
        if v is None:
            unverified.append(sig)
            continue
        if key in seen:
            raise NoteError(f"malformed note: two signatures by {name}+{sig.hash.hex()}")
        seen.add(key)
        if not v.verify(text.encode(), sig.signature):
            raise NoteError(f"invalid signature for key {name}+{sig.hash.hex()}")
        verified.append(sig)
    if not verified:
        raise NoteError("no verifiable signatures")
    return Note(text, tuple(verified), tuple(unverified))


# --------------------------------------------------------------------------------------------
# Checkpoints (C2SP tlog-checkpoint)


@dataclass(frozen=True)
class Checkpoint:
    """A log's (origin, size, root hash) with optional extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        """The checkpoint body: the text that is signed."""
        lines = [
            self.origin,
            str(self.size),
            base64.b64encode(self.root).decode(),
            *self.extensions,
        ]
        return "\n".join(lines) + "\n"


def parse_checkpoint(text: str, origin: str | None = None) -> Checkpoint:
    """Parse a checkpoint body; when ``origin`` is given, require it. Raises NoteError."""
    if not text.endswith("\n"):
        raise NoteError("malformed checkpoint: does not end in a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise NoteError(f"malformed checkpoint: {len(lines)} lines, want at least 3")
    got_origin, size_s, root_b64, *ext = lines
    if not got_origin:
        raise NoteError("malformed checkpoint: empty origin")
    if origin is not None and got_origin != origin:
        raise NoteError(f"checkpoint origin {got_origin!r}, want {origin!r}")
    if not re.fullmatch(r"0|[1-9][0-9]{0,19}", size_s) or int(size_s) >= 2**64:
        raise NoteError(f"malformed checkpoint: size {size_s[:24]!r} is not a decimal uint64")
    root = _b64decode(root_b64, "checkpoint root hash")
    if len(root) != HASH_SIZE:
        raise NoteError(f"malformed checkpoint: root hash has {len(root)} bytes, want {HASH_SIZE}")
    if any(not line for line in ext):
        raise NoteError("malformed checkpoint: empty extension line")
    return Checkpoint(got_origin, int(size_s), root, tuple(ext))


def sign_checkpoint(checkpoint: Checkpoint, signer: NoteSigner) -> str:
    """The checkpoint as a signed note.

    Requires a checkpoint that parses back to itself (no newline in the origin or extensions,
    a uint64 size, a 32-byte root); anything else raises NoteError and is never signed.
    """
    if not isinstance(checkpoint.root, bytes) or len(checkpoint.root) != HASH_SIZE:
        raise NoteError(f"checkpoint root must be {HASH_SIZE} bytes")
    if not 0 <= checkpoint.size < 2**64:
        raise NoteError(f"checkpoint size {checkpoint.size} is not a uint64")
    text = checkpoint.text()
    if parse_checkpoint(text) != checkpoint:
        raise NoteError("checkpoint does not survive a round trip (newline in a field?)")
    return signer.sign(text)


def verify_checkpoint(
    note: bytes | str, verifier: NoteVerifier, origin: str | None = None
) -> Checkpoint:
    """Open a signed checkpoint note and return its checkpoint. Raises NoteError.

    Requires a valid signature by ``verifier``; ``origin`` defaults to the verifier's name.
    """
    opened = open_note(note, [verifier])
    return parse_checkpoint(opened.text, verifier.name if origin is None else origin)
