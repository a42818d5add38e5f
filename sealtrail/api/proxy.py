"""Behind a reverse proxy: the real client's address, request ids, and CORS.

**The client's address** (:class:`ClientAddress`). A request's TCP peer is the client unless
the peer is one of ``trusted_proxies``; then the proxy's forwarding header
(``X-Forwarded-For``, or RFC 7239 ``Forwarded`` — one of them, ``proxy_header``: a proxy that
appends to one passes a client's forged copy of the other through untouched) is read from the
right: each proxy appends the address it received the request from, so the rightmost entries
were written by our own proxies and the leftmost by whoever the client is. The walk skips
trusted hops and stops at the first address not trusted: that is the client. Anything left of
it was written by the client and is never believed. An entry that is not an address (garbage,
RFC 7239's ``unknown`` or an obfuscated ``_name``) stops the walk at the last trusted hop: the
client is then known only as that proxy. A ``Forwarded`` header that does not parse is
ignored whole (the peer is the client).

The handler sees the result as ``request.remote`` (the request is cloned with it), so the rate
limits and the access log key on the real client.

**Request ids** (:func:`request_id`): an incoming ``X-Request-Id`` of 1–128 characters from
``[A-Za-z0-9._:-]`` is kept, anything else replaced by a random one; the response echoes it.

**CORS** (:class:`Cors`): for the ``/v1/`` API only, and only for origins in ``cors_origins``:
a preflight (``OPTIONS`` with ``Access-Control-Request-Method``) of a route that exists is
answered ``204`` with the methods and request headers the API uses; other responses name the
origin in ``Access-Control-Allow-Origin``. Other origins get no CORS header at all (the browser
then refuses the response to the page). No credentials: the API's key travels in
``Authorization``, never in a cookie.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Middleware
from multidict import MultiMapping

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: most forwarding entries looked at (a chain of proxies is short; the walk stops earlier)
MAX_HOPS = 32
REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
#: where the request id lives in a request's state
REQUEST_ID_KEY = "sealtrail.request_id"


def parse_address(text: str) -> IPAddress | None:
    """An address as forwarding headers write it — ``1.2.3.4``, ``1.2.3.4:80``, ``::1``,
    ``[::1]`` or ``[::1]:80`` — or None if ``text`` is none of those. An IPv4-mapped IPv6
    address is returned as its IPv4 address."""
    s = text.strip()
    if len(s) > 64:
        return None
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?::\d{1,5})?", s)
    if m:
        s = m.group(1)
    elif re.fullmatch(r"[0-9.]+:\d{1,5}", s):
        s = s.rpartition(":")[0]
    try:
        addr = ipaddress.ip_address(s)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def x_forwarded_for(values: Iterable[str]) -> list[str]:
    """The entries of ``X-Forwarded-For`` header lines, in order (lines joined by commas)."""
    return [e.strip() for v in values for e in v.split(",")]


_TCHARS = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_PAIR = re.compile(rf"\s*({_TCHARS})=({_TCHARS}|{_QUOTED})\s*")


def forwarded_for(values: Iterable[str]) -> list[str] | None:
    """The ``for=`` values of RFC 7239 ``Forwarded`` header lines, one per element, in order
    (``""`` for an element without ``for``); None if a line does not parse (RFC 7239 §4:
    elements separated by ``,``, pairs by ``;``, values tokens or quoted strings, a parameter
    at most once per element)."""
    out: list[str] = []
    for line in values:
        pos, n = 0, len(line)
        element: dict[str, str] = {}
        while True:
            m = _PAIR.match(line, pos)
            if m is None:
                return None
            name, value = m.group(1).lower(), m.group(2)
            if name in element:
                return None
            if value.startswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            element[name] = value
            pos = m.end()
            if pos == n:
                out.append(element.get("for", ""))
                break
            sep = line[pos]
            pos += 1
            if sep == ",":
                out.append(element.get("for", ""))
                element = {}
            elif sep != ";":
                return None
    return out


@dataclass(frozen=True)
class ClientAddress:
    """Finds a request's client among its TCP peer and the trusted proxies' header."""

    trusted: tuple[IPNetwork, ...] = ()
    #: ``x-forwarded-for`` or ``forwarded``
    header: str = "x-forwarded-for"

    @classmethod
    def of(cls, networks: Sequence[str], header: str) -> ClientAddress:
        """From the settings' ``trusted_proxies`` (addresses or CIDR networks) and
        ``proxy_header``."""
        return cls(tuple(ipaddress.ip_network(n, strict=False) for n in networks), header)

    def is_trusted(self, addr: IPAddress) -> bool:
        """True if ``addr`` is one of the trusted proxies."""
        return any(addr.version == n.version and addr in n for n in self.trusted)

    def client(self, peer: str | None, headers: MultiMapping[str]) -> str | None:
        """The client's address for a request from ``peer`` with ``headers`` (a multidict):
        the peer itself unless it is trusted (see the module docstring)."""
        if peer is None or not self.trusted:
            return peer
        addr = parse_address(peer)
        if addr is None or not self.is_trusted(addr):
            return peer
        if self.header == "forwarded":
            entries = forwarded_for(headers.getall("Forwarded", ()))
            if entries is None:
                return peer
        else:
            entries = x_forwarded_for(headers.getall("X-Forwarded-For", ()))
        client = addr
        for entry in reversed(entries[-MAX_HOPS:]):
            hop = parse_address(entry)
            if hop is None:
                break  # not an address: the client is known only as the last trusted hop
            client = hop
            if not self.is_trusted(hop):
                break  # the first untrusted hop from the right: the client
        return str(client)


def rate_key(client: str | None) -> str:
    """The rate-limit bucket of a client address: an IPv6 address's /64 (one subscriber's
    network: an address per request is free inside it), an IPv4 address as it is."""
    addr = parse_address(client or "")
    if addr is None:
        return client or "unknown"
    if isinstance(addr, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{addr}/64", strict=False))
    return str(addr)


def request_id(incoming: str | None) -> str:
    """``incoming`` if it is a well-formed request id, else a new random one."""
    if incoming is not None and REQUEST_ID.fullmatch(incoming):
        return incoming
    return secrets.token_hex(16)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def proxy_middleware(clients: ClientAddress) -> Middleware:
    """The outermost middleware: give the request its real client as ``request.remote`` and
    its request id (``request[REQUEST_ID_KEY]``, echoed as ``X-Request-Id``)."""

    @web.middleware
    async def real_client(request: web.Request, handler: Handler) -> web.StreamResponse:
        # The id first: a clone copies the state, and aiohttp prepares a returned response
        # with the original request (Cors.on_prepare reads the id from it).
        request[REQUEST_ID_KEY] = request_id(request.headers.get(REQUEST_ID_HEADER))
        remote = clients.client(request.remote, request.headers)
        if remote != request.remote and remote is not None:
            request = request.clone(remote=remote)
        return await handler(request)

    return real_client


#: what the API's routes use
CORS_METHODS = ("GET", "POST", "PUT", "DELETE")
#: request headers a page may send: the key, JSON bodies, retries, correlation
CORS_REQUEST_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", REQUEST_ID_HEADER)
#: response headers a page may read besides the CORS-safelisted ones
CORS_EXPOSED_HEADERS = ("Content-Disposition", "Location", "Retry-After", REQUEST_ID_HEADER)
#: seconds a browser may cache a preflight's answer (Chromium caps it at 7200)
CORS_MAX_AGE = 600
API_PREFIX = "/v1/"


@dataclass(frozen=True)
class Cors:
    """The CORS allow-list (``cors_origins``: lower-case ``scheme://host[:port]``)."""

    origins: frozenset[str] = frozenset()

    def allowed(self, request: web.Request) -> str | None:
        """The request's ``Origin`` if it may call the API, else None."""
        origin = request.headers.get("Origin")
        if not self.origins or origin is None or not request.path.startswith(API_PREFIX):
            return None
        return origin if origin.lower() in self.origins else None

    def middleware(self) -> Middleware:
        """Answers the preflights of allowed origins for routes that exist."""

        @web.middleware
        async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
            method = request.headers.get("Access-Control-Request-Method")
            if request.method != "OPTIONS" or method is None or self.allowed(request) is None:
                return await handler(request)
            matched = request.match_info.http_exception
            if method not in CORS_METHODS or (
                matched is not None and not isinstance(matched, web.HTTPMethodNotAllowed)
            ):
                return await handler(request)  # no such route: its 404, no CORS headers
            return web.Response(
                status=204,
                headers={
                    "Access-Control-Allow-Methods": ", ".join(CORS_METHODS),
                    "Access-Control-Allow-Headers": ", ".join(CORS_REQUEST_HEADERS),
                    "Access-Control-Max-Age": str(CORS_MAX_AGE),
                },
            )

        return cors

    async def on_prepare(self, request: web.Request, response: web.StreamResponse) -> None:
        """Signal handler (``on_response_prepare``, so streamed responses too): an API
        response names an allowed origin in ``Access-Control-Allow-Origin``."""
        if not self.origins or not request.path.startswith(API_PREFIX):
            return
        response.headers.add("Vary", "Origin")
        origin = self.allowed(request)
        if origin is not None:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = ", ".join(CORS_EXPOSED_HEADERS)


async def echo_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """Signal handler (``on_response_prepare``): every response carries its request id."""
    rid = request.get(REQUEST_ID_KEY)
    if isinstance(rid, str):
        response.headers[REQUEST_ID_HEADER] = rid
