"""The signer's API: ``/sign/{token}`` (the page) and ``/v1/sign/{token}/…`` (its JSON), the
contract in docs/FORMAT.md ("Envelopes: signing links").

No API key: the link's token is the credential for opening and asking for a code; a verified
one-time code opens a signing session (the ``st_sign`` cookie, HttpOnly, SameSite=Strict, its
path the link's) that every later step needs. An unknown, tampered, expired, voided, declined
or completed-and-used link is answered with the same 404 (page and JSON alike). Tokens never
reach the logs (the access log blanks route segments named ``token``) or the metrics (route
templates only).

Individuals sign with a certificate issued for this one signature by the envelope creator's
tenant CA (:func:`sealtrail.signing.pki.issue_signer_certificate`); enterprises with one of
their seals (an approved seal request bound to their slot is used when the seal is
controlled). Each of the signer's fields gets its own PAdES B-T signature with the signer's
appearance: a PDF signature has one widget, and a signature per field means every mark on the
page is covered by a signature that validates on its own.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import serialization

from sealtrail.api.context import (
    RateLimiter,
    body_object,
    in_thread,
    json_response,
    read_json,
    services,
)
from sealtrail.api.errors import problem
from sealtrail.api.mail import Mailer, mailer
from sealtrail.api.seals import SealDesk, desk, pdf_response
from sealtrail.api.settings import Settings, public_url
from sealtrail.core.errors import ConflictError, InvalidInputError, NotFoundError
from sealtrail.seals import approvals, envelopes, registry
from sealtrail.seals import signing_links as sl
from sealtrail.seals.envelopes import Envelope, SealSlot
from sealtrail.seals.errors import (
    CodeRateLimitedError,
    LinkLockedError,
    SealStateError,
    WrongCodeError,
)
from sealtrail.signing import handwriting, pages, pki
from sealtrail.signing.sign import Placement, SignatureLevel, SigningPolicy, sign_pdf
from sealtrail.web import routes as web_routes

log = logging.getLogger("sealtrail.signing_links")
COOKIE = "st_sign"
#: codes a client address may ask for per minute, and one e-mail address
CODE_RATE_PER_CLIENT = 60
CODE_RATE_PER_ADDRESS = 3
#: link opens (each one a ledger event) a client address may make per minute
OPEN_RATE_PER_CLIENT = 120
MAILER = web.AppKey("signer_mailer", Mailer)
LIMITS = web.AppKey("signer_limits", dict[str, RateLimiter])
LANGUAGES = ("en", "zh-CN")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _client(request: web.Request, d: SealDesk) -> sl.Client:
    return sl.Client(request.remote, request.headers.get("User-Agent", ""), d.clock())


def _token(request: web.Request) -> str:
    return request.match_info["token"]


async def _resolve(request: web.Request) -> tuple[SealDesk, Envelope, sl.Link]:
    d = desk(request)
    token, now, ttl = _token(request), d.clock(), d.settings.signing_link_ttl
    env, link = await in_thread(lambda: sl.resolve(d.seals, token, now, ttl))
    return d, env, link


async def _session(request: web.Request) -> tuple[SealDesk, Envelope, sl.Link]:
    d, env, link = await _resolve(request)
    sl.check_session(link, request.cookies.get(COOKIE))
    return d, env, link


def _signer_errors(fn: Handler) -> Handler:
    """Problems with the details the page needs: Retry-After on 423 and 429,
    ``attempts_left`` on a wrong code."""

    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            return await fn(request)
        except (LinkLockedError, CodeRateLimitedError) as e:
            status = 423 if isinstance(e, LinkLockedError) else 429
            resp = problem(status, e.code, str(e))
            resp.headers["Retry-After"] = str(max(1, e.retry_after))
            return resp
        except WrongCodeError as e:
            return problem(400, e.code, str(e), attempts_left=e.attempts_left)

    handler.__doc__ = fn.__doc__
    return handler


# -- the page ------------------------------------------------------------------------------------


async def sign_page(request: web.Request) -> web.Response:
    """GET /sign/{token} — the signer's page: 200 for a live link, 404 with the same body for
    any other."""
    d = desk(request)
    token, now, ttl = _token(request), d.clock(), d.settings.signing_link_ttl
    try:
        await in_thread(lambda: sl.resolve(d.seals, token, now, ttl))
        status = 200
    except NotFoundError:
        status = 404
    return web_routes.page("sign", status)


# -- JSON ----------------------------------------------------------------------------------------


@_signer_errors
async def get_link(request: web.Request) -> web.Response:
    """GET /v1/sign/{token} — who asks whom to sign what (nothing of the document)."""
    _limit(request, "open", request.remote or "-")  # each open is a ledger event
    d, env, link = await _resolve(request)
    client = _client(request, d)
    await in_thread(lambda: sl.record(d.seals, env, link, "envelope:link-opened", client))
    await d.flush()
    tenant = await in_thread(lambda: d.directory.tenant(env.tenant))
    terms = await in_thread(lambda: d.seals.envelope_terms(env.id))
    body = {
        "envelope": {
            "title": env.title,
            "from": {"tenant": env.tenant, "name": tenant.name if tenant else env.tenant},
            "expires_at": None if terms is None else terms.expires_at,
            "state": sl.state_of(env),
            "order": "sequential" if env.ordered else "parallel",
        },
        "signer": {
            "id": f"{env.id}.{link.position}",
            "kind": link.kind,
            "name": link.stored.name,
            "address_masked": sl.masked(link.stored.email),
            "state": sl.signer_state(env, link),
            "verified": _verified(request, link),
            "turn": sl.turn(env, link),
        },
        "typed_styles": [
            {"id": s.id, "label_en": s.label_en, "label_zh": s.label_zh}
            for s in handwriting.TYPED_STYLES
        ],
    }
    return json_response(body)


def _verified(request: web.Request, link: sl.Link) -> bool:
    try:
        sl.check_session(link, request.cookies.get(COOKIE))
    except Exception:
        return False
    return True


def _limit(request: web.Request, name: str, key: str) -> None:
    request.config_dict[LIMITS][name].check(key)


@_signer_errors
async def post_code(request: web.Request) -> web.Response:
    """POST /v1/sign/{token}/code — e-mail a one-time code to the signer."""
    d, env, link = await _resolve(request)
    if link.stored.email:
        _limit(request, "client", request.remote or "-")
        _limit(request, "address", sl.email_sha256(link.stored.email))
    client = _client(request, d)
    code = await in_thread(lambda: sl.send_code(d.seals, env, link, client))
    await d.flush()
    assert link.stored.email is not None
    minutes = sl.CODE_TTL // 60
    await request.config_dict[MAILER].send(
        link.stored.email,
        f"Your signing code / 您的签署验证码: {code}",
        f'Your one-time code to sign "{env.title}" is {code}. It expires in {minutes} '
        f"minutes and can be used once.\n\n您签署《{env.title}》的验证码是 {code}，"
        f"{minutes} 分钟内有效，仅可使用一次。\n",
    )
    return json_response(
        {"sent": True, "expires_in": sl.CODE_TTL, "resend_after": sl.RESEND_AFTER}, status=202
    )


@_signer_errors
async def post_verify(request: web.Request) -> web.Response:
    """POST /v1/sign/{token}/verify — check the code; open the signing session (cookie)."""
    d, env, link = await _resolve(request)
    body = body_object(await read_json(request), ("code",))
    client = _client(request, d)
    try:
        cookie = await in_thread(
            lambda: sl.verify_code(d.seals, env, link, body.get("code"), client)
        )
    finally:
        await d.flush()
    resp = json_response({"verified": True})
    resp.set_cookie(
        COOKIE, cookie, path=f"/v1/sign/{_token(request)}", httponly=True, samesite="Strict",
        secure=public_url(d.settings).startswith("https://"), max_age=3600,
    )  # fmt: skip
    return resp


@_signer_errors
async def get_document(request: web.Request) -> web.Response:
    """GET /v1/sign/{token}/document — the document's pages and this signer's fields."""
    d, env, link = await _session(request)
    pdf = await in_thread(lambda: envelopes.document(d.seals, env.id))
    sizes = await in_thread(lambda: pages.page_sizes(pdf))
    base = f"/v1/sign/{_token(request)}/pages"
    return json_response({
        "sha256": env.current.hex(),
        "pages": [{"number": i + 1, "width": w, "height": h, "image": f"{base}/{i + 1}.png"}
                  for i, (w, h) in enumerate(sizes)],
        "fields": [f.to_json() for f in link.fields],
    })  # fmt: skip


@_signer_errors
async def get_page(request: web.Request) -> web.Response:
    """GET /v1/sign/{token}/pages/{n}.png — one page rendered (``?width=`` 320..1600 px)."""
    d, env, _link = await _session(request)
    raw_n = request.match_info["n"]
    raw_w = request.query.get("width", str(pages.DEFAULT_WIDTH))
    if not (raw_n.isascii() and raw_n.isdigit() and len(raw_n) <= 5):
        raise NotFoundError("no such page")
    if not (raw_w.isascii() and raw_w.isdigit() and len(raw_w) <= 5):
        raise InvalidInputError("width: want an integer (pixels)")
    n, width = int(raw_n), int(raw_w)
    pdf = await in_thread(lambda: envelopes.document(d.seals, env.id))
    count = len(await in_thread(lambda: pages.page_sizes(pdf)))
    if not 1 <= n <= count:
        raise NotFoundError(f"no page {n}: the document has {count}")
    png = await in_thread(lambda: pages.render_page(pdf, n, width))
    return web.Response(
        body=png, content_type="image/png", headers={"Cache-Control": "private, no-store"}
    )


@_signer_errors
async def post_viewed(request: web.Request) -> web.Response:
    """POST /v1/sign/{token}/viewed — record the pages the signer saw."""
    d, env, link = await _session(request)
    body = body_object(await read_json(request), ("pages",))
    pdf = await in_thread(lambda: envelopes.document(d.seals, env.id))
    count = len(await in_thread(lambda: pages.page_sizes(pdf)))
    client = _client(request, d)
    await in_thread(lambda: sl.viewed(d.seals, env, link, body.get("pages"), count, client))
    await d.flush()
    return web.Response(status=204)


@_signer_errors
async def get_seals(request: web.Request) -> web.Response:
    """GET /v1/sign/{token}/seals — the active seals an enterprise signer may choose."""
    d, env, link = await _session(request)
    if link.kind != "enterprise":
        return json_response({"seals": []})
    party = env.signers[link.position].party
    found = await in_thread(lambda: registry.list_seals(d.seals, [party]))
    return json_response({"seals": [
        {"id": s.id, "name": s.name, "kind": s.kind} for s in found if s.status == "active"
    ]})  # fmt: skip


def _b64(text: Any, what: str, limit: int) -> bytes:
    if not isinstance(text, str) or len(text) > limit * 4 // 3 + 8:
        raise InvalidInputError(f"{what}: want base64, at most {limit} bytes")
    if text.startswith("data:image/png;base64,"):
        text = text[len("data:image/png;base64,") :]
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError(f"{what}: not base64") from None


def _appearance(sig: Any) -> tuple[str, bytes | None, str | None]:
    """(kind, PNG or None, seal id or None) of the ``signature`` object."""
    if not isinstance(sig, dict):
        raise InvalidInputError("signature: want an object")
    kind = sig.get("kind")
    if kind == "drawn":
        body_object(sig, ("kind", "png_base64"))
        png = _b64(sig.get("png_base64"), "signature.png_base64", handwriting.MAX_DRAWN_BYTES)
        return "drawn", handwriting.drawn_appearance(png), None
    if kind == "typed":
        body_object(sig, ("kind", "text", "style"))
        style = sig.get("style")
        if not isinstance(style, str):
            raise InvalidInputError("signature.style: want a style id")
        return "typed", handwriting.typed_appearance(sig.get("text", ""), style), None
    if kind == "seal":
        body_object(sig, ("kind", "seal_id"))
        seal_id = sig.get("seal_id")
        if not isinstance(seal_id, str) or not 1 <= len(seal_id) <= 80:
            raise InvalidInputError("signature.seal_id: want a seal id")
        return "seal", None, seal_id
    raise InvalidInputError("signature.kind: want drawn, typed or seal")


def _placements(link: sl.Link) -> list[Placement]:
    return [
        Placement(f"Sign_{link.position}_{i}_{secrets.token_hex(4)}", page=f.page - 1,
                  box=(round(f.box[0]), round(f.box[1]), round(f.box[2]), round(f.box[3])))
        for i, f in enumerate(link.fields)
    ]  # fmt: skip


def _sign_individual(
    d: SealDesk, env: Envelope, link: sl.Link, png: bytes, now: datetime
) -> tuple[bytes, str]:
    """The envelope's PDF signed at each of the signer's fields, and the certificate's
    SHA-256 (hex)."""
    assert link.stored.email is not None
    ca = registry.ensure_ca(d.seals, d.protector, env.tenant, now)
    signer = pki.issue_signer_certificate(
        ca, name=link.stored.name, identity_sha256=sl.email_sha256(link.stored.email),
        envelope_id=env.id, position=link.position, now=now,
    )  # fmt: skip
    policy = SigningPolicy(
        timestamper_urls=d.tsa_urls, trust_roots=(ca.certificate,), tsa_trust_roots=d.tsa_roots,
        max_pdf_bytes=d.settings.max_pdf_bytes,
    )  # fmt: skip
    pdf = envelopes.document(d.seals, env.id)
    for placement in _placements(link):
        pdf = sign_pdf(
            pdf, signer, placement, policy, appearance_png=png,
            reason=f"{env.title}: signed by {link.stored.name}"[:1000],
            level=SignatureLevel.B_T,
        )  # fmt: skip
    der = signer.certificate.public_bytes(serialization.Encoding.DER)
    return pdf, hashlib.sha256(der).hexdigest()


def _approved_request(d: SealDesk, env: Envelope, seal_id: str, tenant: str, pos: int) -> str:
    """An approved seal request for this envelope slot and seal (the oldest), or
    ApprovalRequiredError."""
    from sealtrail.seals.errors import ApprovalRequiredError

    for r in reversed(d.seals.requests([tenant], "approved")):
        if r.seal_id == seal_id and r.envelope_id == env.id and r.position == pos:
            return r.id
    raise ApprovalRequiredError(
        f"seal {seal_id} is controlled: its use for this envelope needs an approved request "
        f"(POST /v1/envelopes/{env.id}/seal-requests, then an approver's decision)"
    )


@_signer_errors
async def post_sign(request: web.Request) -> web.Response:
    """POST /v1/sign/{token}/sign — sign at the signer's fields."""
    d, env, link = await _session(request)
    body = body_object(await read_json(request), ("intent", "language", "signature"))
    if body.get("intent") is not True:
        raise InvalidInputError("intent: must be true (the signer confirms the intent to sign)")
    language = body.get("language", "en")
    if language not in LANGUAGES:
        raise InvalidInputError("language: want en or zh-CN")
    kind, png, seal_id = await in_thread(lambda: _appearance(body.get("signature")))
    if (kind == "seal") != (link.kind == "enterprise"):
        raise InvalidInputError(
            "signature.kind: an enterprise signs with a seal, an individual draws or types"
        )
    client = _client(request, d)
    async with d.lock(env.id):
        _d, env, link = await _session(request)  # re-read under the lock
        sl.signable(env, link)
        if png is not None:
            updated = await _individual(request, d, env, link, png, client, language, kind)
        else:
            assert seal_id is not None
            updated = await _sign_enterprise(d, env, link, seal_id, language, client)
    await d.flush()
    return json_response({
        "signer_state": "signed",
        "envelope_state": sl.state_of(updated),
        "download": f"/v1/sign/{_token(request)}/download",
    })  # fmt: skip


#: how often an individual's signature is made again when another process signed the
#: envelope meanwhile (parallel envelopes; the store's compare-and-swap tells)
SIGN_ATTEMPTS = 3


async def _individual(
    request: web.Request, d: SealDesk, env: Envelope, link: sl.Link, png: bytes,
    client: sl.Client, language: str, kind: str,
) -> Envelope:  # fmt: skip
    """Sign and commit; on a lost compare-and-swap (another worker signed meanwhile), re-read
    and sign the newer revision, up to :data:`SIGN_ATTEMPTS` times."""
    for attempt in range(SIGN_ATTEMPTS):

        def sign_and_commit(env: Envelope = env, link: sl.Link = link) -> Envelope:
            signed, cert_sha = _sign_individual(d, env, link, png, d.clock())
            return sl.commit_individual(
                d.seals, env, link, signed, client, language=language,
                signature_kind=kind, certificate_sha256=cert_sha,
            )  # fmt: skip

        try:
            return await in_thread(sign_and_commit)
        except ConflictError:
            if attempt + 1 == SIGN_ATTEMPTS:
                raise
            log.info("envelope %s: signed meanwhile elsewhere; signing the newer revision", env.id)
            _d, env, link = await _session(request)
            sl.signable(env, link)  # still this signer's turn, still pending
    raise AssertionError("unreachable")


async def _sign_enterprise(
    d: SealDesk, env: Envelope, link: sl.Link, seal_id: str, language: str, client: sl.Client
) -> Envelope:
    slot = env.signers[link.position]
    seal = await in_thread(lambda: registry.get_seal(d.seals, seal_id))
    if seal is None or seal.tenant != slot.party:
        raise InvalidInputError(f"signature.seal_id: no seal {seal_id[:80]!r} of {slot.party}")
    if seal.status != "active":
        raise SealStateError(f"seal {seal.id} is {seal.status}, want active")
    if slot.seal_id is not None and slot.seal_id != seal.id:
        raise ConflictError(f"this slot was accepted with seal {slot.seal_id}")
    actor = sl.signer_actor(env, link)
    if slot.invitation == "invited":
        # choosing the seal accepts the invitation (recorded), so that a controlled seal's
        # request can be bound to this slot (POST /v1/envelopes/{id}/seal-requests)
        env = await in_thread(
            lambda: envelopes.answer_invitation(
                d.seals, env, link.position, [slot.party], SealSlot(seal),
                answered_by=actor["id"], actor=actor, now=client.now,
            )
        )  # fmt: skip
        await d.flush()
    policy = await in_thread(lambda: approvals.get_policy(d.seals, seal.tenant))
    req_id = None
    if policy.controls(seal.id):
        req_id = await in_thread(
            lambda: _approved_request(d, env, seal.id, seal.tenant, link.position)
        )
    await in_thread(
        lambda: sl.record(d.seals, env, link, "envelope:intent-confirmed", client,
                          {"language": language})
    )  # fmt: skip
    pdf = await in_thread(lambda: envelopes.document(d.seals, env.id))
    for placement in _placements(link):
        pdf = await d.sign(seal, pdf, placement, reason=f"{env.title}: {seal.name}"[:1000])
    slot = env.signers[link.position]
    return await in_thread(
        lambda: envelopes.commit_signature(
            d.seals, env, slot, seal, pdf, key_id=f"link:{env.id}:{link.position}",
            actor=actor, now=client.now, request_id=req_id,
            ceremony=sl.ceremony_attributes(env, link, client),
        )
    )  # fmt: skip


@_signer_errors
async def post_decline(request: web.Request) -> web.Response:
    """POST /v1/sign/{token}/decline — decline with a reason; the envelope ends."""
    d, env, link = await _session(request)
    body = body_object(await read_json(request), ("reason",))
    client = _client(request, d)
    async with d.lock(env.id):
        _d, env, link = await _session(request)
        updated = await in_thread(
            lambda: sl.decline(d.seals, env, link, body.get("reason"), client)
        )
    await d.flush()
    return json_response({"signer_state": "declined", "envelope_state": sl.state_of(updated)})


@_signer_errors
async def get_download(request: web.Request) -> web.Response:
    """GET /v1/sign/{token}/download — the current (signed or completed) PDF."""
    d, env, link = await _session(request)
    pdf = await in_thread(lambda: envelopes.document(d.seals, env.id))
    client = _client(request, d)
    await in_thread(
        lambda: d.seals.enqueue([sl.ceremony_event(env, link, "download", client,
                                                   {"signatures": env.version})])
    )  # fmt: skip
    await d.flush()
    return pdf_response(pdf, f"{env.id}.pdf")


def setup(app: web.Application, settings: Settings) -> None:
    """Register the signer's page and JSON routes."""
    app[MAILER] = mailer(settings.smtp_url, settings.smtp_from)
    app[LIMITS] = {
        "client": RateLimiter(CODE_RATE_PER_CLIENT),
        "address": RateLimiter(CODE_RATE_PER_ADDRESS),
        "open": RateLimiter(OPEN_RATE_PER_CLIENT),
    }
    r = app.router
    r.add_get("/sign/{token}", sign_page)
    r.add_get("/v1/sign/{token}", get_link)
    r.add_post("/v1/sign/{token}/code", post_code)
    r.add_post("/v1/sign/{token}/verify", post_verify)
    r.add_get("/v1/sign/{token}/document", get_document)
    r.add_get(r"/v1/sign/{token}/pages/{n}.png", get_page)
    r.add_post("/v1/sign/{token}/viewed", post_viewed)
    r.add_get("/v1/sign/{token}/seals", get_seals)
    r.add_post("/v1/sign/{token}/sign", post_sign)
    r.add_post("/v1/sign/{token}/decline", post_decline)
    r.add_get("/v1/sign/{token}/download", get_download)


__all__ = ["COOKIE", "services", "setup"]
