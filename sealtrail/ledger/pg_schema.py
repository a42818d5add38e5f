"""The ledger's PostgreSQL schema parts: the SQLite tables (:mod:`.sqlite_schema`,
:mod:`.sqlite_map`) through :meth:`~sealtrail.ledger.sql_dialect.Dialect.ddl`, plus the one
table SQLite does without — ``log_head``.

``log_head`` is one row (``id = 1``) holding ``size``, the number of committed log entries.
Every :meth:`~sealtrail.ledger.pg_store.PgLedgerStore.write` takes that row ``FOR UPDATE``
before anything else and every append updates it in the same transaction, so writers of the
log are serialised by PostgreSQL's row lock as SQLite serialises them by its write lock: a
second writer waits at that ``SELECT`` until the first commits or rolls back, then reads the
size the first left. ``size()`` outside a write is one point read of it.
"""

from __future__ import annotations

from sealtrail.ledger.pg_db import POSTGRES, SchemaPart
from sealtrail.ledger.sqlite_map import MAP_PART as SQLITE_MAP_PART
from sealtrail.ledger.sqlite_schema import COORDINATION_PART as SQLITE_COORDINATION_PART
from sealtrail.ledger.sqlite_schema import LEDGER_PART as SQLITE_LEDGER_PART

_LOG_HEAD_DDL = """
CREATE TABLE IF NOT EXISTS log_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),  -- one row
    size INTEGER NOT NULL                      -- committed entries: events 0..size-1
);
INSERT INTO log_head (id, size) VALUES (1, 0) ON CONFLICT DO NOTHING;
"""

#: the log: settings, events, the look-up-by-document index, checkpoints, and the log's head
LEDGER_PART = SchemaPart("ledger", 1, POSTGRES.ddl(SQLITE_LEDGER_PART.ddl + _LOG_HEAD_DDL))
#: leases and the append queue
COORDINATION_PART = SchemaPart("coordination", 4, POSTGRES.ddl(SQLITE_COORDINATION_PART.ddl))
#: the verifiable map
MAP_PART = SchemaPart("map", 6, POSTGRES.ddl(SQLITE_MAP_PART.ddl))

#: the ledger's parts, in the order a new database creates them
LEDGER_PARTS = (LEDGER_PART, COORDINATION_PART, MAP_PART)
