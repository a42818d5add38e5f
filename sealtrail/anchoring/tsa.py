"""RFC 3161 trusted time for checkpoints: a client with failover, and a full token verifier.

What is timestamped (docs/TIMESTAMPS.md §1): the message imprint is SHA-256 over the bytes
given, which for a checkpoint are its whole signed note text as stored, UTF-8 encoded.

Who does what (why, docs/TIMESTAMPS.md §4):

- requests are built with ``asn1crypto.tsp`` and POSTed with our own aiohttp session;
- :func:`verify_token` parses with asn1crypto, checks the CMS signature with pyHanko's
  ``validate_sig_integrity`` and the ESS signing-certificate attribute with pyHanko's
  ``check_ess_certid``, the extended key usage with ``cryptography``, and the path to the trust
  roots with pyhanko-certvalidator, at the token's ``genTime`` unless told another time.

Nothing here reads the clock: the validation time comes from the token or the caller.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
from asn1crypto import cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from yarl import URL

from sealtrail.anchoring.errors import TimestampError, TsaUnavailableError
from sealtrail.core.event import format_time

# re-exported: the verifier's pure half (docs/TIMESTAMPS.md §7)
from sealtrail.verifier.timestamp import (
    IMPRINT_ALGORITHM as IMPRINT_ALGORITHM,
)
from sealtrail.verifier.timestamp import SIGNER_DIGESTS as SIGNER_DIGESTS
from sealtrail.verifier.timestamp import Revocation as Revocation
from sealtrail.verifier.timestamp import TimestampInfo as TimestampInfo
from sealtrail.verifier.timestamp import (
    _crypto_cert,
    _parse_token,
    _signer_certificate,
)
from sealtrail.verifier.timestamp import (
    message_imprint as message_imprint,
)
from sealtrail.verifier.timestamp import verify_token as verify_token

log = logging.getLogger("sealtrail.tsa")

#: Largest TimeStampResp read from a TSA (a token with a 3-certificate chain is ~6 KiB).
MAX_RESPONSE_BYTES = 256 * 1024
#: Longest pause between two rounds of attempts.
MAX_BACKOFF = 30.0

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"


class TimeStampResponse(core.Sequence):  # type: ignore[misc]  # asn1crypto ships no types
    """RFC 3161 §2.4.2 ``TimeStampResp``, with the token OPTIONAL as the RFC says.

    asn1crypto 1.5.1's ``tsp.TimeStampResp`` makes the token mandatory, so it cannot read (or
    write) a rejection (github.com/wbond/asn1crypto/issues/286). Same tags, same types.
    """

    _fields = [  # noqa: RUF012  # asn1crypto's schema convention
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


@dataclass(frozen=True)
class Timestamp:
    """An RFC 3161 token over some data, as a TSA issued it and we verified it.

    ``token`` is the DER TimeStampToken (a CMS ContentInfo), byte for byte as received; the other
    fields are read from it, except ``tsa``: the URL that issued it (without credentials).
    """

    token: bytes
    gen_time: datetime
    serial: int
    tsa: str
    policy: str
    tsa_subject: str

    def to_json(self) -> dict[str, str]:
        """The checkpoint JSON member ``timestamp``: token (base64 DER), gen_time, tsa."""
        return {
            "token": base64.b64encode(self.token).decode("ascii"),
            "gen_time": format_time(self.gen_time),
            "tsa": self.tsa,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Timestamp:
        """Read :meth:`to_json` output back; ``gen_time`` must agree with the token's genTime.

        Reads only: nothing is verified. Call :func:`verify_token` for that.
        """
        if set(obj) != {"token", "gen_time", "tsa"}:
            raise TimestampError(f"timestamp members {sorted(obj)}, want gen_time, token, tsa")
        token_text, gen_time, tsa_url = obj["token"], obj["gen_time"], obj["tsa"]
        if not all(isinstance(v, str) for v in (token_text, gen_time, tsa_url)):
            raise TimestampError("timestamp members must be strings")
        try:
            token = base64.b64decode(token_text, validate=True)
        except binascii.Error as e:
            raise TimestampError(f"timestamp token is not base64: {e}") from None
        signed_data, tst_info = _parse_token(token)
        stamp = _stamp(token, tst_info, _signer_certificate(signed_data)[0], tsa_url)
        if format_time(stamp.gen_time) != gen_time:
            raise TimestampError(
                f"timestamp gen_time {gen_time} differs from the token's "
                f"{format_time(stamp.gen_time)}"
            )
        return stamp


def build_request(data: bytes, nonce: int) -> bytes:
    """A DER TimeStampReq (RFC 3161 §2.4.1) over ``data`` with ``nonce`` and ``certReq`` true.

    Requires ``0 < nonce < 2**64``.
    """
    if not 0 < nonce < 2**64:
        raise ValueError(f"nonce {nonce} out of range, want 0 < nonce < 2**64")
    req = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": IMPRINT_ALGORITHM},
                "hashed_message": message_imprint(data),
            },
            "nonce": nonce,
            "cert_req": True,
        }
    )
    return bytes(req.dump())


class _AttemptError(TimestampError):
    """One TSA's failure; ``retriable`` when asking it again later may help."""

    def __init__(self, reason: str, *, retriable: bool) -> None:
        super().__init__(reason)
        self.retriable = retriable


# PKIFailureInfo bits (RFC 3161 §2.4.2) that mean "try again later" rather than "never".
_TRANSIENT_FAILURES = frozenset({"time_not_available", "system_failure"})


def token_from_response(response_der: bytes) -> bytes:
    """The DER TimeStampToken in a DER TimeStampResp whose status grants it (RFC 3161 §2.4.2).

    Raises :class:`TimestampError` with the TSA's status, statusString and failInfo otherwise.
    The token is returned byte for byte; it is not verified here.
    """
    try:
        resp = TimeStampResponse.load(response_der, strict=True)
        status_info = resp["status"]
        status = status_info["status"].native
        texts = status_info["status_string"].native or []
        fail_info = sorted(status_info["fail_info"].native or [])
        token = resp["time_stamp_token"]
        token_der = None if isinstance(token, core.Void) else bytes(token.dump())
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as e:
        raise _AttemptError(f"not a DER TimeStampResp: {e}", retriable=True) from None
    if status not in ("granted", "granted_with_mods"):
        detail = "; ".join(texts) or "no statusString"
        transient = status == "waiting" or bool(_TRANSIENT_FAILURES & set(fail_info))
        raise _AttemptError(
            f"TSA answered status {status} (failInfo {', '.join(fail_info) or 'none'}): {detail}",
            retriable=transient,
        )
    if token_der is None:
        raise _AttemptError(f"TSA answered status {status} but sent no token", retriable=True)
    return token_der


# -- reading tokens (verification: tsa_verify) -----------------------------------------------


def _stamp(
    token: bytes, tst_info: tsp.TSTInfo, signer: asn1_x509.Certificate, tsa: str
) -> Timestamp:
    return Timestamp(
        token=token,
        gen_time=tst_info["gen_time"].native,
        serial=tst_info["serial_number"].native,
        tsa=tsa,
        policy=tst_info["policy"].dotted,
        tsa_subject=_crypto_cert(signer).subject.rfc4514_string(),
    )


# -- the client ----------------------------------------------------------------------------------


def redact_url(url: str) -> str:
    """``url`` without user name and password, fit for logs, errors and the checkpoint JSON."""
    return str(URL(url).with_user(None))


def _random_nonce() -> int:
    return secrets.randbits(64) or 1


async def _read_limited(response: aiohttp.ClientResponse, limit: int) -> bytes:
    if response.content_length is not None and response.content_length > limit:
        raise _AttemptError(f"response of {response.content_length} bytes", retriable=True)
    body = bytearray()
    async for chunk in response.content.iter_chunked(65536):
        body += chunk
        if len(body) > limit:
            raise _AttemptError(f"response larger than {limit} bytes", retriable=True)
    return bytes(body)


class TimestampClient:
    """Gets verified RFC 3161 tokens from a list of TSAs, failing over and retrying.

    One call to :meth:`timestamp` makes up to ``retries + 1`` rounds; a round asks each TSA in
    ``urls`` order until one returns a token that passes :func:`verify_token` against
    ``trust_roots``. Between rounds it sleeps ``backoff``, doubling each time (at most
    :data:`MAX_BACKOFF`). A TSA that cannot help on a later round (a token that does not verify,
    a definitive rejection, HTTP 4xx) is not asked again in that call. Each request waits at most
    ``timeout`` seconds. Redirects are not followed: configure the final URL.

    ``session``: an aiohttp session to reuse (the caller closes it); by default each call opens
    and closes its own. ``nonce``: source of request nonces (default: 64 random bits).
    """

    def __init__(
        self,
        urls: Sequence[str],
        trust_roots: Sequence[x509.Certificate],
        *,
        timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.5,
        revocation: Revocation = "off",
        crls: Sequence[bytes] = (),
        ocsps: Sequence[bytes] = (),
        session: aiohttp.ClientSession | None = None,
        nonce: Callable[[], int] = _random_nonce,
    ) -> None:
        if isinstance(urls, str):
            raise TypeError("urls must be a sequence of URLs, not one string")
        if not urls:
            raise ValueError("no TSA URLs")
        for url in urls:
            if URL(url).scheme not in ("http", "https") or not URL(url).host:
                raise ValueError(f"TSA URL {redact_url(url)!r} is not an absolute http(s) URL")
        if not trust_roots:
            raise ValueError("no trust roots for TSA certificates")
        if timeout <= 0 or retries < 0 or backoff < 0:
            raise ValueError(
                f"want timeout > 0, retries >= 0, backoff >= 0; got {timeout}, {retries}, {backoff}"
            )
        self._urls = tuple(urls)
        self._trust_roots = tuple(trust_roots)
        self._timeout = timeout
        self._retries = retries
        self._backoff = backoff
        self._revocation: Revocation = revocation
        self._crls = tuple(crls)
        self._ocsps = tuple(ocsps)
        self._session = session
        self._nonce = nonce

    @property
    def urls(self) -> tuple[str, ...]:
        """The TSA URLs in the order they are tried, without credentials."""
        return tuple(redact_url(u) for u in self._urls)

    async def timestamp(self, data: bytes) -> Timestamp:
        """A verified token over ``data`` (imprint SHA-256 of ``data``) from the first TSA able.

        Raises :class:`TsaUnavailableError` naming each TSA's last failure when none gave one;
        its ``__cause__`` is an ExceptionGroup of every attempt's :class:`TimestampError`.
        """
        attempts: list[tuple[str, int, _AttemptError]] = []
        live = list(self._urls)
        session_cm: AbstractAsyncContextManager[aiohttp.ClientSession] = (
            nullcontext(self._session) if self._session is not None else aiohttp.ClientSession()
        )
        async with session_cm as session:
            for round_no in range(self._retries + 1):
                if round_no:
                    await asyncio.sleep(min(self._backoff * 2 ** (round_no - 1), MAX_BACKOFF))
                again = []
                for url in live:
                    try:
                        return await self._attempt(session, url, data)
                    except _AttemptError as e:
                        attempts.append((url, round_no + 1, e))
                        log.warning("TSA %s, attempt %d: %s", redact_url(url), round_no + 1, e)
                        if e.retriable:
                            again.append(url)
                live = again
                if not live:
                    break
        raise self._unavailable(attempts) from ExceptionGroup(
            "TSA attempts",
            [TimestampError(f"{redact_url(u)} (attempt {n}): {e}") for u, n, e in attempts],
        )

    def _unavailable(self, attempts: list[tuple[str, int, _AttemptError]]) -> TsaUnavailableError:
        parts = []
        for url in self._urls:
            mine = [e for u, _, e in attempts if u == url]
            last = mine[-1]
            tries = f"{len(mine)} attempt{'s' if len(mine) > 1 else ''}"
            parts.append(f"{redact_url(url)}: {last} ({tries})")
        return TsaUnavailableError("no TSA gave a valid timestamp: " + "; ".join(parts))

    async def _attempt(self, session: aiohttp.ClientSession, url: str, data: bytes) -> Timestamp:
        nonce = self._nonce()
        request = build_request(data, nonce)
        try:
            async with session.post(
                url,
                data=request,
                headers={"Content-Type": QUERY_TYPE, "Accept": REPLY_TYPE},
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                allow_redirects=False,
            ) as response:
                if response.status != 200:
                    retriable = response.status >= 500 or response.status in (408, 429)
                    raise _AttemptError(f"HTTP {response.status}", retriable=retriable)
                if response.content_type != REPLY_TYPE:
                    raise _AttemptError(
                        f"content type {response.content_type!r}, want {REPLY_TYPE}",
                        retriable=True,
                    )
                reply = await _read_limited(response, MAX_RESPONSE_BYTES)
        except TimeoutError:
            raise _AttemptError(f"no answer within {self._timeout} s", retriable=True) from None
        except (aiohttp.ClientError, OSError) as e:
            raise _AttemptError(f"{type(e).__name__}: {e}", retriable=True) from None
        token = token_from_response(reply)
        try:
            info = verify_token(
                token,
                data,
                self._trust_roots,
                nonce,
                revocation=self._revocation,
                crls=self._crls,
                ocsps=self._ocsps,
            )
        except TimestampError as e:
            raise _AttemptError(f"token rejected: {e}", retriable=False) from None
        return Timestamp(
            token=token,
            gen_time=info.gen_time,
            serial=info.serial,
            tsa=redact_url(url),
            policy=info.policy,
            tsa_subject=info.tsa_subject,
        )
