"""Events per *local* day of a time zone, from counts the store groups by a UTC time granule.

A local day of an IANA zone is the UTC range [local midnight, next local midnight): 24 hours
most days, 23 or 25 across a daylight-saving change, and its ends fall on a whole UTC hour only
for whole-hour offsets (Asia/Kolkata's +05:30 midnight is 18:30 UTC). Shifting every stored
time by one offset is wrong across a change, so this module computes each day's boundaries with
:mod:`zoneinfo`, picks the coarsest granule of ``recorded_at`` (UTC hour, minute or second, a
text prefix: :data:`~sealtrail.ledger.store.COUNT_PREFIXES`) on which every boundary falls, lets
the store count per granule and type in one read, and adds each granule to the day its start
falls in. No granule straddles a boundary, so the sums are exact.

Stored times stay UTC; only the buckets are local.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sealtrail.core.event import format_time
from sealtrail.ledger.store import LogStatistics

#: (prefix length, the UTC granule it stands for), coarsest first
_GRANULES = ((13, timedelta(hours=1)), (16, timedelta(minutes=1)), (19, timedelta(seconds=1)))


def day_bounds(zone: ZoneInfo, first: date, days: int) -> list[datetime]:
    """The ``days + 1`` UTC instants starting the local days ``first`` .. ``first + days`` of
    ``zone`` (the last one ends the range). Requires ``days >= 1``. A local midnight that does
    not exist (a change at 00:00 skips to 01:00) is read with the offset before the change
    (PEP 495, ``fold=0``), which is the instant of the change: the day's first instant."""
    if days < 1:
        raise ValueError(f"days {days}: want at least 1")
    out = []
    for i in range(days + 1):
        d = first + timedelta(days=i)
        out.append(datetime(d.year, d.month, d.day, tzinfo=zone).astimezone(UTC))
    return out


def granule_prefix(bounds: Sequence[datetime]) -> int:
    """The coarsest ``recorded_at`` prefix whose granule every boundary starts on."""
    for prefix, width in _GRANULES:
        if all(
            (b - datetime(b.year, b.month, b.day, tzinfo=UTC)) % width == timedelta(0)
            for b in bounds
        ):
            return prefix
    raise ValueError("a day boundary is not on a whole UTC second")  # not for IANA zones


def _granule_start(key: str) -> datetime:
    # "2026-12-07T16" / "2026-12-07T16:30" / "2026-12-07T16:30:05" → that instant, UTC
    padded = key + "T00:00:00"[len(key) - 10 :] if len(key) < 19 else key
    return datetime.fromisoformat(padded).replace(tzinfo=UTC)


def local_day_counts(
    stats: LogStatistics, tenants: Collection[str], zone: ZoneInfo, first: date, days: int
) -> list[tuple[date, str, int]]:
    """(local date, type, events) of ``tenants``' events recorded during the local days
    ``first`` .. ``first + days - 1`` of ``zone``, by date then type; one store read."""
    bounds = day_bounds(zone, first, days)
    prefix = granule_prefix(bounds)
    rows = stats.event_counts(tenants, format_time(bounds[0]), format_time(bounds[-1]), prefix)
    out: dict[tuple[date, str], int] = {}
    i = 0
    for key, etype, n in rows:  # by key, i.e. in time order
        start = _granule_start(key)
        while start >= bounds[i + 1]:
            i += 1
        day = first + timedelta(days=i)
        out[(day, etype)] = out.get((day, etype), 0) + n
    return sorted((d, t, n) for (d, t), n in out.items())
