"""Names that display differently from what they are (issue 15, item 6): bidirectional overrides,
isolates, marks, zero-width and other format characters, line/paragraph separators and controls
are refused in streams, actor fields, client event ids and document names — with the code point
named — while every script (CJK, Arabic, Persian with its joiners) stays valid."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sealtrail.api.error_codes import exit_code_for, http_status_for
from sealtrail.core import event as ev
from sealtrail.core.errors import EventValidationError

BASE: dict[str, Any] = {
    "stream": "contract:2026-0001",
    "type": "sign",
    "actor": {"id": "u-42", "name": "Li Lei", "org": "Acme Ltd", "role": "legal-person"},
    "documents": [{"name": "contract.pdf", "sha256": "ab" * 32}],
    "client_event_id": "c-1",
}

# every refused category, one representative (or several, for the bidi family)
REFUSED = {
    "rlo-U+202E": "\u202e",
    "lro-U+202D": "\u202d",
    "rle-U+202B": "\u202b",
    "pdf-U+202C": "\u202c",
    "lri-U+2066": "\u2066",
    "rli-U+2067": "\u2067",
    "fsi-U+2068": "\u2068",
    "pdi-U+2069": "\u2069",
    "lrm-U+200E": "\u200e",
    "rlm-U+200F": "\u200f",
    "alm-U+061C": "\u061c",
    "zwsp-U+200B": "\u200b",
    "bom-U+FEFF": "\ufeff",
    "soft-hyphen-U+00AD": "\u00ad",
    "tag-U+E0041": "\U000e0041",
    "line-separator-U+2028": "\u2028",
    "paragraph-separator-U+2029": "\u2029",
    "c1-U+0085": "\u0085",
}

FIELDS = {
    "stream": lambda o, v: o.__setitem__("stream", v),
    "actor.id": lambda o, v: o["actor"].__setitem__("id", v),
    "actor.name": lambda o, v: o["actor"].__setitem__("name", v),
    "actor.org": lambda o, v: o["actor"].__setitem__("org", v),
    "actor.role": lambda o, v: o["actor"].__setitem__("role", v),
    "client_event_id": lambda o, v: o.__setitem__("client_event_id", v),
    "documents[0].name": lambda o, v: o["documents"][0].__setitem__("name", v),
}


def _with(field: str, value: str) -> dict[str, Any]:
    obj = copy.deepcopy(BASE)
    FIELDS[field](obj, value)
    return obj


@pytest.mark.parametrize("field", sorted(FIELDS))
@pytest.mark.parametrize("mutation", sorted(REFUSED))
def test_refused_in_every_name_field(field: str, mutation: str) -> None:
    ch = REFUSED[mutation]
    with pytest.raises(EventValidationError) as info:
        ev.parse_event_input(_with(field, f"inv{ch}fdp.exe"))
    err = info.value
    assert err.field == field
    assert f"U+{ord(ch):04X}" in err.reason  # the code point is named
    assert "character" in err.reason
    assert (http_status_for(err), exit_code_for(err)) == (400, 2)


def test_message_names_the_character() -> None:
    with pytest.raises(EventValidationError) as info:
        ev.parse_event_input(_with("stream", "contract:\u202e1000-0002"))
    assert str(info.value) == (
        "stream: holds format character U+202E (RIGHT-TO-LEFT OVERRIDE), "
        "which makes it display differently from what it is"
    )


@pytest.mark.parametrize(
    "name",
    [
        "合同:2026-采购-0001",  # CJK
        "契約書:東京",  # Japanese
        "계약:서울",  # Korean
        "عقد:الرياض",  # Arabic, right-to-left without overrides
        "חוזה:תל-אביב",  # Hebrew
        "contract:Zürich é ñ",  # Latin with diacritics
        "contract:a b",  # plain space inside
        "合同专用章 🖋",  # emoji (So)
    ],
)
def test_every_script_stays_valid(name: str) -> None:
    for field in FIELDS:
        if field == "actor.role" and len(name) > 64:
            continue
        inp = ev.parse_event_input(_with(field, name))
        assert name in str(inp.body())


@pytest.mark.parametrize("joiner", ["\u200c", "\u200d"])
def test_joiners_allowed_in_human_names_only(joiner: str) -> None:
    persian = f"می{joiner}خواهم"
    for field in ("actor.name", "actor.org"):
        ev.parse_event_input(_with(field, persian))
    for field in ("stream", "actor.id", "actor.role", "client_event_id", "documents[0].name"):
        with pytest.raises(EventValidationError, match=f"U\\+{ord(joiner):04X}"):
            ev.parse_event_input(_with(field, persian))


def test_attribute_values_are_free_text() -> None:
    obj = copy.deepcopy(BASE)
    obj["attributes"] = {"note": "مرحبا\u200f world\ttab"}
    assert ev.parse_event_input(obj).attributes["note"] == "مرحبا\u200f world\ttab"


def test_events_stored_before_the_rule_still_decode() -> None:
    """A stored event with U+202E in its stream (appended before the rule) keeps verifying:
    the rule is for new input, not a reinterpretation of the log."""
    old = ev.parse_event_input(_with("stream", "contract:\u202e1"), display_rules=False)
    stored = ev.build_event(
        old,
        tenant="acme",
        index=0,
        recorded_at="2026-01-01T00:00:00.000000Z",
        salt=b"\x01" * 16,
        prev=None,
    )
    assert ev.decode_event(stored.canonical)["stream"] == "contract:\u202e1"


def test_display_problem_is_none_for_clean_text() -> None:
    assert ev.display_problem("Acme 集团") is None
    assert ev.display_problem("a\u200db") is not None
    assert ev.display_problem("a\u200db", allow_joiners=True) is None
