"""Publish domain events on the platform bus, each validated against its JSON Schema first.

The schema (``arcblueprint/events/schemas/<service>/<DetailType>.json``) is the contract between
a producer and every consumer: an event that breaks it is refused here, with a message naming the
field, and counted (metric ``DomainEventsRejected``), instead of reaching consumers that then fail
one by one. A function lists the schemas it publishes in its ``shared.txt``; packaging puts them
at the root of its zip, next to this module.

Environment (set by the component): ``EVENT_BUS_NAME``, ``EVENT_SOURCE`` (``arcblueprint.<service>``,
the only source the bus policy lets this function's role put).

Plain Python plus boto3, fastjsonschema and Powertools (the runtime and the Powertools layer).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import fastjsonschema
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

__all__ = ["DomainEvents", "InvalidEventError", "PublishError"]

logger = Logger(child=True)
#: PutEvents takes at most 10 entries per call, and at most 256 KB per entry (AWS quotas).
MAX_ENTRIES_PER_CALL = 10
MAX_ENTRY_BYTES = 256 * 1024
#: Where the schemas are when this module runs from the repository (tests) instead of a function's zip.
_SOURCE_TREE_SCHEMAS = Path(__file__).resolve().parents[2] / "events" / "schemas"


class InvalidEventError(ValueError):
    """The event does not match its schema (or has none); it was not published."""


class PublishError(RuntimeError):
    """EventBridge refused one or more entries of a PutEvents call (retry the record)."""


class DomainEvents:
    """Validates and publishes the events of one source.

    Parameters
    ----------
    source, bus_name
        default: ``EVENT_SOURCE`` and ``EVENT_BUS_NAME`` from the environment.
    client
        default: an EventBridge client created on first use.
    schema_dir
        default: this module's folder (the zip root), else the repository's schema folder.
    """

    def __init__(
        self,
        *,
        source: str | None = None,
        bus_name: str | None = None,
        client: Any = None,
        metrics: Metrics | None = None,
        schema_dir: Path | None = None,
    ) -> None:
        self.source = source or os.environ.get("EVENT_SOURCE", "")
        self.bus_name = bus_name or os.environ.get("EVENT_BUS_NAME", "")
        if not self.source.startswith("arcblueprint."):
            raise ValueError(f"EVENT_SOURCE {self.source!r} is not a domain event source (arcblueprint.<service>)")
        self._client = client
        self._metrics = metrics or Metrics()
        self._schema_dir = schema_dir
        self._validators: dict[str, Any] = {}

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = boto3.client("events")
        return self._client

    def _schema_path(self, detail_type: str) -> Path:
        service = self.source.removeprefix("arcblueprint.")
        candidates = (
            [self._schema_dir / f"{detail_type}.json"]
            if self._schema_dir
            else [
                Path(__file__).resolve().parent / f"{detail_type}.json",  # the zip root
                _SOURCE_TREE_SCHEMAS / service / f"{detail_type}.json",
            ]
        )
        for path in candidates:
            if path.is_file():
                return path
        raise InvalidEventError(
            f"{self.source} has no schema for {detail_type!r} (looked in "
            f"{', '.join(str(p) for p in candidates)}); add it to arcblueprint/events/schemas/"
            f"{service}/ and to the function's shared.txt"
        )

    def _validator(self, detail_type: str) -> Any:
        if detail_type not in self._validators:
            schema = json.loads(self._schema_path(detail_type).read_text(encoding="utf-8"))
            if schema.get("title") != detail_type:
                raise InvalidEventError(f"schema file of {detail_type!r} is titled {schema.get('title')!r}")
            self._validators[detail_type] = fastjsonschema.compile(schema)
        return self._validators[detail_type]

    def validate(self, detail_type: str, detail: Mapping[str, Any]) -> None:
        """Raise :class:`InvalidEventError` (and count it) unless ``detail`` matches the schema."""
        try:
            self._validator(detail_type)(dict(detail))
        except fastjsonschema.JsonSchemaException as error:
            self._reject(detail_type, f"{self.source} {detail_type} does not match its schema: {error}")
        except InvalidEventError as error:
            self._reject(detail_type, str(error))

    def _reject(self, detail_type: str, message: str) -> None:
        self._metrics.add_metric(name="DomainEventsRejected", unit=MetricUnit.Count, value=1)
        logger.error("Domain event rejected before PutEvents", extra={"detail_type": detail_type, "reason": message})
        raise InvalidEventError(message)

    def entry(self, detail_type: str, detail: Mapping[str, Any], *, resources: Sequence[str] = ()) -> dict[str, Any]:
        """The PutEvents entry for a validated event (size checked against the 256 KB quota)."""
        self.validate(detail_type, detail)
        entry = {
            "EventBusName": self.bus_name,
            "Source": self.source,
            "DetailType": detail_type,
            "Detail": json.dumps(detail, separators=(",", ":"), sort_keys=True),
            "Resources": list(resources),
        }
        size = len(json.dumps(entry).encode())
        if size > MAX_ENTRY_BYTES:
            self._reject(
                detail_type,
                f"{self.source} {detail_type} is {size} bytes; PutEvents takes at most {MAX_ENTRY_BYTES} per entry",
            )
        return entry

    def publish(self, detail_type: str, detail: Mapping[str, Any], *, resources: Sequence[str] = ()) -> str:
        """Validate and put one event; return its EventBridge event id."""
        return self.publish_all([(detail_type, detail)], resources=resources)[0]

    def publish_all(
        self, events: Iterable[tuple[str, Mapping[str, Any]]], *, resources: Sequence[str] = ()
    ) -> list[str]:
        """Validate every event first (none is put if one is invalid), then put them 10 per call."""
        entries = [self.entry(detail_type, detail, resources=resources) for detail_type, detail in events]
        if not self.bus_name:
            raise PublishError("EVENT_BUS_NAME is not set: the platform has no event bus for this function")
        ids: list[str] = []
        for start in range(0, len(entries), MAX_ENTRIES_PER_CALL):
            batch = entries[start : start + MAX_ENTRIES_PER_CALL]
            response = self.client.put_events(Entries=batch)
            failed = [(e, r) for e, r in zip(batch, response["Entries"], strict=True) if "EventId" not in r]
            if failed or response.get("FailedEntryCount"):
                codes = ", ".join(f"{e['DetailType']}: {r.get('ErrorCode')}" for e, r in failed)
                raise PublishError(f"EventBridge refused {len(failed)} of {len(batch)} events ({codes})")
            ids.extend(r["EventId"] for r in response["Entries"])
        self._metrics.add_metric(name="DomainEventsPublished", unit=MetricUnit.Count, value=len(ids))
        return ids
