"""The platform's domain events: one JSON Schema per event type, kept in this package.

``schemas/<service>/<DetailType>.json`` is the one definition of an event's ``detail``. It is used
three ways: the producer validates each event against it before ``PutEvents``
(``handler_lib/domain_events.py``), the platform publishes it to the stack's EventBridge schema
registry (schema discovery is not available on a bus encrypted with a customer managed key), and
consumers' tests generate events from it (:mod:`arcblueprint.events.testing`).

Sources are namespaced per service, ``arcblueprint.<service>``: the bus policy lets each
producer's role put only its own source, and every rule matches ``source`` exactly, so one
service cannot publish events that look like another's. Pure: no Pulumi here.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "PROJECT_NAMESPACE",
    "SCHEMA_DIR",
    "EventType",
    "catalog",
    "event_type",
    "event_types",
    "registry_content",
    "registry_schema_name",
    "service_of",
    "source_of",
]

#: The first part of every domain event source (the Pulumi project's config namespace).
PROJECT_NAMESPACE = "arcblueprint"
SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
#: The draft EventBridge's schema registry accepts for JSON Schema documents (type ``JSONSchemaDraft4``).
DRAFT_04 = "http://json-schema.org/draft-04/schema#"
_DETAIL_TYPE = re.compile(r"[A-Z][A-Za-z0-9]{2,127}")
_SERVICE = re.compile(r"[a-z][a-z0-9-]{0,22}[a-z0-9]")
#: The fields EventBridge puts on every event it delivers, around the producer's ``detail``.
ENVELOPE_FIELDS = ("version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail")


class CatalogError(ValueError):
    """A schema file is not a usable event definition (wrong name, draft or shape)."""


@dataclass(frozen=True, kw_only=True)
class EventType:
    """One domain event type: who publishes it and the JSON Schema of its ``detail``."""

    service: str
    detail_type: str
    #: The JSON Schema (draft 4) of the event's ``detail``.
    schema: Mapping[str, Any]
    path: Path

    @property
    def source(self) -> str:
        return source_of(self.service)

    @property
    def relative_path(self) -> str:
        """Where the schema lives in the repository, for messages that tell someone what to edit."""
        return f"arcblueprint/events/schemas/{self.service}/{self.detail_type}.json"


def source_of(service: str) -> str:
    """The event source of a service's domain events: ``arcblueprint.<service>``."""
    return f"{PROJECT_NAMESPACE}.{service}"


def service_of(source: str) -> str | None:
    """The service a domain event source belongs to, or ``None`` for a source outside the namespace."""
    prefix = f"{PROJECT_NAMESPACE}."
    service = source.removeprefix(prefix) if source.startswith(prefix) else None
    return service if service and _SERVICE.fullmatch(service) else None


def _load(path: Path) -> EventType:
    service, detail_type = path.parent.name, path.stem
    if not _SERVICE.fullmatch(service) or not _DETAIL_TYPE.fullmatch(detail_type):
        raise CatalogError(
            f"{path}: must be schemas/<service>/<DetailType>.json (service in lowercase, the detail type in PascalCase)"
        )
    schema = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(schema, dict) or schema.get("$schema") != DRAFT_04:
        raise CatalogError(f"{path}: must be a JSON Schema draft 4 document ($schema {DRAFT_04})")
    if schema.get("title") != detail_type or schema.get("type") != "object":
        raise CatalogError(f"{path}: title must be {detail_type!r} and type 'object' (an event's detail is an object)")
    return EventType(service=service, detail_type=detail_type, schema=schema, path=path)


@functools.cache
def catalog() -> dict[tuple[str, str], EventType]:
    """(source, detail type) -> event type, for every schema file of the package."""
    found = (_load(path) for path in sorted(SCHEMA_DIR.glob("*/*.json")))
    return {(event.source, event.detail_type): event for event in found}


def event_types(service: str) -> tuple[EventType, ...]:
    """The event types ``service`` publishes (its schema folder), sorted by detail type."""
    return tuple(e for (source, _), e in sorted(catalog().items()) if source == source_of(service))


def event_type(source: str, detail_type: str) -> EventType | None:
    return catalog().get((source, detail_type))


def registry_schema_name(event: EventType) -> str:
    """``<source>@<DetailType>``, the name EventBridge gives the schemas it discovers."""
    return f"{event.source}@{event.detail_type}"


def registry_content(event: EventType) -> dict[str, Any]:
    """The schema as the registry holds it (``JSONSchemaDraft4``): the whole event, its ``detail`` by reference.

    Code bindings and the console describe an event as EventBridge delivers it, so the document
    wraps the repository's detail schema in the envelope EventBridge adds.
    """
    detail = {k: v for k, v in event.schema.items() if k != "$schema"}
    text = {"type": "string"}
    return {
        "$schema": DRAFT_04,
        "title": event.detail_type,
        "description": event.schema.get("description", ""),
        "x-amazon-events-source": event.source,
        "x-amazon-events-detail-type": event.detail_type,
        "type": "object",
        "required": list(ENVELOPE_FIELDS),
        "properties": {
            "version": text,
            "id": text,
            "account": text,
            "region": text,
            "detail-type": {"type": "string", "enum": [event.detail_type]},
            "source": {"type": "string", "enum": [event.source]},
            "time": {"type": "string", "format": "date-time"},
            "resources": {"type": "array", "items": text},
            "detail": {"$ref": f"#/definitions/{event.detail_type}"},
        },
        "definitions": {event.detail_type: detail},
    }
