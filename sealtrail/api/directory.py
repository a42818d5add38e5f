"""Tenants, API keys and who may see what.

Keys look like ``stk_<12 hex id>_<43 base64url secret>``; only SHA-256 of the secret is stored,
and the presented secret is compared in constant time. The secret has 256 bits of entropy, so a
fast hash is enough (no password stretching needed).

Visibility: an ``integrator`` key sees its own tenant only; ``auditor`` and ``admin`` keys also
see their tenant's subsidiaries, recursively (group headquarters reading, or managing keys of,
its subsidiaries). Nobody else crosses tenants.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sealtrail.api.errors import UnauthorizedError
from sealtrail.core.errors import InvalidInputError, NotFoundError
from sealtrail.core.event import display_problem, validate_tenant
from sealtrail.directory.store import ApiKey, DirectoryStore, Tenant

ROLES = ("integrator", "auditor", "admin")
_KEY_RE = re.compile(r"stk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})\Z")


def hash_secret(secret: str) -> bytes:
    """SHA-256 of a key's secret part."""
    return hashlib.sha256(secret.encode()).digest()


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: the key, its tenant, role and the tenants it may read."""

    key_id: str
    tenant: str
    role: str
    visible: tuple[str, ...]


def create_tenant(
    store: DirectoryStore, tenant_id: str, name: str | None, parent: str | None, now: str
) -> Tenant:
    """Create a tenant under ``parent``.

    Raises InvalidInputError, ConflictError (exists), NotFoundError (no such parent).
    """
    validate_tenant(tenant_id)
    display = tenant_id if name is None else name
    if not isinstance(display, str) or not 1 <= len(display) <= 256:
        raise InvalidInputError("name: want 1-256 printable characters")
    problem = display_problem(display)
    if problem is not None or not display.isprintable():
        raise InvalidInputError(f"name: {problem or 'want 1-256 printable characters'}")
    t = Tenant(tenant_id, display, parent, now)
    store.add_tenant(t)
    return t


def create_key(
    store: DirectoryStore, tenant: str, role: str, label: str | None, now: str
) -> tuple[ApiKey, str]:
    """Create an API key; return its record and the key itself (shown once, never stored)."""
    if role not in ROLES:
        raise InvalidInputError(f"role: want one of {', '.join(ROLES)}, got {role!r}")
    if label is not None and (not isinstance(label, str) or len(label) > 256):
        raise InvalidInputError("label: want at most 256 characters")
    if store.tenant(tenant) is None:
        raise NotFoundError(f"no tenant {tenant!r}")
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    record = ApiKey(key_id, tenant, role, hash_secret(secret), label, now, None)
    store.add_key(record)
    return record, f"stk_{key_id}_{secret}"


def key_json(k: ApiKey) -> dict[str, Any]:
    """A key record as JSON (never the secret or its hash)."""
    return {
        "id": k.id,
        "tenant": k.tenant,
        "role": k.role,
        "label": k.label,
        "created_at": k.created_at,
        "revoked_at": k.revoked_at,
    }


def tenant_json(t: Tenant) -> dict[str, Any]:
    """A tenant as JSON."""
    return {"id": t.id, "name": t.name, "parent": t.parent, "created_at": t.created_at}


def authenticate(store: DirectoryStore, token: str) -> Principal:
    """Check a presented key; raise UnauthorizedError saying nothing about which part failed."""
    m = _KEY_RE.match(token)
    record = store.key(m.group(1)) if m else None
    presented = hash_secret(m.group(2)) if m else b"\0" * 32
    stored = record.secret_hash if record else b"\1" * 32
    if not hmac.compare_digest(presented, stored) or record is None or record.revoked_at:
        raise UnauthorizedError("invalid or revoked API key")
    if record.role in ("auditor", "admin"):
        visible = tuple(store.subtree_tenants(record.tenant))
    else:
        visible = (record.tenant,)
    return Principal(record.id, record.tenant, record.role, visible)
