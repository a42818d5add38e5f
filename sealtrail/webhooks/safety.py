"""What a callback URL must be, and where a delivery may connect.

A subscription URL is ``http`` or ``https``, with a host and no user information. Its host must
resolve only to public unicast addresses: loopback, link-local (cloud metadata services live at
169.254.169.254 and fd00:ec2::254), private, shared, multicast, reserved and unspecified
addresses are refused — unless the host, or ``host:port``, is in ``callback_allow_hosts``
(development and tests). The check is made when subscribing and again at every delivery, which
connects to the very address it checked (:func:`resolve_checked`; no second DNS look-up a
rebinding attacker could answer differently).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import urlsplit

from sealtrail.webhooks.errors import CallbackUrlRefusedError

MAX_URL_CHARS = 2048


@dataclass(frozen=True, slots=True)
class Target:
    """A parsed callback URL."""

    url: str
    scheme: str
    host: str
    port: int


def parse_url(url: object) -> Target:
    """``url`` checked for form; CallbackUrlRefusedError (a 400) if it is not a callback URL."""
    if type(url) is not str or not 1 <= len(url) <= MAX_URL_CHARS or not url.isprintable():
        raise CallbackUrlRefusedError(f"url: want an http(s) URL of at most {MAX_URL_CHARS} chars")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise CallbackUrlRefusedError(f"url: {e}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CallbackUrlRefusedError("url: want http:// or https:// and a host")
    if parts.username is not None or parts.password is not None:
        raise CallbackUrlRefusedError("url: user information is not allowed in a callback URL")
    if parts.fragment:
        raise CallbackUrlRefusedError("url: a fragment is not allowed in a callback URL")
    host = parts.hostname.lower()
    return Target(url, parts.scheme, host, port or (443 if parts.scheme == "https" else 80))


def allowed(target: Target, allow_hosts: Collection[str]) -> bool:
    """Whether the settings allow ``target``'s host (or host:port) although not public."""
    return target.host in allow_hosts or f"{target.host}:{target.port}" in allow_hosts


def public_address(addr: str) -> bool:
    """Whether ``addr`` is a public unicast address a callback may reach."""
    try:
        ip = ipaddress.ip_address(addr.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            ip = mapped
    return bool(ip.is_global) and not ip.is_multicast and not ip.is_reserved


async def resolve_checked(target: Target, allow_hosts: Collection[str]) -> str:
    """Resolve ``target``'s host once and return the address to connect to: the first one, all
    of them checked public (unless the host is allowed). CallbackUrlRefusedError otherwise."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            target.host, target.port, type=socket.SOCK_STREAM
        )
    except (OSError, UnicodeError) as e:
        raise CallbackUrlRefusedError(f"url: cannot resolve {target.host!r}: {e}") from None
    addrs = [str(info[4][0]) for info in infos]
    if not addrs:
        raise CallbackUrlRefusedError(f"url: {target.host!r} resolves to no address")
    if not allowed(target, allow_hosts):
        bad = [a for a in addrs if not public_address(a)]
        if bad:
            raise CallbackUrlRefusedError(
                f"url: {target.host!r} resolves to {bad[0]}, a loopback, link-local, private or "
                "otherwise non-public address (callback_allow_hosts may allow it)"
            )
    return addrs[0]
