"""Signed callbacks (webhooks): subscriptions, the durable delivery outbox, Standard Webhooks
signatures and the checks a subscription URL must pass (docs/WEBHOOKS.md).

The delivery worker and the payloads (which carry proofs built by the API's serialisers) live at
the edge, in :mod:`sealtrail.api.webhooks`.
"""
