"""The map's content as derived from the log's events (pure; docs/MAP.md §4).

After the log's first N events, the map holds:

* for each stream ``(tenant, stream)`` that has events: ``StreamHead(count, last_index,
  last_leaf_hash)``;
* for each document SHA-256 named by at least one event: ``DocumentEvents(count, last_index,
  chain)`` over the events naming it, in log order. An event names a document when any entry of
  its ``documents`` has that ``sha256``; naming it twice in one event counts once.

Sealing a checkpoint over events ``[M, N)`` is incremental: :func:`touched_keys` says which keys
the new events touch, the caller reads their current values, and :func:`map_changes` returns the
new values, which go to :func:`sealtrail.core.vmap_tree.update` (as value hashes) and to the
store's key -> value table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sealtrail.core.event import Event
from sealtrail.core.vmap import (
    ZERO_CHAIN,
    DocumentEvents,
    StreamHead,
    decode_value,
    doc_chain_step,
    document_key,
    stream_key,
)


def event_documents(event: Event) -> list[bytes]:
    """The distinct document SHA-256s an event names, in order of first mention (32 bytes each)."""
    docs: list[Any] = event.body().get("documents") or []
    out: list[bytes] = []
    for d in docs:
        h = bytes.fromhex(d["sha256"])
        if h not in out:
            out.append(h)
    return out


def event_keys(event: Event) -> list[bytes]:
    """The encoded map keys an event touches: its stream's, then its documents'."""
    return [stream_key(event.tenant, event.stream)] + [
        document_key(h) for h in event_documents(event)
    ]


def touched_keys(events: Iterable[Event]) -> set[bytes]:
    """Every encoded key the events touch (read their values before :func:`map_changes`)."""
    keys: set[bytes] = set()
    for e in events:
        keys.update(event_keys(e))
    return keys


def map_changes(events: Sequence[Event], previous: Mapping[bytes, bytes]) -> dict[bytes, bytes]:
    """New ``{encoded key: encoded value}`` for the keys ``events`` touch.

    Requires ``events`` in log order (strictly increasing indices, all after every index the
    map already covers) and ``previous`` holding the current value of every touched key that is
    in the map (absent keys are new). Raises ValueError when the order is wrong or a previous
    value is malformed or of the wrong kind.
    """
    state: dict[bytes, StreamHead | DocumentEvents] = {}

    def current(key: bytes) -> StreamHead | DocumentEvents | None:
        if key in state:
            return state[key]
        old = previous.get(key)
        return None if old is None else decode_value(old)

    last = -1
    for e in events:
        if e.index <= last:
            raise ValueError(f"events out of log order: index {e.index} after {last}")
        last = e.index
        keys = event_keys(e)
        head = current(keys[0])
        if head is None:
            state[keys[0]] = StreamHead(1, e.index, e.leaf_hash)
        elif not isinstance(head, StreamHead):
            raise ValueError("previous value of a stream key is not a stream head")
        elif e.index <= head.last_index:
            raise ValueError(f"event {e.index} is not after stream head {head.last_index}")
        else:
            state[keys[0]] = StreamHead(head.count + 1, e.index, e.leaf_hash)
        for key in keys[1:]:
            doc = current(key)
            if doc is None:
                chain = doc_chain_step(ZERO_CHAIN, e.index, e.leaf_hash)
                state[key] = DocumentEvents(1, e.index, chain)
            elif not isinstance(doc, DocumentEvents):
                raise ValueError("previous value of a document key is not a document value")
            else:
                state[key] = doc.extend(e.index, e.leaf_hash)
    return {k: v.encode() for k, v in state.items()}


def map_items(events: Sequence[Event]) -> dict[bytes, bytes]:
    """The whole map ``{encoded key: encoded value}`` after ``events`` (the log from index 0)."""
    return map_changes(events, {})
