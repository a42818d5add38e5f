"""Crash-test driver: append events with asyncio concurrency until killed.

Usage: ``python crash_driver.py DATA_DIR SEED``

Request ``n`` (n = 0, 1, 2, ... across all tasks) is a pure function of ``(SEED, n)`` —
:func:`request_for` — so the test can rebuild, check and retry any request. Every event of a
request is acknowledged by one line on stdout, written and flushed only after ``append_async``
returned, i.e. after the request's COMMIT is durable::

    <tenant> <client_event_id> <index> <leaf hash hex>

A line cut short by the kill is not an acknowledgement. Checkpoints are sealed every few tenths
of a second on the sequencer's thread, so kills also land inside seals.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import sys
from pathlib import Path
from typing import Any

from sealtrail import backend
from sealtrail.core.event import parse_event_input
from sealtrail.ledger.log import Ledger

TASKS = 64
TENANTS = ("acme", "globex")
TYPES = ("initiate", "approve", "sign", "view", "download")


def request_for(seed: int, n: int) -> tuple[str, list[dict[str, Any]]]:
    """Tenant and events of request ``n``: 1-3 events, client ids ``f"{seed}-{n}-{j}"``."""
    rnd = random.Random(f"{seed}-{n}")
    tenant = rnd.choice(TENANTS)
    events = []
    for j in range(rnd.choice((1, 1, 1, 2, 3))):
        events.append(
            {
                "stream": f"contract:{rnd.randrange(8)}",
                "type": rnd.choice(TYPES),
                "actor": {"id": f"u-{rnd.randrange(100)}"},
                "documents": [{"name": "c.pdf", "sha256": rnd.randbytes(32).hex()}],
                "client_event_id": f"{seed}-{n}-{j}",
                "attributes": {"request": n},
            }
        )
    return tenant, events


async def run(data_dir: Path, seed: int) -> None:
    stores, signer = backend.open_store(data_dir)
    ledger = Ledger(stores.ledger, signer)
    requests = itertools.count()
    pace = random.Random(seed)

    async def worker() -> None:
        while True:
            n = next(requests)
            tenant, objs = request_for(seed, n)
            results = await ledger.append_async(tenant, [parse_event_input(o) for o in objs])
            sys.stdout.write(
                "".join(
                    f"{tenant} {r.event.client_event_id} {r.event.index} "
                    f"{r.event.leaf_hash.hex()}\n"
                    for r in results
                )
            )
            sys.stdout.flush()
            await asyncio.sleep(pace.uniform(0.01, 0.2))

    async def sealer() -> None:
        while True:
            await asyncio.sleep(pace.uniform(0.05, 0.25))
            await ledger.sequencer.run_sync(ledger.seal)

    await asyncio.gather(sealer(), *(worker() for _ in range(TASKS)))


if __name__ == "__main__":
    asyncio.run(run(Path(sys.argv[1]), int(sys.argv[2])))
