"""Renewed checkpoint timestamps (TIMESTAMPS.md §8): a real ledger stamped by a development TSA
whose certificate lives 100 days, renewed 80 days later (the clock set in the future) by another
TSA, packaged and verified 200 days later — passing with the chain, failing without it — and
chains that were tampered with (reordered, over other bytes, renewed after expiry) rejected."""

from __future__ import annotations

import asyncio
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from sealtrail.anchoring.devtsa import RunningTsa, start_tsa
from sealtrail.anchoring.renewal import TimestampRenewer
from sealtrail.anchoring.tsa import TimestampClient
from sealtrail.core.errors import ConflictError
from sealtrail.core.event import format_time
from sealtrail.export.evidence import Selection
from sealtrail.verifier import layout
from sealtrail.verifier.errors import TimestampError
from sealtrail.verifier.renewal import ers_json, parse_ers
from sealtrail.verifier.results import Status
from sealtrail.verifier.timestamp import renewal_data, verify_chain
from sealtrail.verifier.verify import verify_package

from .conftest import STREAM
from .ledgerkit import Kit, contract_history, open_kit

T0 = datetime.now(UTC).replace(microsecond=0)
LATER = T0 + timedelta(days=80)  # 20 days before the first TSA certificate expires
FUTURE = T0 + timedelta(days=200)  # the first TSA certificate has expired


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    kit: Kit
    loop: asyncio.AbstractEventLoop
    short: RunningTsa  # 100-day certificate, clock T0
    later: RunningTsa  # ten-year certificate, clock LATER (then a day more)
    late: RunningTsa  # clock T0 + 120 days: after the short certificate expired
    later_clock: Clock
    before: bytes  # the package built before any renewal
    after: bytes  # the package built after one renewal

    @property
    def tsa_roots(self) -> list[x509.Certificate]:
        return [self.short.tsa.ca_cert, self.later.tsa.ca_cert, self.late.tsa.ca_cert]

    def pinned(self) -> list[x509.Certificate]:
        return [*self.tsa_roots, self.kit.tsa_ca, self.kit.seal.ca]

    def run(self, coro):  # type: ignore[no-untyped-def]
        return self.loop.run_until_complete(coro)

    def note(self, size: int) -> bytes:
        return next(
            cp.note for cp in self.kit.store.ledger.checkpoints() if cp.size == size
        ).encode()

    def renewer(self, clock: Clock, **kw: object) -> TimestampRenewer:
        client = TimestampClient([self.later.url], self.tsa_roots)
        return TimestampRenewer(
            self.kit.store,
            client,
            self.tsa_roots,
            clock,
            margin=timedelta(days=30),
            **kw,  # type: ignore[arg-type]
        )


async def _package(kit: Kit) -> bytes:
    data, _ = await kit.package(Selection.of_stream("sub1", STREAM))
    return data


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base: Path = tmp_path_factory.mktemp("renewal")
    loop = asyncio.new_event_loop()
    kit = open_kit(base)
    contract_history(kit, STREAM)
    short = loop.run_until_complete(
        start_tsa(base / "short", clock=Clock(T0), tsa_lifetime=timedelta(days=100))
    )
    later_clock = Clock(LATER)
    later = loop.run_until_complete(start_tsa(base / "later", clock=later_clock))
    late = loop.run_until_complete(start_tsa(base / "late", clock=Clock(T0 + timedelta(days=120))))
    client = TimestampClient([short.url], [short.tsa.ca_cert])
    for cp in kit.store.timestamps.untimestamped():
        ts = loop.run_until_complete(client.timestamp(cp.note.encode()))
        kit.store.timestamps.put_timestamp(
            cp.size, ts.token, format_time(ts.gen_time), ts.serial, ts.tsa, format_time(T0)
        )
    before = loop.run_until_complete(_package(kit))
    w = World(kit, loop, short, later, late, later_clock, before, b"")
    # ten days on, nothing is due
    assert w.run(w.renewer(Clock(T0 + timedelta(days=10))).renew_due()) == 0
    renewer = w.renewer(later_clock)
    assert w.run(renewer.renew_due()) == 3
    assert renewer.stats.renewed == 3
    assert renewer.stats.due == 0
    assert renewer.stats.next_expiry == later.tsa.tsa_cert.not_valid_after_utc
    w.after = loop.run_until_complete(_package(kit))
    try:
        yield w
    finally:
        for t in (short, later, late):
            loop.run_until_complete(t.close())
        kit.ledger.close_sync()
        loop.close()


def test_renewals_are_stored_as_a_chain(world: World) -> None:
    recs = world.kit.store.timestamps.timestamps()
    assert [len(r.renewals) for r in recs] == [1, 1, 1]
    # a second run the same day: the renewal's certificate is far from expiry
    assert world.run(world.renewer(world.later_clock).renew_due()) == 0
    rec = recs[0]
    assert rec.token is not None
    infos = verify_chain(
        [rec.token, *rec.renewals], world.note(rec.size), world.tsa_roots, at=FUTURE
    )
    assert [abs(i.gen_time - t) < timedelta(minutes=5) for i, t in zip(infos, (T0, LATER))] == [
        True,
        True,
    ]


def test_store_refuses_a_gap_or_a_duplicate(world: World) -> None:
    rec = world.kit.store.timestamps.timestamps()[0]
    for index in (1, 3):
        with pytest.raises(ConflictError):
            world.kit.store.timestamps.add_renewal(
                rec.size, index, rec.renewals[0], "2027-01-01T00:00:00.000000Z", "x", "y"
            )


def _files(package: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(package)) as z:
        return {n: z.read(n) for n in z.namelist()}


def test_package_holds_the_chain(world: World) -> None:
    before, after = _files(world.before), _files(world.after)
    assert not [n for n in before if n.endswith(".ers.json")]
    ers = sorted(n for n in after if n.endswith(".ers.json"))
    assert len(ers) == len([n for n in after if n.endswith(".tst")]) > 0
    assert all(layout.NAME_RE.fullmatch(n) for n in ers)
    assert len(parse_ers(after[ers[0]])) == 1


def _longterm(world: World, package: bytes, at: datetime) -> tuple[Status, str, str]:
    rep = verify_package(
        package, trust_roots=world.pinned(), ledger_key=world.kit.ledger.verifier.vkey, at=at
    )
    c = rep.check("timestamps.longterm")
    assert rep.check("timestamps.tokens").status is Status.PASSED  # at genTime: always fine
    return c.status, c.reason, c.detail


def test_future_validation_passes_with_the_chain_and_fails_without(world: World) -> None:
    status, _, detail = _longterm(world, world.after, FUTURE)
    assert status is Status.PASSED, detail
    assert "(3 renewed)" in detail
    status, reason, detail = _longterm(world, world.before, FUTURE)
    assert status is Status.FAILED
    assert reason == "timestamp_expired"
    assert "does not verify at" in detail
    # today both pass: the first certificate is still valid
    assert _longterm(world, world.before, T0 + timedelta(days=1))[0] is Status.PASSED


def _chain(world: World) -> tuple[bytes, list[bytes]]:
    rec = world.kit.store.timestamps.timestamps()[0]
    assert rec.token is not None
    return world.note(rec.size), [rec.token, *rec.renewals]


def _token(world: World, tsa: RunningTsa, data: bytes) -> bytes:
    client = TimestampClient([tsa.url], world.tsa_roots)
    return world.run(client.timestamp(data)).token


def test_renewal_over_other_bytes_is_rejected(world: World) -> None:
    note, chain = _chain(world)
    other = _token(world, world.later, renewal_data(note + b"x", chain[:1]))
    with pytest.raises(TimestampError, match="token 1 of the chain: message imprint mismatch"):
        verify_chain([chain[0], other], note, world.tsa_roots, at=FUTURE)


def test_renewal_after_expiry_is_rejected(world: World) -> None:
    note, chain = _chain(world)
    late = _token(world, world.late, renewal_data(note, chain[:1]))
    with pytest.raises(TimestampError, match="renews token 0 too late"):
        verify_chain([chain[0], late], note, world.tsa_roots, at=FUTURE)


def test_reordered_chain_is_rejected(world: World) -> None:
    note, chain = _chain(world)
    world.later_clock.now = LATER + timedelta(days=1)
    second = _token(world, world.later, renewal_data(note, chain))
    verify_chain([*chain, second], note, world.tsa_roots, at=FUTURE)  # in order: fine
    with pytest.raises(TimestampError, match="token 1 of the chain"):
        verify_chain([chain[0], second, chain[1]], note, world.tsa_roots, at=FUTURE)
    with pytest.raises(TimestampError, match="token 0 of the chain"):
        verify_chain([chain[1], chain[0]], note, world.tsa_roots, at=FUTURE)


def test_tampered_ers_file_fails_the_package(world: World) -> None:
    files = _files(world.after)
    name = sorted(n for n in files if n.endswith(".ers.json"))[0]
    files[name] = ers_json([_token(world, world.later, b"other bytes")])
    buf = io.BytesIO()
    layout.write_zip(files, buf)
    rep = verify_package(
        buf.getvalue(), trust_roots=world.pinned(), ledger_key=world.kit.ledger.verifier.vkey,
        at=FUTURE,
    )  # fmt: skip
    assert rep.check("timestamps.longterm").status is Status.FAILED
    assert rep.check("manifest.files").status is Status.FAILED


@pytest.mark.parametrize(
    ("mutation", "data"),
    [
        ("not-json", b"{"),
        ("extra-member", b'{"format":"sealtrail-ers/v1","renewals":["AA=="],"x":1}'),
        ("wrong-format", b'{"format":"sealtrail-ers/v2","renewals":["AA=="]}'),
        ("empty-renewals", b'{"format":"sealtrail-ers/v1","renewals":[]}'),
        ("not-base64", b'{"format":"sealtrail-ers/v1","renewals":["@@"]}'),
        ("number", b'{"format":"sealtrail-ers/v1","renewals":[1]}'),
    ],
)
def test_malformed_ers_is_rejected(mutation: str, data: bytes) -> None:
    with pytest.raises(TimestampError):
        parse_ers(data)
