"""The client address behind proxies, forwarding-header parsing, and the proxy settings."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from sealtrail.api import settings as settings_mod
from sealtrail.api.context import RateLimiter
from sealtrail.api.errors import RateLimitedError
from sealtrail.api.proxy import (
    ClientAddress,
    forwarded_for,
    parse_address,
    rate_key,
    request_id,
)
from sealtrail.core.errors import ConfigError

XFF = ClientAddress.of(["10.0.0.0/8", "192.0.2.7"], "x-forwarded-for")
FWD = ClientAddress.of(["10.0.0.0/8"], "forwarded")


def xff(*lines: str) -> CIMultiDict[str]:
    return CIMultiDict([("X-Forwarded-For", line) for line in lines])


def fwd(*lines: str) -> CIMultiDict[str]:
    return CIMultiDict([("Forwarded", line) for line in lines])


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("203.0.113.9", "203.0.113.9"),
        (" 203.0.113.9 ", "203.0.113.9"),
        ("203.0.113.9:4711", "203.0.113.9"),
        ("2001:db8::1", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("[2001:db8::1]:4711", "2001:db8::1"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("unknown", None),
        ("_hidden", None),
        ("", None),
        ("203.0.113.999", None),
        ("203.0.113.9:99999999", None),
        ("example.com", None),
        ("1" * 100, None),
        ("[2001:db8::1", None),
    ],
)
def test_parse_address(text: str, want: str | None) -> None:
    got = parse_address(text)
    assert (str(got) if got is not None else None) == want


def test_a_direct_client_is_never_believed() -> None:
    assert XFF.client("203.0.113.50", xff("1.2.3.4")) == "203.0.113.50"
    assert FWD.client("203.0.113.50", fwd("for=1.2.3.4")) == "203.0.113.50"


def test_no_trusted_proxies_means_the_peer() -> None:
    assert ClientAddress().client("10.0.0.1", xff("1.2.3.4")) == "10.0.0.1"


def test_a_trusted_proxys_header_is_believed() -> None:
    assert XFF.client("10.0.0.1", xff("203.0.113.9")) == "203.0.113.9"
    assert XFF.client("192.0.2.7", xff("203.0.113.9")) == "203.0.113.9"
    assert FWD.client("10.0.0.1", fwd('for="[2001:db8::9]:4711";proto=https')) == "2001:db8::9"


def test_the_walk_skips_trusted_hops_from_the_right_and_stops_at_the_first_untrusted() -> None:
    # client forged "6.6.6.6"; the real client 203.0.113.9 reached proxy 10.1.1.1, then 10.0.0.1
    h = xff("6.6.6.6, 203.0.113.9", "10.1.1.1")
    assert XFF.client("10.0.0.1", h) == "203.0.113.9"
    h = fwd("for=6.6.6.6, for=203.0.113.9;proto=https", "for=10.1.1.1")
    assert FWD.client("10.0.0.1", h) == "203.0.113.9"


def test_a_chain_with_an_untrusted_hop_stops_there() -> None:
    # 198.51.100.1 is an untrusted proxy: whatever it says about its own client is not believed
    assert XFF.client("10.0.0.1", xff("203.0.113.9, 198.51.100.1")) == "198.51.100.1"


def test_all_hops_trusted_gives_the_leftmost() -> None:
    assert XFF.client("10.0.0.1", xff("10.2.2.2, 10.3.3.3")) == "10.2.2.2"


@pytest.mark.parametrize(
    "line", ["garbage", "203.0.113.9, garbage", "", "unknown", "203.0.113.9,, "]
)
def test_a_malformed_entry_stops_the_walk_at_the_last_trusted_hop(line: str) -> None:
    assert XFF.client("10.0.0.1", xff(line)) == "10.0.0.1"


def test_malformed_entry_behind_a_trusted_hop() -> None:
    assert XFF.client("10.0.0.1", xff("garbage, 10.5.5.5")) == "10.5.5.5"


def test_the_other_header_is_ignored() -> None:
    # nginx appends X-Forwarded-For; a Forwarded header sent by the client passes through
    both = CIMultiDict([("Forwarded", "for=6.6.6.6"), ("X-Forwarded-For", "203.0.113.9")])
    assert XFF.client("10.0.0.1", both) == "203.0.113.9"
    assert FWD.client("10.0.0.1", xff("6.6.6.6")) == "10.0.0.1"


@pytest.mark.parametrize(
    "line",
    [
        "for=1.2.3.4,",
        "for=1.2.3.4;for=5.6.7.8",
        'for="1.2.3.4',
        "for 1.2.3.4",
        "=1.2.3.4",
        "for=1.2.3.4 by=5.6.7.8",
        "",
    ],
)
def test_a_forwarded_header_that_does_not_parse_is_ignored(line: str) -> None:
    assert forwarded_for([line]) is None
    assert FWD.client("10.0.0.1", fwd(line)) == "10.0.0.1"


def test_forwarded_parsing() -> None:
    assert forwarded_for(['For="[2001:db8:cafe::17]:4711"', "for=192.0.2.60;proto=http;by=x"]) == [
        "[2001:db8:cafe::17]:4711",
        "192.0.2.60",
    ]
    assert forwarded_for(["proto=https, for=1.2.3.4"]) == ["", "1.2.3.4"]
    assert forwarded_for(['for="a\\"b"']) == ['a"b']


def test_rate_keys() -> None:
    assert rate_key("203.0.113.9") == "203.0.113.9"
    assert (
        rate_key("2001:db8:1:2:3:4:5:6")
        == rate_key("2001:db8:1:2:ffff::1")
        == ("2001:db8:1:2::/64")
    )
    assert rate_key(None) == "unknown"


def test_rate_limiter_buckets_an_ipv6_client_by_its_64() -> None:
    limiter = RateLimiter(2, clock=lambda: 0.0)
    limiter.check("2001:db8::1")
    limiter.check("2001:db8::2")
    with pytest.raises(RateLimitedError):
        limiter.check("2001:db8::3")
    limiter.check("2001:db8:0:1::1")  # another /64


def test_request_ids() -> None:
    assert request_id("abc-123_X.y:z") == "abc-123_X.y:z"
    for bad in (None, "", "a b", "x" * 129, "é", "a\nb"):
        new = request_id(bad)
        assert new != bad
        assert len(new) == 32


@pytest.mark.parametrize(
    ("value", "want"),
    [
        ("https://evidence.example.com", "https://evidence.example.com"),
        ("https://evidence.example.com/", "https://evidence.example.com"),
        ("http://127.0.0.1:8443/ledger/", "http://127.0.0.1:8443/ledger"),
        ("https://[2001:db8::1]:8443", "https://[2001:db8::1]:8443"),
    ],
)
def test_public_url_accepted(value: str, want: str) -> None:
    assert settings_mod.load(environ={"SEALTRAIL_PUBLIC_URL": value}).public_url == want


@pytest.mark.parametrize(
    "value",
    [
        "evidence.example.com",
        "ftp://evidence.example.com",
        "https://evidence.example.com/?x=1",
        "https://evidence.example.com/#top",
        "https://user:pw@evidence.example.com",
        "https://evidence.example.com:0",
        "https://evidence.example.com:70000",
        "https://",
        "https://exa mple.com",
        "/relative",
    ],
)
def test_public_url_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="public_url"):
        settings_mod.load(environ={"SEALTRAIL_PUBLIC_URL": value})


def test_proxy_settings() -> None:
    s = settings_mod.load(
        environ={
            "SEALTRAIL_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7,2001:db8::/32",
            "SEALTRAIL_CORS_ORIGINS": "https://OA.example.com, http://localhost:3000/",
            "SEALTRAIL_FRAME_ANCESTORS": "'self',https://*.example.com",
            "SEALTRAIL_LOG_FORMAT": "JSON",
            "SEALTRAIL_PROXY_HEADER": "forwarded",
        }
    )
    assert s.trusted_proxies == ("10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32")
    assert s.cors_origins == ("https://oa.example.com", "http://localhost:3000")
    assert s.frame_ancestors == ("'self'", "https://*.example.com")
    assert s.log_format == "json"
    assert s.proxy_header == "forwarded"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("TRUSTED_PROXIES", "10.0.0.1/8"),  # host bits set: a typo
        ("TRUSTED_PROXIES", "proxy.example.com"),
        ("CORS_ORIGINS", "*"),
        ("CORS_ORIGINS", "https://oa.example.com/app"),
        ("FRAME_ANCESTORS", "*"),
        ("FRAME_ANCESTORS", "https://oa.example.com; script-src *"),
        ("LOG_FORMAT", "xml"),
        ("PROXY_HEADER", "x-real-ip"),
    ],
)
def test_proxy_settings_refused(key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=key.lower()):
        settings_mod.load(environ={f"SEALTRAIL_{key}": value})


def test_public_url_falls_back_to_the_listen_address() -> None:
    s = settings_mod.load(environ={"SEALTRAIL_LISTEN": "0.0.0.0:9000"})
    assert settings_mod.public_url(s) == "http://127.0.0.1:9000"
    s = settings_mod.load(environ={"SEALTRAIL_PUBLIC_URL": "https://e.example.com/"})
    assert settings_mod.public_url(s) == "https://e.example.com"
