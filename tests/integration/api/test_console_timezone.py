"""The console's time zone over HTTP: /v1/console/whoami names the key's tenant's zone
(``timezone``, overridden per tenant by ``tenant_timezones``), and /v1/console/timeline's days
are local days of that zone. Which local day a given UTC time falls in, across daylight-saving
changes, is tested on every backend in tests/unit/ledger/test_store_contract.py."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from ..conftest import StartService
from .client import Api, event

#: +14:00: its date is ahead of UTC's from 10:00 UTC, so the test sees a local "today" that
#: is not the UTC one for most of the day
KIRITIMATI = "Pacific/Kiritimati"


def _today(zone: str) -> set[date]:
    # the dates a request made around now may take as today (a test may straddle midnight)
    now = datetime.now(UTC)
    return {(now + timedelta(seconds=s)).astimezone(ZoneInfo(zone)).date() for s in (-5, 60)}


def test_whoami_and_timeline_use_the_tenants_zone(start_service: StartService) -> None:
    svc = start_service(tenant_timezones=f"hq={KIRITIMATI},sub1=America/New_York")
    api = Api(svc)
    api.append_batch([event(i) for i in range(3)], key="int_sub1")

    assert api.get("/v1/console/whoami", key="aud_hq").json()["timezone"] == KIRITIMATI
    assert api.get("/v1/console/whoami", key="aud_sub1").json()["timezone"] == "America/New_York"
    # no override: the deployment's default
    assert api.get("/v1/console/whoami", key="aud_other").json()["timezone"] == "Asia/Shanghai"

    for key, zone in (("aud_hq", KIRITIMATI), ("aud_sub1", "America/New_York")):
        r = api.get("/v1/console/timeline", key=key, params={"days": "3"})
        assert r.status == 200, r
        tl = r.json()
        assert tl["timezone"] == zone
        assert date.fromisoformat(tl["to"]) in _today(zone), (zone, tl["to"])
        assert [d["day"] for d in tl["days"]] == [
            (date.fromisoformat(tl["to"]) - timedelta(days=2 - i)).isoformat() for i in range(3)
        ]
        assert tl["total"] == 3
        # the events were appended just now: they are in the local today
        assert tl["days"][-1]["total"] == 3, tl


def test_the_default_zone_is_asia_shanghai(start_service: StartService) -> None:
    api = Api(start_service())
    tl = api.get("/v1/console/timeline", key="aud_hq", params={"days": "1"}).json()
    assert tl["timezone"] == "Asia/Shanghai"
    assert date.fromisoformat(tl["to"]) in _today("Asia/Shanghai")
    assert tl["from"] == tl["to"]
