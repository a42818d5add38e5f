"""SecretBox: subscription secrets sealed under the master key, and what does not open."""

from __future__ import annotations

import base64

import pytest

from sealtrail.api.webhooks import SEALED_PREFIX, SecretBox, SecretUnavailableError

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


def test_round_trip_and_randomised() -> None:
    box = SecretBox(b"\x01" * 32)
    a, b = box.seal("wh_1", SECRET), box.seal("wh_1", SECRET)
    assert a.startswith(SEALED_PREFIX)
    assert a != b
    assert SECRET not in a
    assert box.open("wh_1", a) == box.open("wh_1", b) == SECRET
    assert box.seal("wh_1", a) == a  # already sealed: kept
    assert box.open("wh_1", SECRET) == SECRET  # plain text from before: used as is
    assert "01" not in repr(box)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda s: s[:-4],  # truncated
        lambda s: s[:10] + ("A" if s[10] != "A" else "B") + s[11:],  # a flipped character
        lambda s: s + "!!",  # not base64
        lambda s: SEALED_PREFIX,  # empty
        lambda s: "garbage",  # neither sealed nor a secret
    ],
)
def test_tampered_values_do_not_open(tamper: object) -> None:
    box = SecretBox(b"\x01" * 32)
    sealed = box.seal("wh_1", SECRET)
    with pytest.raises(SecretUnavailableError):
        box.open("wh_1", tamper(sealed))  # type: ignore[operator]


def test_wrong_key_or_other_subscription_does_not_open() -> None:
    sealed = SecretBox(b"\x01" * 32).seal("wh_1", SECRET)
    with pytest.raises(SecretUnavailableError, match="does not open"):
        SecretBox(b"\x02" * 32).open("wh_1", sealed)
    with pytest.raises(SecretUnavailableError, match="does not open"):
        SecretBox(b"\x01" * 32).open("wh_2", sealed)
