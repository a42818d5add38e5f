"""Sending one delivery over HTTP: to the checked address, with timeouts, no redirects, and the
response body read up to a cap (its SHA-256 is what a receipt records)."""

from __future__ import annotations

import hashlib
import ipaddress
import socket
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from sealtrail.webhooks.errors import CallbackUrlRefusedError
from sealtrail.webhooks.safety import parse_url, resolve_checked

#: the most bytes of a response body read (and hashed); the rest is not read
MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "Sealtrail-Webhooks/1"


@dataclass(frozen=True, slots=True)
class Response:
    """What the receiver answered: status, SHA-256 of the body read (hex), whether the body was
    longer than :data:`MAX_RESPONSE_BYTES` (then the hash covers only that much), latency."""

    status: int
    body_sha256: str
    truncated: bool
    latency_ms: int


class DeliveryFailed(Exception):
    """No response: refused URL, connection error or timeout. ``str()`` says which."""


class _PinnedResolver(AbstractResolver):
    """Answers every look-up with the one address already checked (no DNS rebinding)."""

    def __init__(self, address: str) -> None:
        self.address = address

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        ip = ipaddress.ip_address(self.address.split("%", 1)[0])
        fam = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        return [
            ResolveResult(
                hostname=host,
                host=self.address,
                port=port,
                family=fam,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
        ]

    async def close(self) -> None:
        return None


async def send(
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    allow_hosts: Collection[str],
    timeout: float,
) -> Response:
    """POST ``body`` (JSON) to ``url`` with ``headers``; the answer, whatever its status.

    The host is resolved and checked once (:func:`~.safety.resolve_checked`) and the connection
    goes to that address, with the URL's host in ``Host`` and TLS SNI. Raises DeliveryFailed.
    """
    try:
        target = parse_url(url)
        address = await resolve_checked(target, allow_hosts)
    except CallbackUrlRefusedError as e:
        raise DeliveryFailed(str(e)) from None
    connector = aiohttp.TCPConnector(
        resolver=_PinnedResolver(address), use_dns_cache=False, force_close=True
    )
    start = time.perf_counter()
    try:
        async with (
            aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=timeout),
                auto_decompress=False,
            ) as session,
            session.post(
                url,
                data=body,
                headers={
                    **headers,
                    "Content-Type": "application/json",
                    "User-Agent": USER_AGENT,
                },
                allow_redirects=False,
            ) as resp,
        ):
            got = bytearray()
            truncated = False
            async for chunk in resp.content.iter_chunked(16 * 1024):
                got += chunk
                if len(got) > MAX_RESPONSE_BYTES:
                    truncated = True
                    del got[MAX_RESPONSE_BYTES:]
                    break
            status = resp.status
    except TimeoutError:
        raise DeliveryFailed(f"no answer within {timeout:g} s") from None
    except (aiohttp.ClientError, OSError) as e:
        raise DeliveryFailed(f"connection failed: {type(e).__name__}: {e}"[:300]) from None
    latency = int((time.perf_counter() - start) * 1000)
    return Response(status, hashlib.sha256(got).hexdigest(), truncated, latency)
