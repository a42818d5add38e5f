"""The OpenAPI 3.1 description of every route (served at /v1/openapi.json), assembled from the
fragments that live beside their routes (``routes_*_openapi.py``, and the console's in
:mod:`sealtrail.api.routes_console`); shared builders in :mod:`sealtrail.api.openapi_kit`.

Written by hand next to the routes and checked against the running service by schemathesis in
the test suite: every documented status, content type and body shape is what the service sends.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from sealtrail import __version__
from sealtrail.api import (
    routes_admin_openapi,
    routes_console,
    routes_envelopes_openapi,
    routes_events_openapi,
    routes_maps_openapi,
    routes_packages_openapi,
    routes_public_openapi,
    routes_seals_openapi,
    routes_webhooks_openapi,
)
from sealtrail.api.openapi_kit import PROBLEM

Fragment = tuple[Callable[[], dict[str, Any]], Callable[[], dict[str, Any]]]

#: (paths, schemas) of each route group, in the order the document lists them
FRAGMENTS: tuple[Fragment, ...] = (
    (routes_events_openapi.paths, routes_events_openapi.schemas),
    (routes_maps_openapi.paths, routes_maps_openapi.schemas),
    (routes_packages_openapi.paths, routes_packages_openapi.schemas),
    (routes_public_openapi.paths, routes_public_openapi.schemas),
    (routes_admin_openapi.paths, routes_admin_openapi.schemas),
    (routes_public_openapi.operations_paths, routes_public_openapi.no_schemas),
    (routes_seals_openapi.paths, routes_seals_openapi.schemas),
    (routes_envelopes_openapi.paths, routes_envelopes_openapi.schemas),
    (routes_console.openapi_paths, routes_console.openapi_schemas),
    (routes_webhooks_openapi.paths, routes_webhooks_openapi.schemas),
)


@cache
def spec() -> dict[str, Any]:
    """The OpenAPI document."""
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {"Problem": PROBLEM}
    for fragment_paths, fragment_schemas in FRAGMENTS:
        for table, part in ((paths, fragment_paths()), (schemas, fragment_schemas())):
            clash = set(table) & set(part)
            if clash:
                raise ValueError(f"OpenAPI fragments both define {sorted(clash)}")
            table.update(part)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Sealtrail",
            "version": __version__,
            "description": "Tamper-evident evidence ledger. Formats: docs/FORMAT.md.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
