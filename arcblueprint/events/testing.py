"""Hypothesis strategies that generate domain events from their JSON Schemas (for consumers' tests).

A consumer's test draws events from the same schema the producer validates against, so a
consumer is tested on every shape the contract allows (optional fields missing, bounds, empty
payloads), not on one hand-written sample. Only the draft-4 keywords the catalog uses are
supported; a schema using another keyword fails loudly here rather than generating events the
contract does not allow. Needs ``hypothesis`` (a test dependency): import it from tests only.
"""

from __future__ import annotations

import string
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hypothesis import strategies as st

if TYPE_CHECKING:
    from collections.abc import Mapping

    from arcblueprint.events import EventType

__all__ = ["UnsupportedSchemaError", "details", "envelopes", "from_schema"]

#: Keywords that only describe (no constraint on generated values).
_ANNOTATIONS = frozenset({"$schema", "title", "description", "$id", "id", "examples", "default"})
_SUPPORTED = {
    "object": {"type", "properties", "required", "additionalProperties"},
    "string": {"type", "minLength", "maxLength", "pattern", "format", "enum"},
    "integer": {"type", "minimum", "maximum", "enum"},
    "number": {"type", "minimum", "maximum"},
    "boolean": {"type"},
    "array": {"type", "items", "minItems", "maxItems"},
}
_JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.text(string.ascii_letters + string.digits + " -_.@", max_size=20),
)
_JSON_OBJECTS = st.recursive(
    st.dictionaries(st.text(string.ascii_letters + "_", min_size=1, max_size=10), _JSON_SCALARS, max_size=5),
    lambda inner: st.dictionaries(
        st.text(string.ascii_letters + "_", min_size=1, max_size=10),
        st.one_of(_JSON_SCALARS, inner, st.lists(_JSON_SCALARS, max_size=3)),
        max_size=4,
    ),
    max_leaves=12,
)
#: RFC 3339 timestamps as producers write them (UTC, milliseconds).
_TIMESTAMPS = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
).map(lambda d: d.isoformat(timespec="milliseconds"))


class UnsupportedSchemaError(ValueError):
    """The schema uses a keyword these strategies cannot honour."""


def from_schema(schema: Mapping[str, Any], path: str = "$") -> st.SearchStrategy[Any]:
    """A strategy for every value ``schema`` (draft 4, the catalog's subset) accepts."""
    kind = schema.get("type")
    if "enum" in schema:
        return st.sampled_from(list(schema["enum"]))
    unknown = set(schema) - _ANNOTATIONS - _SUPPORTED.get(str(kind), set())
    if kind not in _SUPPORTED or unknown:
        raise UnsupportedSchemaError(f"{path}: type {kind!r} with keywords {sorted(unknown)} is not supported")
    if kind == "object":
        return _object(schema, path)
    if kind == "string":
        return _string(schema, path)
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "number":
        return st.floats(schema.get("minimum"), schema.get("maximum"), allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    return st.lists(
        from_schema(schema.get("items", {"type": "string"}), f"{path}[]"),
        min_size=schema.get("minItems", 0),
        max_size=schema.get("maxItems", 5),
    )


def _object(schema: Mapping[str, Any], path: str) -> st.SearchStrategy[dict[str, Any]]:
    properties = schema.get("properties") or {}
    if not properties:  # a free-form object (a webhook's payload): any small JSON object
        return _JSON_OBJECTS
    if schema.get("additionalProperties", True) is not False:
        raise UnsupportedSchemaError(f"{path}: an object with properties must set additionalProperties: false")
    required = set(schema.get("required", ()))
    fields = {name: from_schema(sub, f"{path}.{name}") for name, sub in properties.items()}
    return st.fixed_dictionaries(
        {k: v for k, v in fields.items() if k in required},
        optional={k: v for k, v in fields.items() if k not in required},
    )


def _string(schema: Mapping[str, Any], path: str) -> st.SearchStrategy[str]:
    if schema.get("format") == "date-time":
        return _TIMESTAMPS
    if "format" in schema:
        raise UnsupportedSchemaError(f"{path}: format {schema['format']!r} is not supported")
    low, high = schema.get("minLength", 0), schema.get("maxLength", 64)
    if "pattern" in schema:
        return st.from_regex(schema["pattern"], fullmatch=True).filter(lambda s: low <= len(s) <= high)
    return st.text(string.ascii_letters + string.digits + " -_:.", min_size=low, max_size=min(high, low + 40))


def details(event: EventType) -> st.SearchStrategy[dict[str, Any]]:
    """Details the event's schema accepts."""
    return from_schema(event.schema)


def envelopes(
    event: EventType,
    *,
    account: str = "111111111111",
    region: str = "eu-west-1",
) -> st.SearchStrategy[dict[str, Any]]:
    """Whole events as EventBridge delivers them to a target (envelope around a generated detail)."""
    return st.builds(
        lambda detail, event_id, when: {
            "version": "0",
            "id": event_id,
            "detail-type": event.detail_type,
            "source": event.source,
            "account": account,
            "time": when[:19] + "Z",
            "region": region,
            "resources": [],
            "detail": detail,
        },
        details(event),
        st.uuids().map(str),
        _TIMESTAMPS,
    )
