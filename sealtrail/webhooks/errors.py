"""Errors of the callbacks (webhooks) domain, in the project's one hierarchy."""

from __future__ import annotations

from sealtrail.core.errors import ConfigError, InvalidInputError


class CallbackUrlRefusedError(InvalidInputError):
    """A subscription URL that resolves to a loopback, link-local, private, multicast or
    metadata address (and is not in ``callback_allow_hosts``), or that cannot be resolved."""

    code = "callback_url_refused"


class WebhooksUnavailableError(ConfigError):
    """This backend does not store callbacks (MongoDB, for now)."""

    code = "webhooks_unavailable"
