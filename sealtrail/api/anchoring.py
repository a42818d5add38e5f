"""Wiring the anchoring worker into the service: settings → chain client → worker → loop, and
the anchoring figures on /metrics."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sealtrail.anchoring.chain import ChainClient, connect
from sealtrail.anchoring.contract import log_id_for
from sealtrail.anchoring.deployment import load_deployment
from sealtrail.anchoring.store import AnchoringStores
from sealtrail.anchoring.worker import AnchorLoop, AnchorStats, AnchorWorker
from sealtrail.api.context import Metrics
from sealtrail.api.settings import Settings, chain_key
from sealtrail.core.errors import ConfigError
from sealtrail.ledger.store import Lease

log = logging.getLogger("sealtrail.anchoring")


def chain_connector(s: Settings, data_dir_contract: bool = True) -> Callable[[], ChainClient]:
    """A function that connects to the configured chain and binds the contract.

    Raises :class:`ConfigError` at once when the settings cannot work (no key, no contract);
    the returned function raises anchoring errors while the node is unreachable."""
    if s.chain_rpc_url is None:
        raise ConfigError("no chain configured: set SEALTRAIL_CHAIN_RPC_URL")
    key = chain_key(s)
    if key is None:
        raise ConfigError(
            "SEALTRAIL_CHAIN_RPC_URL is set: set SEALTRAIL_CHAIN_KEY or SEALTRAIL_CHAIN_KEY_FILE "
            "to the anchorer's private key"
        )
    deployment = load_deployment(s.data_dir) if data_dir_contract else None
    contract = s.chain_contract or (deployment.contract if deployment else None)
    if contract is None:
        raise ConfigError(
            "no anchoring contract: run `sealtrail contract deploy` or set SEALTRAIL_CHAIN_CONTRACT"
        )
    chain_id = s.chain_id or (
        deployment.chain_id if deployment and deployment.contract == contract else None
    )
    url = s.chain_rpc_url

    def make() -> ChainClient:
        return connect(url, key, chain_id, contract_address=contract)

    return make


def start_anchoring(
    s: Settings,
    store: AnchoringStores,
    origin: str,
    metrics: Metrics,
    clock: Callable[[], datetime],
    *,
    lease: Callable[[], Lease | None] | None = None,
) -> AnchorLoop | None:
    """Start anchoring every checkpoint when a chain is configured; None when it is not.
    With ``lease``, rounds run only while this process holds the sequencer lease.

    The loop's ``after_step`` brings /metrics up to date; the service also calls it at every
    sealing tick (a failing round backs off, and the gauges must not go stale meanwhile)."""
    if s.chain_rpc_url is None:
        log.info("no chain configured (SEALTRAIL_CHAIN_RPC_URL): anchoring is off")
        return None
    worker = AnchorWorker(
        store,
        chain_connector(s),
        log_id_for(origin),
        confirmations=s.chain_confirmations,
        clock=clock,
        replace_after=s.chain_replace_after,
        lease=lease,
    )
    seen = AnchorStats()

    def update() -> None:
        _update_metrics(metrics, store, worker.stats, seen, clock)

    loop = AnchorLoop(worker, interval=s.chain_poll_interval, after_step=update)
    loop.start()
    log.info("anchoring checkpoints on %s (k = %d)", s.chain_rpc_url.split("/")[2],
             s.chain_confirmations)  # fmt: skip
    return loop


_EVENTS = {
    "sent": "sent",
    "replaced": "replaced",
    "resent": "resent",
    "reorgs": "reorg",
    "nonce_conflicts": "nonce_conflict",
    "adopted": "adopted",
    "finalised": "final",
}


def _update_metrics(
    m: Metrics,
    store: AnchoringStores,
    stats: AnchorStats,
    seen: AnchorStats,
    clock: Callable[[], datetime],
) -> None:
    """Bring /metrics up to date with the worker's counters (``seen``: what was reported)."""
    for attr, label in _EVENTS.items():
        delta = getattr(stats, attr) - getattr(seen, attr)
        if delta > 0:
            m.anchor_events.labels(label).inc(delta)
            setattr(seen, attr, getattr(stats, attr))
    if stats.gas_used > seen.gas_used:
        m.anchor_gas.inc(stats.gas_used - seen.gas_used)
        seen.gas_used = stats.gas_used
    if stats.fees_wei > seen.fees_wei:
        m.anchor_fees.inc(stats.fees_wei - seen.fees_wei)
        seen.fees_wei = stats.fees_wei
    for code, n in list(stats.failures.items()):
        before = seen.failures.get(code, 0)
        if n > before:
            m.anchor_failures.labels(code).inc(n - before)
            seen.failures[code] = n
    m.anchor_insufficient_funds.set(1 if stats.insufficient_funds else 0)
    pending, oldest = store.anchors.oldest_unfinal()
    m.anchors_pending.set(pending)
    if oldest is None:
        m.anchor_lag.set(0)
    else:
        age = clock() - datetime.fromisoformat(oldest.created_at)
        m.anchor_lag.set(max(0.0, age.total_seconds()))
    m.anchored_size.set(store.anchors.anchored_size())
