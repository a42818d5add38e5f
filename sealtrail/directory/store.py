"""The directory's storage protocol — tenants (organisations, in groups) and API key records —
and the records it holds. Implemented by :mod:`.sqlite_store` and :mod:`.mongo_store`."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Tenant:
    """An organisation; ``parent`` is its group headquarters, if any."""

    id: str
    name: str
    parent: str | None
    created_at: str


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key's record. Only a hash of the secret is kept."""

    id: str
    tenant: str
    role: str
    secret_hash: bytes = field(repr=False)
    label: str | None
    created_at: str
    revoked_at: str | None = None


class DirectoryStore(Protocol):
    """Tenants and API keys (kept in the same database as the ledger)."""

    def add_tenant(self, tenant: Tenant) -> None:
        """Create a tenant; ConflictError if it exists, NotFoundError if its parent does not."""

    def tenant(self, tenant_id: str) -> Tenant | None:
        """One tenant."""

    def tenants(self) -> list[Tenant]:
        """All tenants, by id."""

    def subtree_tenants(self, tenant_id: str) -> list[str]:
        """The tenant and all its descendants (subsidiaries, recursively)."""

    def add_key(self, key: ApiKey) -> None:
        """Store a new API key record."""

    def key(self, key_id: str) -> ApiKey | None:
        """One key record."""

    def keys(self, tenants: Collection[str]) -> list[ApiKey]:
        """Key records of these tenants."""

    def revoke_key(self, key_id: str, at: str) -> ApiKey:
        """Mark a key revoked (idempotent); NotFoundError if unknown."""
