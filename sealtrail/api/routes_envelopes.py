"""Routes for envelopes: multi-party signing of one PDF, ordered or in parallel.

``POST /v1/envelopes?title=…&order=sequential|parallel&signer=…&signer=…`` with the PDF as
``application/pdf`` creates one (an integrator of the creating tenant). A signer is either
``SEAL_ID[:KEY_ID]`` — a seal the key sees, and optionally the one API key of the seal's tenant
that must apply it — or ``tenant:TENANT_ID``, an invitation to another party (an enterprise,
or an individual's tenant), which accepts by choosing its own seal
(``POST /v1/envelopes/{id}/invitations/{position}/accept``) or declines. Signer *i* stamps
the last page in cell *i* of a 3 × 5 grid.

**No oracles.** Another tenant's envelopes, seals, keys and requests answer exactly as ones
that do not exist (same status, same problem, the id quoted back the same way); an invitation
is accepted for any well-formed tenant id, existing or not. The envelope is seen by its
creator's tenant and every party's (invited or not; and their headquarters' auditors); every
status view and download is a ledger event.

**Counterparty validation.** Everyone the envelope names validates its PDF against the
envelope's trust context — the roots of every participant's seal — so each party's signature
is trusted for all of them (``GET /v1/envelopes/{id}/validation``; an uploaded copy with
``POST /v1/envelopes/{id}/validate``).
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from aiohttp import web

from sealtrail.api import routes_signer
from sealtrail.api.context import (
    body_object,
    in_thread,
    int_param,
    json_response,
    principal,
    query_params,
    read_json,
)
from sealtrail.api.seals import (
    ANY_ROLE,
    SealDesk,
    actor,
    desk,
    field_name,
    level_param,
    opt_str,
    pdf_response,
    read_pdf,
    report_json,
    text_param,
)
from sealtrail.api.settings import public_url
from sealtrail.core.errors import ConflictError, InvalidInputError, NotFoundError
from sealtrail.core.event import format_time
from sealtrail.seals import approvals, envelopes, registry, signing_links
from sealtrail.seals.envelopes import Envelope, Invitation, SealSlot
from sealtrail.seals.errors import ApprovalRequiredError
from sealtrail.seals.outbox import outbox_event
from sealtrail.seals.trust import AttributedReport
from sealtrail.signing import pages
from sealtrail.signing.errors import PdfTooLargeError
from sealtrail.signing.pdfinput import open_pdf
from sealtrail.signing.sign import Placement, SignatureLevel

#: a signer naming a party rather than a seal: ``tenant:TENANT_ID``
PARTY_PREFIX = "tenant:"
#: the longest ``signer`` value: ``tenant:`` and a tenant id (a seal id and key id are shorter)
MAX_SIGNER = len(PARTY_PREFIX) + envelopes.MAX_PARTY


def _box(position: int) -> tuple[int, int, int, int]:
    col, row = position % 3, position // 3
    x, y = 40 + col * 180, 40 + row * 150
    return (x, y, x + 140, y + 140)


def _signers(request: web.Request) -> list[tuple[str, str | None] | str]:
    raw = request.query.getall("signer", [])
    if not raw:
        raise InvalidInputError(
            "signer: give at least one (?signer=SEAL_ID[:KEY_ID] or ?signer=tenant:TENANT_ID)"
        )
    out: list[tuple[str, str | None] | str] = []
    for s in raw:
        if len(s) > MAX_SIGNER:
            raise InvalidInputError(f"signer {s[:64]!r}: want at most {MAX_SIGNER} characters")
        if s.startswith(PARTY_PREFIX):
            out.append(s[len(PARTY_PREFIX) :])
            continue
        seal, _, key = s.partition(":")
        if not seal:
            raise InvalidInputError(
                f"signer {s[:64]!r}: want SEAL_ID, SEAL_ID:KEY_ID or tenant:TENANT_ID"
            )
        out.append((seal, key or None))
    return out


def _seal_slot(d: SealDesk, seal_id: str, key: str | None, visible: tuple[str, ...]) -> SealSlot:
    """A seal the key sees and, optionally, a key of the seal's tenant — or InvalidInputError
    worded the same whether the seal (key) is another tenant's or does not exist."""
    try:
        seal = registry.visible_seal(d.seals, seal_id, visible)
    except NotFoundError:
        raise InvalidInputError(f"signer: no seal {seal_id[:80]!r}") from None
    if seal.status != "active":
        raise InvalidInputError(f"signer: seal {seal_id} is {seal.status}")
    if key is not None:
        k = d.directory.key(key)
        if k is None or k.tenant != seal.tenant or k.revoked_at:
            raise InvalidInputError(f"signer: no key {key[:40]!r} of the seal's tenant")
    return SealSlot(seal, key)


async def post_envelope(request: web.Request) -> web.Response:
    """POST /v1/envelopes — create an envelope: a JSON body (signers sign from links), or the
    uploaded PDF with signers in the query (seals and invitations)."""
    if request.content_type == "application/json":
        return await post_envelope_json(request)
    p = await principal(request, "integrator")
    for k in request.query:
        if k not in ("title", "order", "signer"):
            raise InvalidInputError(
                f"unknown query parameter {k!r} (allowed: order, signer, title)"
            )
    if len(request.query.getall("title", [])) > 1 or len(request.query.getall("order", [])) > 1:
        raise InvalidInputError("title and order may be given once")
    order = request.query.get("order", "sequential")
    if order not in ("sequential", "parallel"):
        raise InvalidInputError("order: want sequential or parallel")
    wanted = _signers(request)
    d = desk(request)
    pdf = await read_pdf(request)

    def create() -> Envelope:
        signers: list[SealSlot | Invitation] = [
            Invitation(w) if isinstance(w, str) else _seal_slot(d, w[0], w[1], p.visible)
            for w in wanted
        ]
        return envelopes.create_envelope(
            d.seals, tenant=p.tenant, title=request.query.get("title", "document.pdf"),
            ordered=order == "sequential", signers=signers, pdf=pdf, created_by=p.key_id,
            actor=actor(p), now=d.clock(),
        )  # fmt: skip

    env = await in_thread(create)
    await d.flush()
    return json_response(env.to_json(p.visible), status=201)


async def _envelope(request: web.Request, p: Any) -> Envelope:
    """The envelope the path names, if visible — expired first when its deadline passed (the
    ``envelope:expired`` event is appended before the caller sees the state)."""
    d = desk(request)
    env_id = request.match_info["id"]
    now = d.clock()

    def read() -> Envelope:
        env = envelopes.visible_envelope(d.seals, env_id, p.visible)
        return signing_links.expire_if_due(d.seals, env, now)

    env = await in_thread(read)
    if env.status == "expired":
        await d.flush()
    return env


async def get_envelope(request: web.Request) -> web.Response:
    """GET /v1/envelopes/{id} — status and signers (recorded as a ``view``)."""
    p = await principal(request, *ANY_ROLE)
    query_params(request, ())
    env = await _envelope(request, p)
    d = desk(request)
    await in_thread(lambda: envelopes.record_access(d.seals, env, "view", actor(p)))
    await d.flush()
    terms = await in_thread(lambda: d.seals.envelope_terms(env.id))
    out = env.to_json(p.visible)
    out["state"] = signing_links.state_of(env)
    out["expires_at"] = None if terms is None else terms.expires_at
    return json_response(out)


async def get_document(request: web.Request) -> web.Response:
    """GET /v1/envelopes/{id}/document — the current PDF (recorded as a ``download``)."""
    p = await principal(request, *ANY_ROLE)
    query_params(request, ())
    env = await _envelope(request, p)
    d = desk(request)
    pdf = await in_thread(lambda: envelopes.document(d.seals, env.id))
    await in_thread(lambda: envelopes.record_access(d.seals, env, "download", actor(p)))
    await d.flush()
    return pdf_response(pdf, f"{env.id}.pdf")


async def sign_envelope(request: web.Request) -> web.Response:
    """POST /v1/envelopes/{id}/sign — apply the caller's seal to the envelope's PDF.

    A controlled seal needs ``request``: an approved seal request bound to this envelope's
    slot (``POST /v1/envelopes/{id}/seal-requests``), used once whatever the others signed."""
    p = await principal(request, "integrator")
    query_params(request, ())
    body = body_object(await read_json(request), ("seal", "request", "reason", "location", "level"))
    level = level_param(opt_str(body, "level") or None)
    d = desk(request)
    env_id = request.match_info["id"]
    req_id = opt_str(body, "request") or None
    async with d.lock(env_id):  # one signature at a time per envelope (CAS guards processes)
        env = await _envelope(request, p)
        seal = await in_thread(
            lambda: registry.visible_seal(d.seals, opt_str(body, "seal"), p.visible)
        )
        slot = envelopes.slot_for(env, seal, p.key_id)
        policy = await in_thread(lambda: approvals.get_policy(d.seals, seal.tenant))
        if req_id is None and policy.controls(seal.id):
            raise ApprovalRequiredError(
                f"seal {seal.id} is controlled: send an approved request for envelope {env.id} "
                f"slot {slot.position}"
            )
        pdf = await in_thread(lambda: envelopes.document(d.seals, env.id))
        if req_id is not None:
            await in_thread(
                lambda: approvals.check_authorisation(
                    d.seals, req_id, seal.id, env.current, p.key_id,
                    slot=(env.id, slot.position),
                )
            )  # fmt: skip
        pages = await in_thread(lambda: open_pdf(pdf, max_bytes=len(pdf)).pages)
        placement = Placement(field_name(), page=pages - 1, box=_box(slot.position))
        # the signature that completes the envelope makes its final PDF: PAdES B-LTA (DSS and
        # a document timestamp, renewed later by sealtrail.anchoring.pdf_renewal)
        if sum(1 for s in env.signers if s.status == "pending") == 1:
            level = SignatureLevel.B_LTA
        signed = await d.sign(
            seal, pdf, placement,
            reason=text_param(opt_str(body, "reason"), "reason")
            or f"{env.title}: signer {slot.position + 1}",
            location=text_param(opt_str(body, "location"), "location"), level=level,
        )  # fmt: skip
        updated = await in_thread(
            lambda: envelopes.commit_signature(
                d.seals, env, slot, seal, signed, key_id=p.key_id, actor=actor(p),
                now=d.clock(), request_id=req_id,
            )
        )  # fmt: skip
    await d.flush()
    return json_response(updated.to_json(p.visible))


async def post_seal_request(request: web.Request) -> web.Response:
    """POST /v1/envelopes/{id}/seal-requests — ask to use a controlled seal for its slot in
    this envelope (an approval for the signing act, not for the PDF's current hash)."""
    p = await principal(request, "integrator")
    query_params(request, ())
    body = body_object(await read_json(request), ("seal", "purpose"))
    d = desk(request)
    env = await _envelope(request, p)
    seal = await in_thread(lambda: registry.visible_seal(d.seals, opt_str(body, "seal"), p.visible))
    slot = next((s for s in env.signers if s.seal_id == seal.id), None)
    if slot is None:
        raise InvalidInputError(f"seal {seal.id} is not a signer of envelope {env.id}")
    if slot.status != "pending" or env.status != "open":
        raise ConflictError(f"slot {slot.position} of envelope {env.id} is not open")
    req = await in_thread(
        lambda: approvals.create_request(
            d.seals, seal, env.current, opt_str(body, "purpose"), requester_key=p.key_id,
            actor=actor(p), now=d.clock(), slot=(env.id, slot.position),
        )
    )  # fmt: skip
    await d.flush()
    return json_response(req.to_json(), status=201)


def _position(request: web.Request, env: Envelope) -> int:
    raw = request.match_info["position"]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 3:
        raise NotFoundError(f"no invitation {raw[:8]!r} in envelope {env.id}")
    return int(raw)


async def list_invitations(request: web.Request) -> web.Response:
    """GET /v1/envelope-invitations — open invitations to the tenants the key sees."""
    p = await principal(request, *ANY_ROLE)
    query_params(request, ())
    d = desk(request)
    found = await in_thread(lambda: envelopes.invitations_for(d.seals, p.visible))
    out = [
        {"envelope": env.id, "title": env.title, "from": env.tenant, "position": slot.position,
         "party": slot.party, "order": "sequential" if env.ordered else "parallel",
         "current_sha256": env.current.hex(), "created_at": env.created_at}
        for env, slot in found
    ]  # fmt: skip
    return json_response({"invitations": out})


def _answer_route(accept: bool) -> Any:
    async def handler(request: web.Request) -> web.Response:
        p = await principal(request, "integrator", "admin")
        query_params(request, ())
        fields = ("seal", "key_id") if accept else ("reason",)
        body = body_object(await read_json(request), fields)
        d = desk(request)
        env = await _envelope(request, p)
        position = _position(request, env)

        def answer() -> Envelope:
            seal = None
            if accept:
                seal_id = opt_str(body, "seal")
                try:
                    found = registry.visible_seal(d.seals, seal_id, p.visible)
                except NotFoundError:
                    raise InvalidInputError(f"seal: no seal {seal_id[:80]!r}") from None
                seal = _seal_slot(d, found.id, opt_str(body, "key_id") or None, p.visible)
            return envelopes.answer_invitation(
                d.seals, env, position, p.visible, seal, answered_by=p.key_id, actor=actor(p),
                now=d.clock(), reason=opt_str(body, "reason"),
            )  # fmt: skip

        async with d.lock(env.id):
            updated = await in_thread(answer)
        await d.flush()
        return json_response(updated.to_json(p.visible))

    verb = "accept" if accept else "decline"
    handler.__doc__ = f"POST /v1/envelopes/{{id}}/invitations/{{position}}/{verb}."
    return handler


async def validate_in_context(d: SealDesk, pdf: bytes, env: Envelope) -> AttributedReport:
    """Validate ``pdf`` against the envelope's trust context — the seal roots of every
    participant's tenant, as the trust list allows them (a self-declared seal stays
    untrusted) — each signature attributed to its seal and tenant."""
    tenants = await in_thread(lambda: envelopes.participant_tenants(d.seals, env))
    if any(sl.seal_id is None and sl.invitation is None for sl in env.signers):
        # individuals sign with certificates of the creator's tenant CA (FORMAT.md §7.1)
        tenants = [*tenants, env.tenant] if env.tenant not in tenants else tenants
    return await d.validate(pdf, tenants)


async def get_validation(request: web.Request) -> web.Response:
    """GET /v1/envelopes/{id}/validation — the current PDF validated against the envelope's
    trust context (every participant's seal roots)."""
    p = await principal(request, *ANY_ROLE)
    query_params(request, ())
    env = await _envelope(request, p)
    d = desk(request)

    pdf = await in_thread(lambda: envelopes.document(d.seals, env.id))
    return json_response(report_json(await validate_in_context(d, pdf, env)))


async def post_validate(request: web.Request) -> web.Response:
    """POST /v1/envelopes/{id}/validate — an uploaded PDF (a copy a party kept) validated
    against the envelope's trust context."""
    p = await principal(request, *ANY_ROLE)
    query_params(request, ())
    env = await _envelope(request, p)
    d = desk(request)
    pdf = await read_pdf(request)
    return json_response(report_json(await validate_in_context(d, pdf, env)))


# -- the lifecycle: envelopes signed from links (issue 16) ----------------------------------------

#: how many envelopes a listing returns at most, and by default
MAX_LIST = 200
DEFAULT_LIST = 50
#: how many of the tenants' newest envelopes a filtered listing looks through
LIST_SCAN = 10_000


def _pdf_b64(doc: Any, limit: int) -> tuple[str, bytes]:
    if not isinstance(doc, dict) or set(doc) - {"name", "pdf_base64"}:
        raise InvalidInputError('document: want {"name", "pdf_base64"}')
    name = doc.get("name", "document.pdf")
    if not isinstance(name, str) or not 1 <= len(name) <= 256 or not name.isprintable():
        raise InvalidInputError("document.name: want 1 to 256 printable characters")
    raw = doc.get("pdf_base64")
    if not isinstance(raw, str) or not raw:
        raise InvalidInputError("document.pdf_base64: is required")
    if len(raw) > limit * 4 // 3 + 8:
        raise PdfTooLargeError(f"PDF exceeds {limit} bytes")
    try:
        pdf = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError("document.pdf_base64: not base64") from None
    if len(pdf) > limit:
        raise PdfTooLargeError(f"PDF of {len(pdf)} bytes, want at most {limit}")
    return name, pdf


def _links_json(d: SealDesk, env: Envelope, tokens: list[str] | None = None) -> dict[str, Any]:
    links = signing_links.links_of(d.seals, env.id)
    base = public_url(d.settings)
    out = signing_links.envelope_json(env, links, base, tokens or ())
    terms = d.seals.envelope_terms(env.id)
    out["expires_at"] = None if terms is None else terms.expires_at
    out["ended_reason"] = None if terms is None else terms.ended_reason
    return out


async def _deliver(request: web.Request, env: Envelope, tokens: list[str]) -> int:
    """E-mail each individual (or enterprise with an address) its link; how many were sent."""
    d = desk(request)
    mail = request.config_dict[routes_signer.MAILER]
    links = await in_thread(lambda: signing_links.links_of(d.seals, env.id))
    base, sent = public_url(d.settings), 0
    for pos, link in sorted(links.items()):
        if link.stored.email:
            await mail.send(
                link.stored.email,
                f"Please sign / 请签署: {env.title}",
                f'{env.tenant} asks you to sign "{env.title}".\nOpen: {base}/sign/{tokens[pos]}\n\n'
                f"{env.tenant} 请您签署《{env.title}》。\n打开链接：{base}/sign/{tokens[pos]}\n",
            )
            sent += 1
    return sent


async def post_envelope_json(request: web.Request) -> web.Response:
    """POST /v1/envelopes (JSON) — an envelope whose signers sign from links."""
    p = await principal(request, "integrator")
    query_params(request, ())
    d = desk(request)
    body = body_object(
        await read_json(request),
        ("title", "document", "order", "expires_at", "signers", "deliver"),
    )
    order = body.get("order", "sequential")
    if order not in ("sequential", "parallel"):
        raise InvalidInputError("order: want sequential or parallel")
    deliver = body.get("deliver", "none")
    if deliver not in ("email", "none"):
        raise InvalidInputError("deliver: want email or none")
    name, pdf = _pdf_b64(body.get("document"), d.settings.max_pdf_bytes)
    title = body.get("title", name)
    await in_thread(lambda: open_pdf(pdf, max_bytes=d.settings.max_pdf_bytes))
    sizes = await in_thread(lambda: pages.page_sizes(pdf))
    raw_signers = body.get("signers")
    if not isinstance(raw_signers, list) or not 1 <= len(raw_signers) <= envelopes.MAX_SIGNERS:
        raise InvalidInputError(f"signers: want 1 to {envelopes.MAX_SIGNERS} signers")
    specs = [signing_links.parse_signer(s, sizes, i) for i, s in enumerate(raw_signers)]
    now = d.clock()
    expires = signing_links.parse_deadline(body.get("expires_at"), now)
    env, tokens = await in_thread(
        lambda: signing_links.create(
            d.seals, tenant=p.tenant, title=title, ordered=order == "sequential",
            signers=specs, pdf=pdf, expires_at=expires, created_by=p.key_id, actor=actor(p),
            now=now,
        )
    )  # fmt: skip
    await d.flush()
    out = await in_thread(lambda: _links_json(d, env, tokens))
    if deliver == "email":
        out["delivered"] = await _deliver(request, env, tokens)
    return json_response(out, status=201)


def _cursor(raw: str) -> tuple[str, str]:
    try:
        text = base64.urlsafe_b64decode(raw.encode() + b"=" * (-len(raw) % 4)).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidInputError("cursor: not a cursor this service issued") from None
    at, sep, env_id = text.partition("|")
    if not sep or len(text) > 200:
        raise InvalidInputError("cursor: not a cursor this service issued")
    return at, env_id


def _make_cursor(env: Envelope) -> str:
    return base64.urlsafe_b64encode(f"{env.created_at}|{env.id}".encode()).decode().rstrip("=")


def _matches_signer(env: Envelope, links: dict[int, Any], wanted: str) -> bool:
    w = wanted.strip().lower()
    for s in env.signers:
        link = links.get(s.position)
        if s.party.lower() == w and (link is None or link.kind == "enterprise"):
            return True
        if (
            link is not None
            and link.stored.email
            and (
                link.stored.email.lower() == w or signing_links.email_sha256(link.stored.email) == w
            )
        ):
            return True
        if link is not None and link.stored.name.lower() == w:
            return True
    return False


def _time_param(params: dict[str, str], name: str) -> str | None:
    raw = params.get(name)
    if raw is None:
        return None
    try:
        t = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(f"{name}: want an RFC 3339 time") from None
    if t.tzinfo is None:
        raise InvalidInputError(f"{name}: want a time with an offset")
    return format_time(t)


async def list_envelopes(request: web.Request) -> web.Response:
    """GET /v1/envelopes — the inbox: envelopes the key's tenants created, newest first,
    filtered by ``state``, ``signer`` (e-mail, its SHA-256, name or tenant), ``from``/``to``
    (creation time), paged by ``cursor`` (``limit`` 1..200, default 50)."""
    p = await principal(request, *ANY_ROLE)
    params = query_params(request, ("state", "signer", "from", "to", "cursor", "limit"))
    state = params.get("state")
    if state is not None and state not in signing_links.STATES:
        raise InvalidInputError(f"state: want one of {', '.join(signing_links.STATES)}")
    limit = int_param(params, "limit", lo=1, hi=MAX_LIST) or DEFAULT_LIST
    since, until = _time_param(params, "from"), _time_param(params, "to")
    after = _cursor(params["cursor"]) if "cursor" in params else None
    signer = params.get("signer")
    if signer is not None and not 1 <= len(signer) <= 254:
        raise InvalidInputError("signer: want 1 to 254 characters")
    d = desk(request)
    now = d.clock()

    def run() -> tuple[list[dict[str, Any]], str | None]:
        out: list[dict[str, Any]] = []
        last: Envelope | None = None
        for env_id in envelopes.envelopes_of(d.seals, p.visible, LIST_SCAN):
            env = signing_links.expire_if_due(d.seals, envelopes.get_envelope(d.seals, env_id), now)
            key = (env.created_at, env.id)
            if after is not None and not (
                key[0] < after[0] or (key[0] == after[0] and key[1] > after[1])
            ):
                continue
            if since is not None and env.created_at < since:
                continue
            if until is not None and env.created_at >= until:
                continue
            if state is not None and signing_links.state_of(env) != state:
                continue
            if signer is not None and not _matches_signer(
                env, signing_links.links_of(d.seals, env.id), signer
            ):
                continue
            if len(out) == limit:
                return out, None if last is None else _make_cursor(last)
            out.append(_links_json(d, env))
            last = env
        return out, None

    items, cursor = await in_thread(run)
    await d.flush()  # expiries found while listing
    return json_response({"envelopes": items, "next_cursor": cursor})


async def void_envelope(request: web.Request) -> web.Response:
    """POST /v1/envelopes/{id}/void — end an open envelope, with a reason."""
    p = await principal(request, "integrator")
    query_params(request, ())
    body = body_object(await read_json(request), ("reason",))
    d = desk(request)
    env = await _envelope(request, p)
    if env.tenant not in p.visible:
        raise NotFoundError(f"no envelope {env.id}")  # only its creator voids it
    async with d.lock(env.id):
        env = await _envelope(request, p)
        updated = await in_thread(
            lambda: signing_links.void(
                d.seals, env, opt_str(body, "reason"), actor=actor(p), now=d.clock()
            )
        )  # fmt: skip
    await d.flush()
    return json_response(await in_thread(lambda: _links_json(d, updated)))


async def remind(request: web.Request) -> web.Response:
    """POST /v1/envelopes/{id}/remind — remind every pending signer whose turn it is, by
    e-mail. Tokens are never stored, so the mail cannot repeat the first link: it asks the
    signer to open it, unless ``{"new_links": true}``, which gives those signers new links
    (the old ones stop working), mails them, and returns them (for the initiator's own
    channel). ``envelope:reminded`` (and ``envelope:link-renewed`` per new link) is recorded."""
    p = await principal(request, "integrator")
    query_params(request, ())
    new_links = False
    if request.can_read_body:
        body = body_object(await read_json(request), ("new_links",))
        new_links = body.get("new_links", False)
        if not isinstance(new_links, bool):
            raise InvalidInputError("new_links: want true or false")
    d = desk(request)
    env = await _envelope(request, p)
    if env.status != "open":
        raise ConflictError(f"envelope {env.id} is {signing_links.state_of(env)}")
    links = await in_thread(lambda: signing_links.links_of(d.seals, env.id))
    mail = request.config_dict[routes_signer.MAILER]
    base = public_url(d.settings)
    reminded, renewed = [], []
    for pos, link in sorted(links.items()):
        if not signing_links.turn(env, link):
            continue
        url = None
        if new_links:

            def renew(link: signing_links.Link = link) -> str:
                return signing_links.renew_link(d.seals, env, link, actor=actor(p), now=d.clock())

            token = await in_thread(renew)
            url = f"{base}/sign/{token}"
            renewed.append({"position": pos, "sign_url": url})
        if not link.stored.email:
            continue
        where = f"Open: {url}\n打开链接：{url}\n" if url else (
            "Open the signing link you received earlier.\n请打开之前收到的签署链接。\n"
        )  # fmt: skip
        await mail.send(
            link.stored.email,
            f"Reminder: please sign / 提醒：请签署 {env.title}",
            f'{env.tenant} is waiting for your signature on "{env.title}".\n'
            f"{env.tenant} 正在等待您签署《{env.title}》。\n\n{where}",
        )
        reminded.append(pos)
    event = {
        "stream": f"envelope:{env.id}", "type": "envelope:reminded", "actor": actor(p),
        "documents": [{"name": env.title[:512], "sha256": env.current.hex()}],
        "attributes": {"envelope_id": env.id, "signers": ",".join(map(str, reminded)),
                       "new_links": new_links},
    }  # fmt: skip
    await in_thread(lambda: d.seals.enqueue([outbox_event(env.tenant, event)]))
    await d.flush()
    out: dict[str, Any] = {"reminded": reminded}
    if new_links:
        out["links"] = renewed
    return json_response(out)


def setup(app: web.Application) -> None:
    """Register this module's routes."""
    r = app.router
    r.add_post("/v1/envelopes", post_envelope)
    r.add_get("/v1/envelopes", list_envelopes)
    r.add_post("/v1/envelopes/{id}/void", void_envelope)
    r.add_post("/v1/envelopes/{id}/remind", remind)
    r.add_get("/v1/envelope-invitations", list_invitations)
    r.add_get("/v1/envelopes/{id}", get_envelope)
    r.add_get("/v1/envelopes/{id}/document", get_document)
    r.add_post("/v1/envelopes/{id}/sign", sign_envelope)
    r.add_post("/v1/envelopes/{id}/seal-requests", post_seal_request)
    r.add_post("/v1/envelopes/{id}/invitations/{position}/accept", _answer_route(True))
    r.add_post("/v1/envelopes/{id}/invitations/{position}/decline", _answer_route(False))
    r.add_get("/v1/envelopes/{id}/validation", get_validation)
    r.add_post("/v1/envelopes/{id}/validate", post_validate)
