"""Map proofs over HTTP (docs/FORMAT.md §5.2) against a real ``sealtrail serve``, checked
independently with the pure core (root from the signed note's ``sealtrail-map/v1`` line), then
through the SDK (sync and async), and attacked: proofs for other keys, tampered siblings, another
document's value, another tenant's stream, a non-inclusion proof for a present key."""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from sealtrail.core.note import NoteVerifier, verify_checkpoint
from sealtrail.core.vmap import (
    MapProofError,
    StreamHead,
    document_events,
    document_key,
    map_extension,
    map_root_of,
    proof_from_json,
    stream_key,
    verify_inclusion,
    verify_non_inclusion,
)
from sealtrail.sdk import (
    AsyncClient,
    Client,
    MemoryState,
    NotProvableError,
    TrustedLog,
    VerificationError,
    check_document_answer,
    check_stream_head,
)

from ..service import SEALTRAIL, Service, env_for
from .client import Api, assert_problem, event, sha, verifier_for

STREAM = "contract:map/2026-01"  # a "/" in the name: the SDK quotes it in the path
ONLY_OTHER = "contract:other-only"


@dataclass(frozen=True)
class World:
    svc: Service
    api: Api
    verifier: NoteVerifier
    doc: str  # named by 3 events of sub1 and 2 of other
    lone: str  # named by one event
    sub1: list[dict[str, Any]]
    other: list[dict[str, Any]]
    cp: dict[str, Any]


@pytest.fixture(scope="module")
def world(module_service: Service) -> World:
    api = Api(module_service)
    doc, lone = sha("map-doc"), sha("map-lone")
    sub1 = api.append_batch([event(i, stream=STREAM, doc=doc) for i in range(3)], key="int_sub1")
    other = api.append_batch(
        [event(i, stream=STREAM, doc=doc) for i in range(2)]
        + [event(9, stream=ONLY_OTHER, doc=lone)],
        key="int_other",
    )
    cp = api.wait_for_checkpoint(other[-1]["index"] + 1)
    return World(module_service, api, verifier_for(module_service), doc, lone, sub1, other, cp)


def map_root_in(note: str, verifier: NoteVerifier) -> bytes:
    root = map_root_of(verify_checkpoint(note, verifier).extensions)
    assert root is not None, note
    return root


# -- GET /v1/streams/{stream}/map-proof -------------------------------------------------------


def _stream(api: Api, stream: str, key: str, **params: Any) -> Any:
    from urllib.parse import quote

    return api.get(f"/v1/streams/{quote(stream, safe='')}/map-proof", key, params=params or None)


def test_stream_head_proof_verifies_against_the_signed_map_line(world: World) -> None:
    r = _stream(world.api, STREAM, "aud_sub1")
    assert r.status == 200, r
    body = r.json()
    assert set(body) == {"tenant", "stream", "size", "root", "value", "proof", "checkpoint"}
    assert (body["tenant"], body["stream"]) == ("sub1", STREAM)
    assert body["size"] == body["checkpoint"]["size"] >= world.cp["size"]
    last = world.sub1[-1]
    assert body["value"] == {"count": 3, "last_index": last["index"], "hash": last["leaf_hash"]}
    root = map_root_in(body["checkpoint"]["note"], world.verifier)
    assert body["root"] == root.hex()
    value = StreamHead(3, last["index"], bytes.fromhex(last["leaf_hash"])).encode()
    verify_inclusion(root, stream_key("sub1", STREAM), value, proof_from_json(body["proof"]))
    # The integrator of the stream's tenant may ask too.
    assert _stream(world.api, STREAM, "int_sub1").json()["value"] == body["value"]


def test_each_tenant_sees_its_own_stream_of_the_same_name(world: World) -> None:
    body = _stream(world.api, STREAM, "aud_other").json()
    assert body["tenant"] == "other"
    assert body["value"]["count"] == 2
    assert body["value"]["hash"] == world.other[1]["leaf_hash"]
    root = map_root_in(body["checkpoint"]["note"], world.verifier)
    proof = proof_from_json(body["proof"])
    head = StreamHead(2, world.other[1]["index"], bytes.fromhex(world.other[1]["leaf_hash"]))
    verify_inclusion(root, stream_key("other", STREAM), head.encode(), proof)
    # the other tenant's proof does not pass for sub1's key
    with pytest.raises(MapProofError) as e:
        verify_inclusion(root, stream_key("sub1", STREAM), head.encode(), proof)
    assert e.value.reason == "key_mismatch"


def test_another_tenants_stream_is_answered_as_a_missing_one(world: World) -> None:
    other = assert_problem(_stream(world.api, ONLY_OTHER, "aud_sub1"), 404)
    missing = assert_problem(_stream(world.api, "contract:never-was", "aud_sub1"), 404)
    assert other["detail"].replace(ONLY_OTHER, "S") == missing["detail"].replace(
        "contract:never-was", "S"
    )
    assert {k: v for k, v in other.items() if k != "detail"} == {
        k: v for k, v in missing.items() if k != "detail"
    }
    # naming the tenant does not help: it is not visible to sub1's key
    assert_problem(_stream(world.api, ONLY_OTHER, "aud_sub1", tenant="other"), 404)
    assert_problem(_stream(world.api, ONLY_OTHER, "int_sub1", tenant="other"), 404)
    # the headquarters auditor reads its subsidiary's stream by naming it
    assert _stream(world.api, STREAM, "aud_hq", tenant="sub1").json()["value"]["count"] == 3
    assert_problem(_stream(world.api, STREAM, "aud_hq"), 404)  # hq's own: none


def test_stream_proof_at_an_older_checkpoint_and_bad_requests(world: World) -> None:
    api = world.api
    size = world.cp["size"]
    body = _stream(api, STREAM, "aud_sub1", size=size).json()
    assert body["size"] == size
    assert body["checkpoint"]["size"] == size
    first = world.sub1[0]["index"]
    if first > 0:  # a checkpoint before the stream began has no head for it
        assert_problem(_stream(api, STREAM, "aud_sub1", size=first), 404)
    assert_problem(_stream(api, STREAM, "aud_sub1", size=10**12), 404)
    assert_problem(_stream(api, STREAM, "aud_sub1", size="x"), 400)
    assert_problem(_stream(api, STREAM, "aud_sub1", size=0), 400)
    assert_problem(_stream(api, STREAM, "aud_sub1", limit=3), 400)
    assert_problem(_stream(api, "s" * 257, "aud_sub1"), 400)
    assert_problem(api.get("/v1/streams/x/map-proof"), 401)
    assert_problem(_stream(api, STREAM, "adm_hq"), 403)


# -- the map member of GET /v1/public/fingerprints/{sha256} ------------------------------------


def test_public_answer_proves_every_event_naming_the_document(world: World) -> None:
    body = world.api.get(f"/v1/public/fingerprints/{world.doc}").json()
    cp, m = body["checkpoint"], body["map"]
    assert m["size"] == cp["size"]
    root = map_root_in(cp["note"], world.verifier)
    assert m["root"] == root.hex()
    events = [e for e in body["events"] if e["index"] < cp["size"]]
    assert [e["index"] for e in events] == [e["index"] for e in world.sub1 + world.other[:2]]
    value = document_events([(e["index"], bytes.fromhex(e["leaf_hash"])) for e in events])
    assert m["value"] == {
        "count": 5,
        "last_index": world.other[1]["index"],
        "hash": value.chain.hex(),
    }
    key = document_key(bytes.fromhex(world.doc))
    verify_inclusion(root, key, value.encode(), proof_from_json(m["proof"]))
    # one event dropped: the recomputed value is not the proven one
    short = document_events([(e["index"], bytes.fromhex(e["leaf_hash"])) for e in events[:-1]])
    with pytest.raises(MapProofError) as e:
        verify_inclusion(root, key, short.encode(), proof_from_json(m["proof"]))
    assert e.value.reason == "value_mismatch"
    for word in ("sub1", "other", "tenant", "stream", "contract:"):
        assert word not in world.api.get(f"/v1/public/fingerprints/{world.doc}").body.decode()


def test_public_answer_proves_that_no_event_names_an_unknown_document(world: World) -> None:
    never = sha("never named anywhere")
    r = world.api.get(f"/v1/public/fingerprints/{never}")
    assert r.status == 200, r
    body = r.json()
    assert body["events"] == []
    m = body["map"]
    assert m["value"] is None
    root = map_root_in(body["checkpoint"]["note"], world.verifier)
    verify_non_inclusion(root, document_key(bytes.fromhex(never)), proof_from_json(m["proof"]))
    # that proof says nothing for a document that is there
    with pytest.raises(MapProofError):
        verify_non_inclusion(
            root, document_key(bytes.fromhex(world.doc)), proof_from_json(m["proof"])
        )


def test_a_fingerprint_is_404_only_while_no_checkpoint_with_a_map_exists(
    api_service: Service,
) -> None:
    api = Api(api_service)
    assert_problem(api.get(f"/v1/public/fingerprints/{sha('x')}"), 404)
    api.append(event(1))
    api.wait_for_checkpoint(1)
    assert api.get(f"/v1/public/fingerprints/{sha('x')}").json()["events"] == []


# -- the SDK ----------------------------------------------------------------------------------


def test_sdk_stream_head_and_document_events(world: World) -> None:
    log = TrustedLog(world.verifier, MemoryState())
    c = Client(world.svc.url, world.svc.keys["aud_sub1"])
    head = c.stream_head(STREAM, log)
    assert (head.tenant, head.stream, head.count) == ("sub1", STREAM, 3)
    assert head.last_index == world.sub1[-1]["index"]
    assert head.last_leaf_hash.hex() == world.sub1[-1]["leaf_hash"]
    assert head.checkpoint == log.trusted
    hq = Client(world.svc.url, world.svc.keys["aud_hq"])
    assert hq.stream_head(STREAM, log, tenant="sub1").count == 3

    public = Client(world.svc.url)
    got = public.document_events_complete(world.doc.upper(), log)
    assert got.count == 5
    assert [e["leaf_hash"] for e in got.events] == [
        e["leaf_hash"] for e in world.sub1 + world.other[:2]
    ]
    none = public.document_events_complete(sha("never named by the sdk"), log)
    assert (none.count, none.events) == (0, ())

    async def run() -> tuple[int, int]:
        async with AsyncClient(world.svc.url, world.svc.keys["int_other"]) as a:
            h = await a.stream_head(STREAM, log)
            d = await a.document_events_complete(world.lone, log)
            return h.count, d.count

    assert asyncio.run(run()) == (2, 1)


def _answers(world: World) -> tuple[dict[str, Any], dict[str, Any], Any]:
    stream = _stream(world.api, STREAM, "aud_sub1").json()
    doc = world.api.get(f"/v1/public/fingerprints/{world.doc}").json()
    assert doc["checkpoint"]["size"] == stream["size"], "a checkpoint was sealed in between"
    cp = verify_checkpoint(stream["checkpoint"]["note"], world.verifier)
    return stream, doc, cp


def _flip(h: str) -> str:
    return ("1" if h[0] == "0" else "0") + h[1:]


STREAM_ATTACKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "tampered-sibling[0]": lambda a: a["proof"]["siblings"].__setitem__(
        0, _flip(a["proof"]["siblings"][0])
    ),
    "tampered-sibling[-1]": lambda a: a["proof"]["siblings"].__setitem__(
        -1, _flip(a["proof"]["siblings"][-1])
    ),
    "siblings-truncated": lambda a: a["proof"]["siblings"].pop(),
    "count-minus-one": lambda a: a["value"].__setitem__("count", a["value"]["count"] - 1),
    "head-hash-of-another-event": lambda a: a["value"].__setitem__(
        "hash", _flip(a["value"]["hash"])
    ),
    "proof-for-another-key": lambda a: a.__setitem__("stream", "contract:another"),
    "other-tenant": lambda a: a.__setitem__("tenant", "other"),
    "size-of-another-checkpoint": lambda a: a.__setitem__("size", a["size"] - 1),
    "leaf-null": lambda a: a["proof"].__setitem__("leaf", None),
    "malformed-sibling": lambda a: a["proof"]["siblings"].__setitem__(0, "zz"),
    "extra-member": lambda a: a["proof"].__setitem__("x", 1),
    "value-missing": lambda a: a.__setitem__("value", None),
    "count-not-an-int": lambda a: a["value"].__setitem__("count", "3"),
}


@pytest.mark.parametrize("attack", list(STREAM_ATTACKS))
def test_sdk_refuses_a_tampered_stream_proof(world: World, attack: str) -> None:
    stream, _, cp = _answers(world)
    check_stream_head(stream, cp, STREAM, "sub1")  # the genuine answer passes
    bad = copy.deepcopy(stream)
    STREAM_ATTACKS[attack](bad)
    with pytest.raises(VerificationError):
        check_stream_head(bad, cp, bad.get("stream") or STREAM, None)


def test_sdk_takes_the_map_root_from_the_note_never_from_beside_it(world: World) -> None:
    stream, doc, cp = _answers(world)
    for answer in (stream, doc["map"]):
        answer["root"] = "00" * 32  # ignored: the note's line is the root
    check_stream_head(stream, cp, STREAM)
    check_document_answer(doc, cp, world.doc)
    # a checkpoint without the line (before the map): nothing can be proven, nothing failed
    before = replace(cp, extensions=())
    with pytest.raises(NotProvableError):
        check_stream_head(stream, before, STREAM)
    with pytest.raises(NotProvableError):
        check_document_answer(doc, before, world.doc)
    # another map root in the checkpoint: the proof does not verify against it
    other = replace(cp, extensions=(map_extension(bytes(32)),))
    with pytest.raises(VerificationError):
        check_stream_head(stream, other, STREAM)
    with pytest.raises(VerificationError):
        check_document_answer(doc, other, world.doc)


DOC_ATTACKS: dict[str, Callable[[dict[str, Any], dict[str, Any]], None]] = {
    "event-dropped": lambda a, _: a["events"].pop(),
    "first-event-dropped": lambda a, _: a["events"].pop(0),
    "events-reordered": lambda a, _: a["events"].reverse(),
    "leaf-hash-swapped": lambda a, _: a["events"][0].__setitem__(
        "leaf_hash", _flip(a["events"][0]["leaf_hash"])
    ),
    "tampered-sibling": lambda a, _: a["map"]["proof"]["siblings"].__setitem__(
        0, _flip(a["map"]["proof"]["siblings"][0])
    ),
    "value-of-another-document": lambda a, other: a.__setitem__("map", other["map"]),
    "answer-about-another-document": lambda a, other: a.__setitem__("sha256", other["sha256"]),
    "non-inclusion-for-a-present-key": lambda a, _: (
        a.__setitem__("events", []),
        a["map"].__setitem__("value", None),
    ),
    "map-member-removed-but-events-listed": lambda a, _: a["map"].__setitem__("value", None),
    "inclusion-proof-missing": lambda a, _: a["events"][1].__setitem__("proof", None),
    "siblings-257": lambda a, _: a["map"]["proof"].__setitem__("siblings", ["00" * 32] * 257),
    "map-not-an-object": lambda a, _: a.__setitem__("map", []),
}


@pytest.mark.parametrize("attack", list(DOC_ATTACKS))
def test_sdk_refuses_a_tampered_document_answer(world: World, attack: str) -> None:
    _, doc, cp = _answers(world)
    lone = world.api.get(f"/v1/public/fingerprints/{world.lone}").json()
    assert check_document_answer(doc, cp, world.doc).count == 5
    assert check_document_answer(lone, cp, world.lone).count == 1
    bad = copy.deepcopy(doc)
    DOC_ATTACKS[attack](bad, lone)
    with pytest.raises(VerificationError):
        check_document_answer(bad, cp, world.doc)


def test_sdk_refuses_a_present_document_shown_as_absent(world: World) -> None:
    """A genuine non-inclusion proof (for an unknown fingerprint) presented for a document that
    is there, with its events removed: the key and the proof's path differ."""
    _, doc, cp = _answers(world)
    never = world.api.get(f"/v1/public/fingerprints/{sha('never, for the swap')}").json()
    bad = {**doc, "events": [], "map": never["map"]}
    with pytest.raises(VerificationError):
        check_document_answer(bad, cp, world.doc)


# -- the CLI: sealtrail map-proof ---------------------------------------------------------------


def _cli(*args: str) -> tuple[int, str, str]:
    r = subprocess.run(
        [SEALTRAIL, "map-proof", *args], capture_output=True, text=True, timeout=60, env=env_for()
    )
    return r.returncode, r.stdout, r.stderr


def _foreign_vkey(name: str) -> str:
    pub = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    raw = b"\x01" + pub
    h = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    return f"{name}+{h.hex()}+{base64.b64encode(raw).decode()}"


def test_cli_fetches_and_checks_map_proofs(world: World, tmp_path: Path) -> None:
    url, vkey = world.svc.url, world.verifier.vkey
    code, out, err = _cli("document", world.doc, "--url", url, "--ledger-key", vkey, "--json")
    assert code == 0, err
    got = json.loads(out)
    assert [e["leaf_hash"] for e in got["events"]] == [
        e["leaf_hash"] for e in world.sub1 + world.other[:2]
    ]
    code, out, err = _cli("document", sha("cli: never"), "--url", url, "--ledger-key", vkey)
    assert code == 0, err
    assert out.startswith("proven: no event names")

    key_file = tmp_path / "key"
    key_file.write_text(world.svc.keys["aud_sub1"] + "\n")
    state = tmp_path / "state"
    args = ("--url", url, "--ledger-key", vkey, "--key-file", str(key_file), "--state", str(state))
    code, out, err = _cli("stream", STREAM, *args, "--json")
    assert code == 0, err
    assert json.loads(out)["count"] == 3
    assert state.exists()  # the verified checkpoint is kept for the next run
    code, out, err = _cli("stream", ONLY_OTHER, *args)  # another tenant's: as missing
    assert code == 4, (out, err)
    # a key the ledger did not sign with: a failed check
    name = vkey.split("+")[0]
    code, out, err = _cli("document", world.doc, "--url", url, "--ledger-key", _foreign_vkey(name))
    assert code == 1, (out, err)
    assert "signature" in err, err
    code, _, err = _cli("document", world.doc, "--url", url, "--ledger-key", "not-a-key")
    assert code == 2, err
    code, _, err = _cli("document", "abc", "--url", url, "--ledger-key", vkey)
    assert code == 2, err
