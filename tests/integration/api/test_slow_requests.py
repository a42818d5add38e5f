"""Slow and ambiguous requests (issue 15, item 7), over raw sockets against a real running
service: headers or a declared body that never arrive are answered 408 and the connection
closed; idle keep-alive connections are closed and capped; a credential header given twice is
refused with 400, never one of them silently chosen."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest

from ..service import Service
from .client import Api, event

FAST = {"header_timeout": "1", "body_timeout": "2", "keepalive_timeout": "2"}


def _connect(svc: Service) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", svc.port), timeout=10)
    s.settimeout(10)
    return s


def _read_all(s: socket.socket, limit: float = 10) -> tuple[bytes, float]:
    """Everything until the server closes; and how long that took."""
    start = time.monotonic()
    s.settimeout(limit)
    out = b""
    while True:
        try:
            chunk = s.recv(65536)
        except TimeoutError:
            raise AssertionError(f"server kept the connection open: {out!r}") from None
        except ConnectionResetError:
            break
        if not chunk:
            break
        out += chunk
    return out, time.monotonic() - start


def _problem(raw: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    assert headers["content-type"].startswith("application/problem+json"), raw
    return status, headers, json.loads(body)


def _post_head(svc: Service, path: str, key: str, extra: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{svc.port}\r\n"
        f"Authorization: Bearer {svc.keys[key]}\r\nContent-Type: application/json\r\n{extra}\r\n"
    ).encode()


@pytest.fixture(scope="module")
def fast(provisioned: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from ..conftest import _service_factory

    factory, started = _service_factory(provisioned, tmp_path_factory.mktemp("slow"))
    svc = factory(**FAST)
    yield svc
    for s in started:
        s.stop()


# --- bodies that never arrive ----------------------------------------------------------------


def test_truncated_content_length_body_gets_408_and_close(fast: Service) -> None:
    body = json.dumps(event(1)).encode()
    with _connect(fast) as s:
        s.sendall(_post_head(fast, "/v1/events", "int_sub1", f"Content-Length: {len(body)}\r\n"))
        s.sendall(body[:10])  # and never the rest
        raw, took = _read_all(s)
    status, headers, problem = _problem(raw)
    assert status == 408
    assert problem["type"].endswith("/request_timeout")
    assert "body" in problem["detail"]
    assert headers.get("connection", "").lower() == "close"
    assert 1.5 < took < 6


def test_chunked_body_that_stops_gets_408_and_close(fast: Service) -> None:
    with _connect(fast) as s:
        s.sendall(_post_head(fast, "/v1/events", "int_sub1", "Transfer-Encoding: chunked\r\n"))
        s.sendall(b'5\r\n{"str\r\n')  # one chunk, then silence (no terminating 0 chunk)
        raw, took = _read_all(s)
    status, _, problem = _problem(raw)
    assert (status, problem["status"]) == (408, 408)
    assert 1.5 < took < 6


def test_nothing_is_appended_by_a_request_that_timed_out(fast: Service) -> None:
    api = Api(fast)
    before = api.get("/v1/events?stream=slow:1", "aud_sub1").json()["events"]
    body = json.dumps(event(1, stream="slow:1")).encode()
    with _connect(fast) as s:
        s.sendall(_post_head(fast, "/v1/events", "int_sub1", f"Content-Length: {len(body)}\r\n"))
        s.sendall(body[:-1])  # all but the last byte
        raw, _ = _read_all(s)
    assert _problem(raw)[0] == 408
    assert api.get("/v1/events?stream=slow:1", "aud_sub1").json()["events"] == before


def test_a_slow_body_within_the_limit_is_served(fast: Service) -> None:
    body = json.dumps(event(2, stream="slow:2")).encode()
    with _connect(fast) as s:
        s.sendall(
            _post_head(
                fast,
                "/v1/events",
                "int_sub1",
                f"Content-Length: {len(body)}\r\nConnection: close\r\n",
            )
        )
        s.sendall(body[:10])
        time.sleep(0.8)
        s.sendall(body[10:])
        raw, _ = _read_all(s)
    assert raw.startswith(b"HTTP/1.1 201"), raw[:200]


# --- headers that never arrive, idle connections ---------------------------------------------


def test_headers_that_stop_get_408_and_close(fast: Service) -> None:
    with _connect(fast) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # never the blank line
        raw, took = _read_all(s)
    status, headers, problem = _problem(raw)
    assert status == 408
    assert "headers" in problem["detail"]
    assert headers["connection"].lower() == "close"
    assert 0.5 < took < 5


def test_headers_dribbled_byte_by_byte_still_time_out(fast: Service) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 200 + b"\r\n\r\n"
    with _connect(fast) as s:
        start = time.monotonic()
        try:
            for b in request:
                s.sendall(bytes([b]))
                time.sleep(0.02)  # 5 s in all: beyond header_timeout, however steady
        except (BrokenPipeError, ConnectionResetError):
            pass
        raw, _ = _read_all(s)
        took = time.monotonic() - start
    assert _problem(raw)[0] == 408
    assert took < 6


def test_a_connection_that_sends_nothing_gets_408_and_close(fast: Service) -> None:
    with _connect(fast) as s:
        raw, took = _read_all(s)
    assert _problem(raw)[0] == 408
    assert 0.5 < took < 5


def test_an_idle_kept_alive_connection_is_closed_silently(fast: Service) -> None:
    with _connect(fast) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.3)
        first = s.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        raw, took = _read_all(s)  # then nothing: closed after keepalive_timeout, no 408
    assert raw == b""
    assert 1.0 < took < 6


def test_the_log_says_why_a_connection_was_closed(fast: Service) -> None:
    assert "request headers not received within 1 s" in fast.log()


# --- the idle-connection cap -----------------------------------------------------------------


def test_idle_connections_beyond_the_cap_are_closed_oldest_first(start_service: Any) -> None:
    svc = start_service(header_timeout="30", keepalive_timeout="30", max_idle_connections="3")
    socks = []
    try:
        for _ in range(5):
            s = _connect(svc)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert s.recv(65536).startswith(b"HTTP/1.1 200")
            socks.append(s)
            time.sleep(0.1)
        # the first two were closed when the fourth and fifth connected
        for s in socks[:2]:
            raw, took = _read_all(s, limit=5)
            assert raw == b""
            assert took < 2
        # the newest three still serve
        for s in socks[2:]:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert s.recv(65536).startswith(b"HTTP/1.1 200")
    finally:
        for s in socks:
            s.close()


# --- ambiguous credentials -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [("int_sub1", "int_other"), ("int_sub1", "int_sub1"), ("int_other", "int_sub1")],
)
def test_two_authorization_headers_get_400_and_nothing_is_appended(
    fast: Service, first: str, second: str
) -> None:
    api = Api(fast)
    before = api.get("/v1/events?stream=dup:1", "aud_sub1").json()["events"]
    body = json.dumps(event(1, stream="dup:1")).encode()
    request = (
        f"POST /v1/events HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {fast.keys[first]}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"Authorization: Bearer {fast.keys[second]}\r\n\r\n"
    ).encode() + body
    with _connect(fast) as s:
        s.sendall(request)
        raw, _ = _read_all(s)
    status, _, problem = _problem(raw)
    assert status == 400
    assert problem["type"].endswith("/duplicate_header")
    assert "Authorization" in problem["detail"]
    assert api.get("/v1/events?stream=dup:1", "aud_sub1").json()["events"] == before


@pytest.mark.parametrize("header", ["Authorization", "Cookie", "Idempotency-Key", "X-API-Key"])
def test_any_credential_header_twice_is_refused_even_on_a_get(fast: Service, header: str) -> None:
    value = f"Bearer {fast.keys['aud_sub1']}" if header == "Authorization" else "v"
    auth = "" if header == "Authorization" else f"Authorization: Bearer {fast.keys['aud_sub1']}\r\n"
    request = (
        f"GET /v1/events HTTP/1.1\r\nHost: x\r\n{auth}{header}: {value}\r\n"
        f"{header.lower()}: {value}\r\n\r\n"
    ).encode()
    with _connect(fast) as s:
        s.sendall(request)
        raw, _ = _read_all(s)
    status, _, problem = _problem(raw)
    assert status == 400
    assert header in problem["detail"]


def test_one_authorization_header_still_works(fast: Service) -> None:
    r = Api(fast).get("/v1/events?stream=dup:1", "aud_sub1")
    assert r.status == 200
