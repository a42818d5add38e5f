"""The development TSA and the RFC 3161 client over real HTTP (no mocks).

One event loop in a background thread serves the development TSA and a row of misbehaving
servers (refusing, HTTP 500, garbage, HTML, slow, rejecting, untrusted, flaky); the tests run
the client in their own loop against them. Every token the client accepts is checked again by
``openssl ts -verify`` and, where installed, by rfc3161ng.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
from aiohttp import web
from asn1crypto import tsp
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from sealtrail.anchoring import devtsa
from sealtrail.anchoring.errors import TimestampError, TsaUnavailableError
from sealtrail.anchoring.tsa import (
    QUERY_TYPE,
    REPLY_TYPE,
    TimestampClient,
    TimeStampResponse,
    build_request,
    verify_token,
)
from sealtrail.core.errors import ConfigError
from tests.unit.anchoring.tsa_pki import OPENSSL, openssl_verify

from ..loop_thread import LoopThread
from ..service import free_port

T = TypeVar("T")

NOTE = (
    "sealtrail.local/log-0123456789ab\n7\nq83vEjRWeJA=\n\n"
    "— sealtrail.local/log-0123456789ab AAAAAAAA\n"
).encode()

needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl CLI not installed")


async def serve(app: web.Application) -> tuple[str, web.AppRunner]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return f"http://127.0.0.1:{runner.addresses[0][1]}/", runner


def one_handler(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> web.Application:
    app = web.Application()
    app.router.add_post("/", handler)
    return app


@dataclass
class Servers:
    dev: devtsa.DevTsa
    dev_url: str
    untrusted_url: str  # another development TSA: its own CA, which the client does not trust
    refused_url: str
    error500_url: str
    garbage_url: str  # right content type, body no TimeStampResp
    html_url: str
    slow_url: str
    rejecting_url: str  # a proper TimeStampResp, status rejection (systemFailure)
    flaky_url: str  # HTTP 503 on every other request, the development TSA in between
    mounted_url: str  # the development TSA mounted at /devtsa in a bigger application
    flaky_calls: list[int]


@pytest.fixture(scope="module")
def loop_thread() -> Iterator[LoopThread]:
    lt = LoopThread()
    yield lt
    lt.close()


@pytest.fixture(scope="module")
def servers(loop_thread: LoopThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    base = tmp_path_factory.mktemp("tsas")
    runners: list[web.AppRunner] = []
    flaky_calls: list[int] = []

    async def error500(request: web.Request) -> web.Response:
        return web.Response(status=500, text="boom")

    async def garbage(request: web.Request) -> web.Response:
        return web.Response(body=b"\x30\x03garbage", content_type=REPLY_TYPE)

    async def html(request: web.Request) -> web.Response:
        return web.Response(text="<html>maintenance</html>", content_type="text/html")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(status=500)

    async def rejecting(request: web.Request) -> web.Response:
        body = devtsa.rejection("system_failure", "HSM offline")
        return web.Response(body=body, content_type=REPLY_TYPE)

    async def start() -> Servers:
        dev_running = await devtsa.start_tsa(base / "devtsa")
        other_running = await devtsa.start_tsa(base / "other")
        runners.extend([dev_running.runner, other_running.runner])
        dev = dev_running.tsa

        async def flaky(request: web.Request) -> web.Response:
            flaky_calls.append(1)
            if len(flaky_calls) % 2:
                return web.Response(status=503, text="try later")
            reply = devtsa.respond(
                dev, await request.read(), request.content_type, datetime.now(UTC)
            )
            return web.Response(body=reply, content_type=REPLY_TYPE)

        urls = {}
        for name, handler in [
            ("error500", error500),
            ("garbage", garbage),
            ("html", html),
            ("slow", slow),
            ("rejecting", rejecting),
            ("flaky", flaky),
        ]:
            urls[name], runner = await serve(one_handler(handler))
            runners.append(runner)
        parent = web.Application()
        devtsa.mount_tsa(parent, base / "devtsa", "/devtsa")
        parent_url, runner = await serve(parent)
        runners.append(runner)
        return Servers(
            dev=dev,
            dev_url=dev_running.url,
            untrusted_url=other_running.url,
            refused_url=f"http://127.0.0.1:{free_port()}/",
            error500_url=urls["error500"],
            garbage_url=urls["garbage"],
            html_url=urls["html"],
            slow_url=urls["slow"],
            rejecting_url=urls["rejecting"],
            flaky_url=urls["flaky"],
            mounted_url=parent_url + "devtsa/",
            flaky_calls=flaky_calls,
        )

    yield loop_thread.run(start())

    async def stop() -> None:
        for runner in runners:
            await runner.cleanup()

    loop_thread.run(stop())


def client(servers: Servers, urls: list[str], **kw: Any) -> TimestampClient:
    kw.setdefault("timeout", 2.0)
    kw.setdefault("backoff", 0.01)
    return TimestampClient(urls, [servers.dev.ca_cert], **kw)


def stamp(c: TimestampClient, data: bytes = NOTE) -> Any:
    return asyncio.run(c.timestamp(data))


def check_independently(token: bytes, data: bytes, dev: devtsa.DevTsa, work: Path) -> None:
    """openssl ts -verify and rfc3161ng's check_timestamp must both accept the token."""
    if OPENSSL is not None:
        verdict = openssl_verify(token, data, dev.ca_pem_path, work)
        assert verdict.ok, verdict.output
    try:
        import rfc3161ng  # type: ignore[import-untyped]
    except ImportError:
        return
    pem = dev.tsa_cert.public_bytes(serialization.Encoding.PEM)
    assert rfc3161ng.check_timestamp(token, certificate=pem, data=data, hashname="sha256")


# -- the happy path ------------------------------------------------------------------------------


def test_timestamp_from_dev_tsa(servers: Servers, tmp_path: Path) -> None:
    before = datetime.now(UTC)
    ts = stamp(client(servers, [servers.dev_url]))
    assert ts.tsa == servers.dev_url
    assert before <= ts.gen_time <= datetime.now(UTC)
    assert ts.policy == devtsa.DEV_POLICY_OID
    assert ts.tsa_subject == servers.dev.tsa_cert.subject.rfc4514_string()
    info = verify_token(ts.token, NOTE, [servers.dev.ca_cert])
    assert (info.gen_time, info.serial) == (ts.gen_time, ts.serial)
    check_independently(ts.token, NOTE, servers.dev, tmp_path)


def test_concurrent_timestamps_share_a_session(servers: Servers, tmp_path: Path) -> None:
    async def go() -> list[Any]:
        async with aiohttp.ClientSession() as session:
            c = client(servers, [servers.dev_url], session=session)
            return await asyncio.gather(*(c.timestamp(b"%d" % i) for i in range(8)))

    stamps = asyncio.run(go())
    assert len({s.serial for s in stamps}) == 8
    for i, s in enumerate(stamps):
        verify_token(s.token, b"%d" % i, [servers.dev.ca_cert])
        check_independently(s.token, b"%d" % i, servers.dev, tmp_path / str(i))


def test_mounted_dev_tsa_serves_under_prefix(servers: Servers, tmp_path: Path) -> None:
    ts = stamp(client(servers, [servers.mounted_url]))
    assert ts.tsa.endswith("/devtsa/")
    check_independently(ts.token, NOTE, servers.dev, tmp_path)


@needs_openssl
@pytest.mark.skipif(shutil.which("jq") is None, reason="jq not installed")
def test_notary_commands_from_the_docs(servers: Servers, tmp_path: Path) -> None:
    """docs/TIMESTAMPS.md §3, verbatim: from checkpoint JSON to 'Verification: OK'."""
    note = NOTE.decode()
    ts = stamp(client(servers, [servers.dev_url]))
    (tmp_path / "checkpoint.json").write_text(
        json.dumps({"size": 7, "note": note, "timestamp": ts.to_json()})
    )
    shutil.copy(servers.dev.ca_pem_path, tmp_path / "tsa-ca.pem")
    script = """
set -e
jq -j .note checkpoint.json > checkpoint.note
jq -r .timestamp.token checkpoint.json | base64 -d > token.tst
sha256sum checkpoint.note
openssl ts -verify -data checkpoint.note -in token.tst -token_in -CAfile tsa-ca.pem
openssl ts -verify -digest "$(sha256sum checkpoint.note | cut -d' ' -f1)" \\
    -in token.tst -token_in -CAfile tsa-ca.pem
openssl ts -reply -in token.tst -token_in -text
"""
    out = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("Verification: OK") == 2
    assert hashlib.sha256(NOTE).hexdigest() in out.stdout
    assert f"Policy OID: {devtsa.DEV_POLICY_OID}" in out.stdout
    # Any other note fails.
    (tmp_path / "checkpoint.note").write_bytes(NOTE + b"\n")
    bad = subprocess.run(
        ["openssl", "ts", "-verify", "-data", "checkpoint.note", "-in", "token.tst", "-token_in",
         "-CAfile", "tsa-ca.pem"],
        cwd=tmp_path, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert bad.returncode != 0


# -- failover and retries ------------------------------------------------------------------------

FIRST_FAILURES = {
    "refused": "ClientConnectorError",
    "error500": "HTTP 500",
    "garbage": "not a DER TimeStampResp",
    "html": "content type 'text/html'",
    "slow": "no answer within 0.5 s",
    "rejecting": "status rejection (failInfo system_failure): HSM offline",
    "untrusted": "token rejected: TSA certificate does not chain to a trust root",
}


@pytest.mark.parametrize("first", list(FIRST_FAILURES))
def test_failover_to_second_tsa(servers: Servers, first: str, tmp_path: Path) -> None:
    bad_url = getattr(servers, f"{first}_url")
    started = time.monotonic()
    ts = stamp(client(servers, [bad_url, servers.dev_url], retries=0, timeout=0.5))
    assert time.monotonic() - started < 3
    assert ts.tsa == servers.dev_url
    verify_token(ts.token, NOTE, [servers.dev.ca_cert])
    check_independently(ts.token, NOTE, servers.dev, tmp_path)


def test_all_fail_lists_each_url(servers: Servers) -> None:
    firsts = list(FIRST_FAILURES)
    urls = [getattr(servers, f"{name}_url") for name in firsts]
    c = client(servers, urls, retries=1, timeout=0.5)
    with pytest.raises(TsaUnavailableError) as caught:
        stamp(c)
    message = str(caught.value)
    for name, url in zip(firsts, urls, strict=True):
        assert f"{url}: " in message
        assert FIRST_FAILURES[name] in message
    # Transient failures are asked again; a TSA whose token is bad, or that said no, is not.
    assert f"{servers.refused_url}: " in message
    assert "(2 attempts)" in message.split(servers.error500_url)[1].split(";")[0]
    assert "(1 attempt)" in message.split(servers.untrusted_url)[1]
    group = caught.value.__cause__
    assert isinstance(group, ExceptionGroup)
    assert all(isinstance(e, TimestampError) for e in group.exceptions)
    assert len(group.exceptions) == 2 * len(urls) - 1  # untrusted once, the others twice


def test_retry_after_transient_failure(servers: Servers, tmp_path: Path) -> None:
    servers.flaky_calls.clear()  # odd calls answer 503, even ones a token
    ts = stamp(client(servers, [servers.flaky_url], retries=2))
    assert ts.tsa == servers.flaky_url
    assert len(servers.flaky_calls) == 2
    check_independently(ts.token, NOTE, servers.dev, tmp_path)


def test_no_retries_means_one_round(servers: Servers) -> None:
    servers.flaky_calls.clear()
    with pytest.raises(TsaUnavailableError, match=r"HTTP 503 \(1 attempt\)"):
        stamp(client(servers, [servers.flaky_url], retries=0))


def test_credentials_never_leave_the_client(servers: Servers) -> None:
    url = servers.refused_url.replace("http://", "http://user:s3cret@")
    c = client(servers, [url], retries=0)
    assert c.urls == (servers.refused_url,)
    with pytest.raises(TsaUnavailableError) as caught:
        stamp(c)
    assert "s3cret" not in str(caught.value)
    assert "s3cret" not in str(caught.value.__cause__.exceptions)  # type: ignore[union-attr]


def test_client_preconditions(servers: Servers) -> None:
    with pytest.raises(ValueError, match="no TSA URLs"):
        client(servers, [])
    with pytest.raises(ValueError, match="not an absolute http"):
        client(servers, ["ftp://tsa.example/"])
    with pytest.raises(TypeError):
        client(servers, servers.dev_url)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no trust roots"):
        TimestampClient([servers.dev_url], [])


# -- the development TSA over HTTP ---------------------------------------------------------------


async def post(url: str, body: bytes, content_type: str = QUERY_TYPE) -> tuple[int, str, bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers={"Content-Type": content_type}) as resp,
    ):
        return resp.status, resp.content_type, await resp.read()


def status_of(reply: bytes) -> tuple[str, set[str], list[str]]:
    status = TimeStampResponse.load(reply)["status"]
    return (
        status["status"].native,
        set(status["fail_info"].native or ()),
        status["status_string"].native or [],
    )


def request_with(**changes: Any) -> bytes:
    req = tsp.TimeStampReq.load(build_request(NOTE, 7))
    base = req.native
    base["message_imprint"] = req["message_imprint"]
    base.update(changes)
    for key in ("req_policy", "extensions"):
        if base.get(key) is None:
            base.pop(key, None)
    return bytes(tsp.TimeStampReq(base).dump())


BAD_REQUESTS = {
    "garbage": (b"hello", QUERY_TYPE, "bad_data_format"),
    "empty": (b"", QUERY_TYPE, "bad_data_format"),
    "truncated": (build_request(NOTE, 7)[:-3], QUERY_TYPE, "bad_data_format"),
    "wrong-content-type": (build_request(NOTE, 7), "text/plain", "bad_request"),
    "too-large": (b"\x30" * (devtsa.MAX_REQUEST_BYTES + 1), QUERY_TYPE, "bad_request"),
    "sha1-imprint": (
        request_with(
            message_imprint={
                "hash_algorithm": {"algorithm": "sha1"},
                "hashed_message": hashlib.sha1(NOTE).digest(),
            }
        ),
        QUERY_TYPE,
        "bad_alg",
    ),
    "short-imprint": (
        request_with(
            message_imprint={"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": b"x"}
        ),
        QUERY_TYPE,
        "bad_data_format",
    ),
    "foreign-policy": (request_with(req_policy="1.2.3.4"), QUERY_TYPE, "unaccepted_policy"),
    "extension": (
        request_with(
            extensions=[{"extn_id": "1.2.3.4", "critical": False, "extn_value": b"\x05\x00"}]
        ),
        QUERY_TYPE,
        "unaccepted_extensions",
    ),
}


@pytest.mark.parametrize("name", list(BAD_REQUESTS))
def test_dev_tsa_rejects_bad_request(servers: Servers, name: str, tmp_path: Path) -> None:
    body, content_type, fail_info = BAD_REQUESTS[name]
    status, reply_type, reply = asyncio.run(post(servers.dev_url, body, content_type))
    assert (status, reply_type) == (200, REPLY_TYPE)
    got_status, got_fail, texts = status_of(reply)
    assert (got_status, got_fail) == ("rejection", {fail_info})
    assert texts
    assert texts[0]
    if OPENSSL is not None:  # openssl reads our rejection too
        (tmp_path / "reply.tsr").write_bytes(reply)
        out = subprocess.run(
            [OPENSSL, "ts", "-reply", "-in", str(tmp_path / "reply.tsr"), "-text"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert "Status: Rejected" in out.stdout, out.stdout + out.stderr


def test_dev_tsa_only_posts(servers: Servers) -> None:
    async def get() -> int:
        async with aiohttp.ClientSession() as session, session.get(servers.dev_url) as resp:
            return resp.status

    assert asyncio.run(get()) == 405


@needs_openssl
@pytest.mark.parametrize("cert_req", [True, False], ids=["cert-req", "no-cert-req"])
def test_openssl_request_and_verify(servers: Servers, cert_req: bool, tmp_path: Path) -> None:
    """Request made by openssl, reply checked by openssl: our code only in between."""
    (tmp_path / "note").write_bytes(NOTE)
    query = ["openssl", "ts", "-query", "-data", "note", "-sha256", "-out", "q.tsq"]
    subprocess.run(query + (["-cert"] if cert_req else []), cwd=tmp_path, check=True, timeout=30)
    status, _, reply = asyncio.run(post(servers.dev_url, (tmp_path / "q.tsq").read_bytes()))
    assert status == 200
    (tmp_path / "r.tsr").write_bytes(reply)
    verify = ["openssl", "ts", "-verify", "-queryfile", "q.tsq", "-in", "r.tsr"]
    verify += ["-CAfile", str(servers.dev.ca_pem_path)]
    out = subprocess.run(verify, cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert (out.returncode == 0) is cert_req, out.stdout + out.stderr
    if not cert_req:  # without the certificate in the token, openssl needs it given
        verify += ["-untrusted", str(servers.dev.tsa_pem_path)]
        out = subprocess.run(verify, cwd=tmp_path, capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stdout + out.stderr


# -- the development TSA's files -----------------------------------------------------------------


def test_pki_is_made_once_and_kept_private(tmp_path: Path) -> None:
    first = devtsa.load_or_create(tmp_path / "devtsa")
    again = devtsa.load_or_create(tmp_path / "devtsa")
    assert again.ca_cert == first.ca_cert
    assert again.tsa_cert == first.tsa_cert
    assert stat.S_IMODE((tmp_path / "devtsa").stat().st_mode) == 0o700
    for name in (devtsa.CA_KEY_FILE, devtsa.TSA_KEY_FILE):
        assert stat.S_IMODE((tmp_path / "devtsa" / name).stat().st_mode) == 0o600
    eku = first.tsa_cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical
    assert [p.dotted_string for p in eku.value] == ["1.3.6.1.5.5.7.3.8"]
    assert "development and tests only" in first.ca_cert.subject.rfc4514_string()


def test_racing_creators_agree(tmp_path: Path) -> None:
    results: list[devtsa.DevTsa] = []
    threads = [
        threading.Thread(target=lambda: results.append(devtsa.load_or_create(tmp_path / "d")))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 3
    assert len({r.ca_cert for r in results}) == 1
    assert not [p for p in tmp_path.iterdir() if p.name != "d"]  # no temporary directory left


def test_incomplete_directory_is_refused(tmp_path: Path) -> None:
    devtsa.load_or_create(tmp_path / "devtsa")
    (tmp_path / "devtsa" / devtsa.TSA_CERT_FILE).unlink()
    with pytest.raises(ConfigError, match=r"lacks tsa\.pem"):
        devtsa.load_or_create(tmp_path / "devtsa")


def test_readable_key_is_refused(tmp_path: Path) -> None:
    devtsa.load_or_create(tmp_path / "devtsa")
    os.chmod(tmp_path / "devtsa" / devtsa.TSA_KEY_FILE, 0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        devtsa.load_or_create(tmp_path / "devtsa")


def test_standalone_runner(tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "sealtrail.anchoring.devtsa", str(tmp_path / "d")]
    with subprocess.Popen(
        [*command, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            errors = proc.stderr.read() if proc.stderr and not first else ""
            assert f"at http://127.0.0.1:{port}/" in first, first + errors
            assert "development and tests only" in first
            dev = devtsa.load_or_create(tmp_path / "d")
            c = TimestampClient([f"http://127.0.0.1:{port}/"], [dev.ca_cert], backoff=0.01)
            ts = asyncio.run(c.timestamp(NOTE))
            verify_token(ts.token, NOTE, [dev.ca_cert])
            check_independently(ts.token, NOTE, dev, tmp_path / "check")
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def test_token_base64_in_json_is_the_der(servers: Servers) -> None:
    ts = stamp(client(servers, [servers.dev_url]))
    assert base64.b64decode(ts.to_json()["token"]) == ts.token
