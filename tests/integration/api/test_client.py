"""The Python SDK (sealtrail.sdk.client) against a real ``sealtrail serve``.

Every behaviour is checked for both the sync :class:`Client` (urllib) and the
:class:`AsyncClient` (aiohttp); the async one is driven through :class:`AsyncAsSync`, which runs
it on an event loop of its own in a thread, so one test body serves both.

Faults are real HTTP: :class:`Proxy` is an aiohttp server on its own port (and thread) that
forwards to the service and can answer 503 first, lose a response, or tamper with a proof, a
checkpoint signature or an event on the way back; :class:`Dropper` accepts connections and
closes them. The SDK talks to them exactly as it would to a server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import threading
import time
import urllib.error
import uuid
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from sealtrail.core.note import NoteVerifier, verify_checkpoint
from sealtrail.sdk.client import (
    ApiError,
    AsyncClient,
    Client,
    RetryPolicy,
    VerificationError,
    VerifiedEvent,
)
from sealtrail.sdk.errors import MisbehaviourError
from sealtrail.sdk.state import FileState, TrustedLog

from ..service import Service, free_port
from .client import Api, event, sha

FAST_RETRY = RetryPolicy(attempts=5, base_delay=0.01, max_delay=0.05)
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\Z")


# --------------------------------------------------------------------------------------------
# Real HTTP servers in front of the service


def _flip_hex(h: str) -> str:
    """``h`` with its first hex digit changed."""
    return ("1" if h[0] == "0" else "0") + h[1:]


def _flip_signature(note: str) -> str:
    """``note`` with one base64 character in the middle of its (last) signature changed.

    The middle of the base64 lies in the Ed25519 signature (after the 4-byte key hash), and a
    character that is neither the first nor the last keeps the encoding canonical.
    """
    lines = note.split("\n")
    prefix, sig = lines[-2].rsplit(" ", 1)
    i = len(sig) // 2
    lines[-2] = f"{prefix} {sig[:i]}{'B' if sig[i] == 'A' else 'A'}{sig[i + 1 :]}"
    return "\n".join(lines)


_EVENT_PATH = re.compile(r"/v1/events/\d+\Z")
_PROOF_PATH = re.compile(r"/v1/events/\d+/proof\Z")


def tamper(mode: str, path: str, obj: Any) -> Any:
    """Change one character of a successful JSON answer (``mode`` names which)."""
    if mode == "proof_hash" and (_PROOF_PATH.match(path) or path == "/v1/checkpoints/consistency"):
        obj["proof"][0] = _flip_hex(obj["proof"][0])
    elif mode == "signature" and _PROOF_PATH.match(path):
        obj["checkpoint"]["note"] = _flip_signature(obj["checkpoint"]["note"])
    elif mode == "signature" and path == "/v1/checkpoints/consistency":
        obj["new_checkpoint"]["note"] = _flip_signature(obj["new_checkpoint"]["note"])
    elif mode == "actor_name" and _EVENT_PATH.match(path):
        name = obj["actor"]["name"]
        obj["actor"]["name"] = ("M" if name[0] != "M" else "N") + name[1:]
    return obj


class Proxy:
    """An aiohttp server on 127.0.0.1 (its own thread and loop) that forwards to ``upstream``.

    * ``fail_first``: answer this many requests 503 (``Retry-After: 0``) without forwarding
      them; the detail names the attempt (``attempt 1``, ``attempt 2``, …);
    * ``lose_first``: forward this many, then drop the service's answer and say 503 instead;
    * ``tamper``: a :func:`tamper` mode applied to successful JSON answers;
    * ``rewrite``: maps the path+query sent upstream (to substitute another resource);
    * ``start_delay``: bind only after this many seconds (connections are refused until then).

    ``requests`` records ``(method, path_qs, body)`` of every request received.
    """

    def __init__(
        self,
        upstream: str | None,
        *,
        port: int | None = None,
        fail_first: int = 0,
        lose_first: int = 0,
        tamper: str | None = None,
        rewrite: Callable[[str], str] | None = None,
        start_delay: float = 0.0,
    ) -> None:
        self.upstream = upstream
        self.port = port or free_port()
        self.fail_first = fail_first
        self.lose_first = lose_first
        self.tamper = tamper
        self.rewrite = rewrite
        self.start_delay = start_delay
        self.requests: list[tuple[str, str, bytes]] = []
        self.started_at: float | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> Proxy:
        self._thread.start()
        if wait and not self._ready.wait(10):
            raise RuntimeError(f"proxy did not start: {self._error!r}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def __enter__(self) -> Proxy:
        return self.start(wait=self.start_delay == 0)

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as e:  # surfaced by start()
            self._error = e
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        if self.start_delay:
            await asyncio.sleep(self.start_delay)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        async with aiohttp.ClientSession() as self._session:
            try:
                await web.TCPSite(runner, "127.0.0.1", self.port).start()
                self.started_at = time.monotonic()
                self._ready.set()
                await self._stop.wait()
            finally:
                await runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append((request.method, request.path_qs, body))
        n = len(self.requests)
        if n <= self.fail_first or self.upstream is None:
            problem = {
                "type": "https://sealtrail.dev/problems/unavailable",
                "title": "unavailable",
                "status": 503,
                "detail": f"attempt {n}",
            }
            return web.json_response(
                problem,
                status=503,
                headers={"Retry-After": "0"},
                content_type="application/problem+json",
            )
        path_qs = self.rewrite(request.path_qs) if self.rewrite else request.path_qs
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() in ("authorization", "content-type", "accept", "user-agent")
        }
        async with self._session.request(
            request.method, self.upstream + path_qs, data=body or None, headers=headers
        ) as r:
            status, payload = r.status, await r.read()
            content_type = r.headers.get("Content-Type", "application/json")
        if n <= self.fail_first + self.lose_first:
            return web.Response(status=503, headers={"Retry-After": "0"}, text="lost")
        if self.tamper and status < 300:
            payload = json.dumps(tamper(self.tamper, request.path, json.loads(payload))).encode()
        return web.Response(status=status, body=payload, headers={"Content-Type": content_type})

    def posted_bodies(self) -> list[dict[str, Any]]:
        return [json.loads(b) for m, _, b in self.requests if m == "POST"]


class Dropper:
    """Accepts TCP connections, reads the request, and closes without answering."""

    def __init__(self) -> None:
        self.accepts = 0
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        while not self._done.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            self.accepts += 1
            with conn:
                conn.settimeout(2)
                with contextlib.suppress(OSError):
                    conn.recv(65536)

    def __enter__(self) -> Dropper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(5)
        self._sock.close()


# --------------------------------------------------------------------------------------------
# Both clients behind one interface


class AsyncAsSync:
    """An :class:`AsyncClient` on an event loop in its own thread, called synchronously.

    Coroutine methods become blocking calls; ``events`` stays lazy (one ``__anext__`` per item).
    A method the AsyncClient lacks raises AttributeError, as it would for a caller.
    """

    def __init__(self, base_url: str, key: str | None = None, **kw: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.client = AsyncClient(base_url, key, **kw)
        self._call(self.client.__aenter__())

    def _call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=120)

    def _iterate(self, agen: Any) -> Iterator[Any]:
        while True:
            try:
                yield self._call(agen.__anext__())
            except StopAsyncIteration:
                return

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.client, name)
        if name == "events":
            return lambda **kw: self._iterate(attr(**kw))
        if asyncio.iscoroutinefunction(attr):
            return lambda *a, **kw: self._call(attr(*a, **kw))
        return attr

    def close(self) -> None:
        self._call(self.client.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


Connect = Callable[..., Any]


@pytest.fixture(params=["sync", "async"])
def flavor(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def connect(flavor: str) -> Iterator[Connect]:
    """``connect(base_url, key=None, **kw)``: a Client or an AsyncClient (closed at teardown)."""
    opened: list[AsyncAsSync] = []

    def make(base_url: str, key: str | None = None, **kw: Any) -> Any:
        if flavor == "sync":
            return Client(base_url, key, **kw)
        c = AsyncAsSync(base_url, key, **kw)
        opened.append(c)
        return c

    yield make
    for c in opened:
        c.close()


@pytest.fixture
def svc(module_service: Service) -> Service:
    return module_service


@pytest.fixture(scope="module")
def verifier(module_service: Service) -> NoteVerifier:
    vkey = (module_service.data_dir / "ledger.pub").read_text().strip()
    return NoteVerifier.from_vkey(vkey)


def new_stream() -> str:
    return f"contract:{uuid.uuid4().hex[:12]}"


def stored(svc: Service, stream: str) -> list[dict[str, Any]]:
    """The events of ``stream`` as the service holds them (read without the SDK)."""
    return Api(svc).all_events(key="aud_sub1", stream=stream)


def sealed(svc: Service, index: int) -> dict[str, Any]:
    """Wait until a checkpoint covers event ``index``."""
    return Api(svc).wait_for_checkpoint(index + 1)


# --------------------------------------------------------------------------------------------
# Appends


def test_append_assigns_a_uuid_client_event_id(svc: Service, connect: Connect) -> None:
    c = connect(svc.url, svc.keys["int_sub1"])
    s = new_stream()
    got = c.append(event(1, stream=s))
    assert UUID_RE.match(got["client_event_id"]), got
    assert got["stream"] == s
    assert got["tenant"] == "sub1"
    assert re.fullmatch(r"[0-9a-f]{64}", got["leaf_hash"])
    assert got["duplicate"] is False
    (only,) = stored(svc, s)
    assert only == {k: v for k, v in got.items() if k != "duplicate"}
    # each event gets its own id
    again = c.append(event(1, stream=s))
    assert again["client_event_id"] != got["client_event_id"]
    assert len(stored(svc, s)) == 2


def test_append_with_the_same_id_twice_stores_one_event(svc: Service, connect: Connect) -> None:
    c = connect(svc.url, svc.keys["int_sub1"])
    s = new_stream()
    cid = f"erp-{uuid.uuid4()}"
    size = Api(svc).log_size()
    first = c.append(event(2, stream=s, cid=cid))
    second = c.append(event(2, stream=s, cid=cid))
    assert second["leaf_hash"] == first["leaf_hash"]
    assert second["index"] == first["index"]
    assert (first["duplicate"], second["duplicate"]) == (False, True)
    assert second["client_event_id"] == cid
    assert len(stored(svc, s)) == 1
    assert Api(svc).log_size() == size + 1


def test_append_batch(svc: Service, connect: Connect) -> None:
    c = connect(svc.url, svc.keys["int_sub1"])
    s = new_stream()
    events = [event(i, stream=s) for i in range(5)]
    events[2]["client_event_id"] = "batch-explicit-" + uuid.uuid4().hex
    got = c.append_batch(events)
    assert len(got) == 5
    assert [e["attributes"]["n"] for e in got] == [str(i) for i in range(5)]
    indexes = [e["index"] for e in got]
    assert indexes == list(range(indexes[0], indexes[0] + 5))
    assert got[2]["client_event_id"] == events[2]["client_event_id"]
    assert all(UUID_RE.match(e["client_event_id"]) for i, e in enumerate(got) if i != 2)
    assert not any(e["duplicate"] for e in got)
    # the stream chains through the batch
    assert got[0]["prev"] is None
    assert all(got[i]["prev"] == got[i - 1]["leaf_hash"] for i in range(1, 5))
    assert [{k: v for k, v in e.items() if k != "duplicate"} for e in got] == stored(svc, s)
    # the caller's list is not modified
    assert "client_event_id" not in events[0]


# --------------------------------------------------------------------------------------------
# Queries


def test_events_walks_every_page_once_in_order(svc: Service, connect: Connect) -> None:
    s, other = new_stream(), new_stream()
    w = Client(svc.url, svc.keys["int_sub1"])
    appended = []
    for i in range(10):  # another stream interleaves, and must not show up
        appended.append(w.append(event(i, stream=s)))
        w.append(event(i, stream=other))
    with Proxy(svc.url) as proxy:
        c = connect(proxy.url, svc.keys["aud_hq"])
        walked = list(c.events(page_size=3, stream=s))
    assert [e["index"] for e in walked] == [e["index"] for e in appended]
    assert walked == [{k: v for k, v in e.items() if k != "duplicate"} for e in appended]
    pages = [q for m, q, _ in proxy.requests if m == "GET" and q.startswith("/v1/events?")]
    assert len(pages) == 4, pages  # 3 + 3 + 3 + 1
    assert all("limit=3" in q for q in pages)
    assert "cursor" not in pages[0]
    assert all("cursor=" in q for q in pages[1:])


def test_events_of_an_empty_query(svc: Service, connect: Connect) -> None:
    c = connect(svc.url, svc.keys["aud_hq"])
    assert list(c.events(page_size=3, stream=new_stream())) == []


def test_events_is_lazy(svc: Service, connect: Connect) -> None:
    s = new_stream()
    Client(svc.url, svc.keys["int_sub1"]).append_batch([event(i, stream=s) for i in range(7)])
    with Proxy(svc.url) as proxy:
        it = connect(proxy.url, svc.keys["aud_sub1"]).events(page_size=3, stream=s)
        first = [next(it) for _ in range(3)]
        assert len(proxy.requests) == 1
        assert len(first) == 3
        next(it)
        assert len(proxy.requests) == 2


# --------------------------------------------------------------------------------------------
# Verification


def test_verified_event_after_a_checkpoint(
    svc: Service, connect: Connect, verifier: NoteVerifier
) -> None:
    s = new_stream()
    appended = Client(svc.url, svc.keys["int_sub1"]).append_batch(
        [event(1, stream=s), event(2, stream=s)]
    )
    # non-ASCII text must survive JSON and canonicalization on the client side
    appended.append(
        Client(svc.url, svc.keys["int_sub1"]).append(
            {**event(3, stream=s), "actor": {"id": "u-9", "name": "李雷 \u00e9\U0001f600"}}
        )
    )
    last = appended[-1]["index"]
    cp = sealed(svc, last)
    c = connect(svc.url, svc.keys["aud_sub1"])
    for e in appended:
        got = c.verified_event(e["index"], verifier)
        assert isinstance(got, VerifiedEvent)
        assert got.event["index"] == e["index"]
        assert got.event["leaf_hash"] == e["leaf_hash"]
        assert got.checkpoint.size >= cp["size"] > e["index"]
        assert got.checkpoint.origin == verifier.name


def test_verified_event_of_a_missing_event_is_a_404(
    svc: Service, connect: Connect, verifier: NoteVerifier
) -> None:
    c = connect(svc.url, svc.keys["aud_sub1"])
    with pytest.raises(ApiError) as e:
        c.verified_event(10**12, verifier)
    assert e.value.http_status == 404
    assert e.value.code == "not_found"


# what each tampering breaks: the path to the root, the note's signature, the leaf
TAMPERS = {
    "proof_hash": "does not match expected root",
    "signature": "invalid signature",
    "actor_name": "do not hash to its leaf",
}


@pytest.mark.parametrize("mode", [None, *TAMPERS])
def test_verified_event_through_a_tampering_proxy(
    svc: Service, connect: Connect, verifier: NoteVerifier, mode: str | None
) -> None:
    s = new_stream()
    appended = Client(svc.url, svc.keys["int_sub1"]).append_batch(
        [event(i, stream=s) for i in range(3)]
    )
    index = appended[1]["index"]
    sealed(svc, appended[-1]["index"])
    with Proxy(svc.url, tamper=mode) as proxy:
        c = connect(proxy.url, svc.keys["aud_sub1"])
        if mode is None:  # the proxy itself is transparent
            assert c.verified_event(index, verifier).event["index"] == index
        else:
            with pytest.raises(VerificationError, match=TAMPERS[mode]):
                c.verified_event(index, verifier)
    assert [m for m, _, _ in proxy.requests] == ["GET", "GET"]


def test_verified_event_rejects_another_event_in_its_place(
    svc: Service, connect: Connect, verifier: NoteVerifier
) -> None:
    s = new_stream()
    appended = Client(svc.url, svc.keys["int_sub1"]).append_batch(
        [event(i, stream=s) for i in range(2)]
    )
    i, j = appended[0]["index"], appended[1]["index"]
    sealed(svc, j)

    def swap(path_qs: str) -> str:
        return re.sub(rf"^/v1/events/{i}(?=/|\?|$)", f"/v1/events/{j}", path_qs)

    with Proxy(svc.url, rewrite=swap) as proxy:
        c = connect(proxy.url, svc.keys["aud_sub1"])
        with pytest.raises(VerificationError, match=f"asked for event {i}"):
            c.verified_event(i, verifier)


def _two_checkpoints(svc: Service) -> tuple[dict[str, Any], dict[str, Any]]:
    api = Api(svc)
    w = Client(svc.url, svc.keys["int_sub1"])
    s = new_stream()
    first = w.append_batch([event(i, stream=s) for i in range(3)])
    old = sealed(svc, first[-1]["index"])
    more = w.append_batch([event(i, stream=s) for i in range(3, 6)])
    new = api.wait_for_checkpoint(max(old["size"] + 1, more[-1]["index"] + 1))
    return old, new


def test_verified_consistency(
    svc: Service, connect: Connect, flavor: str, verifier: NoteVerifier
) -> None:
    old, new = _two_checkpoints(svc)
    c = connect(svc.url, svc.keys["aud_hq"])
    a, b = c.verified_consistency(old["size"], new["size"], verifier)
    assert (a.size, a.root.hex()) == (old["size"], old["root"])
    assert (b.size, b.root.hex()) == (new["size"], new["root"])
    # to the latest checkpoint by default
    a, b = c.verified_consistency(old["size"], None, verifier)
    assert a.size == old["size"]
    assert b.size >= new["size"]
    for mode, why in [("proof_hash", "does not match"), ("signature", "invalid signature")]:
        with Proxy(svc.url, tamper=mode) as proxy:
            bad = connect(proxy.url, svc.keys["aud_hq"])
            with pytest.raises(VerificationError, match=why):
                bad.verified_consistency(old["size"], new["size"], verifier)


def test_verified_latest_keeps_state_and_catches_a_rollback(
    svc: Service, connect: Connect, verifier: NoteVerifier, tmp_path: Path
) -> None:
    """The SDK remembers the newest checkpoint it verified (a file); a newer one is taken only
    with a consistency proof from it; a server that answers an older one as the latest is
    caught, with both signed notes as evidence."""
    first, _ = _two_checkpoints(svc)
    state = tmp_path / "sdk-state"
    c = connect(svc.url, svc.keys["aud_hq"])
    trusted = c.verified_latest(TrustedLog(verifier, FileState(state)))
    assert trusted.size >= first["size"]
    _, newer = _two_checkpoints(svc)
    log = TrustedLog(verifier, FileState(state))  # a new run of the client: from the file
    moved = c.verified_latest(log)
    assert moved.size >= newer["size"] > trusted.size
    assert verify_checkpoint(state.read_text(), verifier) == moved

    def rolled_back(path_qs: str) -> str:
        return path_qs.replace("/v1/checkpoints/latest", f"/v1/checkpoints/{first['size']}")

    with Proxy(svc.url, rewrite=rolled_back) as proxy:
        liar = connect(proxy.url, svc.keys["aud_hq"])
        with pytest.raises(MisbehaviourError, match=f"rollback: checkpoint {first['size']}") as e:
            liar.verified_latest(TrustedLog(verifier, FileState(state)))
    assert verify_checkpoint(e.value.presented_note, verifier).size == first["size"]
    assert verify_checkpoint(e.value.trusted_note, verifier) == moved
    assert verify_checkpoint(state.read_text(), verifier) == moved  # the state did not move


def test_verified_consistency_rejects_other_sizes(svc: Service, verifier: NoteVerifier) -> None:
    first, _ = _two_checkpoints(svc)
    old, new = _two_checkpoints(svc)
    assert first["size"] < old["size"] < new["size"]

    def older(path_qs: str) -> str:
        return path_qs.replace(f"from={old['size']}", f"from={first['size']}")

    with Proxy(svc.url, rewrite=older) as proxy:
        c = Client(proxy.url, svc.keys["aud_hq"])
        with pytest.raises(VerificationError, match=f"asked for old size {old['size']}"):
            c.verified_consistency(old["size"], new["size"], verifier)


def test_public_fingerprint_without_a_key(
    svc: Service, connect: Connect, verifier: NoteVerifier
) -> None:
    doc = sha(f"public-{uuid.uuid4()}")
    e = Client(svc.url, svc.keys["int_sub1"]).append(event(1, stream=new_stream(), doc=doc))
    sealed(svc, e["index"])
    got = connect(svc.url).public_fingerprint(doc.upper())
    assert got["sha256"] == doc
    (pe,) = got["events"]
    assert pe["index"] == e["index"]
    assert pe["leaf_hash"] == e["leaf_hash"]
    assert pe["proof"] is not None
    assert got["verifier_key"] == verifier.vkey
    assert "actor" not in json.dumps(got)
    # an unknown fingerprint: no events, and the map's proof that there is none
    unknown = connect(svc.url).public_fingerprint(sha(f"never-{uuid.uuid4()}"))
    assert (unknown["events"], unknown["map"]["value"]) == ([], None)


# --------------------------------------------------------------------------------------------
# Errors


def test_api_error_for_a_conflict(svc: Service, connect: Connect) -> None:
    c = connect(svc.url, svc.keys["int_sub1"], retry=FAST_RETRY)
    s = new_stream()
    cid = f"erp-{uuid.uuid4()}"
    c.append(event(1, stream=s, cid=cid))
    with pytest.raises(ApiError) as e:
        c.append(event(2, stream=s, cid=cid))
    assert e.value.http_status == 409
    assert e.value.code == "conflict"
    assert cid in e.value.detail
    assert "different body" in e.value.detail
    assert str(e.value).startswith("HTTP 409 conflict: ")
    assert len(stored(svc, s)) == 1


def test_api_error_for_a_forbidden_role(svc: Service, connect: Connect) -> None:
    with Proxy(svc.url) as proxy:
        c = connect(proxy.url, svc.keys["aud_sub1"], retry=FAST_RETRY)
        with pytest.raises(ApiError) as e:
            c.append(event(1, stream=new_stream()))
    assert e.value.http_status == 403
    assert e.value.code == "forbidden"
    assert "integrator" in e.value.detail
    assert len(proxy.requests) == 1  # a 403 is not retried


def test_api_error_without_retries(connect: Connect) -> None:
    with Proxy(None) as proxy:  # 503 forever
        c = connect(proxy.url, "k", retry=RetryPolicy(attempts=1))
        with pytest.raises(ApiError) as e:
            c.event(1)
    assert e.value.http_status == 503
    assert e.value.detail == "attempt 1"


# --------------------------------------------------------------------------------------------
# Retries


def test_retry_after_two_503s_stores_one_event(svc: Service, connect: Connect) -> None:
    s = new_stream()
    with Proxy(svc.url, fail_first=2) as proxy:
        c = connect(proxy.url, svc.keys["int_sub1"], retry=RetryPolicy(attempts=5))
        t0 = time.monotonic()
        got = c.append(event(1, stream=s))
        elapsed = time.monotonic() - t0
    bodies = proxy.posted_bodies()
    assert len(bodies) == 3
    assert len({b["client_event_id"] for b in bodies}) == 1  # the same id every time
    assert got["client_event_id"] == bodies[0]["client_event_id"]
    assert stored(svc, s) == [{k: v for k, v in got.items() if k != "duplicate"}]
    assert elapsed < 5, "Retry-After: 0 means no back-off"


def test_retry_after_a_lost_response_stores_one_event(svc: Service, connect: Connect) -> None:
    """The service stored the event but its answer was lost: the retry gets the original."""
    s = new_stream()
    with Proxy(svc.url, lose_first=1) as proxy:
        c = connect(proxy.url, svc.keys["int_sub1"], retry=FAST_RETRY)
        got = c.append(event(1, stream=s))
    assert len(proxy.requests) == 2
    assert stored(svc, s) == [{k: v for k, v in got.items() if k != "duplicate"}]


def test_retry_until_the_server_appears(svc: Service, connect: Connect) -> None:
    s = new_stream()
    proxy = Proxy(svc.url, start_delay=0.6)
    c = connect(
        proxy.url,
        svc.keys["int_sub1"],
        retry=RetryPolicy(attempts=12, base_delay=0.1, max_delay=0.3),
    )
    t0 = time.monotonic()
    with proxy:  # starts in the background; connections are refused for 0.6 s
        got = c.append(event(1, stream=s))
    assert proxy.started_at is not None
    assert proxy.started_at - t0 > 0.3
    assert len(proxy.requests) == 1
    assert stored(svc, s) == [{k: v for k, v in got.items() if k != "duplicate"}]


def test_retries_give_up_with_the_last_api_error(connect: Connect) -> None:
    with Proxy(None) as proxy:  # 503 forever
        c = connect(proxy.url, "k", retry=RetryPolicy(attempts=3, base_delay=0.01))
        with pytest.raises(ApiError) as e:
            c.append(event(1))
    assert len(proxy.requests) == 3
    assert e.value.http_status == 503
    assert e.value.code == "unavailable"
    assert e.value.detail == "attempt 3"  # the last answer, not the first


def test_retries_give_up_on_dropped_connections(connect: Connect, flavor: str) -> None:
    expected = ConnectionError if flavor == "sync" else aiohttp.ClientConnectionError
    with Dropper() as d:
        c = connect(d.url, "k", retry=RetryPolicy(attempts=3, base_delay=0.01), timeout=10)
        with pytest.raises(expected):
            c.append(event(1))
    assert d.accepts == 3


def test_retries_give_up_on_refused_connections(connect: Connect, flavor: str) -> None:
    port = free_port()  # nothing listens there
    c = connect(f"http://127.0.0.1:{port}", "k", retry=RetryPolicy(attempts=2, base_delay=0.01))
    expected = urllib.error.URLError if flavor == "sync" else aiohttp.ClientConnectorError
    with pytest.raises(expected) as e:
        c.append(event(1))
    if flavor == "sync":
        assert isinstance(e.value.reason, ConnectionRefusedError), repr(e.value)


# --------------------------------------------------------------------------------------------
# AsyncClient as an asyncio caller uses it


def test_async_client_natively(svc: Service, verifier: NoteVerifier) -> None:
    s = new_stream()

    async def go() -> list[dict[str, Any]]:
        async with AsyncClient(svc.url, svc.keys["int_sub1"]) as w:
            got = await asyncio.gather(*(w.append(event(i, stream=s)) for i in range(8)))
        assert len({e["index"] for e in got}) == 8
        async with AsyncClient(svc.url, svc.keys["aud_sub1"]) as r:
            walked = [e async for e in r.events(page_size=3, stream=s)]
            assert sorted(e["index"] for e in got) == [e["index"] for e in walked]
            await asyncio.to_thread(sealed, svc, max(e["index"] for e in got))
            checked = await asyncio.gather(*(r.verified_event(e["index"], verifier) for e in got))
            assert {v.event["leaf_hash"] for v in checked} == {e["leaf_hash"] for e in got}
        return walked

    assert len(asyncio.run(go())) == 8


def test_async_client_outside_async_with(svc: Service) -> None:
    async def go() -> None:
        c = AsyncClient(svc.url)
        with pytest.raises(RuntimeError, match="async with"):
            await c.public_fingerprint(sha("x"))

    asyncio.run(go())
