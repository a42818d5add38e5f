"""``sealtrail audit --rpc``: is every anchor the store calls final really on the chain?

For each ``final`` anchor: the transaction's receipt must exist, in the stored block (number
and hash), succeeded, with our contract's ``Anchored`` event for this log, size and root; and
the contract's ``anchorOf(logId, root)`` must answer this size and block (docs/FORMAT.md §6.3).
On a version-2 contract the map root in the event and in ``anchorOf`` (and the one stored)
must also be the one the checkpoint's note names in its ``sealtrail-map/v1`` line (none: zero).
"""

from __future__ import annotations

from sealtrail.anchoring.chain import ChainClient
from sealtrail.anchoring.store import AnchoringStores
from sealtrail.anchoring.worker import note_map_root
from sealtrail.core.merkle import fold, root_subtrees


def _hex(b: bytes | None) -> str:
    return "none" if b is None else "0x" + b.hex()


def check_final_anchors(
    store: AnchoringStores, client: ChainClient
) -> tuple[int, list[tuple[int, str]]]:
    """(how many final anchors were checked, [(checkpoint size, problem)])."""
    problems: list[tuple[int, str]] = []
    finals = store.anchors.anchors(("final",))
    checkpoints = {cp.size: cp for cp in store.ledger.checkpoints()}
    roots = {size: cp.root for size, cp in checkpoints.items()}
    for a in finals:
        where = f"tx 0x{a.tx_hash.hex() if a.tx_hash else '?'}"
        if roots.get(a.size) != a.root:
            problems.append((a.size, "the anchored root is not the checkpoint's root"))
            continue
        if a.chain_id != client.chain_id or a.contract != client.contract_address:
            problems.append(
                (a.size, f"anchored on chain {a.chain_id} at {a.contract}, not the one checked "
                 f"(chain {client.chain_id} at {client.contract_address})")
            )  # fmt: skip
            continue
        r = client.receipt(a.tx_hash) if a.tx_hash else None
        if r is None:
            problems.append((a.size, f"{where} is not on the chain"))
            continue
        if r.block_number != a.block_number or r.block_hash != a.block_hash:
            problems.append(
                (a.size, f"{where} is in block {r.block_number} 0x{r.block_hash.hex()}, "
                 f"stored {a.block_number} 0x{(a.block_hash or b'').hex()}")
            )  # fmt: skip
            continue
        ev = r.event
        if (
            not r.succeeded
            or ev is None
            or (ev.log_id, ev.tree_size, ev.root)
            != (
                a.log_id,
                a.size,
                a.root,
            )
        ):
            problems.append((a.size, f"{where} did not anchor this log, size and root"))
            continue
        record = client.lookup(a.log_id, a.root)
        if record is None or record.tree_size != a.size or record.block_number != a.block_number:
            problems.append((a.size, f"the contract does not hold this root at size {a.size}"))
            continue
        if client.contract_version != 2:
            continue  # version 1 anchors no map root: nothing to compare
        try:
            want = note_map_root(checkpoints[a.size].note)
        except ValueError as e:
            problems.append((a.size, f"the checkpoint's note has a malformed map line: {e}"))
            continue
        for where, got in (
            ("the Anchored event", ev.map_root),
            ("anchorOf", record.map_root),
            ("the stored anchor", a.map_root),
        ):
            if got != want:
                problems.append(
                    (a.size, f"{where} has map root {_hex(got)}, the note names {_hex(want)}")
                )
                break
    return len(finals), problems


def check_chain_head(
    store: AnchoringStores, client: ChainClient, log_id: bytes
) -> tuple[int, list[str]]:
    """Does the log reach the latest anchor the chain holds for it, with the same root?

    This is what proves a restored database intact against the chain: a restore from an older
    backup lacks the events after the backup, while the contract remembers the largest size
    ever anchored; and a log that was restored and then grew again differs from the anchored
    root at that size. Returns (the chain's latest anchored size, problems)."""
    latest = client.latest_size(log_id)
    if latest == 0:
        return 0, []
    size = store.ledger.size()
    if latest > size:
        return latest, [
            f"the chain holds an anchor of size {latest} for this log, but the log has only "
            f"{size} events: events {size}..{latest - 1} are missing (restored from an older "
            "backup?)"
        ]
    receipt = client.find_anchor(log_id, latest)
    if receipt is None or receipt.event is None:
        return latest, [f"the Anchored event of size {latest} was not found on the chain"]
    ids = root_subtrees(latest)
    got = store.ledger.subtrees(ids)
    if fold([got[n] for n in ids]) != receipt.event.root:
        return latest, [
            f"the log's root at size {latest} differs from the root anchored on the chain "
            f"(tx 0x{receipt.tx_hash.hex()}): the log was altered or forked after a restore"
        ]
    return latest, []
