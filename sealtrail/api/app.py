"""The aiohttp application: factory, middlewares, lifecycle, and ``serve``.

Lifecycle (``cleanup_ctx``): open the ledger (creating data dir and key on first start), start
its :class:`~sealtrail.api.runtime.Runtime` (sequencer, checkpointing, timestamping, anchoring,
metrics); on shutdown aiohttp first stops accepting and lets in-flight
requests finish, then the sealer stops, the sequencer drains every queued append (each is
committed before its caller hears back) and the store closes.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from cryptography import x509

from sealtrail import backend
from sealtrail.anchoring.devtsa import mount_tsa
from sealtrail.anchoring.timestamping import load_trust_roots
from sealtrail.api import (
    routes_admin,
    routes_console,
    routes_envelopes,
    routes_events,
    routes_maps,
    routes_packages,
    routes_public,
    routes_seals,
    routes_signer,
    routes_webhooks,
    seals,
)
from sealtrail.api.access_log import access_log_middleware, configure_logging
from sealtrail.api.context import SERVICES, RateLimiter, Services, services
from sealtrail.api.errors import problem_middleware
from sealtrail.api.guards import GuardedRunner, ReadLimits, guard_middleware
from sealtrail.api.proxy import ClientAddress, Cors, echo_request_id, proxy_middleware
from sealtrail.api.runtime import Runtime
from sealtrail.api.settings import Settings, database_path, listen_address, local_url
from sealtrail.api.webhooks import WebhookRuntime
from sealtrail.core.errors import ConfigError
from sealtrail.core.event import format_time
from sealtrail.ledger.coordination import Coordinator
from sealtrail.ledger.log import Ledger, utc_now
from sealtrail.ledger.map_process import MapProcess
from sealtrail.web import routes as web_routes
from sealtrail.webhooks.outbox import install as install_outbox

log = logging.getLogger("sealtrail.api")
DEVTSA_DIR = "devtsa"
DEVTSA_PREFIX = "/devtsa"


@web.middleware
async def metrics_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Count requests and time them, per route template (not per URL)."""
    start = time.perf_counter()
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    status = 500
    try:
        resp = await handler(request)
        status = resp.status
        return resp
    finally:
        m = services(request).metrics
        m.requests.labels(request.method, route, str(status)).inc()
        m.latency.labels(route).observe(time.perf_counter() - start)


def timestamp_authorities(
    app: web.Application, settings: Settings
) -> tuple[list[str], list[x509.Certificate]]:
    """The TSAs (URLs, roots their tokens chain to) the service stamps with: the configured ones,
    else the built-in development TSA, mounted on ``app`` (dev and tests only)."""
    if settings.tsa_urls:
        return list(settings.tsa_urls), load_trust_roots(list(settings.tsa_ca_files))
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    dev = mount_tsa(app, settings.data_dir / DEVTSA_DIR, DEVTSA_PREFIX)
    return [f"{local_url(settings)}{DEVTSA_PREFIX}/"], [dev.ca_cert]


def read_limits(settings: Settings) -> ReadLimits:
    """The read timeouts and idle-connection cap of ``settings`` (:mod:`.guards`)."""
    return ReadLimits(
        header_timeout=settings.header_timeout,
        body_timeout=settings.body_timeout,
        keepalive_timeout=settings.keepalive_timeout,
        max_idle_connections=settings.max_idle_connections,
    )


def create_app(settings: Settings) -> web.Application:
    """Build the service for ``settings`` (the ledger is opened when the app starts)."""
    cors = Cors(frozenset(settings.cors_origins))
    app = web.Application(
        middlewares=[
            # the real client and the request id first: everything after sees them
            proxy_middleware(ClientAddress.of(settings.trusted_proxies, settings.proxy_header)),
            access_log_middleware,
            cors.middleware(),
            metrics_middleware,
            guard_middleware(read_limits(settings)),
            problem_middleware,
        ],
        client_max_size=settings.max_body_bytes,
    )
    app.on_response_prepare.append(echo_request_id)
    app.on_response_prepare.append(cors.on_prepare)
    tsa_urls, trust_roots = timestamp_authorities(app, settings)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        db = database_path(settings)
        backend.init(settings.data_dir, db_path=db, db_url=settings.db_url)
        stores, signer = backend.open_store(
            settings.data_dir,
            db_path=db,
            busy_timeout=settings.busy_timeout,
            db_url=settings.db_url,
        )
        # Several workers may share the database: one holds the sequencer lease at a time
        # (appends, sealing, timestamping, anchoring); the others queue their appends for it.
        coordinator = Coordinator(stores.coordination, ttl=settings.lease_ttl)
        await asyncio.to_thread(coordinator.refresh)
        ledger = Ledger(stores.ledger, signer, coordinator=coordinator)
        # On SQLite the map's update before each checkpoint runs in a child process, so that it
        # does not take the interpreter from appends (docs/PERFORMANCE.md, "The map and appends").
        map_process = None
        if not backend.is_mongodb(settings.db_url) and stores.ledger.maps is not None:
            map_process = MapProcess(db, busy_timeout=settings.busy_timeout)
            ledger.map_preparer = map_process
        # callbacks: deliveries are queued inside the append transactions (an outbox)
        outbox = install_outbox(ledger.writer, stores.webhooks)
        runtime = Runtime(settings, ledger, stores, coordinator, tsa_urls, trust_roots)
        app[SERVICES] = Services(
            settings=settings,
            ledger=ledger,
            stores=stores,
            sealer=runtime.sealer,
            metrics=runtime.metrics,
            limiter=RateLimiter(settings.public_rate_limit),
            clock=lambda: format_time(utc_now()),
            anchor_confirmations=settings.chain_confirmations if settings.chain_rpc_url else None,
        )
        await runtime.start()
        if outbox is not None and stores.webhooks is not None:
            app[routes_webhooks.WEBHOOKS] = WebhookRuntime(
                stores.webhooks, outbox, runtime.webhooks
            )
        log.info(
            "ledger %s open in %s: %d events; %s",
            ledger.origin,
            stores.where,
            stores.ledger.size(),
            "this worker is the sequencer"
            if coordinator.current()
            else "another worker is the sequencer; appends are queued for it",
        )
        try:
            yield
        finally:
            await runtime.stop()
            await ledger.close()
            if map_process is not None:
                await asyncio.to_thread(map_process.close)
            log.info("ledger closed")

    app.cleanup_ctx.append(lifecycle)
    seals.setup(app, tsa_urls, trust_roots)  # the seal desk (its lifecycle after the ledger's)
    routes_envelopes.setup(app)
    routes_seals.setup(app)  # seals, seal use, PDF validation
    routes_events.setup(app)
    routes_maps.setup(app)  # map proofs (docs/MAP.md)
    routes_packages.setup(app, tsa_urls, trust_roots)  # certification packages (§8)
    routes_admin.setup(app)
    routes_webhooks.setup(app)  # callbacks (docs/WEBHOOKS.md)
    routes_signer.setup(app, settings)  # signing links (docs/FORMAT.md, envelopes)
    routes_public.setup(app)
    routes_console.setup(app)
    web_routes.setup(app, settings.frame_ancestors)  # the portal and the console (static pages)
    return app


def serve(settings: Settings) -> None:
    """Run the service until SIGINT/SIGTERM, then shut down gracefully."""
    configure_logging(settings.log_format)
    if settings.public_url is None:
        log.warning(
            "public_url is not set: links, QR codes and package manifests point at %s, "
            "the local listen address (set public_url behind a reverse proxy)",
            local_url(settings),
        )
    if settings.trusted_proxies:
        log.info(
            "client addresses from %s when the peer is one of %s",
            settings.proxy_header,
            ", ".join(settings.trusted_proxies),
        )
    host, port = listen_address(settings)
    try:
        _run(settings, host, port)
    except OSError as e:
        raise ConfigError(f"cannot listen on {settings.listen}: {e.strerror or e}") from None


#: The collector's thresholds while serving (CPython's defaults: 700, 10, 10): a request makes
#: many short-lived objects, few of them in cycles, so collect the young generation less often.
GC_THRESHOLDS = (10_000, 50, 100)


def tune_gc() -> None:
    """Once started: collect, move every object made so far (modules, the app, its routes and
    services) into the permanent generation, out of the collector's scans, and raise the
    thresholds. Memory held in cycles is still reclaimed, just in larger, rarer collections."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _run(settings: Settings, host: str, port: int) -> None:
    """``web.run_app`` with :class:`~sealtrail.api.guards.GuardedRunner`: serve until SIGINT or
    SIGTERM, then stop accepting, let in-flight requests finish (30 s) and run the cleanups."""
    runner = GuardedRunner(
        create_app(settings),
        read_limits(settings),
        handle_signals=True,  # SIGINT/SIGTERM raise GracefulExit out of the loop
        shutdown_timeout=30,
        access_log=None,
    )
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, host, port)
        loop.run_until_complete(site.start())
        tune_gc()
        log.info("======== Running on %s ========", site.name)
        loop.run_forever()
    except (web.GracefulExit, KeyboardInterrupt):
        pass
    finally:
        loop.run_until_complete(runner.cleanup())
        leftover = asyncio.all_tasks(loop)
        for task in leftover:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*leftover, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
