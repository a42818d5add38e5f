"""The msgspec alternative measured by bench_validate.py (msgspec is not a dependency).

A ``msgspec.Struct`` schema for the event input, plus the rules a schema cannot state (display
rules, time normal form, lowercase digests, the size limit). No ``from __future__ import
annotations`` here: msgspec resolves the schema's annotations at run time.
"""

from collections.abc import Callable
from typing import Annotated, Any

from sealtrail.core import event as ev
from sealtrail.core.canonical import canonicalize_checked


def validator() -> tuple[Callable[[list[Any]], list[ev.EventInput]], Any] | None:
    """The msgspec alternative: a Struct schema plus the rules a schema cannot state."""
    try:
        import msgspec
    except ImportError:
        return None
    Meta = msgspec.Meta
    Name = Annotated[str, Meta(min_length=1, max_length=256)]

    class Actor(msgspec.Struct, forbid_unknown_fields=True):
        id: Annotated[str, Meta(min_length=1, max_length=128)]
        name: Name | None = None
        org: Name | None = None
        role: Annotated[str, Meta(min_length=1, max_length=64)] | None = None

    class Document(msgspec.Struct, forbid_unknown_fields=True):
        sha256: Annotated[str, Meta(pattern="^[0-9a-fA-F]{64}$")]
        name: Annotated[str, Meta(min_length=1, max_length=512)] | None = None

    AttrKey = Annotated[str, Meta(pattern="^[A-Za-z][A-Za-z0-9_.-]{0,63}$")]
    SafeInt = Annotated[int, Meta(ge=-ev.MAX_SAFE_INTEGER, le=ev.MAX_SAFE_INTEGER)]

    class EventStruct(msgspec.Struct, forbid_unknown_fields=True):
        stream: Name
        type: Annotated[str, Meta(min_length=1, max_length=97)]
        actor: Actor
        documents: Annotated[list[Document], Meta(max_length=ev.MAX_DOCUMENTS)] = []
        occurred_at: str | None = None
        client_event_id: Annotated[str, Meta(min_length=1, max_length=128)] | None = None
        attributes: Annotated[
            dict[AttrKey, str | SafeInt | bool | None], Meta(max_length=ev.MAX_ATTRIBUTES)
        ] = {}

    class Batch(msgspec.Struct):
        events: list[EventStruct]

    def name(v: str, field: str) -> str:
        # what the schema cannot say: controls, edge spaces, display rules (same rule as ev._text)
        if not v.isprintable() or v[0].isspace() or v[-1].isspace():
            return ev._text(v, field, 512)
        return v

    def validate(events: list[Any]) -> list[ev.EventInput]:
        out = []
        for s in msgspec.convert(events, list[EventStruct]):
            if s.type not in ev.CORE_TYPES and not ev._CUSTOM_TYPE_RE.match(s.type):
                raise ValueError("type")
            a = s.actor
            actor = {
                "id": name(a.id, "actor.id"),
                "name": None if a.name is None else name(a.name, "actor.name"),
                "org": None if a.org is None else name(a.org, "actor.org"),
                "role": None if a.role is None else name(a.role, "actor.role"),
            }
            docs = [
                {
                    "name": None if d.name is None else name(d.name, "documents[].name"),
                    "sha256": d.sha256.lower(),
                }
                for d in s.documents
            ]
            for v in s.attributes.values():
                if type(v) is str and not v.isprintable():
                    ev._text(v, "attributes", ev.MAX_ATTRIBUTE_TEXT, free=True)
            inp = ev.EventInput(
                name(s.stream, "stream"),
                s.type,
                actor,
                docs,
                None if s.occurred_at is None else ev.parse_time(s.occurred_at, "occurred_at"),
                None if s.client_event_id is None else name(s.client_event_id, "client_event_id"),
                s.attributes,
            )
            if len(canonicalize_checked(inp.body())) > ev.MAX_INPUT_BYTES:
                raise ValueError("size")
            out.append(inp)
        return out

    return validate, lambda body: msgspec.json.decode(body, type=Batch)
