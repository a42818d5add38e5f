"""AsyncClient's subscription methods against a live service (create, list, delete, rotate,
deliveries, replay), mirroring Client's."""

from __future__ import annotations

import asyncio

import pytest
from standardwebhooks import Webhook

from sealtrail.sdk import ApiError, AsyncClient

from ..api.client import Api, event
from ..service import Service
from .receiver import Receiver
from .test_webhooks import svc, tenant_admin, wait_acked

__all__ = ["svc"]


def test_async_client_manages_subscriptions(svc: Service, receiver: Receiver) -> None:
    api = Api(svc)
    admin = tenant_admin(api)

    async def scenario() -> None:
        async with AsyncClient(svc.url, admin) as c:
            hook = await c.create_webhook(receiver.url, ["sign"], receipts=True)
            assert hook["secret"].startswith("whsec_")
            assert hook["receipts"] is True
            assert [h["id"] for h in await c.webhooks()] == [hook["id"]]
            assert all("secret" not in h for h in await c.webhooks())
            api.append(event(1), key="int_sub1")
            (first,) = await asyncio.to_thread(wait_acked, receiver, 1)
            Webhook(hook["secret"]).verify(first.body, first.headers)
            log = [d async for d in c.webhook_deliveries(hook["id"], page_size=1)]
            assert [d["id"] for d in log] == [first.headers["webhook-id"]]
            assert log[0]["status"] == "delivered"
            rotated = await c.rotate_webhook_secret(hook["id"])
            assert rotated["secret"] != hook["secret"]
            assert rotated["previous_secret_valid_until"]
            (again,) = await c.replay_webhook(hook["id"], delivery_id=log[0]["id"])
            calls = await asyncio.to_thread(wait_acked, receiver, 2)
            assert calls[1].headers["webhook-id"] == again
            Webhook(rotated["secret"]).verify(calls[1].body, calls[1].headers)
            Webhook(hook["secret"]).verify(calls[1].body, calls[1].headers)  # the overlap
            ranged = await c.replay_webhook(
                hook["id"], since="2000-01-01T00:00:00Z", until="2100-01-01T00:00:00Z"
            )
            assert len(ranged) == 1  # the original, not the replay
            log = [d async for d in c.webhook_deliveries(hook["id"], page_size=2)]
            assert [d["replay_of"] for d in log] == [None, log[0]["id"], log[0]["id"]]
            await c.delete_webhook(hook["id"])
            assert await c.webhooks() == []
            with pytest.raises(ApiError) as e:
                await c.delete_webhook(hook["id"])
            assert e.value.status == 404
        async with AsyncClient(svc.url, svc.keys["int_sub1"]) as c:  # not an admin key
            with pytest.raises(ApiError) as e:
                await c.webhooks()
            assert e.value.status == 403

    asyncio.run(scenario())
