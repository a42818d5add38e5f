"""The chain settings: parsed, checked, and the key never echoed."""

from __future__ import annotations

from pathlib import Path

import pytest

from sealtrail.api.settings import chain_key, load
from sealtrail.core.errors import ConfigError

KEY = "0x" + "ab" * 32


def test_chain_settings_from_the_environment() -> None:
    s = load(
        environ={
            "SEALTRAIL_CHAIN_RPC_URL": "https://node.example/v3/secret-project-id",
            "SEALTRAIL_CHAIN_KEY": KEY,
            "SEALTRAIL_CHAIN_CONFIRMATIONS": "6",
            "SEALTRAIL_CHAIN_CONTRACT": "0x" + "12" * 20,
            "SEALTRAIL_CHAIN_ID": "11155111",
        }
    )
    assert s.chain_confirmations == 6
    assert s.chain_id == 11155111
    assert chain_key(s) == KEY
    assert KEY[2:] not in repr(s)  # the key stays out of reprs (and so out of logs)


def test_defaults_leave_anchoring_off() -> None:
    s = load(environ={})
    assert s.chain_rpc_url is None
    assert chain_key(s) is None
    assert s.chain_confirmations == 12


def test_key_without_0x_is_normalised_and_a_key_file_is_read(tmp_path: Path) -> None:
    assert chain_key(load(environ={"SEALTRAIL_CHAIN_KEY": "CD" * 32})) == "0x" + "CD" * 32
    f = tmp_path / "k"
    f.write_text(KEY + "\n")
    assert chain_key(load(environ={"SEALTRAIL_CHAIN_KEY_FILE": str(f)})) == KEY


@pytest.mark.parametrize("bad", ["0x1234", "zz" * 32, KEY + "00", " ", "0x" + "ab" * 31 + "g0"])
def test_a_bad_key_is_refused_without_being_echoed(bad: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(environ={"SEALTRAIL_CHAIN_KEY": bad})
    assert "(hidden)" in str(info.value)
    if bad.strip():
        assert bad not in str(info.value)


def test_a_bad_key_file_is_refused_without_being_echoed(tmp_path: Path) -> None:
    f = tmp_path / "k"
    f.write_text("not-a-key-but-a-secret\n")
    with pytest.raises(ConfigError) as info:
        chain_key(load(environ={"SEALTRAIL_CHAIN_KEY_FILE": str(f)}))
    assert "not-a-key-but-a-secret" not in str(info.value)
    with pytest.raises(ConfigError, match="cannot read chain_key_file"):
        chain_key(load(environ={"SEALTRAIL_CHAIN_KEY_FILE": str(tmp_path / "missing")}))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SEALTRAIL_CHAIN_RPC_URL", "ftp://node"),
        ("SEALTRAIL_CHAIN_CONFIRMATIONS", "0"),
        ("SEALTRAIL_CHAIN_CONTRACT", "0x1234"),
        ("SEALTRAIL_CHAIN_ID", "0"),
        ("SEALTRAIL_CHAIN_POLL_INTERVAL", "0"),
        ("SEALTRAIL_CHAIN_REPLACE_AFTER", "-1"),
    ],
)
def test_bad_chain_values_are_refused(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load(environ={name: value})


def test_key_and_key_file_together_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not both"):
        load(environ={"SEALTRAIL_CHAIN_KEY": KEY, "SEALTRAIL_CHAIN_KEY_FILE": str(tmp_path)})
