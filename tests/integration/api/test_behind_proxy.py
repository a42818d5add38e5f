"""Behind a reverse proxy, against a real service and a real proxy (an aiohttp server in this
process that forwards like nginx): the real client's address for rate limits and the access
log, spoofing attempts, CORS, frame-ancestors, request ids, JSON logs without secrets, and
public_url in packages and the report's QR code.

Loopback addresses stand for machines: the proxy connects to the service from 127.0.0.2 (the
only trusted proxy); clients connect from 127.0.0.1, 127.0.0.3 and 127.0.0.4.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import shutil
import subprocess
import time
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from ..loop_thread import LoopThread
from ..service import Service
from .client import Api, Resp, event, sha

PROXY_ADDR = "127.0.0.2"
HOP_BY_HOP = {"host", "connection", "keep-alive", "transfer-encoding", "content-length"}


class Proxy:
    """A reverse proxy on 127.0.0.1 that forwards to ``upstream`` from 127.0.0.2, appending
    the client's address to ``X-Forwarded-For`` (nginx's ``$proxy_add_x_forwarded_for``) or to
    ``Forwarded`` (RFC 7239)."""

    def __init__(self, lt: LoopThread, upstream: int, header: str = "x-forwarded-for") -> None:
        self.lt, self.upstream, self.header = lt, upstream, header
        self.port = 0
        self.runner: web.AppRunner | None = None
        self.session: aiohttp.ClientSession | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        assert self.session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        peer = request.remote or ""
        if self.header == "forwarded":
            old = ", ".join(request.headers.getall("Forwarded", ()))
            headers.pop("Forwarded", None)
            headers["Forwarded"] = f'{old}, for="{peer}"' if old else f'for="{peer}"'
        else:
            old = ", ".join(request.headers.getall("X-Forwarded-For", ()))
            headers.pop("X-Forwarded-For", None)
            headers["X-Forwarded-For"] = f"{old}, {peer}" if old else peer
        async with self.session.request(
            request.method,
            f"http://127.0.0.1:{self.upstream}{request.path_qs}",
            headers=headers,
            data=await request.read(),
            allow_redirects=False,
        ) as r:
            body = await r.read()
            out = {k: v for k, v in r.headers.items() if k.lower() not in HOP_BY_HOP}
            return web.Response(status=r.status, body=body, headers=out)

    async def _start(self) -> None:
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(local_addr=(PROXY_ADDR, 0), force_close=True),
            auto_decompress=False,
        )
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def _stop(self) -> None:
        if self.session is not None:
            await self.session.close()
        if self.runner is not None:
            await self.runner.cleanup()

    def __enter__(self) -> Proxy:
        self.lt.run(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        self.lt.run(self._stop())


@pytest.fixture(scope="module")
def lt() -> Iterator[LoopThread]:
    loop = LoopThread()
    yield loop
    loop.close()


def call(
    port: int,
    method: str,
    path: str,
    *,
    source: str = "127.0.0.1",
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
) -> Resp:
    """One request to 127.0.0.1:``port`` from the local address ``source``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}))
        r = conn.getresponse()
        return Resp(r.status, r.headers, r.read())
    finally:
        conn.close()


def access_records(svc: Service) -> list[dict[str, Any]]:
    """The service's JSON log lines from the access log."""
    out = []
    for line in svc.log().splitlines():
        if line.startswith("{"):
            rec = json.loads(line)
            if rec["logger"] == "sealtrail.access":
                out.append(rec)
    return out


def wait_for_access(svc: Service, request_id: str) -> dict[str, Any]:
    """The access record of ``request_id`` (the line is written after the response)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for rec in access_records(svc):
            if rec["request_id"] == request_id:
                return rec
        time.sleep(0.05)
    raise AssertionError(f"no access record for {request_id}:\n{svc.log()[-3000:]}")


FP = "/v1/public/fingerprints/" + "ab" * 32


@pytest.fixture
def proxied(start_service: Any) -> Service:
    return start_service(trusted_proxies=PROXY_ADDR, public_rate_limit="3", log_format="json")


def test_through_a_trusted_proxy_each_client_has_its_own_bucket(
    proxied: Service, lt: LoopThread
) -> None:
    with Proxy(lt, proxied.port) as proxy:
        # client A (127.0.0.3) forges another address in each request: not believed
        for i in range(3):
            h = {"X-Forwarded-For": f"198.51.100.{i}"}
            r = call(proxy.port, "GET", FP, source="127.0.0.3", headers=h)
            assert r.status == 404, r
        r = call(proxy.port, "GET", FP, source="127.0.0.3", headers={"X-Request-Id": "a-4th"})
        assert r.status == 429, r
        assert wait_for_access(proxied, "a-4th")["client"] == "127.0.0.3"
        # client B behind the same proxy is not limited by A (before: one bucket, the proxy's)
        r = call(proxy.port, "GET", FP, source="127.0.0.4", headers={"X-Request-Id": "b-1st"})
        assert r.status == 404, r
        rec = wait_for_access(proxied, "b-1st")
        assert rec["client"] == "127.0.0.4"
        assert rec["status"] == 404
        assert rec["method"] == "GET"
        assert rec["path"] == FP
        assert rec["duration_ms"] >= 0


def test_a_direct_client_sending_x_forwarded_for_is_not_believed(proxied: Service) -> None:
    for i in range(3):
        h = {"X-Forwarded-For": f"203.0.113.{i}", "Forwarded": f"for=203.0.113.{i}"}
        assert call(proxied.port, "GET", FP, headers=h).status == 404
    h = {"X-Forwarded-For": "203.0.113.99", "X-Request-Id": "direct-4th"}
    r = call(proxied.port, "GET", FP, headers=h)
    assert r.status == 429, r
    assert r.headers["Retry-After"]
    assert wait_for_access(proxied, "direct-4th")["client"] == "127.0.0.1"


@pytest.mark.parametrize("sent", ["garbage", "", "203.0.113.5, unknown", "[::1"])
def test_the_proxys_entry_wins_over_what_the_client_sent(
    proxied: Service, lt: LoopThread, sent: str
) -> None:
    """The proxy appends 127.0.0.3 after whatever the client sent; that entry is read first."""
    with Proxy(lt, proxied.port) as proxy:
        rid = f"mal-{abs(hash(sent))}"
        h = {"X-Request-Id": rid}
        if sent:
            h["X-Forwarded-For"] = sent
        call(proxy.port, "GET", "/readyz", source="127.0.0.3", headers=h)
        assert wait_for_access(proxied, rid)["client"] == "127.0.0.3"


def test_forwarded_header_mode(start_service: Any, lt: LoopThread) -> None:
    svc = start_service(trusted_proxies=PROXY_ADDR, proxy_header="forwarded", log_format="json")
    with Proxy(lt, svc.port, header="forwarded") as proxy:
        h = {
            "Forwarded": "for=198.51.100.7",
            "X-Forwarded-For": "198.51.100.8",
            "X-Request-Id": "f1",
        }
        call(proxy.port, "GET", "/readyz", source="127.0.0.4", headers=h)
        assert wait_for_access(svc, "f1")["client"] == "127.0.0.4"
        # a malformed Forwarded line from the client: the whole header is ignored (the proxy)
        h = {"Forwarded": 'for="198.51.100.7', "X-Request-Id": "f2"}
        call(proxy.port, "GET", "/readyz", source="127.0.0.4", headers=h)
        assert wait_for_access(svc, "f2")["client"] == PROXY_ADDR
    # with X-Forwarded-For appended by the proxy but Forwarded configured: only the peer
    with Proxy(lt, svc.port) as proxy:
        call(proxy.port, "GET", "/readyz", source="127.0.0.3", headers={"X-Request-Id": "f3"})
        assert wait_for_access(svc, "f3")["client"] == PROXY_ADDR


def test_logs_never_hold_keys_tokens_or_codes(proxied: Service, lt: LoopThread) -> None:
    api = Api(proxied)
    key = proxied.keys["aud_hq"]
    secret = "Sup3rSecretQueryValue"
    h = {"Authorization": f"Bearer {key}", "X-Request-Id": "s1"}
    call(proxied.port, "GET", f"/v1/events?api_key={secret}&code={secret}", headers=h)
    bad_key = "stk_" + "x" * 40
    h = {"Authorization": f"Bearer {bad_key}", "X-Request-Id": "s2"}
    r = call(proxied.port, "GET", f"/v1/events?token={secret}", headers=h)
    assert r.status == 401
    with Proxy(lt, proxied.port) as proxy:
        h = {"Authorization": f"Bearer {key}", "X-Request-Id": "s3"}
        call(proxy.port, "GET", f"/v1/console/whoami?access_token={secret}", headers=h)
    api.append(event(1), key="int_sub1")
    for rid in ("s1", "s2", "s3"):
        rec = wait_for_access(proxied, rid)
        assert "?" not in rec["path"]
    log = proxied.log()
    for s in (key, secret, bad_key, proxied.keys["int_sub1"]):
        assert s not in log
    assert wait_for_access(proxied, "s1")["path"] == "/v1/events"


def test_request_ids_are_echoed_or_replaced(api_service: Service) -> None:
    r = call(api_service.port, "GET", "/readyz", headers={"X-Request-Id": "oa-7f3a:1"})
    assert r.headers["X-Request-Id"] == "oa-7f3a:1"
    for bad in ("has space", "x" * 129, "semi;colon"):
        r = call(api_service.port, "GET", "/v1/nope", headers={"X-Request-Id": bad})
        assert r.status == 404
        got = r.headers["X-Request-Id"]
        assert got != bad
        assert len(got) == 32
    r1 = call(api_service.port, "GET", "/readyz")
    r2 = call(api_service.port, "GET", "/readyz")
    assert r1.headers["X-Request-Id"] != r2.headers["X-Request-Id"]
    # text log: the access line names the request id
    deadline = time.monotonic() + 10
    while "[oa-7f3a:1]" not in api_service.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    line = next(ln for ln in api_service.log().splitlines() if "[oa-7f3a:1]" in ln)
    assert 'sealtrail.access [oa-7f3a:1]: 127.0.0.1 "GET /readyz" 200' in line


OA = "https://oa.example.com"


def test_cors_preflight_and_responses(start_service: Any) -> None:
    svc = start_service(cors_origins=f"{OA},http://localhost:3000")
    pre = {
        "Origin": OA,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
    }
    r = call(svc.port, "OPTIONS", "/v1/events", headers=pre)
    assert r.status == 204, r
    assert r.headers["Access-Control-Allow-Origin"] == OA
    assert set(r.headers["Access-Control-Allow-Methods"].split(", ")) == {
        "GET", "POST", "PUT", "DELETE"
    }  # fmt: skip
    allowed = {h.lower() for h in r.headers["Access-Control-Allow-Headers"].split(", ")}
    assert {"authorization", "content-type", "idempotency-key"} <= allowed
    assert r.headers["Access-Control-Max-Age"] == "600"
    assert "Origin" in r.headers.get_all("Vary", [])
    assert "Access-Control-Allow-Credentials" not in r.headers
    # another origin: no CORS header at all, the route's own answer (405: no OPTIONS route)
    r = call(svc.port, "OPTIONS", "/v1/events", headers={**pre, "Origin": "https://evil.example"})
    assert r.status == 405
    assert not [h for h in r.headers if h.lower().startswith("access-control-")]
    # a route that does not exist: its 404 (readable by the allowed origin), no preflight answer
    r = call(svc.port, "OPTIONS", "/v1/nope", headers=pre)
    assert r.status == 404
    assert "Access-Control-Allow-Methods" not in r.headers
    # a method the API does not use
    r = call(
        svc.port, "OPTIONS", "/v1/events", headers={**pre, "Access-Control-Request-Method": "PATCH"}
    )
    assert r.status == 405
    assert "Access-Control-Allow-Methods" not in r.headers
    # actual requests, errors too: the allowed origin is named, others are not
    r = call(svc.port, "GET", "/v1/events", headers={"Origin": "http://localhost:3000"})
    assert r.status == 401
    assert r.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert "X-Request-Id" in r.headers["Access-Control-Expose-Headers"]
    r = call(svc.port, "GET", "/v1/events", headers={"Origin": "http://localhost:3001"})
    assert "Access-Control-Allow-Origin" not in r.headers
    # a suffix or prefix of an allowed origin is another origin
    for o in ("https://oa.example.com.evil.example", "https://xoa.example.com", "null"):
        r = call(svc.port, "OPTIONS", "/v1/events", headers={**pre, "Origin": o})
        assert "Access-Control-Allow-Origin" not in r.headers
    # pages are not the API: no CORS there
    r = call(svc.port, "GET", "/portal/", headers={"Origin": OA})
    assert "Access-Control-Allow-Origin" not in r.headers


def test_no_cors_without_the_setting(api_service: Service) -> None:
    pre = {"Origin": OA, "Access-Control-Request-Method": "GET"}
    r = call(api_service.port, "OPTIONS", "/v1/events", headers=pre)
    assert r.status == 405
    assert not [h for h in r.headers if h.lower().startswith("access-control-")]


def test_frame_ancestors(start_service: Any, api_service: Service) -> None:
    for page in ("/portal/", "/console/", "/web/portal.js"):
        r = call(api_service.port, "GET", page)
        assert r.status == 200
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
        assert r.headers["X-Frame-Options"] == "DENY"
    svc = start_service(frame_ancestors=f"'self',{OA},https://*.corp.example")
    for page in ("/portal/", "/console/"):
        r = call(svc.port, "GET", page)
        csp = r.headers["Content-Security-Policy"]
        assert f"frame-ancestors 'self' {OA} https://*.corp.example" in csp
        assert "'none'" not in csp.split("frame-ancestors")[1]
        assert "script-src 'self'" in csp
        assert "X-Frame-Options" not in r.headers
    r = call(svc.port, "GET", "/portal")
    assert r.status == 308
    assert r.headers["Location"] == "portal/"


def test_bad_proxy_settings_stop_the_service(tmp_path: Path) -> None:
    from ..service import SEALTRAIL, env_for

    for key, value in (
        ("trusted_proxies", "10.0.0.1/8"),
        ("public_url", "https://e.example.com/?a=1"),
        ("cors_origins", "*"),
        ("log_format", "yaml"),
    ):
        env = env_for(data_dir=str(tmp_path / "d"), **{key: value})
        r = subprocess.run(
            [SEALTRAIL, "serve"], env=env, capture_output=True, text=True, timeout=60
        )
        assert r.returncode == 2, (key, r.stderr)
        assert key in r.stderr


# -- public_url in packages and the report's QR code ----------------------------------------

PUBLIC = "https://evidence.example.com/ledger"


def qr_codes(pdf: bytes, tmp: Path) -> list[str]:
    """The QR codes on the PDF's pages, decoded by zbarimg from a pdftoppm rendering."""
    (tmp / "report.pdf").write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", "150", "-png", str(tmp / "report.pdf"), str(tmp / "page")],
        check=True,
        timeout=120,
    )
    out: list[str] = []
    for png in sorted(tmp.glob("page*.png")):
        r = subprocess.run(
            ["zbarimg", "--raw", "-q", "-Sdisable", "-Sqrcode.enable", str(png)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        out += [ln for ln in r.stdout.splitlines() if ln]
    return out


def test_public_url_in_the_package_manifest_and_the_report_qr(
    start_service: Any, tmp_path: Path
) -> None:
    if shutil.which("zbarimg") is None:
        if os.environ.get("CI"):
            pytest.fail("zbarimg missing in CI (apt-get install zbar-tools)")
        pytest.skip("zbarimg not installed (apt-get install zbar-tools)")
    svc = start_service(public_url=PUBLIC + "/", cors_origins=OA)
    api = Api(svc)
    doc = sha("proxy-doc")
    api.append(event(1, stream="contract:proxy-1", doc=doc), key="int_sub1")
    api.wait_for_checkpoint(1)
    r = api.get(
        "/v1/streams/contract:proxy-1/package", "aud_hq",
        params={"tenant": "sub1"}, headers={"Origin": OA},
    )  # fmt: skip
    assert r.status == 200, r
    # the streamed response got its CORS and request-id headers too
    assert r.headers["Access-Control-Allow-Origin"] == OA
    assert r.headers["X-Request-Id"]
    z = zipfile.ZipFile(io.BytesIO(r.body))
    manifest = json.loads(z.read("manifest.json"))
    want = f"{PUBLIC}/portal/#/fingerprint/{doc}"
    assert manifest["portal"] == want, manifest.get("portal")
    assert qr_codes(z.read("report.pdf"), tmp_path) == [want]
    local = f"127.0.0.1:{svc.port}"
    assert local.encode() not in z.read("manifest.json")
    assert "public_url is not set" not in svc.log()


def test_without_public_url_a_warning_and_the_listen_address(api_service: Service) -> None:
    assert "public_url is not set" in api_service.log()
    assert f"http://127.0.0.1:{api_service.port}" in api_service.log()
