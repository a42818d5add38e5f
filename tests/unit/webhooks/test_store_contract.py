"""The callbacks' storage contract (sealtrail/webhooks/store.py: WebhookStore), run against every
backend as the composition root opens it: SQLite, PostgreSQL (a real server the tests start,
tests/pg.py: a fresh database per test), and MongoDB (a real server when
``SEALTRAIL_TEST_MONGODB_URI`` is set, else the nx-27017 stand-in, tests/mongo.py).

A second handle on the same database is how these tests see what was durably committed."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sealtrail.backend import Stores, open_mongodb, open_postgres, open_sqlite
from sealtrail.core.errors import ConflictError, StorageError
from sealtrail.core.note import NoteSigner
from sealtrail.ledger.log import Ledger
from sealtrail.webhooks.outbox import install
from sealtrail.webhooks.store import (
    CANCELLED,
    DELIVERED,
    PENDING,
    Attempt,
    NewDelivery,
    Subscription,
    WebhookStore,
)
from tests.conftest import counting_random, event_input, fixed_clock
from tests.mongo import MongoServer, is_stand_in, mongodb_server

SIGNER = NoteSigner("test.example/hooks", Ed25519PrivateKey.from_private_bytes(bytes(32)))
SECRET = "enc1:opaque-to-the-store"
Factory = Callable[[], Stores]


@pytest.fixture(scope="module")
def mongo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MongoServer]:
    with mongodb_server(tmp_path_factory.mktemp("mongo")) as server:
        yield server


@pytest.fixture(params=["mongo", "postgresql", "sqlite"])
def factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    opened: list[Stores] = []
    if request.param == "mongo":
        url = request.getfixturevalue("mongo_server").fresh_url()

        def make() -> Stores:
            return open_mongodb(url)
    elif request.param == "postgresql":
        pg_url = request.getfixturevalue("pg_db_url")

        def make() -> Stores:
            return open_postgres(pg_url)
    else:

        def make() -> Stores:
            return open_sqlite(tmp_path / "ledger.db")

    def factory() -> Stores:
        s = make()
        opened.append(s)
        return s

    yield factory
    for s in opened:
        s.close()


def hooks(stores: Stores) -> WebhookStore:
    assert stores.webhooks is not None
    return stores.webhooks


def sub(
    wid: str, tenant: str = "acme", events: tuple[str, ...] = ("*",), at: str = "t1"
) -> Subscription:
    return Subscription(wid, tenant, "https://oa.example.com/hook", events, False, SECRET, at)


_ids = count()


def nd(wid: str, ordering: str, index: int | None, at: float, **kw: object) -> NewDelivery:
    return NewDelivery(
        f"msg_{next(_ids):04d}",
        wid,
        "acme",
        ordering,
        "sign",
        index,
        b'{"n":1}',
        at,
        **kw,  # type: ignore[arg-type]
    )


def queue(store: WebhookStore, items: list[NewDelivery]) -> None:
    store.enqueue(lambda _: (items, None))


def test_subscriptions(factory: Factory) -> None:
    a, b = hooks(factory()), hooks(factory())
    a.add(sub("wh_2", at="t2"))
    a.add(sub("wh_1", at="t1", events=("sign", "view")))
    a.add(sub("wh_x", tenant="other"))
    with pytest.raises(ConflictError):
        a.add(sub("wh_1"))
    got = b.get("wh_1")
    assert got == sub("wh_1", at="t1", events=("sign", "view"))
    assert b.get("wh_none") is None
    assert [s.id for s in b.for_tenant("acme")] == ["wh_1", "wh_2"]
    assert sorted(s.id for s in b.all_active()) == ["wh_1", "wh_2", "wh_x"]


def test_rotate_keeps_the_old_secret_resealed(factory: Factory) -> None:
    a, b = hooks(factory()), hooks(factory())
    a.add(sub("wh_1"))
    got = a.rotate("wh_1", "enc1:new", 123.5, lambda old: "resealed:" + old)
    assert got is not None
    assert (got.secret, got.previous_secret, got.previous_until) == (
        "enc1:new", "resealed:" + SECRET, 123.5,
    )  # fmt: skip
    assert b.get("wh_1") == got
    assert got.secrets(100.0) == ("enc1:new", "resealed:" + SECRET)
    assert got.secrets(124.0) == ("enc1:new",)  # the overlap is over
    again = a.rotate("wh_1", "enc1:third", 200.0)
    assert again is not None
    assert again.previous_secret == "enc1:new"
    assert a.rotate("wh_none", "enc1:x", 1.0) is None


def test_deliveries_commit_with_the_append_or_not_at_all(factory: Factory) -> None:
    stores = factory()
    store = hooks(stores)
    store.add(sub("wh_a"))
    store.add(sub("wh_b", events=("view",)))
    ledger = Ledger(stores.ledger, SIGNER, clock=fixed_clock, random_bytes=counting_random())
    try:
        outbox = install(ledger.writer, store)
        assert outbox is not None

        def then_fail(events: object) -> None:
            outbox(events)  # type: ignore[arg-type]
            raise StorageError("disk full")  # the commit fails after the rows were written

        ledger.writer.on_commit = then_fail
        with pytest.raises(StorageError):
            ledger.append("acme", [event_input("e0")])
        assert ledger.size() == 0
        other = hooks(factory())
        assert other.deliveries("wh_a", after=0, limit=10) == []
        ledger.writer.on_commit = outbox
        ledger.append("acme", [event_input("e1"), event_input("e2", type="view")])
        ledger.append("nobody", [event_input("e3")])
    finally:
        ledger.close_sync()
    logged = other.deliveries("wh_a", after=0, limit=10)
    logged += other.deliveries("wh_b", after=0, limit=10)
    got = [(d.webhook_id, d.type, d.event_index, d.status) for d in logged]
    assert got == [
        ("wh_a", "sign", 0, PENDING),
        ("wh_a", "view", 1, PENDING),
        ("wh_b", "view", 1, PENDING),
    ]
    assert other.pending_count() == 3
    with pytest.raises(RuntimeError):
        other.enqueue_in_transaction([nd("wh_a", "x", None, 1.0)])


def test_due_is_in_order_per_sequence(factory: Factory) -> None:
    a, b = hooks(factory()), hooks(factory())
    a.add(sub("wh_1"))
    first, second = nd("wh_1", "stream:s", 5, 10.0), nd("wh_1", "stream:s", 6, 10.0)
    other = nd("wh_1", "stream:t", 7, 11.0)
    notice = nd("wh_1", "checkpoints", None, 12.0)
    queue(a, [first, second, other, notice])
    # nothing sealed, cutoff before: only the notice (about no event)
    assert [d.id for d in b.due(100.0, 0, 0.0, 10)] == [notice.id]
    # sealed to 8: the head of each sequence, never the second of stream s
    assert [d.id for d in b.due(100.0, 8, 0.0, 10)] == [first.id, other.id, notice.id]
    # the seal wait is over for those queued at or before the cutoff
    assert [d.id for d in b.due(100.0, 0, 10.5, 10)] == [first.id, notice.id]
    assert [d.id for d in b.due(100.0, 8, 0.0, 1)] == [first.id]  # limit
    assert b.due(5.0, 8, 0.0, 10) == []  # not yet time
    a.record(first.id, Attempt(20.0, PENDING, 50.0, 500, "HTTP 500", 3))
    d = b.delivery(first.id)
    assert d is not None
    assert (d.attempts, d.status, d.last_status, d.last_error, d.latency_ms) == (
        1, PENDING, 500, "HTTP 500", 3,
    )  # fmt: skip
    # retried later: its sequence waits behind it
    assert [d.id for d in b.due(30.0, 8, 0.0, 10)] == [other.id, notice.id]
    a.record(first.id, Attempt(50.0, DELIVERED, 50.0, 200, None, 2))
    assert [d.id for d in b.due(60.0, 8, 0.0, 10)] == [second.id, other.id, notice.id]
    a.record(first.id, Attempt(60.0, PENDING, 70.0, 500, "late", 1))  # no longer pending
    d = b.delivery(first.id)
    assert d is not None
    assert (d.status, d.attempts) == (DELIVERED, 2)
    assert d.data == b'{"n":1}'
    assert b.pending_count() == 3


def test_delete_cancels_pending(factory: Factory) -> None:
    a, b = hooks(factory()), hooks(factory())
    a.add(sub("wh_1"))
    x, y = nd("wh_1", "s", None, 1.0), nd("wh_1", "s", None, 2.0)
    queue(a, [x, y])
    a.record(x.id, Attempt(3.0, DELIVERED, 3.0, 200, None, 1))
    assert a.delete("wh_1", "2026-01-01T00:00:00Z")
    assert not a.delete("wh_1", "again")
    assert b.get("wh_1") is None
    statuses = [(d.status, d.last_error) for d in b.deliveries("wh_1", after=0, limit=10)]
    assert statuses == [
        (DELIVERED, None),
        (CANCELLED, "subscription deleted at 2026-01-01T00:00:00Z"),
    ]
    assert b.due(100.0, 10, 100.0, 10) == []


def test_deliveries_pages_and_replays(factory: Factory) -> None:
    a, b = hooks(factory()), hooks(factory())
    a.add(sub("wh_1"))
    a.add(sub("wh_2"))
    items = [nd("wh_1", "s", None, float(t)) for t in (10, 20, 30)]
    queue(a, items)
    queue(a, [nd("wh_2", "s", None, 15.0)])
    page = b.deliveries("wh_1", after=0, limit=2)
    assert [d.id for d in page] == [items[0].id, items[1].id]
    rest = b.deliveries("wh_1", after=page[-1].seq, limit=2)
    assert [d.id for d in rest] == [items[2].id]
    n = count()
    new_id = lambda: f"msg_new{next(n)}"  # noqa: E731
    one = a.replay("wh_1", delivery_id=items[1].id, since=None, until=None, now=99.0,
                   new_id=new_id, limit=10)  # fmt: skip
    assert one == ["msg_new0"]
    assert a.replay("wh_2", delivery_id=items[1].id, since=None, until=None, now=99.0,
                    new_id=new_id, limit=10) == []  # another subscription's: not found  # fmt: skip
    r = b.delivery("msg_new0")
    assert r is not None
    assert (r.replay_of, r.created_at, r.status, r.attempts) == (items[1].id, 99.0, PENDING, 0)
    # a range: originals queued in [since, until), never replays, at most limit
    got = a.replay("wh_1", delivery_id=None, since=10.0, until=30.0, now=100.0,
                   new_id=new_id, limit=10)  # fmt: skip
    assert [b.delivery(i).replay_of for i in got] == [items[0].id, items[1].id]  # type: ignore[union-attr]
    got = a.replay("wh_1", delivery_id=None, since=0.0, until=1000.0, now=100.0,
                   new_id=new_id, limit=1)  # fmt: skip
    assert len(got) == 1


def test_enqueue_with_a_cursor(factory: Factory) -> None:
    a, b = hooks(factory()), hooks(factory())
    a.add(sub("wh_1"))
    seen: list[int | None] = []

    def build(last: int | None) -> tuple[list[NewDelivery], int | None]:
        seen.append(last)
        return [nd("wh_1", "checkpoints", None, 1.0)], (last or 0) + 5

    assert b.cursor("c") is None
    assert a.enqueue(build, cursor="c") == 1
    assert a.enqueue(build, cursor="c") == 1
    assert seen == [None, 5]
    assert b.cursor("c") == 10
    assert a.enqueue(lambda last: ([], last), cursor="c") == 0
    assert b.cursor("c") == 10

    def boom(last: int | None) -> tuple[list[NewDelivery], int | None]:
        raise StorageError("no")

    with pytest.raises(StorageError):
        a.enqueue(boom, cursor="c")
    assert b.cursor("c") == 10
    assert len(b.deliveries("wh_1", after=0, limit=10)) == 2


# -- races between processes (separate handles, threads released together) --------------------


def _race(n: int, attempt: Callable[[int], None]) -> list[BaseException]:
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            attempt(i)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return errors


def _skip_on_the_stand_in(factory: Factory) -> None:
    if factory().where.startswith("mongodb") and is_stand_in():
        pytest.skip("the nx-27017 stand-in lacks isolation of concurrent transactions")


def test_racing_rotations_chain_their_secrets(factory: Factory) -> None:
    """Each rotation keeps the secret it replaced: n rotations at once must leave the last
    one's predecessor as the previous secret — never the original one twice (a lost update
    would stop signing with a secret a receiver may already hold)."""
    _skip_on_the_stand_in(factory)
    n = 6
    handles = [hooks(factory()) for _ in range(n)]
    handles[0].add(sub("wh_1"))
    errors = _race(n, lambda i: handles[i].rotate("wh_1", f"enc1:s{i}", 100.0 + i))
    assert errors == []
    got = handles[0].get("wh_1")
    assert got is not None
    assert got.secret in {f"enc1:s{i}" for i in range(n)}
    assert got.previous_secret in {f"enc1:s{i}" for i in range(n)} - {got.secret}


def test_racing_enqueues_from_one_cursor_queue_once(factory: Factory) -> None:
    """Several processes notifying from one cursor at once: each later one sees the cursor the
    earlier one left, so a notice is queued once."""
    _skip_on_the_stand_in(factory)
    n = 6
    handles = [hooks(factory()) for _ in range(n)]
    handles[0].add(sub("wh_1"))
    handles[0].enqueue(lambda last: ([], 0), cursor="c")  # the cursor row exists

    def build(last: int | None) -> tuple[list[NewDelivery], int | None]:
        if last is None or last >= 1:
            return [], last
        return [nd("wh_1", "checkpoints", None, 1.0)], 1

    errors = _race(n, lambda i: handles[i].enqueue(build, cursor="c"))
    assert errors == []
    assert handles[0].cursor("c") == 1
    assert len(handles[0].deliveries("wh_1", after=0, limit=100)) == 1
