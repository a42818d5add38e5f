"""Settings: one frozen object, loaded once, from defaults < TOML file < ``SEALTRAIL_*`` < flags.

This is the only module that reads ``os.environ``. Unknown keys in the TOML file and unknown
``SEALTRAIL_*`` variables are errors (a typo must not silently fall back to a default).
``SEALTRAIL_TEST_*`` variables belong to the test suite and are ignored here.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sealtrail.core.errors import ConfigError

ENV_PREFIX = "SEALTRAIL_"


@dataclass(frozen=True)
class Settings:
    """Every setting Sealtrail reads. See docs/OPERATIONS.md for the reference."""

    #: where the ledger database and keys live
    data_dir: Path = Path("data")
    #: the database: ``sqlite:///PATH`` or ``mongodb://…`` / ``mongodb+srv://…`` (a replica
    #: set); unset: SQLite at DATA_DIR/ledger.db. Its password is never shown.
    db_url: str | None = field(default=None, repr=False)
    #: seconds a writer waits for another process's write lock before giving up
    busy_timeout: float = 10.0
    #: seconds the sequencer lease lasts unless renewed (renewed every third of it); another
    #: process takes the sequencer over this long after its holder died
    lease_ttl: float = 10.0
    #: "HOST:PORT" the HTTP service listens on
    listen: str = "127.0.0.1:8080"
    #: seal a checkpoint every this many seconds (when the log grew) …
    checkpoint_interval: float = 10.0
    #: … or as soon as this many events are not yet in a checkpoint, whichever comes first
    checkpoint_size: int = 10_000
    #: most events in one POST /v1/events/batch
    max_batch: int = 1000
    #: largest request body in bytes
    max_body_bytes: int = 8 * 1024 * 1024
    #: requests per minute one client address may make to /v1/public/*
    public_rate_limit: int = 120
    #: RFC 3161 TSAs, tried in order; empty: the built-in development TSA at /devtsa/
    tsa_urls: tuple[str, ...] = ()
    #: PEM files of the roots TSA certificates must chain to (required with tsa_urls)
    tsa_ca_files: tuple[Path, ...] = ()
    #: renew a timestamp chain (checkpoint tokens, envelopes' B-LTA PDFs) this many days before
    #: its last TSA certificate expires (docs/OPERATIONS.md, "Renewing timestamps")
    renewal_margin_days: int = 90
    #: hash algorithms no longer trusted: a chain whose last token uses one is renewed now
    deprecated_hash_algorithms: tuple[str, ...] = ()
    #: look for due renewals every this many seconds (on the sequencer lease's holder)
    renewal_interval: float = 3600.0
    #: EVM JSON-RPC endpoint to anchor checkpoints on; unset: anchoring is off
    chain_rpc_url: str | None = None
    #: the anchorer's private key, 0x + 64 hex digits (or use chain_key_file); never logged
    chain_key: str | None = field(default=None, repr=False)
    #: a file holding that key (one line), readable only by the service's user
    chain_key_file: Path | None = None
    #: blocks (the anchor's own included) after which an anchor is final
    chain_confirmations: int = 12
    #: the SealtrailAnchor contract; unset: the one `sealtrail contract deploy` remembered
    chain_contract: str | None = None
    #: the chain id the node must serve (unset: the deployment's, else any)
    chain_id: int | None = None
    #: seconds between anchoring rounds (receipts, confirmations, the next checkpoint)
    chain_poll_interval: float = 1.0
    #: seconds an anchoring transaction may stay pending before it is re-sent with higher fees
    chain_replace_after: float = 120.0
    #: master key encrypting seal private keys at rest: 64 hex digits (or use seal_key_file);
    #: neither set: DATA_DIR/seal.key is created (mode 0600) on first use. Never logged.
    seal_key: str | None = field(default=None, repr=False)
    #: a file holding that key (64 hex digits, one line), readable only by the service's user
    seal_key_file: Path | None = None
    #: largest PDF accepted for sealing, envelopes and validation (bytes)
    max_pdf_bytes: int = 8 * 1024 * 1024
    #: PEM files of the certification authorities an imported (PKCS#12) seal certificate of
    #: any tenant may chain to; with seal_ca_dir, the operator's trust list (docs/OPERATIONS.md)
    seal_ca_files: tuple[Path, ...] = ()
    #: a directory of such PEM files (``*.pem``, ``*.crt``), read at start
    seal_ca_dir: Path | None = None
    #: a directory with one subdirectory per tenant (``DIR/<tenant>/*.pem``): CAs a tenant
    #: brings for its own seals only, never trusted for another tenant's
    seal_tenant_ca_dir: Path | None = None
    #: tenants allowed to import seal certificates that chain to no configured CA
    #: ("self-declared" seals, e.g. self-signed); they are always reported as untrusted
    self_declared_seal_tenants: tuple[str, ...] = ()
    #: uploads per minute one client address may validate at /v1/public/pdf/validate
    public_pdf_rate_limit: int = 10
    #: seconds a client has to send a request's headers (from its first byte, or from
    #: connecting) before it is answered 408 and disconnected
    header_timeout: float = 5.0
    #: seconds a declared request body has to arrive in full after its headers (else 408)
    body_timeout: float = 60.0
    #: seconds a kept-alive connection may wait idle between requests before it is closed
    keepalive_timeout: float = 15.0
    #: most connections that may wait idle; beyond it, the longest idle is closed
    max_idle_connections: int = 256
    # -- e-mail (signing links and one-time codes; sealtrail/api/mail.py)
    #: ``smtp://[user:password@]host[:port]``, ``smtp+starttls://…`` or ``smtps://…``; unset:
    #: mails (codes included) go to the service log, for development only. Never logged.
    smtp_url: str | None = field(default=None, repr=False)
    #: the From address of those mails
    smtp_from: str = "sealtrail@localhost"
    #: seconds a signing link's token stays valid at most (the envelope's deadline may end it
    #: earlier)
    signing_link_ttl: float = 30 * 86400.0
    # -- how times and words are shown (stored times stay UTC): report.pdf, the console
    #: IANA time zone of the deployment, e.g. Asia/Shanghai (the offset is always printed)
    timezone: str = "Asia/Shanghai"
    #: per-tenant time zones: a TOML table {tenant = "Zone"} or "tenant=Zone,…"
    tenant_timezones: tuple[tuple[str, str], ...] = ()
    #: the report's language: zh-CN, en or both (each label in Chinese then English)
    report_language: str = "both"
    #: per-tenant report languages: a TOML table {tenant = "zh-CN"} or "tenant=en,…"
    tenant_report_languages: tuple[tuple[str, str], ...] = ()

    # -- behind a reverse proxy (docs/OPERATIONS.md §13); keep this block contiguous --------
    #: the base URL visitors reach the service at (``https://evidence.example.com``): links,
    #: QR codes and package manifests use it; unset: the local listen address, with a warning
    public_url: str | None = None
    #: addresses or CIDR networks of the reverse proxies whose forwarding header is believed
    trusted_proxies: tuple[str, ...] = ()
    #: which header those proxies set: ``x-forwarded-for`` or ``forwarded`` (RFC 7239)
    proxy_header: str = "x-forwarded-for"
    #: web origins (``https://oa.example.com``) whose pages may call the API (CORS)
    cors_origins: tuple[str, ...] = ()
    #: origins (or ``'self'``) whose pages may embed the portal and console (CSP frame-ancestors)
    frame_ancestors: tuple[str, ...] = ()
    #: ``text`` or ``json`` (one JSON object a line) for the service's log and access log
    log_format: str = "text"

    #: callback hosts (or host:port) allowed although they resolve to loopback, private or
    #: link-local addresses (development and tests; docs/WEBHOOKS.md)
    callback_allow_hosts: tuple[str, ...] = ()
    #: seconds a callback receiver has to answer (connect, send, read)
    callback_timeout: float = 10.0
    #: first retry delay in seconds; doubled after each failure (with jitter) up to …
    callback_retry_base: float = 5.0
    #: … this many seconds between attempts
    callback_retry_max: float = 3600.0
    #: seconds a delivery is retried before it is dead-lettered (at least a day by default)
    callback_retry_window: float = 90_000.0
    #: seconds between the delivery worker's rounds
    callback_poll_interval: float = 1.0
    #: seconds a ledger event's callback waits for a checkpoint (so that it carries its proof)
    callback_seal_wait: float = 60.0
    #: seconds the old secret keeps signing after a rotation
    callback_secret_overlap: float = 86_400.0


def _timezone(v: Any) -> str:
    s = str(v).strip()
    try:
        ZoneInfo(s)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{s}: want an IANA time zone such as Asia/Shanghai") from None
    return s


def _language(v: Any) -> str:
    s = str(v).strip()
    if s not in ("zh-CN", "en", "both"):
        raise ValueError("want zh-CN, en or both")
    return s


def _per_tenant(value: Callable[[Any], str]) -> Callable[[Any], tuple[tuple[str, str], ...]]:
    def parse(v: Any) -> tuple[tuple[str, str], ...]:
        if isinstance(v, dict):
            items = [(str(k), x) for k, x in v.items()]
        else:
            items = []
            for part in str(v).split(","):
                if part.strip():
                    k, sep, x = part.partition("=")
                    if not sep or not k.strip():
                        raise ValueError(f"{part.strip()!r}: want tenant=value")
                    items.append((k.strip(), x))
        return tuple(sorted((k, value(x)) for k, x in items))

    return parse


def _listen(v: Any) -> str:
    s = str(v)
    m = re.fullmatch(r"(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})", s)
    if not m or not 0 < int(m.group(2)) < 65536:
        raise ValueError(s)
    return s


def _db_url(v: Any) -> str:
    s = str(v).strip()
    if s.startswith("sqlite:///") and len(s) > len("sqlite:///"):
        return s
    if re.fullmatch(r"mongodb(\+srv)?://\S+", s):
        return s
    raise ValueError("want sqlite:///PATH, mongodb://… or mongodb+srv://…")


def _list(item: Callable[[str], Any]) -> Callable[[Any], tuple[Any, ...]]:
    def parse(v: Any) -> tuple[Any, ...]:
        items = v if isinstance(v, list) else str(v).split(",")
        return tuple(item(str(x).strip()) for x in items if str(x).strip())

    return parse


def _private_key(v: Any) -> str:
    s = str(v).strip()
    if not re.fullmatch(r"(0x)?[0-9a-fA-F]{64}", s):
        raise ValueError("want 0x and 64 hex digits")
    return s if s.startswith("0x") else "0x" + s


def _hex_key(v: Any) -> str:
    s = str(v).strip()
    if not re.fullmatch(r"[0-9a-fA-F]{64}", s):
        raise ValueError("want 64 hex digits")
    return s.lower()


def _address(v: Any) -> str:
    s = str(v)
    if not re.fullmatch(r"0x[0-9a-fA-F]{40}", s):
        raise ValueError(s)
    return s


def _url(v: str) -> str:
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", v):
        raise ValueError(v)
    return v


_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = rf"(\[[0-9a-fA-F:.]+\]|{_LABEL}(\.{_LABEL})*)"
_PORT = r"(:(\d{1,5}))?"


def _port_ok(port: str | None) -> bool:
    return port is None or 0 < int(port) < 65536


def _public_url(v: Any) -> str:
    """An absolute http(s) URL with no user, query or fragment; stored without a final ``/``."""
    s = str(v).strip()
    m = re.fullmatch(rf"(https?)://{_HOST}{_PORT}(/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?", s, re.I)
    if not m or not _port_ok(m.group(7)):
        raise ValueError(s)
    return s.rstrip("/")


def _smtp_url(v: Any) -> str:
    """``smtp://``, ``smtp+starttls://`` or ``smtps://`` with a host (credentials allowed)."""
    s = str(v).strip()
    if not re.fullmatch(r"(smtp|smtp\+starttls|smtps)://([^@/\s]+@)?[A-Za-z0-9.\[\]:-]+/?", s):
        raise ValueError("want smtp://, smtp+starttls:// or smtps://[user:password@]host[:port]")
    return s


def _mail_address(v: Any) -> str:
    s = str(v).strip()
    if not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+", s) or len(s) > 254:
        raise ValueError(s)
    return s


def _origin(v: str) -> str:
    """A web origin ``scheme://host[:port]``, lower-cased (as browsers send ``Origin``)."""
    m = re.fullmatch(rf"(https?)://{_HOST}{_PORT}/?", v, re.I)
    if not m or not _port_ok(m.group(7)):
        raise ValueError(v)
    return v.rstrip("/").lower()


def _frame_ancestor(v: str) -> str:
    """A CSP host-source for frame-ancestors: ``'self'`` or an origin, ``*.`` allowed first."""
    if v.lower() in ("'self'", "self"):
        return "'self'"
    m = re.fullmatch(r"(https?://)\*\.(.+)", v, re.I)
    if m:
        return m.group(1).lower() + "*." + _origin(m.group(1) + m.group(2)).split("://", 1)[1]
    return _origin(v)


def _network(v: str) -> str:
    """An IP address or CIDR network (host bits must be zero), normalised."""
    return str(ipaddress.ip_network(v, strict=True))


def _choice(*allowed: str) -> Callable[[Any], str]:
    def parse(v: Any) -> str:
        s = str(v).strip().lower()
        if s not in allowed:
            raise ValueError(f"want one of {', '.join(allowed)}")
        return s

    return parse


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "tsa_urls": _list(_url),
    "tsa_ca_files": _list(Path),
    "renewal_margin_days": int,
    "deprecated_hash_algorithms": _list(
        _choice("md5", "sha1", "sha224", "sha256", "sha384", "sha512")
    ),
    "renewal_interval": float,
    "data_dir": Path,
    "db_url": _db_url,
    "busy_timeout": float,
    "lease_ttl": float,
    "listen": _listen,
    "checkpoint_interval": float,
    "checkpoint_size": int,
    "max_batch": int,
    "max_body_bytes": int,
    "public_rate_limit": int,
    "chain_rpc_url": lambda v: _url(str(v)),
    "chain_key": _private_key,
    "chain_key_file": Path,
    "chain_confirmations": int,
    "chain_contract": _address,
    "chain_id": int,
    "chain_poll_interval": float,
    "chain_replace_after": float,
    "seal_key": _hex_key,
    "seal_key_file": Path,
    "max_pdf_bytes": int,
    "seal_ca_files": _list(Path),
    "seal_ca_dir": Path,
    "seal_tenant_ca_dir": Path,
    "self_declared_seal_tenants": _list(str),
    "public_pdf_rate_limit": int,
    "header_timeout": float,
    "body_timeout": float,
    "keepalive_timeout": float,
    "max_idle_connections": int,
    "timezone": _timezone,
    "tenant_timezones": _per_tenant(_timezone),
    "report_language": _language,
    "tenant_report_languages": _per_tenant(_language),
    "public_url": _public_url,
    "smtp_url": _smtp_url,
    "smtp_from": _mail_address,
    "signing_link_ttl": float,
    "trusted_proxies": _list(_network),
    "proxy_header": _choice("x-forwarded-for", "forwarded"),
    "cors_origins": _list(_origin),
    "frame_ancestors": _list(_frame_ancestor),
    "log_format": _choice("text", "json"),
    "callback_allow_hosts": _list(lambda h: h.lower()),
    "callback_timeout": float,
    "callback_retry_base": float,
    "callback_retry_max": float,
    "callback_retry_window": float,
    "callback_poll_interval": float,
    "callback_seal_wait": float,
    "callback_secret_overlap": float,
}
#: never echoed in an error message
_SECRETS = {"chain_key", "seal_key", "db_url", "smtp_url"}
_CHECKS: dict[str, Callable[[Any], bool]] = {
    "busy_timeout": lambda v: 0 <= v <= 3600,
    "lease_ttl": lambda v: 1 <= v <= 3600,
    "checkpoint_interval": lambda v: 0.1 <= v <= 86400,
    "renewal_margin_days": lambda v: 1 <= v <= 3650,
    "renewal_interval": lambda v: 1 <= v <= 30 * 86400,
    "checkpoint_size": lambda v: 1 <= v <= 10_000_000,
    "max_batch": lambda v: 1 <= v <= 100_000,
    "max_body_bytes": lambda v: 1024 <= v <= 1 << 30,
    "public_rate_limit": lambda v: 1 <= v <= 1_000_000,
    "chain_confirmations": lambda v: 1 <= v <= 10_000,
    "chain_id": lambda v: 1 <= v < 2**64,
    "chain_poll_interval": lambda v: 0.05 <= v <= 3600,
    "chain_replace_after": lambda v: 1 <= v <= 86400,
    "max_pdf_bytes": lambda v: 1024 <= v <= 1 << 30,
    "public_pdf_rate_limit": lambda v: 1 <= v <= 1_000_000,
    "signing_link_ttl": lambda v: 60 <= v <= 400 * 86400,
    "header_timeout": lambda v: 0.1 <= v <= 3600,
    "body_timeout": lambda v: 0.1 <= v <= 86400,
    "keepalive_timeout": lambda v: 0.1 <= v <= 3600,
    "max_idle_connections": lambda v: 1 <= v <= 1_000_000,
    "callback_timeout": lambda v: 0.1 <= v <= 300,
    "callback_retry_base": lambda v: 0.01 <= v <= 86400,
    "callback_retry_max": lambda v: 0.01 <= v <= 86400,
    "callback_retry_window": lambda v: 0.1 <= v <= 30 * 86400,
    "callback_poll_interval": lambda v: 0.01 <= v <= 3600,
    "callback_seal_wait": lambda v: 0 <= v <= 86400,
    "callback_secret_overlap": lambda v: 0 <= v <= 30 * 86400,
}
#: settings whose parse error says what is wanted
_EXPLAINED = ("proxy_header", "log_format")
_NAMES = {f.name for f in fields(Settings)}


def _coerce(key: str, value: Any, source: str) -> Any:
    shown = "(hidden)" if key in _SECRETS else repr(value)
    if isinstance(value, bool):
        raise ConfigError(f"{source}: {key} = {shown} is not a valid value")
    try:
        v = _PARSERS[key](value)
    except (TypeError, ValueError) as e:
        explained = ("db_url", "chain_key", "seal_key", "smtp_url", *_EXPLAINED)
        why = f" ({e})" if key in explained else ""
        raise ConfigError(f"{source}: {key} = {shown} is not a valid value{why}") from None
    check = _CHECKS.get(key)
    if check is not None and not check(v):
        raise ConfigError(f"{source}: {key} = {shown} is out of range")
    return v


def load(
    config_file: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Load settings. ``config_file`` defaults to ``$SEALTRAIL_CONFIG`` when set."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    path = config_file or (Path(env["SEALTRAIL_CONFIG"]) if env.get("SEALTRAIL_CONFIG") else None)
    if path is not None:
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"config file {path}: {e}") from None
        for key, value in data.items():
            if key not in _NAMES:
                raise ConfigError(
                    f"config file {path}: unknown setting {key!r} "
                    f"(known: {', '.join(sorted(_NAMES))})"
                )
            values[key] = _coerce(key, value, str(path))
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name.startswith("SEALTRAIL_TEST_"):
            continue
        if name == "SEALTRAIL_CONFIG":
            continue
        key = name[len(ENV_PREFIX) :].lower()
        if key not in _NAMES:
            raise ConfigError(f"unknown environment variable {name}")
        values[key] = _coerce(key, value, name)
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = _coerce(key, value, f"--{key.replace('_', '-')}")
    s = replace(Settings(), **values)
    if s.tsa_urls and not s.tsa_ca_files:
        raise ConfigError("tsa_urls is set: set tsa_ca_files to the PEM roots of those TSAs")
    if s.chain_key is not None and s.chain_key_file is not None:
        raise ConfigError("set chain_key or chain_key_file, not both")
    if s.seal_key is not None and s.seal_key_file is not None:
        raise ConfigError("set seal_key or seal_key_file, not both")
    return s


def names_data_dir(
    config_file: Path | None = None, *, environ: Mapping[str, str] | None = None
) -> bool:
    """True when the settings name a data directory explicitly: ``SEALTRAIL_DATA_DIR``, or
    ``data_dir`` in the settings file (``config_file`` or ``$SEALTRAIL_CONFIG``); False when
    ``data_dir`` is the default. Call after :func:`load` succeeded (the file is valid)."""
    env = os.environ if environ is None else environ
    if env.get("SEALTRAIL_DATA_DIR"):
        return True
    path = config_file or (Path(env["SEALTRAIL_CONFIG"]) if env.get("SEALTRAIL_CONFIG") else None)
    if path is None:
        return False
    try:
        return "data_dir" in tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return False


def chain_key(s: Settings) -> str | None:
    """The anchorer's private key from ``chain_key`` or ``chain_key_file`` (None if neither)."""
    if s.chain_key is not None:
        return s.chain_key
    if s.chain_key_file is None:
        return None
    try:
        text = s.chain_key_file.read_text().strip()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read chain_key_file {s.chain_key_file}: {e}") from None
    return str(_coerce("chain_key", text, str(s.chain_key_file)))


def timezone_for(s: Settings, tenant: str | None) -> str:
    """The time zone to show ``tenant``'s times in: its own, else the deployment's."""
    return dict(s.tenant_timezones).get(tenant or "", s.timezone)


def report_language_for(s: Settings, tenant: str | None) -> str:
    """The report language for ``tenant``: its own, else the deployment's."""
    return dict(s.tenant_report_languages).get(tenant or "", s.report_language)


def database_path(s: Settings) -> Path:
    """Where the SQLite ledger lives (meaningless when ``db_url`` names MongoDB)."""
    if s.db_url is not None and s.db_url.startswith("sqlite:///"):
        return Path(s.db_url[len("sqlite:///") :])
    return s.data_dir / "ledger.db"


def mongodb_url(s: Settings) -> str | None:
    """The MongoDB URL when ``db_url`` names one, else None (SQLite)."""
    if s.db_url is not None and s.db_url.startswith("mongodb"):
        return s.db_url
    return None


def local_url(s: Settings) -> str:
    """The service's own base URL as seen from this machine."""
    host, port = listen_address(s)
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - reading, not binding
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def public_url(s: Settings) -> str:
    """The base URL links and QR codes point at: ``public_url``, else :func:`local_url`."""
    return s.public_url if s.public_url is not None else local_url(s)


def listen_address(s: Settings) -> tuple[str, int]:
    """(host, port) from ``listen``."""
    host, _, port = s.listen.rpartition(":")
    return host.strip("[]"), int(port)


def check_db_url(value: str, source: str) -> str:
    """``value`` checked as a ``db_url`` (ConfigError naming ``source`` if it is not one)."""
    return str(_coerce("db_url", value, source))
