"""The edge: the aiohttp service (app factory, routes with their OpenAPI fragments, auth,
problem+json), the runtime that runs checkpointing, timestamping, anchoring and metrics, the
settings, the one table mapping error codes to HTTP statuses and exit codes, and the
``sealtrail`` command line (``api.cli``). It may import every package; none imports it.

Importing this package loads nothing heavy, so the light ``sealtrail verify`` command of the
base install can live under it.
"""
