"""Signing links: an envelope's signers (individuals and enterprises) sign from a link.

**The link.** Each signer gets a token of :data:`TOKEN_BYTES` random bytes (``secrets``,
URL-safe base64); only its SHA-256 is stored (:class:`~.store.StoredLink`), so a database
read gives no usable link. A token is valid while its envelope is open and before its
deadline; after the envelope completes, a signer who signed may still fetch the signed PDF
for :data:`DOWNLOAD_WINDOW` seconds. Unknown, tampered, expired, voided, declined and
completed-and-used links are all answered the same :class:`~sealtrail.core.errors.NotFoundError`.

**Identity.** A six-digit one-time code is sent to the signer's e-mail address: it lives
:data:`CODE_TTL` seconds, is used once, and is stored as SHA-256(salt ‖ code) with a fresh
salt. Sending is limited per link (one per :data:`RESEND_AFTER` seconds, :data:`MAX_SENDS` an
hour; per address by the caller). :data:`MAX_TRIES` wrong codes lock the link for
:data:`LOCK_SECONDS`. A right code opens a signing *session*: a random cookie whose SHA-256
the link keeps; every later step needs it.

**Evidence.** Every step queues an event in the envelope's stream (``envelope:<id>``, the
creator's tenant) naming the envelope's current document: ``envelope:link-opened``,
``envelope:code-sent``, ``envelope:identity-verified``, ``envelope:identity-failed``,
``envelope:document-viewed`` (the pages seen), ``envelope:intent-confirmed``,
``envelope:signed`` (fingerprints before and after), ``envelope:declined``, ``download``.
Their attributes: ``envelope_id``, ``signer`` (the slot's position), ``signer_kind``,
``email_sha256`` (SHA-256 of the lower-cased address; the address itself is never in an
event), ``client_ip`` and ``user_agent`` (docs/FORMAT.md, "Envelopes"). The link's session
changes and its event are one atomic write (:meth:`~.store.SealStore.update_link`).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import orjson

from sealtrail.core.errors import ConflictError, InvalidInputError, NotFoundError
from sealtrail.core.event import format_time
from sealtrail.seals.envelopes import (
    MAX_SIGNERS,
    Envelope,
    EnvelopeSigner,
    get_envelope,
    sha256,
    valid_party,
)
from sealtrail.seals.errors import (
    CodeRateLimitedError,
    LinkLockedError,
    SigningSessionError,
    WrongCodeError,
)
from sealtrail.seals.outbox import new_id, outbox_event
from sealtrail.seals.store import (
    OutboxEvent,
    SealStore,
    SignatureCommit,
    StoredEnvelope,
    StoredLink,
    StoredSigner,
    StoredTerms,
)

TOKEN_BYTES = 24  # 192 bits
MAX_TOKEN_CHARS = 64
CODE_TTL = 600
RESEND_AFTER = 60
MAX_SENDS = 5
SEND_WINDOW = 3600
MAX_TRIES = 5
LOCK_SECONDS = 900
DOWNLOAD_WINDOW = 3600
MAX_FIELDS = 20
MAX_NAME = 128
MAX_EMAIL = 254
MAX_REASON = 500
MAX_DEADLINE = timedelta(days=366)
INVALID_LINK = "this signing link is not valid"
#: the API's envelope states, from the stored status and the signatures applied
STATES = ("draft", "sent", "partly_signed", "completed", "declined", "voided", "expired")
SERVICE_ACTOR = {"id": "sealtrail", "role": "service"}


@dataclass(frozen=True, slots=True)
class Field:
    """A placement field: ``page`` (1-based) and ``box`` (x1, y1, x2, y2) in PDF points,
    origin at the page's lower left."""

    page: int
    box: tuple[float, float, float, float]

    def to_json(self) -> dict[str, Any]:
        """``{"page", "box"}``."""
        return {"page": self.page, "box": list(self.box)}


@dataclass(frozen=True, slots=True)
class SignerSpec:
    """A signer as the initiator names it: an individual (``name``, ``email``) or an
    enterprise (``tenant``, optionally the ``email`` of its seal keeper for the link)."""

    kind: str
    fields: tuple[Field, ...]
    name: str = ""
    email: str | None = None
    tenant: str | None = None


@dataclass(frozen=True, slots=True)
class Client:
    """Who is acting on a link: the client address (proxy-aware), user agent, and the time."""

    ip: str | None
    user_agent: str
    now: datetime


@dataclass(slots=True)
class Session:
    """A link's changing state (stored as JSON; times are Unix seconds)."""

    code_hash: str | None = None
    code_salt: str | None = None
    code_expires: int = 0
    sends: list[int] = field(default_factory=list)
    tries: int = 0
    locked_until: int = 0
    verified_at: str | None = None
    session_hash: str | None = None
    viewed: list[int] = field(default_factory=list)

    @classmethod
    def load(cls, text: str) -> Session:
        """The session stored as ``text``."""
        raw = orjson.loads(text) if text else {}
        return cls(**{k: v for k, v in raw.items() if k in cls.__slots__})

    def dump(self) -> str:
        """As stored."""
        return orjson.dumps({k: getattr(self, k) for k in self.__slots__}).decode()


@dataclass(frozen=True, slots=True)
class Link:
    """A signer's link with its session, as read."""

    stored: StoredLink
    session: Session

    @property
    def position(self) -> int:
        """The signer slot."""
        return self.stored.position

    @property
    def kind(self) -> str:
        """individual or enterprise."""
        return self.stored.kind

    @property
    def fields(self) -> tuple[Field, ...]:
        """The signer's placement fields."""
        return tuple(
            Field(int(f["page"]), tuple(float(x) for x in f["box"]))  # type: ignore[arg-type]
            for f in orjson.loads(self.stored.fields)
        )


def token_hash(token: str) -> bytes:
    """SHA-256 of a link token (what the store keys links by)."""
    return hashlib.sha256(token.encode()).digest()


def email_sha256(email: str) -> str:
    """SHA-256 (hex) of the lower-cased e-mail address: what events and certificates name."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def masked(email: str | None) -> str:
    """``z***@example.com``."""
    if not email:
        return ""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def state_of(env: StoredEnvelope) -> str:
    """The envelope's API state (:data:`STATES`)."""
    if env.status == "open":
        return "sent" if env.version == 0 else "partly_signed"
    return env.status


def _epoch(t: datetime) -> int:
    return int(t.timestamp())


# -- input --------------------------------------------------------------------------------------


def _num(v: Any, what: str) -> float:
    if type(v) not in (int, float) or not -1e6 <= v <= 1e6:
        raise InvalidInputError(f"{what}: want a number")
    return float(v)


def parse_fields(raw: Any, sizes: Sequence[tuple[float, float]], what: str) -> tuple[Field, ...]:
    """``raw`` (a JSON array of ``{"page", "box"}``) as fields checked against the PDF's page
    ``sizes`` (points): 1 to :data:`MAX_FIELDS`, page 1..N, a box of positive size inside the
    page."""
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_FIELDS:
        raise InvalidInputError(f"{what}: want 1 to {MAX_FIELDS} fields")
    out = []
    for i, f in enumerate(raw):
        w = f"{what}[{i}]"
        if not isinstance(f, dict) or set(f) != {"page", "box"}:
            raise InvalidInputError(f"{w}: want an object with page and box")
        page, box = f["page"], f["box"]
        if type(page) is not int or not 1 <= page <= len(sizes):
            raise InvalidInputError(f"{w}.page: want 1 to {len(sizes)}")
        if not isinstance(box, list) or len(box) != 4:
            raise InvalidInputError(f"{w}.box: want [x1, y1, x2, y2]")
        x1, y1, x2, y2 = (_num(v, f"{w}.box") for v in box)
        pw, ph = sizes[page - 1]
        if not (0 <= x1 < x2 <= pw + 0.5 and 0 <= y1 < y2 <= ph + 0.5):
            raise InvalidInputError(
                f"{w}.box: want 0 <= x1 < x2 <= {pw:g} and 0 <= y1 < y2 <= {ph:g} "
                f"(PDF points, origin lower left)"
            )
        if x2 - x1 < 10 or y2 - y1 < 10:
            raise InvalidInputError(f"{w}.box: want at least 10 × 10 points")
        out.append(Field(page, (x1, y1, x2, y2)))
    return tuple(out)


def valid_email(email: Any) -> bool:
    """A plausible address: one ``@``, no spaces or controls, at most :data:`MAX_EMAIL`."""
    if not isinstance(email, str) or not 3 <= len(email) <= MAX_EMAIL or not email.isprintable():
        return False
    local, at, domain = email.rpartition("@")
    return bool(
        at and local and "." in domain and "@" not in domain
        and not any(c.isspace() for c in email)
        and not domain.startswith(".") and ".." not in domain
    )  # fmt: skip


def parse_signer(raw: Any, sizes: Sequence[tuple[float, float]], i: int) -> SignerSpec:
    """One entry of ``signers`` (module docstring of :mod:`sealtrail.api.routes_envelopes`)."""
    what = f"signers[{i}]"
    if not isinstance(raw, dict):
        raise InvalidInputError(f"{what}: want an object")
    kind = raw.get("kind")
    if kind == "individual":
        allowed = {"kind", "name", "email", "fields"}
    elif kind == "enterprise":
        allowed = {"kind", "tenant", "name", "email", "fields"}
    else:
        raise InvalidInputError(f"{what}.kind: want individual or enterprise")
    extra = set(raw) - allowed
    if extra:
        raise InvalidInputError(f"{what}: unknown field {sorted(extra)[0]!r}")
    name = raw.get("name", "")
    if not isinstance(name, str) or len(name.strip()) > MAX_NAME or not name.isprintable():
        raise InvalidInputError(f"{what}.name: want at most {MAX_NAME} printable characters")
    email = raw.get("email")
    if email is not None and not valid_email(email):
        raise InvalidInputError(f"{what}.email: want an e-mail address")
    fields_ = parse_fields(raw.get("fields"), sizes, f"{what}.fields")
    if kind == "individual":
        if not name.strip():
            raise InvalidInputError(f"{what}.name: is required")
        if email is None:
            raise InvalidInputError(f"{what}.email: is required (the identity channel)")
        return SignerSpec("individual", fields_, name.strip(), email.strip())
    tenant = raw.get("tenant")
    if not isinstance(tenant, str) or not valid_party(tenant):
        raise InvalidInputError(f"{what}.tenant: want a tenant id")
    return SignerSpec("enterprise", fields_, name.strip() or tenant, email, tenant)


def parse_deadline(raw: Any, now: datetime) -> datetime | None:
    """``expires_at``: an RFC 3339 time in the future, at most a year ahead (None: none)."""
    if raw is None:
        return None
    if not isinstance(raw, str) or len(raw) > 40:
        raise InvalidInputError("expires_at: want an RFC 3339 time")
    try:
        t = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError("expires_at: want an RFC 3339 time") from None
    if t.tzinfo is None:
        raise InvalidInputError("expires_at: want a time with an offset (Z or ±hh:mm)")
    if not now < t <= now + MAX_DEADLINE:
        raise InvalidInputError("expires_at: want a time in the future, at most a year ahead")
    return t


# -- creating, reading, ending -------------------------------------------------------------------


def create(
    seals: SealStore,
    *,
    tenant: str,
    title: str,
    ordered: bool,
    signers: Sequence[SignerSpec],
    pdf: bytes,
    expires_at: datetime | None,
    created_by: str,
    actor: dict[str, Any],
    now: datetime,
) -> tuple[Envelope, list[str]]:
    """Create an envelope whose signers sign from links; return it and each signer's token
    (in position order; shown once, never stored)."""
    if not 1 <= len(signers) <= MAX_SIGNERS:
        raise InvalidInputError(f"signers: want 1 to {MAX_SIGNERS}, got {len(signers)}")
    if not isinstance(title, str) or not 1 <= len(title) <= 256 or not title.isprintable():
        raise InvalidInputError("title: want 1 to 256 printable characters")
    env_id = new_id("env")
    digest = sha256(pdf)
    slots, links, tokens = [], [], []
    for i, s in enumerate(signers):
        if s.kind == "individual":
            slots.append(StoredSigner(i, None, None, "pending", None, None, None, None, tenant))
        else:
            assert s.tenant is not None
            slots.append(
                StoredSigner(i, None, None, "pending", None, None, None, None, s.tenant, "invited")
            )
        token = secrets.token_urlsafe(TOKEN_BYTES)
        tokens.append(token)
        links.append(
            StoredLink(
                token_hash(token), env_id, i, s.kind, s.name, s.email,
                orjson.dumps([f.to_json() for f in s.fields]).decode(), Session().dump(),
            )
        )  # fmt: skip
    stored = StoredEnvelope(
        env_id, tenant, title, ordered, "open", 0, digest, digest, created_by, format_time(now),
        None, tuple(slots),
    )  # fmt: skip
    deadline = None if expires_at is None else format_time(expires_at)
    attrs: dict[str, Any] = {
        "envelope_id": env_id,
        "order": "sequential" if ordered else "parallel",
        "signers": len(signers),
        "signer_kinds": ",".join(s.kind for s in signers),
        "invited": ",".join(s.tenant for s in signers if s.tenant),
        "expires_at": deadline,
    }
    for i, s in enumerate(signers):
        if s.email:
            attrs[f"signer{i}_email_sha256"] = email_sha256(s.email)
    event = {
        "stream": f"envelope:{env_id}",
        "type": "envelope:created",
        "actor": actor,
        "documents": [{"name": title[:512], "sha256": digest.hex()}],
        "attributes": attrs,
    }
    seals.insert_envelope_with_links(
        stored, pdf, StoredTerms(env_id, deadline), links, [outbox_event(tenant, event)]
    )
    return get_envelope(seals, env_id), tokens


def expire_if_due(seals: SealStore, env: Envelope, now: datetime) -> Envelope:
    """``env``, expired first if it is open and its deadline has passed (the
    ``envelope:expired`` event is queued once: the store's compare-and-swap on ``open``)."""
    if env.status != "open":
        return env
    terms = seals.envelope_terms(env.id)
    if terms is None or terms.expires_at is None:
        return env
    deadline = datetime.fromisoformat(terms.expires_at.replace("Z", "+00:00"))
    if now < deadline:
        return env
    event = {
        "stream": f"envelope:{env.id}",
        "type": "envelope:expired",
        "actor": SERVICE_ACTOR,
        "documents": [{"name": env.title[:512], "sha256": env.current.hex()}],
        "attributes": {"envelope_id": env.id, "expires_at": terms.expires_at,
                       "signatures": env.version},
    }  # fmt: skip
    # ConflictError: ended meanwhile (signed to completion, voided, or expired by another reader)
    with contextlib.suppress(ConflictError):
        seals.end_envelope(
            env.id, "expired", None, terms.expires_at, [outbox_event(env.tenant, event)]
        )
    return get_envelope(seals, env.id)


def expire_due(seals: SealStore, now: datetime, limit: int = 100) -> int:
    """Expire the open envelopes whose deadline has passed (the background sweep, so that
    ``envelope:expired`` — and its callbacks — need no read); how many were expired."""
    n = 0
    for env_id in seals.expiring_envelope_ids(format_time(now), limit):
        if expire_if_due(seals, get_envelope(seals, env_id), now).status == "expired":
            n += 1
    return n


def void(
    seals: SealStore, env: Envelope, reason: str, *, actor: dict[str, Any], now: datetime
) -> Envelope:
    """Void an open envelope for ``reason`` (1..500 characters); ConflictError once ended."""
    if not isinstance(reason, str) or not 1 <= len(reason.strip()) <= MAX_REASON:
        raise InvalidInputError(f"reason: want 1 to {MAX_REASON} characters")
    env = expire_if_due(seals, env, now)
    if env.status != "open":
        raise ConflictError(f"envelope {env.id} is {state_of(env)}")
    event = {
        "stream": f"envelope:{env.id}",
        "type": "envelope:voided",
        "actor": actor,
        "documents": [{"name": env.title[:512], "sha256": env.current.hex()}],
        "attributes": {"envelope_id": env.id, "reason": reason.strip(),
                       "signatures": env.version},
    }  # fmt: skip
    seals.end_envelope(env.id, "voided", reason.strip(), format_time(now),
                       [outbox_event(env.tenant, event)])  # fmt: skip
    return get_envelope(seals, env.id)


def renew_link(
    seals: SealStore, env: Envelope, link: Link, *, actor: dict[str, Any], now: datetime
) -> str:
    """A new token for ``link`` (the old one stops working), with ``envelope:link-renewed``;
    return it. Tokens are never stored, so a reminder that carries a link carries a new one."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    event = {
        "stream": f"envelope:{env.id}",
        "type": "envelope:link-renewed",
        "actor": actor,
        "documents": [{"name": env.title[:512], "sha256": env.current.hex()}],
        "occurred_at": format_time(now),
        "attributes": {"envelope_id": env.id, "signer": link.position},
    }
    seals.replace_link_token(
        link.stored.token_hash, token_hash(token), [outbox_event(env.tenant, event)]
    )
    return token


def links_of(seals: SealStore, env_id: str) -> dict[int, Link]:
    """The envelope's links by position (empty for an envelope made without links)."""
    return {k.position: Link(k, Session.load(k.session)) for k in seals.links(env_id)}


def resolve(
    seals: SealStore, token: str, now: datetime, ttl: float = 30 * 86400
) -> tuple[Envelope, Link]:
    """The envelope and link of ``token`` if the link is valid now (module docstring; at most
    ``ttl`` seconds after the envelope was made), else NotFoundError with one message whatever
    the reason."""
    if (
        not isinstance(token, str)
        or not 16 <= len(token) <= MAX_TOKEN_CHARS
        or not all(c.isascii() and (c.isalnum() or c in "-_") for c in token)
    ):
        raise NotFoundError(INVALID_LINK)
    stored = seals.link(token_hash(token))
    if stored is None:
        raise NotFoundError(INVALID_LINK)
    env = expire_if_due(seals, get_envelope(seals, stored.envelope_id), now)
    link = Link(stored, Session.load(stored.session))
    made = datetime.fromisoformat(env.created_at.replace("Z", "+00:00"))
    if now >= made + timedelta(seconds=ttl):
        raise NotFoundError(INVALID_LINK)
    if env.status == "open":
        return env, link
    slot = env.signers[link.position]
    if env.status == "completed" and slot.status == "signed" and env.completed_at:
        done = datetime.fromisoformat(env.completed_at.replace("Z", "+00:00"))
        if now < done + timedelta(seconds=DOWNLOAD_WINDOW):
            return env, link
    raise NotFoundError(INVALID_LINK)


def signer_state(env: Envelope, link: Link) -> str:
    """pending, signed or declined."""
    slot = env.signers[link.position]
    if slot.status == "signed":
        return "signed"
    if env.status == "declined" or slot.invitation == "declined":
        return "declined"
    return "pending"


def turn(env: Envelope, link: Link) -> bool:
    """True when the signer may sign now (pending, the envelope open, and first in line when
    signers sign in order)."""
    slot = env.signers[link.position]
    if env.status != "open" or slot.status != "pending":
        return False
    if not env.ordered:
        return True
    first = next(s for s in env.signers if s.status == "pending")
    return first.position == slot.position


# -- events --------------------------------------------------------------------------------------


def ceremony_event(
    env: Envelope,
    link: Link,
    etype: str,
    client: Client,
    attrs: dict[str, Any] | None = None,
    documents: list[dict[str, str]] | None = None,
) -> OutboxEvent:
    """A step of the signing ceremony as an event of the envelope's stream (module docstring)."""
    a = ceremony_attributes(env, link, client)
    a.update(attrs or {})
    event = {
        "stream": f"envelope:{env.id}",
        "type": etype,
        "actor": signer_actor(env, link),
        "documents": documents or [{"name": env.title[:512], "sha256": env.current.hex()}],
        "occurred_at": format_time(client.now),
        "attributes": a,
    }  # fmt: skip
    return outbox_event(env.tenant, event)


def ceremony_attributes(env: Envelope, link: Link, client: Client) -> dict[str, Any]:
    """The attributes every ceremony event carries: the envelope, the signer (position, kind),
    the client's address and user agent, and the identity channel's hash (never the address)."""
    a: dict[str, Any] = {
        "envelope_id": env.id,
        "signer": link.position,
        "signer_kind": link.kind,
        "client_ip": client.ip,
        "user_agent": "".join(c for c in client.user_agent[:512] if c.isprintable()),
    }
    if link.stored.email:
        a["email_sha256"] = email_sha256(link.stored.email)
    return a


def signer_actor(env: Envelope, link: Link) -> dict[str, Any]:
    """The ledger actor of a signer: one per envelope slot, named as the initiator named it
    (an enterprise's with its tenant as ``org``), so the report groups its ceremony."""
    actor: dict[str, Any] = {"id": f"signer:{env.id}:{link.position}",
                             "name": link.stored.name[:256], "role": "signer"}  # fmt: skip
    if link.kind == "enterprise":
        actor["org"] = env.signers[link.position].party
    return actor


def record(seals: SealStore, env: Envelope, link: Link, etype: str, client: Client,
           attrs: dict[str, Any] | None = None) -> None:  # fmt: skip
    """Queue one ceremony event (no change to the link)."""
    seals.enqueue([ceremony_event(env, link, etype, client, attrs)])


def _save(seals: SealStore, link: Link, session: Session, events: Sequence[OutboxEvent]) -> None:
    seals.update_link(link.stored.token_hash, link.stored.rev, session.dump(), events)


# -- identity ------------------------------------------------------------------------------------


def _code_hash(salt: str, code: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + code.encode()).hexdigest()


def _check_lock(s: Session, now: int) -> None:
    if s.locked_until > now:
        raise LinkLockedError(
            "too many wrong codes: this link is locked for a while", s.locked_until - now
        )


def send_code(seals: SealStore, env: Envelope, link: Link, client: Client) -> str:
    """A fresh one-time code for ``link`` (recorded hashed with a ``envelope:code-sent``
    event); the caller mails it. LinkLockedError while locked, CodeRateLimitedError when
    sent too often, ConflictError when there is no address to send to."""
    if not link.stored.email:
        raise ConflictError("this signer has no e-mail address to send a code to")
    now = _epoch(client.now)
    s = replace(link.session, sends=list(link.session.sends), viewed=list(link.session.viewed))
    _check_lock(s, now)
    s.sends = [t for t in s.sends if t > now - SEND_WINDOW]
    if s.sends and now - s.sends[-1] < RESEND_AFTER:
        raise CodeRateLimitedError(
            "a code was sent moments ago", RESEND_AFTER - (now - s.sends[-1])
        )
    if len(s.sends) >= MAX_SENDS:
        raise CodeRateLimitedError(
            f"{MAX_SENDS} codes were sent within the hour", s.sends[0] + SEND_WINDOW - now
        )
    code = f"{secrets.randbelow(10**6):06d}"
    s.code_salt = secrets.token_hex(16)
    s.code_hash = _code_hash(s.code_salt, code)
    s.code_expires = now + CODE_TTL
    s.sends.append(now)
    event = ceremony_event(env, link, "envelope:code-sent", client,
                           {"channel": "email", "expires_in": CODE_TTL})  # fmt: skip
    _save(seals, link, s, [event])
    return code


def verify_code(seals: SealStore, env: Envelope, link: Link, code: Any, client: Client) -> str:
    """Check ``code``: right → a new signing session (its cookie value is returned; the code
    is used up; ``envelope:identity-verified``); wrong or expired → WrongCodeError with the
    tries left (``envelope:identity-failed``), and at the :data:`MAX_TRIES`-th LinkLockedError.
    """
    now = _epoch(client.now)
    s = replace(link.session, sends=list(link.session.sends), viewed=list(link.session.viewed))
    _check_lock(s, now)
    well_formed = isinstance(code, str) and len(code) == 6 and code.isascii() and code.isdigit()
    live = s.code_hash is not None and s.code_salt is not None and now < s.code_expires
    ok = (
        well_formed
        and live
        and hmac.compare_digest(_code_hash(s.code_salt or "", code), s.code_hash or "")
    )
    if ok:
        cookie = secrets.token_urlsafe(32)
        s.code_hash = s.code_salt = None
        s.code_expires = 0
        s.tries = 0
        s.verified_at = format_time(client.now)
        s.session_hash = hashlib.sha256(cookie.encode()).hexdigest()
        event = ceremony_event(env, link, "envelope:identity-verified", client,
                               {"channel": "email"})  # fmt: skip
        _save(seals, link, s, [event])
        return cookie
    s.tries += 1
    reason = "expired" if well_formed and not live else "wrong"
    locked = s.tries >= MAX_TRIES
    if locked:
        s.tries = 0
        s.locked_until = now + LOCK_SECONDS
        s.code_hash = s.code_salt = None
    event = ceremony_event(env, link, "envelope:identity-failed", client,
                           {"reason": reason, "locked": locked})  # fmt: skip
    _save(seals, link, s, [event])
    if locked:
        raise LinkLockedError("too many wrong codes: this link is locked for a while",
                              LOCK_SECONDS)  # fmt: skip
    left = MAX_TRIES - s.tries
    raise WrongCodeError(f"the code is {reason}: {left} tries left", left)


def check_session(link: Link, cookie: str | None) -> None:
    """SigningSessionError unless ``cookie`` is this link's current signing session."""
    want = link.session.session_hash
    if not cookie or not want or len(cookie) > 128:
        raise SigningSessionError("verify a one-time code first")
    if not hmac.compare_digest(hashlib.sha256(cookie.encode()).hexdigest(), want):
        raise SigningSessionError("verify a one-time code first")


def viewed(
    seals: SealStore, env: Envelope, link: Link, pages: Any, page_count: int, client: Client
) -> None:
    """Record the pages the signer saw (``envelope:document-viewed``)."""
    if (
        not isinstance(pages, list)
        or not 1 <= len(pages) <= page_count
        or not all(type(p) is int and 1 <= p <= page_count for p in pages)
        or len(set(pages)) != len(pages)
    ):
        raise InvalidInputError(f"pages: want distinct page numbers 1 to {page_count}")
    s = replace(link.session, sends=list(link.session.sends),
                viewed=sorted(set(link.session.viewed) | set(pages)))  # fmt: skip
    seen = {"pages": ",".join(str(p) for p in pages), "page_count": page_count}
    event = ceremony_event(env, link, "envelope:document-viewed", client, seen)
    _save(seals, link, s, [event])


def decline(seals: SealStore, env: Envelope, link: Link, reason: Any, client: Client) -> Envelope:
    """The signer declines for ``reason`` (1..500 characters): the envelope ends, declined."""
    if (
        not isinstance(reason, str)
        or not 1 <= len(reason.strip()) <= MAX_REASON
        or not (reason.strip().isprintable())
    ):
        raise InvalidInputError(f"reason: want 1 to {MAX_REASON} printable characters")
    if env.status != "open" or env.signers[link.position].status != "pending":
        raise ConflictError(f"envelope {env.id} cannot be declined now ({state_of(env)})")
    event = ceremony_event(env, link, "envelope:declined", client, {"reason": reason.strip()})
    seals.end_envelope(env.id, "declined", reason.strip(), format_time(client.now), [event])
    return get_envelope(seals, env.id)


def signable(env: Envelope, link: Link) -> EnvelopeSigner:
    """The signer's slot if it may sign now; ConflictError naming why not."""
    slot = env.signers[link.position]
    if env.status != "open":
        raise ConflictError(f"envelope {env.id} is {state_of(env)}")
    if slot.status != "pending":
        raise ConflictError("this signer has already signed")
    if not turn(env, link):
        raise ConflictError("it is not this signer's turn: the envelope is signed in order")
    return slot


def commit_individual(
    seals: SealStore,
    env: Envelope,
    link: Link,
    signed: bytes,
    client: Client,
    *,
    language: str,
    signature_kind: str,
    certificate_sha256: str,
) -> Envelope:
    """Store ``signed`` (the envelope's PDF with this individual's signatures) if the envelope
    did not change meanwhile, with ``envelope:intent-confirmed``, ``envelope:signed`` and,
    for the last signer, ``envelope:completed`` — atomically."""
    before, after = env.current, sha256(signed)
    at = format_time(client.now)
    done = sum(1 for s in env.signers if s.status == "signed") + 1 == len(env.signers)
    docs = [{"name": "before", "sha256": before.hex()}, {"name": "after", "sha256": after.hex()}]
    events = [
        ceremony_event(env, link, "envelope:intent-confirmed", client, {"language": language}),
        ceremony_event(
            env, link, "envelope:signed", client,
            {"position": link.position, "signature": signature_kind,
             "certificate_sha256": certificate_sha256, "fields": len(link.fields)},
            docs,
        ),
    ]  # fmt: skip
    if done:
        events.append(
            outbox_event(env.tenant, {
                "stream": f"envelope:{env.id}", "type": "envelope:completed",
                "actor": SERVICE_ACTOR,
                "documents": [{"name": env.title[:512], "sha256": after.hex()}],
                "attributes": {"envelope_id": env.id, "signatures": env.version + 1},
            })
        )  # fmt: skip
    commit = SignatureCommit(
        env.id, env.version, link.position, signed, f"signer:{link.position}", at, before,
        after, done,
    )  # fmt: skip
    seals.commit_link_signature(commit, events)
    return get_envelope(seals, env.id)


def envelope_json(env: Envelope, links: dict[int, Link], base_url: str | None = None,
                  tokens: Sequence[str] = ()) -> dict[str, Any]:  # fmt: skip
    """The envelope as the lifecycle API shows it: ``id``, ``state`` and each signer's
    ``id``, ``kind``, ``state`` (and ``sign_url`` right after creation, when ``tokens`` are
    given: the only time a link is shown)."""
    signers = []
    for s in env.signers:
        link = links.get(s.position)
        kind = link.kind if link is not None else ("enterprise" if s.seal_id or s.invitation
                                                     else "individual")  # fmt: skip
        item: dict[str, Any] = {
            "id": f"{env.id}.{s.position}",
            "position": s.position,
            "kind": kind,
            "state": "signed"
            if s.status == "signed"
            else ("declined" if s.invitation == "declined" else "pending"),
            "name": None if link is None else link.stored.name,
            "tenant": s.party if kind == "enterprise" else None,
            "email_masked": None if link is None else masked(link.stored.email) or None,
            "signed_at": s.signed_at,
            "fields": [] if link is None else [f.to_json() for f in link.fields],
        }
        if tokens and base_url is not None:
            item["sign_url"] = f"{base_url}/sign/{tokens[s.position]}"
        signers.append(item)
    return {
        "id": env.id,
        "state": state_of(env),
        "title": env.title,
        "tenant": env.tenant,
        "order": "sequential" if env.ordered else "parallel",
        "created_at": env.created_at,
        "completed_at": env.completed_at,
        "original_sha256": env.original.hex(),
        "current_sha256": env.current.hex(),
        "signatures": env.version,
        "signers": signers,
    }
