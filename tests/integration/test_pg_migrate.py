"""``sealtrail migrate`` between SQLite and PostgreSQL, both ways, each copy proven identical
(sealtrail/backend/migrate.py): the source is a real SQLite data directory filled through the
real CLI (tests/integration/test_migrate.py's ``filled``), the target a fresh database on a real
PostgreSQL server the tests start (tests/pg.py), then back into a new SQLite file.

The copy needs every domain's store on PostgreSQL (tenants, keys, timestamps, anchors, seals):
until those exist (sealtrail/backend/postgres.py, ``DOMAIN_PARTS``) these tests are skipped,
saying so.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sealtrail.backend.postgres import DOMAIN_PARTS
from tests.integration.service import cli, env_for
from tests.integration.test_migrate import filled, migrate, run

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not DOMAIN_PARTS,
        reason="the other domains' PostgreSQL stores are not built yet (backend/postgres.py)",
    ),
]


def test_sqlite_to_postgres_and_back_copies_everything_and_verifies_it(
    tmp_path: Path, pg_db_url: str
) -> None:
    data = filled(tmp_path, seals=True)
    before = cli(data, "audit")
    r = migrate(data, pg_db_url)
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout)
    assert out["verified"] is True, out["problems"]
    size = before["size"]
    assert out["copied"]["events"] == size
    assert out["copied"]["map_nodes"] > 0
    assert out["copied"]["seal_registry_rows"] >= 2
    assert "@" not in out["to"]  # no user or password in what is printed
    on_pg = run(data, "audit", "--json", db_url=pg_db_url)
    assert on_pg.returncode == 0, on_pg.stdout + on_pg.stderr
    audited = json.loads(on_pg.stdout)
    assert audited["size"] == size
    assert audited["map_roots_checked"] == before["map_roots_checked"] >= 2
    # the ledger on PostgreSQL takes new events and seals a checkpoint continuing the map
    more = tmp_path / "after.jsonl"
    more.write_text(json.dumps({"stream": "contract:y", "type": "view", "actor": {"id": "u-3"}}))
    cli(data, "append", "--tenant", "sub1", "--file", str(more), env=env_for(db_url=pg_db_url))
    sealed = cli(data, "checkpoint", env=env_for(db_url=pg_db_url))
    assert sealed["size"] == size + 1
    # and back: PostgreSQL → a new SQLite file, verified the same way
    back = tmp_path / "back.db"
    r2 = run(data, "migrate", "--to", f"sqlite:///{back}", "--json", db_url=pg_db_url)
    assert r2.returncode == 0, r2.stdout + r2.stderr
    out2 = json.loads(r2.stdout)
    assert out2["verified"] is True, out2["problems"]
    assert out2["copied"]["events"] == size + 1
    final = run(data, "audit", "--json", db_url=f"sqlite:///{back}")
    assert final.returncode == 0, final.stdout + final.stderr
    assert json.loads(final.stdout)["map_roots_checked"] == before["map_roots_checked"] + 1
    listed = run(data, "seals", "list", "--tenant", "sub1", "--json", db_url=f"sqlite:///{back}")
    assert [s["status"] for s in json.loads(listed.stdout)["seals"]] == ["suspended"]


def test_a_postgres_target_that_is_not_empty_is_refused(tmp_path: Path, pg_db_url: str) -> None:
    data = filled(tmp_path, seals=False)
    assert migrate(data, pg_db_url).returncode == 0
    again = run(data, "migrate", "--to", pg_db_url)
    assert again.returncode == 5
    assert "not empty" in again.stderr
