"""The console's group view reads the seal store built once when the app starts, never one per
request (it used to build one per request, which on MongoDB created collections and indexes
each time)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from sealtrail import backend
from sealtrail.api import settings as settings_mod
from sealtrail.api.app import create_app
from sealtrail.api.directory import create_key, create_tenant
from sealtrail.backend import open_mongodb
from sealtrail.seals import mongo_store, sqlite_store
from tests.mongo import MongoServer, free_port, mongodb_server

NOW = "2026-11-24T10:00:00.000000Z"


def provision(data_dir: Path) -> str:
    """An initialised data directory with tenant ``hq`` and an auditor key; returns the key."""
    backend.init(data_dir)
    stores, _ = backend.open_store(data_dir)
    try:
        create_tenant(stores.directory, "hq", "Acme Group", None, NOW)
        _, key = create_key(stores.directory, "hq", "auditor", None, NOW)
    finally:
        stores.close()
    return key


def test_the_seal_store_is_built_once_per_app_not_per_console_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "data"
    key = provision(data_dir)
    built: list[object] = []
    real_init = sqlite_store.SQLiteSealStore.__init__

    def counting_init(self: sqlite_store.SQLiteSealStore, *args: Any) -> None:
        built.append(self)
        real_init(self, *args)

    monkeypatch.setattr(sqlite_store.SQLiteSealStore, "__init__", counting_init)
    settings = settings_mod.load(
        None, environ={}, overrides={"data_dir": data_dir, "listen": f"127.0.0.1:{free_port()}"}
    )

    at_start: list[int] = []

    async def scenario() -> list[dict[str, Any]]:
        async with TestClient(TestServer(create_app(settings))) as client:
            at_start.append(len(built))
            bodies = []
            for _ in range(2):
                resp = await client.get(
                    "/v1/console/group", headers={"Authorization": f"Bearer {key}"}
                )
                assert resp.status == 200, await resp.text()
                bodies.append(await resp.json())
            return bodies

    bodies = asyncio.run(scenario())
    # at app start (``init`` opens the backend once to bind the key, then the service opens
    # it for good), with every other store; none per request
    assert at_start == [2]
    assert len(built) == 2
    assert [b["tenants"][0]["seal_uses"] for b in bodies] == [0, 0]


@pytest.fixture(scope="module")
def mongo_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with mongodb_server(tmp_path_factory.mktemp("mongo")) as server:
        yield server


def test_building_a_mongodb_seal_store_does_nothing_to_the_database(
    mongo_server: MongoServer,
) -> None:
    """Collections and indexes are laid out once, when the backend is opened."""
    stores = open_mongodb(mongo_server.fresh_url())
    try:
        seals = stores.seals
        assert isinstance(seals, mongo_store.MongoSealStore)
        conn = seals.conn
        calls: list[object] = []
        real_run = conn.run

        def counting_run(coro: Any) -> Any:
            calls.append(coro)
            return real_run(coro)

        conn.run = counting_run  # type: ignore[method-assign]
        again = mongo_store.MongoSealStore(conn)
        assert calls == []  # no collection, index or counter touched
        assert again.seal_use_counts(["hq"]) == {"hq": 0}  # and it works
    finally:
        stores.close()
