"""Tests for sealtrail.core.note: C2SP signed notes (Ed25519) and tlog checkpoints.

Vectors: tests/vectors/signed_note_checkpoint.json, from golang.org/x/mod's sumdb/note and
sumdb/tlog tests (source in tests/vectors/README.md). Keys in tests are derived from fixed seeds;
randomness enters only through NoteSigner.generate, which is tested for its name checks only.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sealtrail.core import merkle
from sealtrail.core.errors import NoteError
from sealtrail.core.note import (
    MAX_SIGNATURES,
    Checkpoint,
    NoteSigner,
    NoteVerifier,
    Signature,
    key_hash,
    open_note,
    parse_checkpoint,
    sign_checkpoint,
    verify_checkpoint,
)

VECTORS = Path(__file__).resolve().parents[2] / "vectors"
V: dict[str, Any] = json.loads(
    (VECTORS / "signed_note_checkpoint.json").read_text(encoding="utf-8")
)

PETER_VKEY = V["keys"]["PeterNeumann"]["verifier_key"]
PETER_SKEY = V["keys"]["PeterNeumann"]["private_key_test_only"]
ENOCH_VKEY = V["keys"]["EnochRoot"]["verifier_key"]
POSITIVE = {c["id"]: c for c in V["positive"]}
NEGATIVE = {c["id"]: c for c in V["negative"]}
TEXT = POSITIVE["sign-peter"]["text"]
SIGNED = POSITIVE["sign-peter"]["expected_signed_note"]
PETER_SIG_LINE = SIGNED[len(TEXT) + 1 :]  # "— PeterNeumann <base64>\n"
GOLDEN = V["checkpoint_body_vectors"]["golden"]


def _peter() -> NoteVerifier:
    return NoteVerifier.from_vkey(PETER_VKEY)


def _signer(name: str, seed_byte: int) -> NoteSigner:
    return NoteSigner(name, Ed25519PrivateKey.from_private_bytes(bytes([seed_byte]) * 32))


# --------------------------------------------------------------------------------------------
# Keys and the deterministic signature.


def test_sign_reproduces_published_note_byte_for_byte() -> None:
    signer = NoteSigner.from_skey(PETER_SKEY)
    assert POSITIVE["sign-peter"]["signing_key"] == "PeterNeumann"
    assert signer.sign(TEXT) == SIGNED
    assert signer.sign(TEXT).encode("utf-8") == SIGNED.encode("utf-8")


def test_published_keys_round_trip() -> None:
    signer = NoteSigner.from_skey(PETER_SKEY)
    assert signer.skey == PETER_SKEY
    assert signer.verifier() == _peter()
    assert _peter().vkey == PETER_VKEY
    assert _peter().name == "PeterNeumann"
    assert _peter().hash == bytes.fromhex("c74f20a3")
    assert key_hash("PeterNeumann", _peter().public_key) == bytes.fromhex("c74f20a3")
    enoch = NoteVerifier.from_vkey(ENOCH_VKEY)
    assert (enoch.name, enoch.hash.hex(), enoch.vkey) == ("EnochRoot", "af0cfe78", ENOCH_VKEY)


def test_open_published_note() -> None:
    note = open_note(SIGNED, [_peter()])
    assert note.text == TEXT
    assert [(s.name, s.hash.hex()) for s in note.verified] == [("PeterNeumann", "c74f20a3")]
    assert note.unverified == ()
    assert open_note(SIGNED.encode("utf-8"), [_peter()]) == note


def test_open_two_signatures() -> None:
    case = POSITIVE["open-two-signatures"]
    assert case["expect"] == "accept; 2 verified signatures"
    note = open_note(case["message"], [NoteVerifier.from_vkey(k) for k in case["trusted_keys"]])
    assert note.text == TEXT
    assert [s.name for s in note.verified] == ["PeterNeumann", "EnochRoot"]
    assert len(note.verified) == 2
    assert len(note.unverified) == 0


def test_open_one_trusted_of_two() -> None:
    case = POSITIVE["open-one-trusted-of-two"]
    assert case["expect"] == "accept; 1 verified (PeterNeumann), 1 unverified (EnochRoot)"
    note = open_note(case["message"], [NoteVerifier.from_vkey(k) for k in case["trusted_keys"]])
    assert [s.name for s in note.verified] == ["PeterNeumann"]
    assert [(s.name, s.hash.hex()) for s in note.unverified] == [("EnochRoot", "af0cfe78")]
    assert isinstance(note.unverified[0], Signature)
    assert len(note.unverified[0].signature) == 64


# --------------------------------------------------------------------------------------------
# Negative vectors.

# The reason each malformed message must be rejected for, in the words of our messages.
NEGATIVE_MESSAGES = {
    "no-signature-block": "malformed note: no signature block",
    "no-signature-after-blank": "malformed note: no signature lines",
    "missing-final-newline": "malformed note: does not end in a newline",
    "leading-control-char": "malformed note: control character U+0001 in text",
    "leading-invalid-utf8-0xff": "malformed note: not UTF-8",
    # Copied from Go's test, this message also lacks its final newline; see the next test.
    "name-with-space": "malformed note: does not end in a newline",
    "trailing-unexpected-line": "malformed note: unexpected line 'Unexpected line.'",
    "corrupted-signature-bytes": "invalid signature for key PeterNeumann+c74f20a3",
    "signature-by-unknown-key-only": "no verifiable signatures",
}
MESSAGE_CASES = [c for c in V["negative"] if "message" in c or "message_hex" in c]


def test_every_negative_case_is_covered() -> None:
    covered = {c["id"] for c in MESSAGE_CASES} | {
        "too-many-signatures",
        "bad-verifier-key-mangled",
        "bad-verifier-key-wrong-length",
        "bad-verifier-key-unknown-alg",
    }
    assert covered == set(NEGATIVE)
    assert set(NEGATIVE_MESSAGES) == {c["id"] for c in MESSAGE_CASES}


@pytest.mark.parametrize("case", MESSAGE_CASES, ids=lambda c: c["id"])
def test_negative_message(case: dict[str, Any]) -> None:
    msg: str | bytes = case["message"] if "message" in case else bytes.fromhex(case["message_hex"])
    keys = [NoteVerifier.from_vkey(k) for k in case.get("trusted_keys", [PETER_VKEY])]
    assert case["expect"].startswith("reject")
    with pytest.raises(NoteError) as err:
        open_note(msg, keys)
    assert str(err.value) == NEGATIVE_MESSAGES[case["id"]]


def test_name_with_space_with_final_newline() -> None:
    msg = NEGATIVE["name-with-space"]["message"] + "\n"
    with pytest.raises(NoteError, match="signature line is not '— name signature'"):
        open_note(msg, [_peter()])


def test_too_many_signatures() -> None:
    case = NEGATIVE["too-many-signatures"]
    assert case["message_template"] == "text + '\\n' + 101 x PeterNeumann signature line"
    msg = TEXT + "\n" + PETER_SIG_LINE * 101
    with pytest.raises(NoteError, match=r"\Amalformed note: 101 signatures, at most 100\Z"):
        open_note(msg, [_peter()])


def test_signature_count_bound_is_inclusive() -> None:
    # 100 lines are allowed (1 verified + 99 by an unknown key); the 101st is not.
    enoch_line = POSITIVE["open-two-signatures"]["message"].splitlines(keepends=True)[-1]
    assert enoch_line.startswith("— EnochRoot ")
    assert MAX_SIGNATURES == 100
    note = open_note(TEXT + "\n" + PETER_SIG_LINE + enoch_line * 99, [_peter()])
    assert (len(note.verified), len(note.unverified)) == (1, 99)
    with pytest.raises(NoteError, match="101 signatures, at most 100"):
        open_note(TEXT + "\n" + PETER_SIG_LINE + enoch_line * 100, [_peter()])


def test_duplicate_signature_by_known_key() -> None:
    with pytest.raises(NoteError, match="two signatures by PeterNeumann\\+c74f20a3"):
        open_note(SIGNED + PETER_SIG_LINE, [_peter()])


def test_verifier_key_accepts_the_unmangled_key() -> None:
    assert NoteVerifier.from_vkey(NEGATIVE["bad-verifier-key-mangled"]["verifier_key"]) == _peter()


def _mangled_keys(key: str) -> list[str]:
    """Go's TestNewVerifier manglings, plus every single-character deletion.

    Every proper (contiguous, non-empty) substring, and the key with each character in turn
    incremented by one code point (the key is ASCII, so this is Go's per-byte b[i]++).
    """
    assert key.isascii()
    out = [key[i:j] for i in range(len(key)) for j in range(i + 1, len(key) + 1)]
    out.remove(key)
    out += [key[:i] + chr(ord(key[i]) + 1) + key[i + 1 :] for i in range(len(key))]
    out += [key[:i] + key[i + 1 :] for i in range(len(key))]
    return out


def test_bad_verifier_key_mangled() -> None:
    case = NEGATIVE["bad-verifier-key-mangled"]
    assert case["expect"] == "reject"
    key = case["verifier_key"]
    mangled = _mangled_keys(key)
    n = len(key)
    assert len(mangled) == n * (n + 1) // 2 - 1 + 2 * n
    accepted = []
    for bad in mangled:
        try:
            NoteVerifier.from_vkey(bad)
        except NoteError:
            continue
        accepted.append(bad)
    # Every mangling must be rejected outright (not merely yield a different verifier).
    assert accepted == []


@pytest.mark.parametrize(
    ("case_id", "message"),
    [
        ("bad-verifier-key-wrong-length", "verifier key is not canonical base64"),
        (
            "bad-verifier-key-unknown-alg",
            "malformed verifier key: want an Ed25519 key (0x01 + 32 bytes)",
        ),
    ],
    ids=["wrong-length", "unknown-alg"],
)
def test_bad_verifier_key(case_id: str, message: str) -> None:
    case = NEGATIVE[case_id]
    assert case["expect"] == "reject"
    with pytest.raises(NoteError) as err:
        NoteVerifier.from_vkey(case["verifier_key"])
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("vkey", "message"),
    [
        pytest.param("PeterNeumann+c74f20a3", "want name+hash+key", id="two-parts"),
        pytest.param(
            PETER_VKEY.replace("c74f20a3", "C74F20A3"), "8-hex-digit key hash", id="uppercase-hash"
        ),
        pytest.param(
            PETER_VKEY.replace("c74f20a3", "c74f20a4"),
            "key hash does not match the key",
            id="wrong-hash",
        ),
        pytest.param("Peter Neumann" + PETER_VKEY[12:], "bad key name", id="name-with-space"),
        pytest.param("+c74f20a3" + PETER_VKEY[21:], "bad key name", id="empty-name"),
        pytest.param(PETER_VKEY + "=", "not canonical base64", id="extra-padding"),
    ],
)
def test_from_vkey_rejects(vkey: str, message: str) -> None:
    with pytest.raises(NoteError, match=re.escape(message)):
        NoteVerifier.from_vkey(vkey)


@pytest.mark.parametrize(
    ("skey", "message"),
    [
        pytest.param(PETER_SKEY.replace("PRIVATE+KEY", "PUBLIC+KEY"), "want PRIVATE", id="prefix"),
        pytest.param(
            PETER_SKEY.replace("c74f20a3", "c74f20a4"), "key hash does not match", id="wrong-hash"
        ),
        pytest.param(PETER_SKEY[:-1], "not valid base64", id="truncated"),
        pytest.param(PETER_VKEY, "want PRIVATE", id="verifier-key"),
    ],
)
def test_from_skey_rejects(skey: str, message: str) -> None:
    with pytest.raises(NoteError, match=re.escape(message)):
        NoteSigner.from_skey(skey)


@pytest.mark.parametrize("name", ["", "a b", "a+b", "tab\there", "new\nline", "nul\x00"])
def test_signer_rejects_bad_names(name: str) -> None:
    with pytest.raises(NoteError, match="bad key name"):
        NoteSigner.generate(name)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no final newline", "text must end in a newline"),
        ("bell \x07\n", "control character U\\+0007 in text"),
        ("delete \x7f\n", "control character U\\+007F in text"),
        ("carriage\r\n", "control character U\\+000D in text"),
    ],
)
def test_sign_rejects_malformed_text(text: str, message: str) -> None:
    with pytest.raises(NoteError, match=message):
        _signer("example.com/log", 1).sign(text)


def test_open_note_rejects_lone_surrogate_as_note_error() -> None:
    # A str note can come from JSON, where "\ud800" is a legal escape.
    msg = TEXT.replace("cryptography", "crypto\ud800graphy") + "\n" + PETER_SIG_LINE
    with pytest.raises(NoteError):
        open_note(msg, [_peter()])


# --------------------------------------------------------------------------------------------
# Checkpoint bodies (C2SP tlog-checkpoint).

GOLDEN_CHECKPOINT = Checkpoint(
    GOLDEN["origin"], GOLDEN["tree_size"], base64.b64decode(GOLDEN["root_hash_b64"])
)


def test_checkpoint_golden_text() -> None:
    assert GOLDEN_CHECKPOINT.root.hex() == GOLDEN["root_hash_hex"]
    assert GOLDEN["root_hash_is"] == "RFC 6962 leaf hash of 'hello world' (test value)"
    assert GOLDEN_CHECKPOINT.root == merkle.leaf_hash(b"hello world")
    assert GOLDEN_CHECKPOINT.text() == GOLDEN["text"]


def test_checkpoint_golden_parse() -> None:
    assert parse_checkpoint(GOLDEN["text"]) == GOLDEN_CHECKPOINT
    assert parse_checkpoint(GOLDEN["text"], origin=GOLDEN["origin"]) == GOLDEN_CHECKPOINT


CHECKPOINT_REJECT_MESSAGES = {
    "wrong origin line": (
        "checkpoint origin 'not-go.sum database tree', want 'go.sum database tree'"
    ),
    "size not decimal": "malformed checkpoint: size '0xabcdef' is not a decimal uint64",
    "bad base64 hash": "checkpoint root hash is not canonical base64",
}


@pytest.mark.parametrize(
    "case", V["checkpoint_body_vectors"]["must_reject"], ids=lambda c: c["why"].replace(" ", "-")
)
def test_checkpoint_must_reject(case: dict[str, str]) -> None:
    with pytest.raises(NoteError) as err:
        parse_checkpoint(case["text"], origin=GOLDEN["origin"])
    assert str(err.value) == CHECKPOINT_REJECT_MESSAGES[case["why"]]


def test_checkpoint_extra_lines_are_extensions() -> None:
    # The vectors' note: a C2SP parser treats lines after the third only as extension lines.
    text = GOLDEN["text"] + "— extension one\nkey: value\n"
    cp = parse_checkpoint(text, origin=GOLDEN["origin"])
    assert cp.extensions == ("— extension one", "key: value")
    assert cp.text() == text


ROOT_B64 = GOLDEN["root_hash_b64"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(f"o\n1\n{ROOT_B64}", "does not end in a newline", id="no-final-newline"),
        pytest.param("o\n1\n", "2 lines, want at least 3", id="no-root-line"),
        pytest.param(f"\n1\n{ROOT_B64}\n", "empty origin", id="empty-origin"),
        pytest.param(
            f"o\n01\n{ROOT_B64}\n", "size '01' is not a decimal uint64", id="leading-zero"
        ),
        pytest.param(f"o\n-1\n{ROOT_B64}\n", "is not a decimal uint64", id="negative-size"),
        pytest.param(f"o\n+1\n{ROOT_B64}\n", "is not a decimal uint64", id="plus-sign"),
        pytest.param(f"o\n 1\n{ROOT_B64}\n", "is not a decimal uint64", id="space-in-size"),
        pytest.param(f"o\n\u0661\n{ROOT_B64}\n", "is not a decimal uint64", id="arabic-digit"),
        pytest.param(f"o\n{2**64}\n{ROOT_B64}\n", "is not a decimal uint64", id="size-2**64"),
        pytest.param(f"o\n1\n{ROOT_B64[:-4]}\n", "has 30 bytes, want 32", id="short-root"),
        pytest.param(
            f"o\n1\n{ROOT_B64[:-2]}1=\n", "root hash is not canonical base64", id="noncanonical"
        ),
        pytest.param(f"o\n1\n{ROOT_B64.rstrip('=')}\n", "not valid base64", id="unpadded"),
        pytest.param(f"o\n1\n{ROOT_B64}\n\n", "empty extension line", id="empty-extension"),
    ],
)
def test_parse_checkpoint_rejects(text: str, message: str) -> None:
    with pytest.raises(NoteError, match=message):
        parse_checkpoint(text)


def test_checkpoint_size_bounds() -> None:
    top = f"o\n{2**64 - 1}\n{ROOT_B64}\n"
    assert parse_checkpoint(top).size == 2**64 - 1
    assert parse_checkpoint(f"o\n0\n{ROOT_B64}\n").size == 0


# --------------------------------------------------------------------------------------------
# Round trips (Hypothesis).

# A key name, hence a signed checkpoint's default origin: non-empty, printable, no space, no '+'.
names = st.text(
    alphabet=st.characters(categories=("L", "N", "P", "S"), exclude_characters="+"),
    min_size=1,
    max_size=40,
)
# An extension line: non-empty, no control characters (so no newline).
lines = st.text(alphabet=st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=40)
checkpoint_parts = {
    "size": st.integers(min_value=0, max_value=2**64 - 1),
    "root": st.binary(min_size=32, max_size=32),
    "extensions": st.lists(lines, max_size=3).map(tuple),
}


@settings(max_examples=150, deadline=None)
@given(
    origin=names,
    seed=st.binary(min_size=32, max_size=32),
    witness_seed=st.binary(min_size=32, max_size=32),
    **checkpoint_parts,
)
def test_sign_then_verify_checkpoint_round_trip(
    origin: str,
    seed: bytes,
    witness_seed: bytes,
    size: int,
    root: bytes,
    extensions: tuple[str, ...],
) -> None:
    assume(origin != "witness")  # else the cosigner could be the same (name, key) twice
    cp = Checkpoint(origin, size, root, extensions)
    signer = NoteSigner(origin, Ed25519PrivateKey.from_private_bytes(seed))
    verifier = NoteVerifier.from_vkey(signer.verifier().vkey)
    assert verifier == signer.verifier()
    assert NoteSigner.from_skey(signer.skey).verifier() == verifier

    note = sign_checkpoint(cp, signer)
    assert note.startswith(cp.text() + "\n— " + origin + " ")
    assert verify_checkpoint(note, verifier) == cp
    assert verify_checkpoint(note.encode("utf-8"), verifier, origin=origin) == cp

    # A cosignature by a key the verifier does not know changes nothing.
    witness = NoteSigner("witness", Ed25519PrivateKey.from_private_bytes(witness_seed))
    cosigned = note + witness.sign(cp.text())[len(cp.text()) + 1 :]
    assert verify_checkpoint(cosigned, verifier) == cp
    opened = open_note(cosigned, [verifier, witness.verifier()])
    assert [s.name for s in opened.verified] == [origin, "witness"]


@settings(max_examples=200, deadline=None)
@given(
    origin=st.text(alphabet=st.characters(exclude_categories=("Cc", "Cs")), min_size=1),
    **checkpoint_parts,
)
def test_checkpoint_text_parse_identity(
    origin: str, size: int, root: bytes, extensions: tuple[str, ...]
) -> None:
    cp = Checkpoint(origin, size, root, extensions)
    text = cp.text()
    assert parse_checkpoint(text) == cp
    assert parse_checkpoint(text, origin=origin).text() == text


def test_sign_checkpoint_refuses_checkpoint_that_does_not_round_trip() -> None:
    # Signed, this origin would make a note that verifies as Checkpoint("log", 999, ...):
    # a newline in a field would let its content forge the size and root lines.
    cp = Checkpoint(f"log\n999\n{base64.b64encode(bytes(32)).decode()}", 1, bytes(32))
    with pytest.raises((NoteError, ValueError)):
        sign_checkpoint(cp, _signer("log", 3))


# Any character UTF-8 can encode (lone surrogates have their own test above).
replacements = st.characters(codec="utf-8")


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_single_character_edit_is_rejected(data: st.DataObject) -> None:
    # Replace, delete or insert one character anywhere in the published signed note: the result
    # must never open (and must fail with NoteError, nothing else).
    i = data.draw(st.integers(min_value=0, max_value=len(SIGNED) - 1), label="position")
    edit = data.draw(st.sampled_from(["replace", "delete", "insert"]), label="edit")
    if edit == "delete":
        msg = SIGNED[:i] + SIGNED[i + 1 :]
    else:
        c = data.draw(replacements.filter(lambda c: c != SIGNED[i]), label="char")
        msg = SIGNED[:i] + c + SIGNED[i + (edit == "replace") :]
    assert msg != SIGNED
    with pytest.raises(NoteError):
        open_note(msg, [_peter()])


# --------------------------------------------------------------------------------------------
# Mutations of our own signed checkpoints: each must raise NoteError.

ORIGIN = "example.com/log"
SIGNER = _signer(ORIGIN, 7)
VERIFIER = SIGNER.verifier()
CHECKPOINT = Checkpoint(ORIGIN, 1234, merkle.leaf_hash(b"root"), ("ext one",))
NOTE = sign_checkpoint(CHECKPOINT, SIGNER)
BAD_SIG = f"invalid signature for key {ORIGIN}\\+{VERIFIER.hash.hex()}"


def _with_signature(note: str, mutate: Any) -> str:
    """Apply `mutate` to the raw bytes (key hash || signature) of the note's one signature."""
    text, line = note[: note.rindex("\n\n") + 2], note[note.rindex("\n\n") + 2 : -1]
    dash_name, b64 = line.rsplit(" ", 1)
    raw = mutate(base64.b64decode(b64))
    return f"{text}{dash_name} {base64.b64encode(raw).decode()}\n"


def _flip_byte(i: int) -> Any:
    return lambda raw: raw[:i] + bytes([raw[i] ^ 0x01]) + raw[i + 1 :]


def test_unmutated_note_verifies() -> None:
    assert verify_checkpoint(NOTE, VERIFIER) == CHECKPOINT
    assert _with_signature(NOTE, lambda raw: raw) == NOTE


@pytest.mark.parametrize("i", [4, 5, 35, 36, 66, 67])
def test_checkpoint_rejects_flipped_signature_byte(i: int) -> None:
    # Bytes 4..67 are the Ed25519 signature (R || S).
    with pytest.raises(NoteError, match=BAD_SIG):
        verify_checkpoint(_with_signature(NOTE, _flip_byte(i)), VERIFIER)


@pytest.mark.parametrize("i", [0, 3])
def test_checkpoint_rejects_flipped_key_hash_byte(i: int) -> None:
    # The signature then names a key we do not trust.
    with pytest.raises(NoteError, match="no verifiable signatures"):
        verify_checkpoint(_with_signature(NOTE, _flip_byte(i)), VERIFIER)


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda raw: raw[:-1], id="truncated_signature"),
        pytest.param(lambda raw: raw + b"\x00", id="extended_signature"),
        pytest.param(lambda raw: raw[:4] + bytes(64), id="zero_signature"),
    ],
)
def test_checkpoint_rejects_malformed_signature(mutate: Any) -> None:
    with pytest.raises(NoteError, match=BAD_SIG):
        verify_checkpoint(_with_signature(NOTE, mutate), VERIFIER)


def test_checkpoint_rejects_signature_too_short() -> None:
    with pytest.raises(NoteError, match="signature too short"):
        verify_checkpoint(_with_signature(NOTE, lambda raw: raw[:4]), VERIFIER)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param("\n1234\n", "\n1235\n", id="changed_size_line"),
        pytest.param("\n1234\n", "\n01234\n", id="size_with_leading_zero"),
        pytest.param(
            base64.b64encode(CHECKPOINT.root).decode(),
            base64.b64encode(merkle.leaf_hash(b"other root")).decode(),
            id="changed_root",
        ),
        pytest.param("ext one\n", "ext two\n", id="changed_extension"),
        pytest.param("ext one\n", "", id="removed_extension"),
        pytest.param("ext one\n", "ext one\nadded\n", id="added_extension"),
        pytest.param(ORIGIN + "\n", "example.com/log2\n", id="changed_origin_line"),
        pytest.param("ext one\n\n", "ext one\n\n\n", id="extra_blank_line"),
    ],
)
def test_checkpoint_rejects_changed_text(old: str, new: str) -> None:
    assert NOTE.count(old) == 1
    with pytest.raises(NoteError, match=BAD_SIG):
        verify_checkpoint(NOTE.replace(old, new), VERIFIER)


def test_checkpoint_rejects_wrong_origin() -> None:
    with pytest.raises(
        NoteError, match=re.escape("checkpoint origin 'example.com/log', want 'other.org/log'")
    ):
        verify_checkpoint(NOTE, VERIFIER, origin="other.org/log")


def test_checkpoint_rejects_origin_other_than_signer_name() -> None:
    # Signed correctly, but the body names another log than the key's (default expected origin).
    note = sign_checkpoint(Checkpoint("other.org/log", 1, bytes(32)), SIGNER)
    with pytest.raises(
        NoteError, match=re.escape("checkpoint origin 'other.org/log', want 'example.com/log'")
    ):
        verify_checkpoint(note, VERIFIER)
    assert verify_checkpoint(note, VERIFIER, origin="other.org/log").origin == "other.org/log"


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(_signer(ORIGIN, 8), id="same_name_other_key"),
        pytest.param(_signer("mallory.example/log", 8), id="other_name_other_key"),
    ],
)
def test_checkpoint_rejects_signature_by_another_key(other: NoteSigner) -> None:
    note = sign_checkpoint(CHECKPOINT, other)
    with pytest.raises(NoteError, match="no verifiable signatures"):
        verify_checkpoint(note, VERIFIER)


def test_checkpoint_rejects_forged_key_hash() -> None:
    # Another key's signature under our key's name and key hash: a known key that fails.
    forged = sign_checkpoint(CHECKPOINT, _signer(ORIGIN, 8))
    forged = _with_signature(forged, lambda raw: VERIFIER.hash + raw[4:])
    with pytest.raises(NoteError, match=BAD_SIG):
        verify_checkpoint(forged, VERIFIER)


@pytest.mark.parametrize(
    ("suffix", "message"),
    [
        pytest.param("garbage\n", "unexpected line 'garbage'", id="trailing_garbage_line"),
        pytest.param("garbage", "does not end in a newline", id="trailing_garbage"),
        # The blank line becomes the note's separator, so the signature counts as text.
        pytest.param("\n", "no signature lines", id="trailing_blank_line"),
    ],
)
def test_checkpoint_rejects_trailing_garbage(suffix: str, message: str) -> None:
    with pytest.raises(NoteError, match=message):
        verify_checkpoint(NOTE + suffix, VERIFIER)


def test_checkpoint_rejects_missing_final_newline() -> None:
    with pytest.raises(NoteError, match=r"\Amalformed note: does not end in a newline\Z"):
        verify_checkpoint(NOTE[:-1], VERIFIER)


def test_checkpoint_rejects_duplicate_signature() -> None:
    line = NOTE[NOTE.rindex("\n\n") + 2 :]
    with pytest.raises(
        NoteError, match=re.escape(f"two signatures by {ORIGIN}+{VERIFIER.hash.hex()}")
    ):
        verify_checkpoint(NOTE + line, VERIFIER)


def test_checkpoint_rejects_unpadded_signature_base64() -> None:
    assert NOTE.endswith("=\n")  # 68 bytes: one padding character
    with pytest.raises(NoteError, match="signature is not valid base64"):
        verify_checkpoint(NOTE[:-2] + "\n", VERIFIER)


def test_checkpoint_rejects_noncanonical_signature_base64() -> None:
    # The last character before "=" carries 2 unused bits; setting one decodes to the same bytes.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = NOTE[-3]
    assert alphabet.index(last) % 4 == 0
    bad = NOTE[:-3] + alphabet[alphabet.index(last) + 1] + "=\n"
    assert base64.b64decode(bad.rsplit(" ", 1)[1]) == base64.b64decode(NOTE.rsplit(" ", 1)[1])
    with pytest.raises(NoteError, match="signature is not canonical base64"):
        verify_checkpoint(bad, VERIFIER)
