"""Which callback URLs and addresses are refused, the signature vector, and the back-off."""

from __future__ import annotations

import asyncio
import random

import pytest
from standardwebhooks import Webhook

from sealtrail.api.webhooks import backoff, parse_events
from sealtrail.core.errors import InvalidInputError
from sealtrail.webhooks.errors import CallbackUrlRefusedError
from sealtrail.webhooks.safety import parse_url, public_address, resolve_checked
from sealtrail.webhooks.sender import _PinnedResolver
from sealtrail.webhooks.signing import headers, new_secret, sign

PRIVATE = [
    "127.0.0.1",
    "127.8.9.10",
    "::1",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "fd00:ec2::254",  # AWS metadata over IPv6
    "fe80::1",
    "100.64.0.1",  # shared address space
    "0.0.0.0",
    "::",
    "224.0.0.1",
    "ff02::1",
    "240.0.0.1",
    "::ffff:127.0.0.1",  # IPv4-mapped loopback
    "::ffff:169.254.169.254",
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "not-an-address",
]


@pytest.mark.parametrize("addr", PRIVATE)
def test_non_public_addresses_are_refused(addr: str) -> None:
    assert not public_address(addr)


@pytest.mark.parametrize("addr", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
def test_public_addresses_are_allowed(addr: str) -> None:
    assert public_address(addr)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/",
        "http://",
        "http://user@example.com/",
        "http://example.com:99999/",
        "http://example.com/#frag",
        "javascript:alert(1)",
        "http://exa mple.com/\n",
        "x" * 3000,
        "",
    ],
)
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(CallbackUrlRefusedError):
        parse_url(url)


def test_a_hostname_resolving_to_loopback_is_refused_unless_allowed() -> None:
    target = parse_url("http://localhost:8080/hook")
    with pytest.raises(CallbackUrlRefusedError, match="non-public"):
        asyncio.run(resolve_checked(target, ()))
    assert asyncio.run(resolve_checked(target, ("localhost:8080",))) in ("127.0.0.1", "::1")
    with pytest.raises(CallbackUrlRefusedError):
        asyncio.run(resolve_checked(target, ("localhost:8081",)))


def test_the_connection_goes_to_the_checked_address() -> None:
    got = asyncio.run(_PinnedResolver("203.0.113.9").resolve("oa.example.com", 443))
    assert [(r["hostname"], r["host"], r["port"]) for r in got] == [
        ("oa.example.com", "203.0.113.9", 443)
    ]


def test_signatures_match_the_standard_webhooks_library() -> None:
    secret = new_secret(lambda n: bytes(range(n)))
    body = b'{"type":"sign","data":{}}'
    import time

    ts = int(time.time())
    h = headers([secret, new_secret(lambda n: b"\x07" * n)], "msg_1", ts, body)
    assert Webhook(secret).verify(body, h) == {"type": "sign", "data": {}}
    assert h["webhook-signature"].split(" ")[0] == sign(secret, "msg_1", ts, body)
    # the library's own signer agrees byte for byte
    from datetime import UTC, datetime

    lib = Webhook(secret).sign("msg_1", datetime.fromtimestamp(ts, UTC), body.decode())
    assert lib == sign(secret, "msg_1", ts, body)


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    rnd = random.Random(7).random
    delays = [backoff(n, 5, 3600, rnd) for n in range(1, 30)]
    assert all(2.5 <= d < 5 for d in delays[:1])
    assert all(1800 <= d < 3600 for d in delays[12:])
    assert backoff(10_000, 5, 3600, lambda: 0.999999) < 3600  # no overflow, still capped


@pytest.mark.parametrize(
    "events",
    [[], ["*", "sign"], ["sign", "sign"], ["Sign"], ["webhook:receipt"], [1], "sign", ["a" * 200]],
)
def test_bad_event_lists_are_refused(events: object) -> None:
    with pytest.raises(InvalidInputError):
        parse_events(events)


def test_event_lists() -> None:
    assert parse_events(["*"]) == ("*",)
    assert parse_events(["sign", "envelope:completed", "checkpoint.anchored"]) == (
        "sign",
        "envelope:completed",
        "checkpoint.anchored",
    )
