"""A stand-in for the signer's HTTP contract (/tmp/briefs/signer_contract.md, docs/FORMAT.md),
for the page's own tests: the real page module (``sealtrail.web.routes``: the page, its assets,
its security headers) and real page images rendered with pypdfium2 from a real PDF, behind an
in-memory envelope that follows the contract's rules (one-time codes, five tries then locked,
the session cookie, intent required, a drawn PNG size- and format-checked).

It exists so that the page's behaviour (layout on a phone, the pad's export, the overlays'
positions, the batching of pages seen, the language switch) is tested apart from the service;
``test_signer_page.py`` also drives the page against the real service.
"""

from __future__ import annotations

import base64
import io
import secrets
from dataclasses import dataclass, field
from typing import Any

import pypdfium2
from aiohttp import web
from PIL import Image

from sealtrail.web import routes as web_routes

from ..loop_thread import LoopThread
from ..service import free_port

MAX_TRIES = 5
LOCK_SECONDS = 900
COOKIE = "st_sign"


@dataclass
class StubSigner:
    """One signer's link and what the page did with it."""

    token: str
    name: str
    kind: str = "individual"
    address_masked: str = "z***@example.com"
    fields: list[dict[str, Any]] = field(default_factory=list)
    turn: bool = True
    state: str = "pending"
    codes: list[str] = field(default_factory=list)
    wrong: int = 0
    locked: bool = False
    session: str | None = None
    viewed: list[list[int]] = field(default_factory=list)
    signature: dict[str, Any] | None = None
    language: str | None = None
    decline_reason: str | None = None
    downloads: int = 0
    sends: int = 0


@dataclass
class StubEnvelope:
    title: str
    pdf: bytes
    signers: list[StubSigner]
    state: str = "sent"
    order: str = "parallel"
    expires_at: str = "2031-01-31T16:00:00Z"
    sender: dict[str, str] = field(
        default_factory=lambda: {"tenant": "sub1", "name": "Acme Shanghai 上海物流"}
    )


TYPED_STYLES = [
    {"id": "ink", "label_en": "Black ink", "label_zh": "黑色墨迹"},
    {"id": "blue", "label_en": "Blue ink", "label_zh": "蓝色墨迹"},
    {"id": "italic", "label_en": "Slanted", "label_zh": "斜体"},
]
SEALS = [
    {"id": "seal-contract", "name": "Acme Ltd 合同专用章", "kind": "contract"},
    {"id": "seal-official", "name": "Acme Ltd 公章", "kind": "official"},
]


def _problem(status: int, detail: str, **extra: Any) -> web.Response:
    headers = {}
    if "retry_after" in extra:
        headers["Retry-After"] = str(extra.pop("retry_after"))
    return web.json_response(
        {"type": "about:blank", "title": detail, "status": status, "detail": detail, **extra},
        status=status,
        content_type="application/problem+json",
        headers=headers,
    )  # fmt: skip


class SignerStub:
    """The stub server: ``url``, envelopes added with :meth:`add`, and their signers' state."""

    def __init__(self) -> None:
        self.envelopes: list[StubEnvelope] = []
        self.requests: list[tuple[str, str]] = []
        self._loop = LoopThread()
        self.port = free_port()
        self._runner: web.AppRunner | None = None
        self._loop.run(self._start())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add(self, env: StubEnvelope) -> StubEnvelope:
        self.envelopes.append(env)
        return env

    def find(self, token: str) -> tuple[StubEnvelope, StubSigner] | None:
        for env in self.envelopes:
            for s in env.signers:
                if secrets.compare_digest(s.token, token):
                    return env, s
        return None

    def close(self) -> None:
        if self._runner is not None:
            self._loop.run(self._runner.cleanup())
        self._loop.close()

    async def _start(self) -> None:
        app = web.Application()
        web_routes.setup(app)
        r = app.router
        r.add_get("/sign/{token}", self.page)
        base = "/v1/sign/{token}"
        r.add_get(base, self.info)
        r.add_post(base + "/code", self.code)
        r.add_post(base + "/verify", self.verify)
        r.add_get(base + "/document", self.document)
        r.add_get(base + "/pages/{n:[0-9]+}.png", self.page_png)
        r.add_post(base + "/viewed", self.viewed)
        r.add_get(base + "/seals", self.seals)
        r.add_post(base + "/sign", self.sign)
        r.add_post(base + "/decline", self.decline)
        r.add_get(base + "/download", self.download)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    # -- helpers

    def _live(self, request: web.Request) -> tuple[StubEnvelope, StubSigner] | None:
        self.requests.append((request.method, request.path))
        found = self.find(request.match_info["token"])
        if found is None or found[0].state in ("voided", "expired"):
            return None
        return found

    def _session(self, request: web.Request, s: StubSigner) -> bool:
        return s.session is not None and request.cookies.get(COOKIE) == s.session

    # -- routes

    async def page(self, request: web.Request) -> web.Response:
        found = self._live(request)
        return web_routes.page("sign", 200 if found else 404)

    async def info(self, request: web.Request) -> web.Response:
        found = self._live(request)
        if not found:
            return _problem(404, "no such link")
        env, s = found
        return web.json_response(
            {
                "envelope": {"title": env.title, "from": env.sender, "expires_at": env.expires_at,
                             "state": env.state, "order": env.order},
                "signer": {"id": s.token[:8], "kind": s.kind, "name": s.name,
                           "address_masked": s.address_masked, "state": s.state,
                           "verified": self._session(request, s), "turn": s.turn},
                "typed_styles": TYPED_STYLES,
            }
        )  # fmt: skip

    async def code(self, request: web.Request) -> web.Response:
        found = self._live(request)
        if not found:
            return _problem(404, "no such link")
        _, s = found
        if s.locked:
            return _problem(423, "locked", retry_after=LOCK_SECONDS)
        if not s.address_masked:
            return _problem(409, "this signer has no address for a code")
        if s.sends >= 3:
            return _problem(429, "too many codes", retry_after=60)
        s.sends += 1
        s.codes.append(f"{secrets.randbelow(10**6):06d}")
        return web.json_response({"sent": True, "expires_in": 600, "resend_after": 30}, status=202)

    async def verify(self, request: web.Request) -> web.Response:
        found = self._live(request)
        if not found:
            return _problem(404, "no such link")
        _, s = found
        if s.locked:
            return _problem(423, "locked", retry_after=LOCK_SECONDS)
        body = await request.json()
        if s.codes and body.get("code") == s.codes[-1]:
            s.codes.clear()
            s.session = secrets.token_urlsafe(16)
            resp = web.json_response({"verified": True})
            resp.set_cookie(COOKIE, s.session, path=f"/v1/sign/{s.token}", httponly=True,
                            samesite="Strict")  # fmt: skip
            return resp
        s.wrong += 1
        if s.wrong >= MAX_TRIES:
            s.locked = True
            return _problem(423, "locked", retry_after=LOCK_SECONDS)
        return _problem(400, "wrong code", attempts_left=MAX_TRIES - s.wrong)

    def _pdf(self, env: StubEnvelope) -> pypdfium2.PdfDocument:
        return pypdfium2.PdfDocument(env.pdf)

    async def document(self, request: web.Request) -> web.Response:
        found = self._live(request)
        if not found:
            return _problem(404, "no such link")
        env, s = found
        if not self._session(request, s):
            return _problem(401, "no session")
        pdf = self._pdf(env)
        pages = []
        for i in range(len(pdf)):
            w, h = pdf[i].get_size()
            pages.append({"number": i + 1, "width": w, "height": h,
                          "image": f"/v1/sign/{s.token}/pages/{i + 1}.png"})  # fmt: skip
        return web.json_response({"sha256": "ab" * 32, "pages": pages, "fields": s.fields})

    async def page_png(self, request: web.Request) -> web.Response:
        found = self._live(request)
        if not found:
            return _problem(404, "no such link")
        env, s = found
        if not self._session(request, s):
            return _problem(401, "no session")
        pdf = self._pdf(env)
        n = int(request.match_info["n"])
        if not 1 <= n <= len(pdf):
            return _problem(404, "no such page")
        width = min(1600, max(320, int(request.query.get("width", "1000"))))
        page = pdf[n - 1]
        image = page.render(scale=width / page.get_size()[0]).to_pil()
        out = io.BytesIO()
        image.save(out, "PNG")
        return web.Response(body=out.getvalue(), content_type="image/png",
                            headers={"Cache-Control": "private, no-store"})  # fmt: skip

    async def viewed(self, request: web.Request) -> web.Response:
        found = self._live(request)
        if not found:
            return _problem(404, "no such link")
        _, s = found
        if not self._session(request, s):
            return _problem(401, "no session")
        s.viewed.append(list((await request.json())["pages"]))
        return web.Response(status=204)

    async def seals(self, request: web.Request) -> web.Response:
        found = self._live(request)
        if not found:
            return _problem(404, "no such link")
        _, s = found
        if not self._session(request, s):
            return _problem(401, "no session")
        return web.json_response({"seals": SEALS if s.kind == "enterprise" else []})

    async def sign(self, request: web.Request) -> web.Response:
        found = self._live(request)
        if not found:
            return _problem(404, "no such link")
        env, s = found
        if not self._session(request, s):
            return _problem(401, "no session")
        body = await request.json()
        if body.get("intent") is not True or body.get("language") not in ("en", "zh-CN"):
            return _problem(400, "intent must be true")
        sig = body.get("signature") or {}
        if sig.get("kind") == "drawn":
            raw = base64.b64decode(sig["png_base64"], validate=True)
            if len(raw) > 256 * 1024 or not raw.startswith(b"\x89PNG\r\n\x1a\n"):
                return _problem(400, "not a PNG")
            with Image.open(io.BytesIO(raw)) as im:
                if im.width > 2000 or im.height > 1000:
                    return _problem(400, "too large")
        if s.state != "pending" or not s.turn or env.state not in ("sent", "partly_signed"):
            return _problem(409, "cannot sign now")
        s.signature = sig
        s.language = body["language"]
        s.state = "signed"
        done = all(x.state == "signed" for x in env.signers)
        env.state = "completed" if done else "partly_signed"
        return web.json_response({"signer_state": "signed", "envelope_state": env.state,
                                  "download": f"/v1/sign/{s.token}/download"})  # fmt: skip

    async def decline(self, request: web.Request) -> web.Response:
        found = self._live(request)
        if not found:
            return _problem(404, "no such link")
        env, s = found
        if not self._session(request, s):
            return _problem(401, "no session")
        reason = (await request.json()).get("reason")
        if not isinstance(reason, str) or not 1 <= len(reason) <= 500:
            return _problem(400, "reason: 1..500 characters")
        s.state = env.state = "declined"
        s.decline_reason = reason
        return web.json_response({"signer_state": "declined", "envelope_state": "declined"})

    async def download(self, request: web.Request) -> web.Response:
        found = self._live(request)
        if not found:
            return _problem(404, "no such link")
        env, s = found
        if not self._session(request, s):
            return _problem(401, "no session")
        s.downloads += 1
        return web.Response(body=env.pdf, content_type="application/pdf")
