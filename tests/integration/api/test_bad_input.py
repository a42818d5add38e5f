"""Bad input at the edge: a precise 4xx problem+json, never a 500, never a partial write.

Every case is sent over a real socket to a real service; after each one the log must be exactly
as it was (nothing of a rejected request is written). The JSON minefield corpus (JSONTestSuite,
test_parsing/) is posted byte for byte as the body of POST /v1/events.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..service import Service
from .client import Api, Resp, assert_problem, event, sha

VECTOR_DIRS = [
    Path(__file__).resolve().parents[2] / "vectors" / "json_parsing" / "test_parsing",
    Path("/work/shared/vectors/json_parsing/test_parsing"),
]


@pytest.fixture(scope="module")
def seeded(module_service: Service) -> Service:
    api = Api(module_service)
    api.append_batch([event(i, cid=f"seed-{i}") for i in range(3)])
    return module_service


@pytest.fixture
def api(seeded: Service) -> Iterator[Api]:
    """The shared service; the test fails if the log changed while it ran."""
    api = Api(seeded)
    before = api.all_events()
    yield api
    assert api.all_events() == before, "a rejected request wrote to the log"


def post_raw(api: Api, body: bytes, path: str = "/v1/events", **kw: Any) -> Resp:
    return api.request("POST", path, key=kw.pop("key", "int_sub1"), body=body, **kw)


# -- media type and size ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/events", "/v1/events/batch", "/v1/tenants", "/v1/keys"])
@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/json-patch+json",
        "multipart/form-data; boundary=x",
        None,
    ],
)
def test_wrong_content_type_is_415(api: Api, path: str, content_type: str | None) -> None:
    key = "adm_hq" if path in ("/v1/tenants", "/v1/keys") else "int_sub1"
    body = json.dumps(event(1) if "events" in path else {"id": "x", "role": "auditor"})
    r = api.request("POST", path, key=key, body=body.encode(), content_type=content_type)
    assert_problem(r, 415, detail="want Content-Type application/json")


def test_json_with_a_charset_parameter_is_json(api: Api) -> None:
    r = post_raw(api, json.dumps({"x": 1}).encode(), content_type="application/json; charset=utf-8")
    assert_problem(r, 400, detail="x: unknown field")  # parsed as JSON, then refused as event


def test_body_over_max_body_bytes_is_413(start_service: Any) -> None:
    api = Api(start_service(max_body_bytes="2048"))
    big = json.dumps(event(1, attributes={"pad": "x" * 3000})).encode()
    assert_problem(post_raw(api, big), 413, detail="exceeds 2048")
    batch = json.dumps({"events": [event(i) for i in range(10)]}).encode()
    assert_problem(post_raw(api, batch, "/v1/events/batch"), 413)
    r = api.request(
        "POST", "/v1/tenants", key="adm_hq", body=json.dumps({"id": "x" * 3000}).encode()
    )
    assert_problem(r, 413)
    # Chunked, so without a Content-Length up front.
    conn = http.client.HTTPConnection("127.0.0.1", api.svc.port, timeout=30)
    try:
        conn.request(
            "POST",
            "/v1/events",
            body=iter([big[i : i + 512] for i in range(0, len(big), 512)]),
            headers={
                "Authorization": f"Bearer {api.svc.keys['int_sub1']}",
                "Content-Type": "application/json",
            },
            encode_chunked=True,
        )
        resp = conn.getresponse()
        assert_problem(Resp(resp.status, resp.headers, resp.read()), 413)
    finally:
        conn.close()
    # Just under the limit is read (and judged on its merits).
    small = json.dumps(event(1, attributes={"pad": "x" * 1200})).encode()
    assert len(small) < 2048
    assert post_raw(api, small).status == 201
    assert api.log_size() == 1


# -- strict JSON -------------------------------------------------------------------------------

GOOD = json.dumps(event(1)).encode()

STRICT_JSON_CASES = {
    "invalid UTF-8": (GOOD.replace(b"Li Lei", b"Li \xff\xfe"), "not UTF-8"),
    "overlong UTF-8": (GOOD.replace(b"Li Lei", b"Li \xc0\xaf"), "not UTF-8"),
    "raw surrogate (CESU-8)": (GOOD.replace(b"Li Lei", b"Li \xed\xa0\x80"), "not UTF-8"),
    "UTF-16": (json.dumps(event(1)).encode("utf-16"), "not UTF-8"),
    "byte order mark": (b"\xef\xbb\xbf" + GOOD, "byte order mark"),
    "duplicate key": (b'{"stream": "a", ' + GOOD[1:], "duplicate object key 'stream'"),
    "nested duplicate key": (
        GOOD.replace(b'"actor": {', b'"actor": {"id": "x", '),
        "duplicate object key 'id'",
    ),
    "NaN": (GOOD.replace(b'"203.0.113.7"', b"NaN"), "NaN"),
    "Infinity": (GOOD.replace(b'"203.0.113.7"', b"Infinity"), "Infinity"),
    "-Infinity": (GOOD.replace(b'"203.0.113.7"', b"-Infinity"), "Infinity"),
    "overflowing double": (GOOD.replace(b'"203.0.113.7"', b"1e400"), "1e400"),
    "lone high surrogate escape": (GOOD.replace(b"Li Lei", b"Li \\ud800"), "lone surrogate"),
    "lone low surrogate escape": (GOOD.replace(b"Li Lei", b"\\udc00"), "lone surrogate"),
    "surrogate escape in a key": (
        GOOD.replace(b'"ip"', b'"\\ud83d"'),
        "lone surrogate",
    ),
    "integer 2**53": (GOOD.replace(b'"203.0.113.7"', b"9007199254740992"), "2**53"),
    "integer -2**53": (GOOD.replace(b'"203.0.113.7"', b"-9007199254740992"), "2**53"),
    "integer 10**400": (GOOD.replace(b'"203.0.113.7"', b"1" + b"0" * 400), "2**53"),
    "array depth 1000": (b"[" * 1000 + b"]" * 1000, "nesting"),
    "object depth 1000": (b'{"a":' * 1000 + b"1" + b"}" * 1000, "nesting"),
    "array depth 100000": (b"[" * 100_000 + b"]" * 100_000, "nesting"),
    "depth 33": (b"[" * 33 + b"]" * 33, "nesting"),
    "trailing data": (GOOD + b" {}", "extra data"),
    "trailing garbage": (GOOD + b"x", "extra data"),
    "empty body": (b"", "invalid JSON"),
    "whitespace only": (b" \n", "invalid JSON"),
    "single quotes": (b"{'stream': 'a'}", "invalid JSON"),
    "trailing comma": (GOOD[:-1] + b",}", "invalid JSON"),
    "comment": (b"/* hi */" + GOOD, "invalid JSON"),
}


@pytest.mark.parametrize("case", list(STRICT_JSON_CASES))
def test_strict_json(api: Api, case: str) -> None:
    body, detail = STRICT_JSON_CASES[case]
    assert_problem(post_raw(api, body), 400, detail=detail)


@pytest.mark.parametrize("case", ["duplicate key", "NaN", "integer 2**53", "array depth 1000"])
def test_strict_json_on_every_body_route(api: Api, case: str) -> None:
    body, _ = STRICT_JSON_CASES[case]
    assert_problem(post_raw(api, body, "/v1/events/batch"), 400)
    batch = b'{"events": [' + body + b"]}"
    assert_problem(post_raw(api, batch, "/v1/events/batch"), 400)
    assert_problem(post_raw(api, body, "/v1/tenants", key="adm_hq"), 400)
    assert_problem(post_raw(api, body, "/v1/keys", key="adm_hq"), 400)


def test_the_largest_safe_integer_is_fine(api: Api) -> None:
    """The boundary of the case above: ±(2**53 - 1) is accepted (then the event is a
    conflict here, because the id is taken: nothing written, but parsed)."""
    body = GOOD.replace(b'"203.0.113.7"', b"9007199254740991")
    obj = json.loads(body)
    obj["client_event_id"] = "seed-0"
    r = post_raw(api, json.dumps(obj).encode())
    assert_problem(r, 409)


# -- event validation -------------------------------------------------------------------------


def with_(**changes: Any) -> dict[str, Any]:
    e = event(1)
    e.update(changes)
    return e


EVENT_CASES: dict[str, tuple[Any, str]] = {
    "not an object": ([event(1)], "want an object"),
    "null": (None, "want an object"),
    "string": ("event", "want an object"),
    "unknown field": (with_(tenant="sub2"), "tenant: unknown field"),
    "unknown field 2": (with_(index=5), "index: unknown field"),
    "unknown actor field": (with_(actor={"id": "u", "email": "a@b"}), "actor.email"),
    "unknown document field": (
        with_(documents=[{"sha256": sha("x"), "size": 3}]),
        "documents[0].size",
    ),
    "missing stream": ({"type": "sign", "actor": {"id": "u"}}, "stream: is required"),
    "missing actor id": (with_(actor={"name": "x"}), "actor.id: is required"),
    "empty stream": (with_(stream=""), "stream"),
    "stream with control character": (with_(stream="a\u0007b"), "stream"),
    "stream with C1 control": (with_(stream="a\u0085b"), "stream"),
    "stream with leading space": (with_(stream=" a"), "stream"),
    "stream too long": (with_(stream="s" * 257), "stream"),
    "stream not a string": (with_(stream=5), "stream"),
    "unknown type": (with_(type="stamp"), "type"),
    "bad custom type": (with_(type="Acme:Stamp"), "type"),
    "actor id too long": (with_(actor={"id": "u" * 129}), "actor.id"),
    "actor not an object": (with_(actor="u-1"), "actor"),
    "too many documents": (
        with_(documents=[{"sha256": sha(str(i))} for i in range(101)]),
        "documents",
    ),
    "short sha256": (with_(documents=[{"sha256": "abc"}]), "documents[0].sha256"),
    "non-hex sha256": (with_(documents=[{"sha256": "z" * 64}]), "documents[0].sha256"),
    "float attribute": (with_(attributes={"amount": 1.5}), "attributes.amount"),
    "nested attribute": (with_(attributes={"a": {"b": 1}}), "attributes.a"),
    "list attribute": (with_(attributes={"a": [1]}), "attributes.a"),
    "bad attribute key": (with_(attributes={"1a": "x"}), "attributes.1a"),
    "too many attributes": (with_(attributes={f"k{i}": i for i in range(65)}), "attributes"),
    "attribute text too long": (with_(attributes={"a": "x" * 4097}), "attributes.a"),
    "attribute with control character": (with_(attributes={"a": "x\u0000"}), "attributes.a"),
    "bad time": (with_(occurred_at="24/11/2026"), "occurred_at"),
    "time without zone": (with_(occurred_at="2026-11-24T10:00:00"), "occurred_at"),
    "nanosecond time": (with_(occurred_at="2026-11-24T10:00:00.123456789Z"), "occurred_at"),
    "impossible date": (with_(occurred_at="2026-02-30T10:00:00Z"), "occurred_at"),
    "empty client_event_id": (with_(client_event_id=""), "client_event_id"),
    "long client_event_id": (with_(client_event_id="c" * 129), "client_event_id"),
    "event too large": (
        with_(attributes={f"k{i}": "x" * 4000 for i in range(17)}),
        "bytes, want at most",
    ),
}


@pytest.mark.parametrize("case", list(EVENT_CASES))
def test_invalid_event(api: Api, case: str) -> None:
    obj, detail = EVENT_CASES[case]
    r = api.post("/v1/events", obj, key="int_sub1")
    p = assert_problem(r, 400, detail=detail)
    assert p["type"].rsplit("/", 1)[1] in ("invalid_event", "invalid_input")


@pytest.mark.parametrize("value", ["a b", "x" * 129, "é", ""])
def test_bad_idempotency_key_header(api: Api, value: str) -> None:
    r = api.post(
        "/v1/events",
        event(1),
        key="int_sub1",
        headers={"Idempotency-Key": value.encode().decode("latin-1")},
    )
    assert_problem(r, 400, detail="Idempotency-Key")


# -- query strings and paths ------------------------------------------------------------------

QUERY_CASES = [
    ("GET", "/v1/events?limit=1001", "aud_hq", 400, "limit"),
    ("GET", "/v1/events?limit=0", "aud_hq", 400, "limit"),
    ("GET", "/v1/events?limit=-1", "aud_hq", 400, "limit"),
    ("GET", "/v1/events?limit=1e3", "aud_hq", 400, "limit"),
    ("GET", "/v1/events?limit=" + "9" * 30, "aud_hq", 400, "limit"),
    ("GET", "/v1/events?limit=", "aud_hq", 400, "limit"),
    ("GET", "/v1/events?limit=1&limit=2", "aud_hq", 400, "given twice"),
    ("GET", "/v1/events?cursor=bm90LWEtY3Vyc29y", "aud_hq", 400, "cursor"),
    ("GET", "/v1/events?cursor=%00", "aud_hq", 400, "cursor"),
    ("GET", "/v1/events?stream=" + "s" * 257, "aud_hq", 400, "stream"),
    ("GET", "/v1/events?type=", "aud_hq", 400, "type"),
    ("GET", "/v1/events?to=2026-13-01T00:00:00Z", "aud_hq", 400, "to"),
    ("GET", "/v1/events?from=9999-12-31T23:59:59-23:59", "aud_hq", 400, "from"),
    ("GET", "/v1/events?document=" + "g" * 64, "aud_hq", 400, "document"),
    ("GET", "/v1/events?page=2", "aud_hq", 400, "unknown query parameter 'page'"),
    ("GET", "/v1/events/0?fields=all", "aud_hq", 400, "unknown query parameter"),
    ("GET", "/v1/events/0/proof?size=-1", "aud_hq", 400, "size"),
    ("GET", "/v1/events/0/proof?size=" + "9" * 20, "aud_hq", 400, "size"),
    ("GET", "/v1/streams/s?limit=5000", "aud_hq", 400, "limit"),
    ("GET", "/v1/streams/s?stream=s", "aud_hq", 400, "unknown query parameter"),
    ("GET", "/v1/export?limit=5", "aud_hq", 400, "unknown query parameter"),
    ("GET", "/v1/checkpoints/latest?x=1", "aud_hq", 400, "unknown query parameter"),
    ("GET", "/v1/checkpoints/consistency?from=1&to=x", "aud_hq", 400, "to"),
    ("GET", "/v1/tenants?all=1", "adm_hq", 400, "unknown query parameter"),
    ("GET", "/v1/keys?x=1", "adm_hq", 400, "unknown query parameter"),
    ("POST", "/v1/events?dry_run=1", "int_sub1", 400, "unknown query parameter"),
    ("POST", "/v1/events/batch?x=1", "int_sub1", 400, "unknown query parameter"),
    ("GET", "/v1/events/-1", "aud_hq", 404, "no such index"),
    ("GET", "/v1/events/abc", "aud_hq", 404, "no such index"),
    ("GET", "/v1/events/1e3", "aud_hq", 404, "no such index"),
    ("GET", "/v1/events/0x1", "aud_hq", 404, "no such index"),
    ("GET", "/v1/events/" + "9" * 25, "aud_hq", 404, "no such index"),
    ("GET", "/v1/events/-1/proof", "aud_hq", 404, "no such index"),
    ("GET", "/v1/checkpoints/-1", "aud_hq", 404, "no such size"),
    ("GET", "/v1/checkpoints/one", "aud_hq", 404, "no such size"),
]


@pytest.mark.parametrize(("method", "path", "key", "status", "detail"), QUERY_CASES)
def test_bad_query_and_path(
    api: Api, method: str, path: str, key: str, status: int, detail: str
) -> None:
    body = json.dumps(event(1)).encode() if method == "POST" else None
    assert_problem(api.request(method, path, key=key, body=body), status, detail=detail)


UNICODE_DIGIT_CASES = [
    "/v1/events?limit=%C2%B2",  # '²': str.isdigit() is true, int() refuses it
    "/v1/events/%C2%B2",
    "/v1/events/0/proof?size=%C2%B2",
    "/v1/events/%C2%B2/proof",
    "/v1/checkpoints/%C2%B2",
    "/v1/checkpoints/consistency?from=%C2%B2",
    "/v1/streams/s?limit=%C2%B2",
    "/v1/events/%D9%A1",  # ARABIC-INDIC DIGIT ONE: int() takes it, so this reads event 1
    "/v1/events?limit=%D9%A1",
]


@pytest.mark.parametrize("path", UNICODE_DIGIT_CASES)
def test_non_ascii_digits_are_not_numbers(api: Api, path: str) -> None:
    r = api.get(path, "aud_hq")
    assert r.status in (400, 404), r
    assert_problem(r, r.status)


# -- admin bodies -----------------------------------------------------------------------------

ADMIN_CASES = [
    ("/v1/tenants", {"name": "no id"}, "id: is required"),
    ("/v1/tenants", {"id": "UPPER"}, "tenant"),
    ("/v1/tenants", {"id": "-dash"}, "tenant"),
    ("/v1/tenants", {"id": "t" * 65}, "tenant"),
    ("/v1/tenants", {"id": 5}, "id: want a string"),
    ("/v1/tenants", {"id": "okid", "name": "tab\there"}, "name"),
    ("/v1/tenants", {"id": "okid", "name": ""}, "name"),
    ("/v1/tenants", {"id": "okid", "name": 7}, "name: want a string"),
    ("/v1/tenants", {"id": "okid", "budget": 1}, "budget: unknown field"),
    ("/v1/tenants", ["okid"], "want a JSON object"),
    ("/v1/keys", {}, "role: is required"),
    ("/v1/keys", {"role": "root"}, "role: want one of"),
    ("/v1/keys", {"role": "auditor", "label": "l" * 257}, "label"),
    ("/v1/keys", {"role": "auditor", "label": 3}, "label: want a string"),
    ("/v1/keys", {"role": "auditor", "secret": "x"}, "secret: unknown field"),
    ("/v1/keys", {"role": "auditor", "tenant": 1}, "tenant: want a string"),
]


@pytest.mark.parametrize(("path", "body", "detail"), ADMIN_CASES)
def test_bad_admin_bodies_create_nothing(api: Api, path: str, body: Any, detail: str) -> None:
    tenants = api.get("/v1/tenants", "adm_hq").json()
    keys = api.get("/v1/keys", "adm_hq").json()
    assert_problem(api.post(path, body, key="adm_hq"), 400, detail=detail)
    assert api.get("/v1/tenants", "adm_hq").json() == tenants
    assert api.get("/v1/keys", "adm_hq").json() == keys


# -- the JSON minefield -----------------------------------------------------------------------


def corpus_dir() -> Path | None:
    for d in VECTOR_DIRS:
        if d.is_dir() and any(d.glob("*.json")):
            return d
    return None


def test_json_minefield_corpus(seeded: Service) -> None:
    api = Api(seeded)
    before = api.all_events()
    d = corpus_dir()
    if d is None:
        pytest.skip(f"JSONTestSuite test_parsing not found in {VECTOR_DIRS}")
    files = sorted(p for p in d.iterdir() if p.name[:2] in ("y_", "n_", "i_"))
    assert len(files) > 300, f"corpus in {d} looks incomplete: {len(files)} files"
    created: dict[int, dict[str, Any]] = {}
    wrong: list[str] = []
    for f in files:
        r = post_raw(api, f.read_bytes())
        ok = r.status < 500 and r.content_type in ("application/problem+json", "application/json")
        if f.name[0] in "ni":
            ok = ok and r.status in (400, 413) and r.content_type == "application/problem+json"
        elif r.status == 201:
            created[r.json()["index"]] = r.json()
        else:
            ok = ok and 400 <= r.status < 500 and r.content_type == "application/problem+json"
        if r.status >= 400 and ok:
            p = r.json()
            ok = all(isinstance(p.get(k), str) for k in ("type", "title", "detail"))
            ok = ok and p.get("status") == r.status
        if not ok:
            wrong.append(f"{f.name}: {r!r}")
    assert not wrong, "\n".join(wrong)
    # The log holds nothing but what was acknowledged with 201.
    after = api.all_events()
    assert after[: len(before)] == before
    assert {e["index"]: e for e in after[len(before) :]} == created
