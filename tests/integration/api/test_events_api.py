"""Every route of the HTTP service against a real ``sealtrail serve``: happy paths and errors.

Outputs are checked independently of the service's code paths: leaf hashes are recomputed from
canonical bytes, inclusion and consistency proofs are verified with the pure Merkle core against
checkpoint roots, and checkpoint notes are verified with the ledger's published verifier key.
"""

from __future__ import annotations

import base64
import csv
import io
import itertools
import json
import re
import urllib.parse
from typing import Any

import pytest
import schemathesis

from sealtrail.core.canonical import canonicalize
from sealtrail.core.merkle import verify_consistency
from sealtrail.core.note import NoteVerifier

from ..service import Service
from .client import (
    Api,
    assert_problem,
    check_checkpoint,
    check_inclusion,
    core,
    event,
    leaf_hash_of,
    poll,
    sha,
    verifier_for,
)

STORED_KEYS = {
    "v",
    "index",
    "tenant",
    "stream",
    "type",
    "actor",
    "documents",
    "occurred_at",
    "client_event_id",
    "attributes",
    "recorded_at",
    "salt",
    "prev",
    "leaf_hash",
}
TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?Z\Z")


@pytest.fixture
def api(api_service: Service) -> Api:
    return Api(api_service)


def recomputed_leaf_hash(ev: dict[str, Any]) -> str:
    """SHA-256(0x00 || JCS(event without leaf_hash)) (docs/FORMAT.md §1.4)."""
    body = {k: v for k, v in ev.items() if k not in ("leaf_hash", "duplicate")}
    return leaf_hash_of(canonicalize(body))


def quote(stream: str) -> str:
    return urllib.parse.quote(stream, safe="")


# -- POST /v1/events ----------------------------------------------------------------------


def test_append_returns_the_stored_event_with_tenant_from_the_key(api: Api) -> None:
    sent = event(1, cid="erp-1")
    r = api.post("/v1/events", sent, key="int_sub1")
    assert r.status == 201, r
    assert r.content_type == "application/json"
    ev = r.json()
    assert set(ev) == STORED_KEYS
    assert ev["index"] == 0
    assert ev["tenant"] == "sub1"
    assert ev["v"] == 1
    assert ev["prev"] is None
    assert r.headers["Location"] == "/v1/events/0"
    assert re.fullmatch(r"[0-9a-f]{32}", ev["salt"])
    assert TIME_RE.match(ev["recorded_at"])
    for k in ("stream", "type", "actor", "documents", "attributes", "client_event_id"):
        assert ev[k] == sent[k], k
    assert ev["leaf_hash"] == recomputed_leaf_hash(ev)

    # The tenant comes from the key: another integrator's event lands in its own tenant.
    ev2 = api.append(event(2), key="int_sub2")
    assert (ev2["index"], ev2["tenant"]) == (1, "sub2")
    assert api.get("/v1/events/0", "aud_hq").json() == ev
    assert api.get("/v1/events/1", "aud_hq").json() == ev2


def test_a_tenant_in_the_body_is_rejected_not_used(api: Api) -> None:
    r = api.post("/v1/events", {**event(1), "tenant": "other"}, key="int_sub1")
    assert_problem(r, 400, detail="tenant: unknown field")
    assert api.log_size() == 0


def test_retry_with_the_same_client_event_id_replays_the_original(api: Api) -> None:
    first = api.post("/v1/events", event(1, cid="erp-7781"), key="int_sub1")
    assert first.status == 201
    assert "Idempotent-Replayed" not in first.headers
    again = api.post("/v1/events", event(1, cid="erp-7781"), key="int_sub1")
    assert again.status == 200, again
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert again.json() == first.json()
    # Equal after normalisation (same instant with an offset, upper-case hex) is the same event.
    same = event(1, cid="erp-7781", occurred_at="2026-11-24T18:00:00+08:00")
    same["documents"][0]["sha256"] = same["documents"][0]["sha256"].upper()
    r = api.post("/v1/events", same, key="int_sub1")
    assert r.status == 200, r
    assert r.json()["leaf_hash"] == first.json()["leaf_hash"]
    assert api.log_size() == 1


def test_idempotency_key_header_is_the_client_event_id(api: Api) -> None:
    hdr = {"Idempotency-Key": "erp-42"}
    r = api.post("/v1/events", event(1), key="int_sub1", headers=hdr)
    assert r.status == 201, r
    original = r.json()
    assert original["client_event_id"] == "erp-42"
    # Retried with the header only, or with the same id in the body too: the original.
    for body in (event(1), event(1, cid="erp-42")):
        r = api.post("/v1/events", body, key="int_sub1", headers=hdr)
        assert r.status == 200, r
        assert r.headers["Idempotent-Replayed"] == "true"
        assert r.json()["leaf_hash"] == original["leaf_hash"]
    # The header's id without the header is the same id.
    r = api.post("/v1/events", event(1, cid="erp-42"), key="int_sub1")
    assert r.status == 200, r
    # Header and body disagree: 400, nothing written.
    r = api.post("/v1/events", event(2, cid="erp-43"), key="int_sub1", headers=hdr)
    assert_problem(r, 400, detail="Idempotency-Key and client_event_id differ")
    # Ids are per tenant: the same id in another tenant is another event.
    r = api.post("/v1/events", event(1), key="int_sub2", headers=hdr)
    assert r.status == 201, r
    assert r.json()["tenant"] == "sub2"
    assert api.log_size() == 2
    assert [e["client_event_id"] for e in api.all_events()] == ["erp-42", "erp-42"]


def test_same_id_with_a_different_body_is_a_conflict_and_writes_nothing(api: Api) -> None:
    original = api.append(event(1, cid="erp-9"))
    r = api.post("/v1/events", event(2, cid="erp-9"), key="int_sub1")
    assert_problem(r, 409, detail="erp-9")
    r = api.post("/v1/events", event(1), key="int_sub1", headers={"Idempotency-Key": "erp-9"})
    assert r.status == 200  # the same body through the header is still the original
    r = api.post(
        "/v1/events",
        event(1, etype="view"),
        key="int_sub1",
        headers={"Idempotency-Key": "erp-9"},
    )
    assert_problem(r, 409)
    assert api.all_events() == [original]


def test_events_without_an_id_are_never_deduplicated(api: Api) -> None:
    a = api.append(event(1))
    b = api.append(event(1))
    assert (a["index"], b["index"]) == (0, 1)
    assert a["salt"] != b["salt"]
    assert a["leaf_hash"] != b["leaf_hash"]
    # Same stream: the second links to the first.
    assert b["prev"] == a["leaf_hash"]


def test_stored_times_follow_the_documented_normal_form(api: Api) -> None:
    # docs/FORMAT.md §1.3: UTC, always six fraction digits (fixed width, sorts as text)
    ev = api.append(event(1, occurred_at="2026-11-24T18:00:00+08:00"))
    assert ev["occurred_at"] == "2026-11-24T10:00:00.000000Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", ev["recorded_at"])


def test_append_normalises_per_format(api: Api) -> None:
    """What the service does today, checked against what both it and FORMAT.md agree on."""
    ev = api.append(
        {
            "stream": "s",
            "type": "acme:seal.applied",
            "actor": {"id": "u-1"},
            "occurred_at": "2026-11-24T18:00:00.1234560+08:00",
        }
    )
    assert ev["actor"] == {"id": "u-1", "name": None, "org": None, "role": None}
    assert ev["documents"] == []
    assert ev["attributes"] == {}
    assert ev["client_event_id"] is None
    assert ev["occurred_at"] == "2026-11-24T10:00:00.123456Z"
    assert ev["type"] == "acme:seal.applied"


# -- POST /v1/events/batch ----------------------------------------------------------------


def test_batch_appends_all_events_together(api: Api) -> None:
    api.append(event(0, cid="pre"))
    events = [event(i, cid=f"b-{i}", stream=f"s{i % 2}") for i in range(5)]
    r = api.post("/v1/events/batch", {"events": events}, key="int_sub1")
    assert r.status == 201, r
    got = r.json()["events"]
    assert [e["index"] for e in got] == [1, 2, 3, 4, 5]
    assert all(e["duplicate"] is False and e["tenant"] == "sub1" for e in got)
    assert len({e["recorded_at"] for e in got}) == 1  # committed together
    assert [e["client_event_id"] for e in got] == [f"b-{i}" for i in range(5)]
    assert got[2]["prev"] == got[0]["leaf_hash"]  # s0 chain inside the batch
    for e in got:
        assert e["leaf_hash"] == recomputed_leaf_hash(e)
        stored = api.get(f"/v1/events/{e['index']}", "aud_sub1").json()
        assert stored == {k: v for k, v in e.items() if k != "duplicate"}


def test_batch_with_one_invalid_event_writes_nothing(api: Api) -> None:
    api.append(event(0))
    events = [event(i, cid=f"b-{i}") for i in range(6)]
    events[3]["documents"][0]["sha256"] = "not-a-digest"
    r = api.post("/v1/events/batch", {"events": events}, key="int_sub1")
    p = assert_problem(r, 400)
    assert p["detail"].startswith("events[3].documents[0].sha256:"), p
    events[3] = {**event(3), "colour": "red"}
    r = api.post("/v1/events/batch", {"events": events}, key="int_sub1")
    assert assert_problem(r, 400)["detail"].startswith("events[3]"), r
    assert [e["index"] for e in api.all_events()] == [0]
    # The valid part is not half-remembered: the same ids are free to use.
    assert len(api.append_batch([event(i, cid=f"b-{i}") for i in range(3)])) == 3


def test_batch_conflicting_with_a_stored_event_writes_nothing(api: Api) -> None:
    api.append(event(1, cid="taken"))
    events = [event(10, cid="new-1"), event(2, cid="taken"), event(11, cid="new-2")]
    r = api.post("/v1/events/batch", {"events": events}, key="int_sub1")
    assert_problem(r, 409, detail="taken")
    # Two events of one batch with one id but different bodies: conflict, nothing written.
    r = api.post(
        "/v1/events/batch", {"events": [event(3, cid="x"), event(4, cid="x")]}, key="int_sub1"
    )
    assert_problem(r, 409)
    assert api.log_size() == 1


def test_batch_repeating_a_stored_event_marks_it_duplicate(api: Api) -> None:
    first = api.append(event(1, cid="one"))
    got = api.append_batch([event(1, cid="one"), event(2, cid="two")])
    assert [(e["index"], e["duplicate"]) for e in got] == [(0, True), (1, False)]
    assert got[0]["leaf_hash"] == first["leaf_hash"]
    assert api.log_size() == 2


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"events": []}, "events: want a non-empty array"),
        ({}, "events: want a non-empty array"),
        ({"events": {"0": {}}}, "events: want a non-empty array"),
        ([event(1)], "want an object"),
        ({"events": [event(1)], "atomic": True}, "atomic: unknown field"),
        ({"events": [event(1), 7]}, "events[1]"),
    ],
)
def test_batch_shape_errors(api: Api, body: Any, detail: str) -> None:
    assert_problem(api.post("/v1/events/batch", body, key="int_sub1"), 400, detail=detail)
    assert api.log_size() == 0


def test_batch_over_max_batch_is_rejected(api: Api) -> None:
    r = api.post("/v1/events/batch", {"events": [event(i) for i in range(1001)]}, key="int_sub1")
    assert_problem(r, 400, detail="1001 events, at most 1000")
    r = api.post(
        "/v1/events/batch",
        {"events": [event(1)]},
        key="int_sub1",
        headers={"Idempotency-Key": "k"},
    )
    assert_problem(r, 400, detail="Idempotency-Key is for single events")
    assert api.log_size() == 0
    assert len(api.append_batch([event(i) for i in range(1000)])) == 1000


# -- GET /v1/events -----------------------------------------------------------------------


def seed_varied(api: Api) -> list[dict[str, Any]]:
    """20 events over two subsidiaries, three streams, three types, four actors, two docs."""
    out = []
    for i in range(20):
        key = "int_sub2" if i % 5 == 0 else "int_sub1"
        out.append(
            api.append(
                event(
                    i,
                    stream=f"contract:{i % 3}",
                    etype=("sign", "view", "acme:stamp")[(i // 2) % 3],
                    actor=f"u-{i % 4}",
                    doc=sha("doc-A") if i % 6 == 0 else sha(f"doc-{i}"),
                ),
                key=key,
            )
        )
    return out


def test_list_filters(api: Api) -> None:
    all_ = seed_varied(api)
    api.append(event(99, stream="contract:0", doc=sha("doc-A")), key="int_other")

    def indices(**filters: str) -> list[int]:
        return [e["index"] for e in api.all_events(**filters)]

    def want(pred: Any) -> list[int]:
        return [e["index"] for e in all_ if pred(e)]

    assert indices() == want(lambda e: True)  # int_other's event is not in hq's group
    assert indices(stream="contract:1") == want(lambda e: e["stream"] == "contract:1")
    assert indices(type="acme:stamp") == want(lambda e: e["type"] == "acme:stamp")
    assert indices(actor="u-3") == want(lambda e: e["actor"]["id"] == "u-3")
    doc_a = sha("doc-A")
    assert indices(document=doc_a) == want(lambda e: e["documents"][0]["sha256"] == doc_a)
    assert indices(document=doc_a.upper()) == indices(document=doc_a)
    assert indices(tenant="sub2") == want(lambda e: e["tenant"] == "sub2")
    assert indices(tenant="sub2", stream="contract:0", type="sign") == want(
        lambda e: (e["tenant"], e["stream"], e["type"]) == ("sub2", "contract:0", "sign")
    )
    assert indices(stream="no-such-stream") == []
    # recorded_at: from inclusive, to exclusive (each append above committed on its own).
    t5, t12 = all_[5]["recorded_at"], all_[12]["recorded_at"]
    assert indices(**{"from": t5, "to": t12}) == want(lambda e: t5 <= e["recorded_at"] < t12)
    assert indices(**{"from": t5}) == want(lambda e: e["recorded_at"] >= t5)
    assert indices(to="2000-01-01T00:00:00Z") == []
    r = api.get("/v1/events", "aud_hq", params={"document": "abc"})
    assert_problem(r, 400, detail="document")
    r = api.get("/v1/events", "aud_hq", params={"from": "yesterday"})
    assert_problem(r, 400, detail="from")


def test_cursor_pagination_walks_every_event_once_in_order(api: Api) -> None:
    for n in range(3):
        api.append_batch([event(f"{n}-{i}", stream=f"s{i % 2}") for i in range(15)])
    api.append(event("x"), key="int_other")  # in the log, not visible to aud_hq
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 7}
        if cursor is not None:
            params["cursor"] = cursor
        r = api.get("/v1/events", "aud_hq", params=params)
        assert r.status == 200, r
        page = r.json()
        pages += 1
        assert len(page["events"]) <= 7
        seen.extend(e["index"] for e in page["events"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert len(page["events"]) == 7
    assert seen == list(range(45))
    assert pages == 7
    # With a filter too.
    s1 = [e["index"] for e in api.all_events(limit=4, stream="s1")]
    assert s1 == [i for i in range(45) if i % 15 % 2 == 1]
    # Default page size 100; at most 1000.
    assert len(api.get("/v1/events", "aud_hq").json()["events"]) == 45
    assert_problem(api.get("/v1/events", "aud_hq", params={"limit": 1001}), 400, detail="limit")


def test_a_tampered_cursor_is_rejected(api: Api) -> None:
    api.append_batch([event(i) for i in range(5)])
    good = api.get("/v1/events", "aud_hq", params={"limit": 2}).json()["next_cursor"]
    assert good
    assert api.get("/v1/events", "aud_hq", params={"cursor": good}).status == 200
    b64 = base64.urlsafe_b64encode
    tampered = [
        good[:-1],
        good + "A",
        good[:-1] + ("B" if good[-1] != "B" else "C"),
        good + "==",
        "!" + good,
        b64(b"after:01").decode().rstrip("="),
        b64(b"after:-1").decode().rstrip("="),
        b64(b"before:1").decode().rstrip("="),
        b64(b"after:1;drop").decode().rstrip("="),
        "",
    ]
    for bad in tampered:
        r = api.get("/v1/events", "aud_hq", params={"cursor": bad})
        assert_problem(r, 400, detail="cursor")


# -- GET /v1/events/{index} and /proof ----------------------------------------------------


def test_get_one_event_and_missing_ones(api: Api) -> None:
    ev = api.append(event(1))
    assert api.get("/v1/events/0", "aud_sub1").json() == ev
    for bad in ("1", "999", "-1", "abc", "1.0", "%20", "99999999999999999999"):
        assert_problem(api.get(f"/v1/events/{bad}", "aud_hq"), 404)
    assert_problem(api.get("/v1/events/0?x=1", "aud_hq"), 400, detail="unknown query parameter")


def test_inclusion_proofs_verify_against_signed_checkpoints(api: Api) -> None:
    assert_problem(api.get("/v1/checkpoints/latest", "aud_hq"), 404)
    first = api.append_batch([event(i, cid=f"a{i}") for i in range(5)])
    cp5 = api.wait_for_checkpoint(5)
    assert cp5["size"] == 5  # batches are atomic: no other size is possible
    second = api.append_batch([event(i, cid=f"b{i}") for i in range(8)], key="int_sub2")
    cp13 = api.wait_for_checkpoint(13)
    assert cp13["size"] == 13
    events = first + second

    # The verifier key, from the public endpoint and from the data directory, is the same.
    doc = first[0]["documents"][0]["sha256"]
    vkey = api.get(f"/v1/public/fingerprints/{doc}").json()["verifier_key"]
    verifier = NoteVerifier.from_vkey(vkey)
    assert verifier == verifier_for(api.svc)

    for ev in events:
        r = api.get(f"/v1/events/{ev['index']}/proof", "aud_hq")
        assert r.status == 200, r
        p = r.json()
        assert p["type"] == "inclusion"
        assert (p["index"], p["size"], p["leaf_hash"]) == (ev["index"], 13, ev["leaf_hash"])
        assert p["checkpoint"] == cp13
        assert p["root"] == cp13["root"]
        check_checkpoint(p["checkpoint"], verifier)
        check_inclusion(ev["leaf_hash"], ev["index"], 13, p["proof"], cp13["root"])

    # To an older checkpoint.
    for ev in first:
        p = api.get(f"/v1/events/{ev['index']}/proof", "aud_hq", params={"size": 5}).json()
        assert p["checkpoint"] == cp5
        check_checkpoint(p["checkpoint"], verifier)
        check_inclusion(ev["leaf_hash"], ev["index"], 5, p["proof"], cp5["root"])
    # Not in that checkpoint / not a checkpoint size.
    r = api.get("/v1/events/7/proof", "aud_hq", params={"size": 5})
    assert_problem(r, 404, detail="not in checkpoint 5")
    for size in (7, 12, 14, 10**6):
        r = api.get("/v1/events/0/proof", "aud_hq", params={"size": size})
        assert_problem(r, 404, detail=f"no checkpoint of size {size}")
    assert_problem(api.get("/v1/events/0/proof", "aud_hq", params={"size": 0}), 400)
    assert_problem(api.get("/v1/events/0/proof", "aud_hq", params={"size": "x"}), 400)
    assert_problem(api.get("/v1/events/13/proof", "aud_hq"), 404)
    assert_problem(api.get("/v1/events/0/proof", "aud_hq", params={"sizes": 5}), 400)


def test_proof_of_an_event_not_yet_sealed_is_404(start_service: Any) -> None:
    api = Api(start_service(checkpoint_interval="3600", checkpoint_size="1000"))
    api.append(event(1))
    assert_problem(api.get("/v1/events/0/proof", "aud_hq"), 404, detail="no checkpoint")
    assert_problem(api.get("/v1/checkpoints/latest", "aud_hq"), 404)


# -- GET /v1/streams/{stream} -------------------------------------------------------------


def test_stream_with_slash_and_colon_chain_and_pagination(api: Api) -> None:
    name = "contract:2026/0001:a"
    evs = []
    for i in range(9):
        evs.append(api.append(event(i, stream=name)))
        api.append(event(i, stream="contract:2026"))  # interleaved, another stream
    url = f"/v1/streams/{quote(name)}"
    assert "%2F" in url
    assert "%3A" in url
    r = api.get(url, "aud_sub1")
    assert r.status == 200, r
    s = r.json()
    assert (s["tenant"], s["stream"], s["chain_intact"], s["next_cursor"]) == (
        "sub1",
        name,
        True,
        None,
    )
    assert s["events"] == evs
    assert s["events"][0]["prev"] is None
    for a, b in itertools.pairwise(evs):
        assert b["prev"] == a["leaf_hash"]

    # Pages of 4: each links to the previous page's last event.
    got: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 4, "tenant": "sub1"}
        if cursor:
            params["cursor"] = cursor
        page = api.get(url, "aud_hq", params=params).json()
        assert page["chain_intact"] is True
        got.extend(page["events"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert got == evs

    # An HQ auditor names the subsidiary; without it, its own tenant (which has no such stream).
    assert_problem(api.get(url, "aud_hq"), 404)
    assert_problem(api.get("/v1/streams/nope", "aud_sub1"), 404, detail="no stream")
    assert_problem(api.get(url, "aud_sub1", params={"cursor": "zz"}), 400, detail="cursor")
    assert_problem(api.get(url, "aud_sub1", params={"limit": 0}), 400, detail="limit")


def test_stream_names_with_other_characters(api: Api) -> None:
    for name in ("合同/2026", "a b%c?d#e", "x" * 256):
        ev = api.append(event(1, stream=name))
        s = api.get(f"/v1/streams/{quote(name)}", "aud_sub1").json()
        assert (s["stream"], s["events"], s["chain_intact"]) == (name, [ev], True)


def test_stream_chains_are_per_tenant(api: Api) -> None:
    a = api.append(event(1, stream="shared"), key="int_sub1")
    b = api.append(event(2, stream="shared"), key="int_sub2")
    assert a["prev"] is None
    assert b["prev"] is None
    s1 = api.get("/v1/streams/shared", "aud_hq", params={"tenant": "sub1"}).json()
    s2 = api.get("/v1/streams/shared", "aud_hq", params={"tenant": "sub2"}).json()
    assert (s1["events"], s2["events"]) == ([a], [b])


# -- checkpoints ----------------------------------------------------------------------------


def test_checkpoints_and_consistency_proofs(api: Api) -> None:
    verifier = verifier_for(api.svc)
    api.append_batch([event(i) for i in range(5)])
    cp5 = api.wait_for_checkpoint(5)
    api.append_batch([event(i) for i in range(8)], key="int_sub2")
    cp13 = api.wait_for_checkpoint(13)
    assert (cp5["size"], cp13["size"]) == (5, 13)
    for key in ("aud_hq", "int_sub1", "adm_hq", "aud_other"):  # every role may read them
        assert core(api.get("/v1/checkpoints/latest", key).json()) == cp13
    assert core(api.get("/v1/checkpoints/5", "aud_hq").json()) == cp5
    assert core(api.get("/v1/checkpoints/13", "aud_hq").json()) == cp13
    for cp in (cp5, cp13):
        check_checkpoint(cp, verifier)
        assert TIME_RE.match(cp["created_at"])
    for size in ("0", "6", "14", "abc", "-5"):
        assert_problem(api.get(f"/v1/checkpoints/{size}", "aud_hq"), 404)

    r = api.get("/v1/checkpoints/consistency", "aud_hq", params={"from": 5, "to": 13})
    assert r.status == 200, r
    c = r.json()
    assert (c["type"], c["old_size"], c["new_size"]) == ("consistency", 5, 13)
    assert (c["old_root"], c["new_root"]) == (cp5["root"], cp13["root"])
    assert (c["old_checkpoint"], c["new_checkpoint"]) == (cp5, cp13)
    verify_consistency(
        5,
        13,
        bytes.fromhex(cp5["root"]),
        bytes.fromhex(cp13["root"]),
        [bytes.fromhex(h) for h in c["proof"]],
    )
    # `to` defaults to the latest checkpoint; equal sizes give an empty proof.
    assert api.get("/v1/checkpoints/consistency", "aud_hq", params={"from": 5}).json() == c
    same = api.get("/v1/checkpoints/consistency", "aud_hq", params={"from": 13, "to": 13}).json()
    assert (same["proof"], same["old_root"], same["new_root"]) == ([], cp13["root"], cp13["root"])

    bad = [
        ({"from": 13, "to": 5}, 400, "larger than"),
        ({"to": 13}, 400, "from: is required"),
        ({"from": 6, "to": 13}, 404, "no checkpoint of size 6"),
        ({"from": 5, "to": 12}, 404, "no checkpoint of size 12"),
        ({"from": 0, "to": 13}, 400, "from"),
        ({"from": "x"}, 400, "from"),
        ({"from": 5, "too": 13}, 400, "unknown query parameter"),
    ]
    for params, status, detail in bad:
        r = api.get("/v1/checkpoints/consistency", "aud_hq", params=params)
        assert_problem(r, status, detail=detail)


# -- GET /v1/export -------------------------------------------------------------------------


def _seed_for_export(api: Api) -> list[dict[str, Any]]:
    evs = api.append_batch([event(i, stream=f"s{i % 3}") for i in range(9)])
    evs += api.append_batch([event(i, stream="s0") for i in range(4)], key="int_sub2")
    api.append(event(0), key="int_other")  # not in hq's group
    api.wait_for_checkpoint(14)
    return [{k: v for k, v in e.items() if k != "duplicate"} for e in evs]


def test_export_jsonl_verifies_line_by_line(api: Api) -> None:
    evs = _seed_for_export(api)
    verifier = verifier_for(api.svc)
    r = api.get("/v1/export", "aud_hq")
    assert r.status == 200, r
    assert r.content_type == "application/x-ndjson"
    assert "sealtrail-export.jsonl" in r.headers["Content-Disposition"]
    lines = r.body.decode().splitlines()
    head = json.loads(lines[0])
    assert head["kind"] == "checkpoint"
    assert head["size"] == 14
    check_checkpoint(head, verifier)
    rows = [json.loads(line) for line in lines[1:]]
    assert [row["event"] for row in rows] == evs
    for row in rows:
        ev = row["event"]
        assert row["kind"] == "event"
        raw = base64.b64decode(row["canonical_base64"], validate=True)
        assert leaf_hash_of(raw) == ev["leaf_hash"]
        assert raw == canonicalize({k: v for k, v in ev.items() if k != "leaf_hash"})
        p = row["proof"]
        assert (p["index"], p["size"], p["root"]) == (ev["index"], head["size"], head["root"])
        check_inclusion(ev["leaf_hash"], ev["index"], head["size"], p["proof"], head["root"])

    # Filters, as for GET /v1/events.
    r = api.get("/v1/export", "aud_hq", params={"tenant": "sub2"})
    sub2 = [json.loads(x)["event"] for x in r.body.decode().splitlines()[1:]]
    assert sub2 == [e for e in evs if e["tenant"] == "sub2"]
    r = api.get("/v1/export", "aud_hq", params={"stream": "s1", "format": "jsonl"})
    assert [json.loads(x)["event"]["index"] for x in r.body.decode().splitlines()[1:]] == [1, 4, 7]


def test_export_csv_verifies_row_by_row(api: Api) -> None:
    evs = _seed_for_export(api)
    head = api.latest_checkpoint()
    assert head is not None
    r = api.get("/v1/export", "aud_sub1", params={"format": "csv"})
    assert r.status == 200, r
    assert r.content_type == "text/csv"
    rows = list(csv.DictReader(io.StringIO(r.body.decode())))
    want = [e for e in evs if e["tenant"] == "sub1"]
    assert [int(row["index"]) for row in rows] == [e["index"] for e in want]
    for row, ev in zip(rows, want, strict=True):
        raw = base64.b64decode(row["canonical_base64"], validate=True)
        assert leaf_hash_of(raw) == row["leaf_hash"] == ev["leaf_hash"]
        assert json.loads(raw) == {k: v for k, v in ev.items() if k != "leaf_hash"}
        assert (row["tenant"], row["stream"], row["type"], row["actor_id"]) == (
            ev["tenant"],
            ev["stream"],
            ev["type"],
            ev["actor"]["id"],
        )
        assert row["recorded_at"] == ev["recorded_at"]
        assert row["occurred_at"] == (ev["occurred_at"] or "")
        assert int(row["checkpoint_size"]) == head["size"]
        check_inclusion(
            row["leaf_hash"], int(row["index"]), head["size"], row["proof"].split(), head["root"]
        )


def test_export_errors_and_empty(api: Api) -> None:
    r = api.get("/v1/export", "aud_hq")
    assert r.status == 200
    assert [json.loads(x) for x in r.body.decode().splitlines()] == [
        {"kind": "checkpoint", "size": 0}
    ]
    assert_problem(api.get("/v1/export", "aud_hq", params={"format": "xml"}), 400, detail="format")
    assert_problem(api.get("/v1/export", "aud_hq", params={"limit": 5}), 400)
    assert_problem(api.get("/v1/export", "aud_sub1", params={"tenant": "sub2"}), 404)
    assert_problem(api.get("/v1/export", "int_sub1"), 403)


# -- GET /v1/public/fingerprints/{sha256} ----------------------------------------------------


def test_public_fingerprint_shows_only_hashes_times_and_proofs(api: Api) -> None:
    doc = sha("the signed contract")
    secret = {
        "stream": "contract:secret-stream-77",
        "actor": {"id": "u-secret-9", "name": "Han Meimei", "org": "Secret Org", "role": "cfo"},
        "client_event_id": "erp-secret-5",
        "attributes": {"remarks": "tender-secret-17"},
    }
    mine = [
        api.append({**event(1, doc=doc), **secret}, key="int_sub1"),
        api.append(
            event(2, doc=doc, etype="view", stream="contract:other-secret"), key="int_other"
        ),
    ]
    api.append(event(3))  # another document
    cp = api.wait_for_checkpoint(3)

    r = api.get(f"/v1/public/fingerprints/{doc}")  # no Authorization header
    assert r.status == 200, r
    raw = r.body.decode()
    for word in (
        "secret", "Han Meimei", "Li Lei", "Acme", "u-42", "u-secret", "sub1", "other",
        "tenant", "stream", "actor", "erp-", "contract:", "remarks", "salt", "client_event",
    ):  # fmt: skip
        assert word not in raw, word
    # Two letters could occur inside base64 (note signature, verifier key) by chance: look for
    # the tenant id as a JSON string instead.
    assert '"hq"' not in raw
    body = r.json()
    assert body["sha256"] == doc
    assert body["checkpoint"] == cp
    verifier = NoteVerifier.from_vkey(body["verifier_key"])
    check_checkpoint(body["checkpoint"], verifier)
    assert [set(e) for e in body["events"]] == [
        {"index", "type", "recorded_at", "leaf_hash", "proof"}
    ] * 2
    for pub, ev in zip(body["events"], mine, strict=True):
        assert (pub["index"], pub["type"], pub["recorded_at"], pub["leaf_hash"]) == (
            ev["index"],
            ev["type"],
            ev["recorded_at"],
            ev["leaf_hash"],
        )
        check_inclusion(pub["leaf_hash"], pub["index"], cp["size"], pub["proof"], cp["root"])
    # Upper-case works; an unknown fingerprint gets no events and a map proof that there is none
    # (test_map_proofs.py); malformed fingerprints are 404.
    assert api.get(f"/v1/public/fingerprints/{doc.upper()}").json()["sha256"] == doc
    unknown = api.get(f"/v1/public/fingerprints/{sha('never')}").json()
    assert (unknown["events"], unknown["map"]["value"]) == ([], None)
    assert_problem(api.get("/v1/public/fingerprints/abc"), 404)
    assert_problem(api.get(f"/v1/public/fingerprints/{doc}?x=1"), 400)


def test_public_fingerprint_is_rate_limited(start_service: Any) -> None:
    api = Api(start_service(public_rate_limit="3"))
    doc = sha("d")
    api.append(event(1, doc=doc))
    statuses = [api.get(f"/v1/public/fingerprints/{doc}").status for _ in range(3)]
    assert statuses == [200, 200, 200]
    r = api.get(f"/v1/public/fingerprints/{doc}")
    assert_problem(r, 429, detail="too many requests")
    assert int(r.headers["Retry-After"]) >= 1
    # Invalid look-ups are counted too; authenticated routes are not limited.
    assert_problem(api.get("/v1/public/fingerprints/zz"), 429)
    assert api.get("/v1/events", "aud_hq").status == 200


# -- operations ----------------------------------------------------------------------------


def _metric(text: str, name: str) -> float:
    m = re.search(rf"^{name} (\S+)$", text, re.M)
    assert m, f"{name} not in metrics"
    return float(m.group(1))


def test_health_ready_and_metrics(api: Api) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}
    assert api.get("/readyz").json() == {"status": "ready", "log_size": 0}
    api.append(event(1, cid="a"))
    api.append(event(2, cid="b"))
    api.post("/v1/events", event(1, cid="a"), key="int_sub1")  # a replay: not appended
    api.post("/v1/events", event(3), key="aud_hq")  # refused
    api.append_batch([event(4), event(5), event(1, cid="a")])  # 2 new + a replay
    assert api.get("/readyz").json() == {"status": "ready", "log_size": 4}
    api.wait_for_checkpoint(4)
    # The sealer updates its gauges just after the checkpoint is stored: poll for them.
    text = poll(
        lambda: (
            t
            if "sealtrail_checkpoint_size 4.0" in (t := api.get("/metrics").body.decode())
            else None
        ),
        5,
        "the checkpoint gauge",
    )
    r = api.get("/metrics")
    assert r.status == 200
    assert r.content_type == "text/plain"
    assert _metric(text, "sealtrail_events_appended_total") == 4
    assert _metric(text, "sealtrail_log_size") == 4
    assert _metric(text, "sealtrail_checkpoint_size") == 4
    assert _metric(text, "sealtrail_checkpoints_sealed_total") >= 1
    assert re.search(
        r'^sealtrail_http_requests_total\{method="POST",route="/v1/events",status="201"\} 2\.0$',
        text,
        re.M,
    ), text
    assert re.search(r'route="/v1/events",status="403"\} 1\.0$', text, re.M)


#: The seal, seal-use, envelope and validation routes (issue 6; api/routes_seals_openapi.py).
SEAL_PATHS = {
    "/v1/seals": {"post", "get"},
    "/v1/seals/{id}": {"get"},
    "/v1/seals/{id}/appearance": {"get"},
    "/v1/seals/{id}/suspend": {"post"},
    "/v1/seals/{id}/resume": {"post"},
    "/v1/seals/{id}/revoke": {"post"},
    "/v1/seals/{id}/sign": {"post"},
    "/v1/seal-policy": {"get", "put"},
    "/v1/seal-requests": {"post", "get"},
    "/v1/seal-requests/{id}": {"get"},
    "/v1/seal-requests/{id}/approve": {"post"},
    "/v1/seal-requests/{id}/reject": {"post"},
    "/v1/seal-uses": {"get"},
    "/v1/envelopes": {"post", "get"},
    "/v1/envelopes/{id}": {"get"},
    "/v1/envelopes/{id}/document": {"get"},
    "/v1/envelopes/{id}/sign": {"post"},
    "/v1/pdf/validate": {"post"},
    # issue 15: public validation, cross-tenant invitations, counterparty validation and
    # approvals bound to an envelope slot
    "/v1/public/pdf/validate": {"post"},
    "/v1/envelope-invitations": {"get"},
    "/v1/envelopes/{id}/invitations/{position}/accept": {"post"},
    "/v1/envelopes/{id}/invitations/{position}/decline": {"post"},
    "/v1/envelopes/{id}/seal-requests": {"post"},
    "/v1/envelopes/{id}/validation": {"get"},
    "/v1/envelopes/{id}/validate": {"post"},
}


def test_openapi_document(api: Api) -> None:
    r = api.get("/v1/openapi.json")
    assert r.status == 200
    assert r.content_type == "application/json"
    doc = r.json()
    assert doc["openapi"] == "3.1.0"
    schemathesis.openapi.from_dict(doc).validate()  # against the OpenAPI 3.1 meta-schema
    assert {p: set(v) for p, v in doc["paths"].items()} == {
        "/v1/events": {"post", "get"},
        "/v1/events/batch": {"post"},
        "/v1/events/{index}": {"get"},
        "/v1/events/{index}/proof": {"get"},
        "/v1/streams/{stream}": {"get"},
        "/v1/streams/{stream}/map-proof": {"get"},
        "/v1/export": {"get"},
        "/v1/checkpoints/latest": {"get"},
        "/v1/checkpoints/{size}": {"get"},
        "/v1/checkpoints/consistency": {"get"},
        "/v1/public/fingerprints/{sha256}": {"get"},
        "/v1/tenants": {"post", "get"},
        "/v1/keys": {"post", "get"},
        "/v1/keys/{id}": {"delete"},
        "/healthz": {"get"},
        "/readyz": {"get"},
        "/metrics": {"get"},
        "/v1/openapi.json": {"get"},
        **SEAL_PATHS,
        # certification packages (issue 5) and the console's JSON routes (issue 7)
        "/v1/streams/{stream}/package": {"get"},
        "/v1/package": {"get"},
        "/v1/public/packages/verify": {"post"},
        "/v1/console/whoami": {"get"},
        "/v1/console/timeline": {"get"},
        "/v1/console/checkpoints": {"get"},
        "/v1/console/group": {"get"},
        # envelopes signed from links (issue 16)
        "/v1/envelopes/{id}/void": {"post"},
        "/v1/envelopes/{id}/remind": {"post"},
        "/v1/sign/{token}": {"get"},
        "/v1/sign/{token}/code": {"post"},
        "/v1/sign/{token}/verify": {"post"},
        "/v1/sign/{token}/document": {"get"},
        "/v1/sign/{token}/pages/{n}.png": {"get"},
        "/v1/sign/{token}/viewed": {"post"},
        "/v1/sign/{token}/seals": {"get"},
        "/v1/sign/{token}/sign": {"post"},
        "/v1/sign/{token}/decline": {"post"},
        "/v1/sign/{token}/download": {"get"},
        # signed callbacks (issue 17)
        "/v1/webhooks": {"post", "get"},
        "/v1/webhooks/{id}": {"delete"},
        "/v1/webhooks/{id}/rotate-secret": {"post"},
        "/v1/webhooks/{id}/deliveries": {"get"},
        "/v1/webhooks/{id}/replay": {"post"},
    }
    refs = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', r.body.decode()))
    assert refs <= set(doc["components"]["schemas"])


def test_unknown_routes_and_methods_are_problems(api: Api) -> None:
    assert_problem(api.get("/v1/nope"), 404)
    r = api.request("PUT", "/v1/events", key="aud_hq")
    assert_problem(r, 405)
    assert set(r.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    assert_problem(api.delete("/v1/events/0", key="aud_hq"), 405)
