"""Signed callbacks end to end: a real service calls a real receiver (docs/WEBHOOKS.md).

Signatures are checked with the ``standardwebhooks`` package (what a receiver in any language
uses) and with the SDK; proofs with the SDK against the ledger's published key."""

from __future__ import annotations

import hashlib
import signal
import time
from typing import Any

import pytest
from standardwebhooks import Webhook

from sealtrail.sdk import check_callback, verify_callback

from ..api.client import Api, assert_problem, event, poll, verifier_for
from ..conftest import StartService
from ..service import Service
from .conftest import FAST
from .receiver import Receiver, answer_sha256


def tenant_admin(api: Api, tenant: str = "sub1") -> str:
    """A fresh admin key of ``tenant`` (made by the HQ admin)."""
    r = api.post("/v1/keys", {"tenant": tenant, "role": "admin"}, key="adm_hq")
    assert r.status == 201, r
    return str(r.json()["key"])


def subscribe(api: Api, admin: str, url: str, events: list[str] | None = None, **kw: Any) -> Any:
    r = api.post("/v1/webhooks", {"url": url, "events": events or ["sign"], **kw}, key=admin)
    assert r.status == 201, r
    got = r.json()
    assert got["secret"].startswith("whsec_")
    assert got["id"].startswith("wh_")
    return got


def deliveries(api: Api, admin: str, wid: str) -> list[dict[str, Any]]:
    r = api.get(f"/v1/webhooks/{wid}/deliveries", admin)
    assert r.status == 200, r
    return list(r.json()["deliveries"])


def wait_log(
    api: Api, admin: str, wid: str, pred: Any, what: str, timeout: float = 10
) -> list[dict[str, Any]]:
    """The delivery log once ``pred(log)`` holds."""

    def check() -> list[dict[str, Any]] | None:
        d = deliveries(api, admin, wid)
        return d if pred(d) else None

    return poll(check, timeout, what)


def wait_receipts(api: Api, wid: str, n: int) -> list[dict[str, Any]]:
    """The receipt events of webhook ``wid`` once there are ``n``."""

    def check() -> list[dict[str, Any]] | None:
        r = api.all_events(key="aud_sub1", stream=f"webhook:{wid}")
        return r if len(r) >= n else None

    return poll(check, 10, f"{n} receipts")


def signs(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The deliveries about ledger events (not checkpoint notices)."""
    return [d for d in log if not d["type"].startswith("checkpoint.")]


def event_calls(calls: list[Any]) -> list[Any]:
    """The callbacks about ledger events (not checkpoint notices)."""
    return [c for c in calls if not c.json()["type"].startswith("checkpoint.")]


def wait_acked(receiver: Receiver, n: int, timeout: float = 20) -> list[Any]:
    """The first ``n`` (or more) acknowledged callbacks about ledger events."""

    def check() -> list[Any] | None:
        got = event_calls(receiver.acknowledged())
        return got if len(got) >= n else None

    return poll(
        check,
        timeout,
        f"{n} acknowledged callbacks (got {len(event_calls(receiver.acknowledged()))})",
    )


@pytest.fixture
def svc(start_service: StartService) -> Service:
    return start_service(**FAST)


def test_callbacks_are_signed_proven_and_receipted(svc: Service, receiver: Receiver) -> None:
    api = Api(svc)
    admin = tenant_admin(api)
    hook = subscribe(api, admin, receiver.url, events=["*"], receipts=True)
    sent = [api.append(event(i, stream=f"contract:{i % 2}"), key="int_sub1") for i in range(5)]
    other = api.append(event(9, stream="contract:x"), key="int_other")  # another tenant's
    calls = wait_acked(receiver, 5)
    time.sleep(0.5)
    assert len(event_calls(receiver.acknowledged())) == 5, "one per event of the tenant"
    # "*" also brings the checkpoint notices: a timestamped checkpoint holding the events
    notices = poll(
        lambda: (
            [c for c in receiver.acknowledged() if c.json()["type"] == "checkpoint.timestamped"]
            or None
        ),
        20,
        "a checkpoint.timestamped notice",
    )
    notice = Webhook(hook["secret"]).verify(notices[0].body, notices[0].headers)
    assert notice["data"]["tenant"] == "sub1"
    assert notice["data"]["timestamp"]["status"] == "stamped"
    assert notice["data"]["checkpoint"]["size"] > min(e["index"] for e in sent)
    verifier = verifier_for(svc)
    wh = Webhook(hook["secret"])
    seen: dict[str, list[int]] = {}
    for c in calls:
        # the standard library of any receiver accepts it …
        payload = wh.verify(c.body, c.headers)
        assert payload == verify_callback(hook["secret"], c.headers, c.body)
        assert payload["type"] == "sign"
        ev = payload["data"]["event"]
        assert ev["tenant"] == "sub1"
        assert ev["index"] != other["index"]
        # … and the proof holds offline: inclusion in a signed checkpoint, the stream's head
        got = check_callback(payload, verifier)
        assert got.event.event["leaf_hash"] == ev["leaf_hash"]
        assert got.stream is not None
        assert got.stream.last_index >= ev["index"]
        seen.setdefault(ev["stream"], []).append(ev["index"])
    assert {i for s in seen.values() for i in s} == {e["index"] for e in sent}
    for indices in seen.values():
        assert indices == sorted(indices), "a stream's callbacks arrive in order"
    # the delivery log
    log = wait_log(
        api,
        admin,
        hook["id"],
        lambda d: len(signs(d)) == 5 and all(x["status"] == "delivered" for x in d),
        "every delivery logged as delivered",
    )
    log = signs(log)
    assert all(d["attempts"] == 1 and d["last_status"] == 200 for d in log)
    assert all(isinstance(d["latency_ms"], int) for d in log)
    # receipts: one event per delivery on stream webhook:<id>, in the tenant's ledger
    receipts = wait_receipts(api, hook["id"], 5)
    by_delivery = {
        r["attributes"]["delivery_id"]: r
        for r in receipts
        if r["attributes"]["delivery_type"] == "sign"  # notices get receipts too
    }
    assert set(by_delivery) == {c.headers["webhook-id"] for c in calls}
    for r in receipts:
        assert r["type"] == "webhook:receipt"
        assert r["tenant"] == "sub1"
        assert r["attributes"]["http_status"] == 200
        assert r["attributes"]["response_sha256"] == answer_sha256()
    # receipts cause no callbacks of their own
    time.sleep(0.5)
    assert len(event_calls(receiver.snapshot())) == 5


def test_tampered_callbacks_are_refused(svc: Service, receiver: Receiver) -> None:
    api = Api(svc)
    admin = tenant_admin(api)
    hook = subscribe(api, admin, receiver.url, events=["sign"])
    api.append(event(1), key="int_sub1")
    api.append(event(2, etype="view"), key="int_sub1")  # not subscribed
    (call,) = wait_acked(receiver, 1)
    time.sleep(0.3)
    assert len(receiver.snapshot()) == 1
    secret, h, body = hook["secret"], call.headers, call.body
    verifier = verifier_for(svc)
    payload = verify_callback(secret, h, body)
    check_callback(payload, verifier)
    from sealtrail.sdk import VerificationError

    mutations = {
        "wrong-secret": lambda: verify_callback("whsec_" + "A" * 44, h, body),
        "modified-body": lambda: verify_callback(secret, h, body.replace(b'"sign"', b'"view"')),
        "other-id": lambda: verify_callback(secret, {**h, "webhook-id": "msg_x"}, body),
        "stale-timestamp": lambda: verify_callback(secret, h, body, now=time.time() + 3600),
        "no-signature": lambda: verify_callback(secret, {**h, "webhook-signature": ""}, body),
        "v2-only": lambda: verify_callback(
            secret, {**h, "webhook-signature": h["webhook-signature"].replace("v1,", "v2,")}, body
        ),
    }
    for name, fn in mutations.items():
        with pytest.raises(VerificationError):
            fn()
        print("refused:", name)
    ev = payload["data"]["event"]
    forged = {**payload, "data": {**payload["data"], "event": {**ev, "actor": {"id": "x"}}}}
    with pytest.raises(VerificationError):
        check_callback(forged, verifier)
    proof = payload["data"]["proof"]
    other_stream = {**proof["map"], "stream": "contract:other"}
    bad_map = {**payload, "data": {**payload["data"], "proof": {**proof, "map": other_stream}}}
    with pytest.raises(VerificationError):
        check_callback(bad_map, verifier)
    from sealtrail.core.note import NoteSigner

    stranger = NoteSigner.generate("stranger").verifier()
    with pytest.raises(VerificationError):
        check_callback(payload, stranger)


def test_retries_after_500s_keep_stream_order(svc: Service, receiver: Receiver) -> None:
    api = Api(svc)
    admin = tenant_admin(api)
    hook = subscribe(api, admin, receiver.url)
    receiver.first = [500, 500, 503]
    first = api.append(event(1, stream="contract:o"), key="int_sub1")
    second = api.append(event(2, stream="contract:o"), key="int_sub1")
    calls = wait_acked(receiver, 2)
    all_calls = receiver.snapshot()
    idx = [c.json()["data"]["event"]["index"] for c in all_calls]
    assert idx[:4] == [first["index"]] * 4, "the first event is retried; the second waits"
    assert [c.json()["data"]["event"]["index"] for c in calls] == [
        first["index"],
        second["index"],
    ]
    # every attempt of one delivery carries the same webhook-id
    assert len({c.headers["webhook-id"] for c in all_calls[:4]}) == 1
    log = deliveries(api, admin, hook["id"])
    assert [d["attempts"] for d in log] == [4, 1]
    assert log[0]["last_status"] == 200
    assert log[0]["status"] == "delivered"


def test_receiver_down_then_back_loses_nothing(svc: Service, receiver: Receiver) -> None:
    api = Api(svc)
    admin = tenant_admin(api)
    hook = subscribe(api, admin, receiver.url)
    receiver.down()
    sent = api.append_batch([event(i, stream=f"contract:d{i % 3}") for i in range(9)])
    poll(
        lambda: (
            True
            if all(d["attempts"] >= 2 for d in deliveries(api, admin, hook["id"])[:1])
            else None
        ),
        10,
        "failed attempts while the receiver is down",
    )
    down = deliveries(api, admin, hook["id"])
    assert down[0]["status"] == "pending"
    assert down[0]["last_status"] is None
    assert "connection failed" in down[0]["last_error"]
    receiver.up()
    calls = wait_acked(receiver, 9)
    got = [c.json()["data"]["event"]["index"] for c in calls]
    assert sorted(set(got)) == sorted(e["index"] for e in sent)  # nothing lost
    assert len(got) == len(set(got))  # and, here, nothing repeated


def test_slow_receiver_times_out_then_succeeds(svc: Service, receiver: Receiver) -> None:
    api = Api(svc)
    admin = tenant_admin(api)
    hook = subscribe(api, admin, receiver.url)
    receiver.delay = 2.5  # beyond callback_timeout (1 s)
    api.append(event(1), key="int_sub1")
    log = wait_log(
        api, admin, hook["id"], lambda d: d and d[0]["attempts"] >= 1, "a timed-out attempt"
    )
    assert log[0]["status"] == "pending"
    assert "no answer within" in log[0]["last_error"]
    receiver.delay = 0
    wait_acked(receiver, 1)
    done = wait_log(api, admin, hook["id"], lambda d: d[0]["status"] == "delivered", "delivered")
    assert done[0]["attempts"] >= 2


def test_dead_letter_after_the_retry_window(
    start_service: StartService, receiver: Receiver
) -> None:
    svc = start_service(**{**FAST, "callback_retry_window": "1"})
    api = Api(svc)
    admin = tenant_admin(api)
    hook = subscribe(api, admin, receiver.url)
    receiver.status = 500
    api.append(event(1, stream="contract:a"), key="int_sub1")
    api.append(event(2, stream="contract:a"), key="int_sub1")
    log = wait_log(
        api,
        admin,
        hook["id"],
        lambda d: len(d) == 2 and all(x["status"] == "dead" for x in d),
        "both deliveries dead-lettered",
        timeout=20,
    )
    assert all(d["last_status"] == 500 for d in log)
    # a replay of the dead-lettered range delivers them again, once the receiver is back
    receiver.status = 200
    r = api.post(
        f"/v1/webhooks/{hook['id']}/replay",
        {"from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"},
        key=admin,
    )
    assert r.status == 202, r
    assert len(r.json()["replayed"]) == 2
    wait_acked(receiver, 2)


def test_replay_and_rotation(svc: Service, receiver: Receiver) -> None:
    api = Api(svc)
    admin = tenant_admin(api)
    hook = subscribe(api, admin, receiver.url)
    api.append(event(1), key="int_sub1")
    (first,) = wait_acked(receiver, 1)
    r = api.post(f"/v1/webhooks/{hook['id']}/rotate-secret", {}, key=admin)
    assert r.status == 200, r
    new = r.json()["secret"]
    assert new != hook["secret"]
    r = api.post(
        f"/v1/webhooks/{hook['id']}/replay",
        {"delivery_id": first.headers["webhook-id"]},
        key=admin,
    )
    assert r.status == 202, r
    (replayed_id,) = r.json()["replayed"]
    calls = wait_acked(receiver, 2)
    again = calls[1]
    assert again.headers["webhook-id"] == replayed_id != first.headers["webhook-id"]
    assert again.json()["data"]["event"] == first.json()["data"]["event"]
    # during the overlap both secrets sign: receivers on either accept it
    assert len(again.headers["webhook-signature"].split(" ")) == 2
    Webhook(new).verify(again.body, again.headers)
    Webhook(hook["secret"]).verify(again.body, again.headers)
    log = deliveries(api, admin, hook["id"])
    assert log[1]["replay_of"] == first.headers["webhook-id"]
    assert r.json()["replayed"] == [log[1]["id"]]


def test_tenants_see_only_their_subscriptions(svc: Service, receiver: Receiver) -> None:
    api = Api(svc)
    sub1, sub2 = tenant_admin(api, "sub1"), tenant_admin(api, "sub2")
    hook = subscribe(api, sub1, receiver.url)
    wid = hook["id"]
    for method, path, body in [
        ("GET", f"/v1/webhooks/{wid}/deliveries", None),
        ("POST", f"/v1/webhooks/{wid}/rotate-secret", {}),
        ("POST", f"/v1/webhooks/{wid}/replay", {"delivery_id": "msg_x"}),
        ("DELETE", f"/v1/webhooks/{wid}", None),
    ]:
        for key in (sub2, "adm_hq"):
            kw: dict[str, Any] = {} if body is None else {"json_body": body}
            assert_problem(api.request(method, path, key=key, **kw), 404)
    assert api.get("/v1/webhooks", sub2).json()["webhooks"] == []
    assert [w["id"] for w in api.get("/v1/webhooks", sub1).json()["webhooks"]] == [wid]
    assert "secret" not in api.get("/v1/webhooks", sub1).json()["webhooks"][0]
    # integrators and auditors manage no subscriptions
    for key in ("int_sub1", "aud_sub1"):
        assert_problem(api.get("/v1/webhooks", key), 403)
    # an event of sub2 reaches no sub1 subscription; deleting stops deliveries
    api.append(event(1), key="int_sub2")
    r = api.delete(f"/v1/webhooks/{wid}", sub1)
    assert r.status == 200, r
    api.append(event(2), key="int_sub1")
    time.sleep(1.0)
    assert receiver.snapshot() == []
    assert api.get("/v1/webhooks", sub1).json()["webhooks"] == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/hook",
        "http://192.168.0.1/hook",
        "http://[::1]:9/hook",
        "http://localhost:9/hook",
        "http://0.0.0.0:9/hook",
        "ftp://example.com/hook",
        "http://user:pw@example.com/hook",
        "not a url",
    ],
)
def test_refused_urls(start_service: StartService, url: str) -> None:
    svc = start_service()  # no callback_allow_hosts
    api = Api(svc)
    admin = tenant_admin(api)
    r = api.post("/v1/webhooks", {"url": url, "events": ["*"]}, key=admin)
    p = assert_problem(r, 400)
    assert p["type"].endswith("callback_url_refused"), p


def test_allow_hosts_names_host_and_port(start_service: StartService) -> None:
    svc = start_service(callback_allow_hosts="127.0.0.1:8999")
    api = Api(svc)
    admin = tenant_admin(api)
    ok = api.post("/v1/webhooks", {"url": "http://127.0.0.1:8999/h", "events": ["*"]}, key=admin)
    assert ok.status == 201, ok
    no = api.post("/v1/webhooks", {"url": "http://127.0.0.1:8998/h", "events": ["*"]}, key=admin)
    assert_problem(no, 400)
    for bad in (
        {"url": "http://127.0.0.1:8999/h", "events": []},
        {"url": "http://127.0.0.1:8999/h", "events": ["*", "sign"]},
        {"url": "http://127.0.0.1:8999/h", "events": ["webhook:receipt"]},
        {"url": "http://127.0.0.1:8999/h", "events": ["Sign"]},
        {"url": "http://127.0.0.1:8999/h", "events": ["*"], "receipts": "yes"},
        {"url": "http://127.0.0.1:8999/h", "events": ["*"], "extra": 1},
        {"events": ["*"]},
    ):
        assert_problem(api.post("/v1/webhooks", bad, key=admin), 400)


def test_sigkill_mid_delivery_resumes_after_restart(
    start_service: StartService, receiver: Receiver
) -> None:
    svc = start_service(**FAST)
    api = Api(svc)
    admin = tenant_admin(api)
    hook = subscribe(api, admin, receiver.url)
    receiver.delay = 30  # hold the first attempt open
    sent = api.append(event(1), key="int_sub1")
    poll(lambda: receiver.snapshot() or None, 10, "the first attempt to arrive")
    svc.stop(signal.SIGKILL)
    receiver.delay = 0
    again = start_service(data_dir=svc.data_dir, **FAST)
    calls = wait_acked(receiver, 1)
    assert calls[0].json()["data"]["event"]["index"] == sent["index"]
    first_id = receiver.snapshot()[0].headers["webhook-id"]
    assert calls[0].headers["webhook-id"] == first_id, "the same delivery, resumed"
    log = wait_log(
        Api(again),
        admin,
        hook["id"],
        lambda d: d and d[0]["status"] == "delivered",
        "delivered after the restart",
    )
    assert len(log) == 1


def test_receipt_hash_is_of_the_response_body(svc: Service, receiver: Receiver) -> None:
    api = Api(svc)
    admin = tenant_admin(api)
    hook = subscribe(api, admin, receiver.url, receipts=True)
    receiver.first = [500]
    api.append(event(1), key="int_sub1")
    wait_acked(receiver, 1)
    receipts = wait_receipts(api, hook["id"], 2)
    assert [r["attributes"]["http_status"] for r in receipts] == [500, 200]
    assert [r["attributes"]["attempt"] for r in receipts] == [1, 2]
    assert all(
        r["attributes"]["response_sha256"] == hashlib.sha256(b'{"received":true}').hexdigest()
        for r in receipts
    )


def test_cli_manages_subscriptions(svc: Service, receiver: Receiver, tmp_path: Any) -> None:
    import json
    import subprocess

    from ..service import SEALTRAIL

    api = Api(svc)
    key_file = tmp_path / "admin.key"
    key_file.write_text(tenant_admin(api) + "\n")

    def run(*args: str) -> Any:
        r = subprocess.run(
            [SEALTRAIL, "webhooks", *args, "--url", svc.url, "--key-file", str(key_file), "--json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    added = run("add", receiver.url, "--event", "sign", "--receipts")
    assert added["receipts"] is True
    assert added["events"] == ["sign"]
    assert [w["id"] for w in run("list")["webhooks"]] == [added["id"]]
    api.append(event(1), key="int_sub1")
    (call,) = wait_acked(receiver, 1)
    Webhook(added["secret"]).verify(call.body, call.headers)
    log = run("deliveries", added["id"])["deliveries"]
    assert log[0]["id"] == call.headers["webhook-id"]
    assert len(run("replay", added["id"], "--delivery", log[0]["id"])["replayed"]) == 1
    assert run("rotate", added["id"])["secret"].startswith("whsec_")
    run("delete", added["id"])
    assert run("list")["webhooks"] == []
    r = subprocess.run(
        [SEALTRAIL, "webhooks", "delete", added["id"], "--url", svc.url, "--key-file",
         str(key_file)],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert r.returncode == 4, r.stderr  # not found
