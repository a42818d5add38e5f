"""The seal store on PostgreSQL: the SQLite store (:mod:`.sqlite_store`) on the shared
:class:`~sealtrail.ledger.pg_db.PostgresDatabase`, whose connections take the same SQL.

The tables are SQLite's (:data:`SEALS_PARTS`: the version-3 registry and the version-5
invitation columns, through :meth:`~sealtrail.ledger.sql_dialect.Dialect.ddl` — ``BYTEA``,
``BIGINT``, byte-order text, identity columns for the outbox and the uses). Every change is
still one transaction with the outbox rows it queues, and every compare-and-swap a conditional
``UPDATE … WHERE`` whose row count is checked in it: in READ COMMITTED, PostgreSQL re-checks the
``WHERE`` of a row another transaction changed meanwhile, once that one has committed, so of two
concurrent swaps exactly one matches. What differs from SQLite:

* the dialect (:data:`~sealtrail.ledger.pg_db.POSTGRES`): the reads that SQLite's write lock
  protects take their row ``FOR UPDATE`` (an envelope's document before its archive is renewed,
  an envelope before an invitation to it is answered); a duplicate id is PostgreSQL's integrity
  error, answered with ConflictError;
* uses restored with their ids (``sealtrail migrate``) move the identity sequence of
  ``seal_uses`` past the largest id (:meth:`PgSealStore._after_restoring_uses`), so the next use
  recorded does not collide with a restored one.

Outbox order: the outbox is drained by ``id``; an identity value is drawn at insert, after the
change's own conditional ``UPDATE`` took its row lock, so the events of one seal, request or
envelope are queued in the order their changes commit, as on SQLite. (Events of unrelated
records may be drained in either order; each goes to its own stream.)
"""

from __future__ import annotations

from typing import Any, cast

from sealtrail.ledger.pg_db import POSTGRES, PostgresDatabase, SchemaPart
from sealtrail.ledger.sql_dialect import SqlConnection
from sealtrail.seals.sqlite_store import (
    SEALS_PART,
    SEALS_V5_PART,
    SEALS_V10_PART,
    SQLiteSealStore,
)


def _pg(part: SchemaPart) -> SchemaPart:
    return SchemaPart(part.name, part.version, POSTGRES.ddl(part.ddl))


#: the seal registry (version 3), invitations with slot-bound requests (version 5), envelope
#: terms and signer links (version 10)
SEALS_PARTS: tuple[SchemaPart, ...] = (
    _pg(SEALS_PART),
    _pg(SEALS_V5_PART),
    _pg(SEALS_V10_PART),
)


class PgSealStore(SQLiteSealStore):
    """Seal persistence on PostgreSQL (module docstring)."""

    dialect = POSTGRES

    def __init__(self, db: PostgresDatabase) -> None:
        super().__init__(cast(Any, db))  # the SQLite store's SQL runs on db's connections

    def _after_restoring_uses(self, con: SqlConnection) -> None:
        con.execute(
            "SELECT setval(pg_get_serial_sequence('seal_uses', 'id'), "
            "(SELECT MAX(id) FROM seal_uses))"
        )
