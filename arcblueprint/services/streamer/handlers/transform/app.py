"""Firehose transformation: keep this domain's records, strip sensitive fields, add date partition keys.

Every domain's Firehose reads the same stream; this function drops the records of other domains
(``Dropped``), marks undecodable records ``ProcessingFailed`` (Firehose writes them, unchanged, under
the error prefix) and returns the rest as one JSON line each (``Ok``) for Parquet conversion, with
``partitionKeys`` year/month/day for dynamic partitioning. Domain events routed from the bus arrive
wrapped by the rule's input transformer and are flattened into one row (detail fields plus
``eventId``/``eventSource``/``eventType``/``eventTime``).

Environment: ``DOMAIN_FIELD`` and ``DELIVERY_STREAMS``, a JSON map of delivery stream name to
``{"domain", "remove", "mask", "timestampField"}`` (set by the component).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import KinesisFirehoseEvent, event_source

from masking import mask_fields, remove_fields

logger = Logger()
tracer = Tracer()
metrics = Metrics()

DOMAIN_FIELD = os.environ.get("DOMAIN_FIELD", "domain")
#: The key of the envelope the bus's input transformer wraps a domain event in (``component.EVENT_ENVELOPE_KEY``).
EVENT_ENVELOPE_KEY = "eventbridge"
DELIVERY_STREAMS: dict[str, dict[str, Any]] = json.loads(os.environ.get("DELIVERY_STREAMS", "{}"))


class RecordError(ValueError):
    """The record cannot be transformed (not a JSON object, or a bad timestamp)."""


def field_value(document: dict[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def event_time(document: dict[str, Any], timestamp_field: str | None, arrival_ms: int) -> datetime:
    value = field_value(document, timestamp_field) if timestamp_field else None
    if value is None:
        return datetime.fromtimestamp(arrival_ms / 1000, tz=UTC)
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value / 1000 if value > 1e11 else value, tz=UTC)
        parsed = datetime.fromisoformat(str(value))
    except (ValueError, OverflowError, OSError):
        raise RecordError(f"{timestamp_field} is not a timestamp: {value!r}") from None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def unwrap(document: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """A domain event routed from the bus (``{"eventbridge": {...}, "detail": {...}}``) as one flat row.

    The detail's fields, plus ``eventId``, ``eventSource``, ``eventType`` and ``eventTime`` (a detail field
    of the same name wins); any other record unchanged. Second value: whether it was an event.
    """
    envelope, detail = document.get(EVENT_ENVELOPE_KEY), document.get("detail")
    if not isinstance(envelope, dict) or not isinstance(detail, dict):
        return document, False
    row = {"eventId": envelope.get("id"), "eventSource": envelope.get("source"),
           "eventType": envelope.get("detailType"), "eventTime": envelope.get("time")}
    return {**row, **detail}, True


def transform_record(record: dict[str, Any], rules: dict[str, Any]) -> dict[str, Any]:
    """One Firehose response record (``recordId``, ``result``, ``data`` base64, ``metadata``)."""
    record_id = record["recordId"]
    try:
        document = json.loads(base64.b64decode(record["data"], validate=True))
        if not isinstance(document, dict):
            raise RecordError("not a JSON object")
        if field_value(document, DOMAIN_FIELD) != rules["domain"]:
            return {"recordId": record_id, "result": "Dropped", "data": record["data"]}
        document, is_event = unwrap(document)
        # An event without the domain's timestamp field is partitioned by when it happened, not when it arrived.
        timestamp_field = rules.get("timestampField")
        if is_event and (not timestamp_field or field_value(document, timestamp_field) is None):
            timestamp_field = "eventTime"
        when = event_time(document, timestamp_field, record["approximateArrivalTimestamp"])
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:  # JSONDecodeError and RecordError too
        logger.warning("Record failed", extra={"record_id": record_id, "reason": str(error)[:200]})
        return {"recordId": record_id, "result": "ProcessingFailed", "data": record["data"]}
    clean = mask_fields(remove_fields(document, rules.get("remove", ())), rules.get("mask", ()))
    line = json.dumps(clean, separators=(",", ":")) + "\n"
    return {"recordId": record_id, "result": "Ok", "data": base64.b64encode(line.encode()).decode(),
            "metadata": {"partitionKeys": {"year": f"{when.year:04d}", "month": f"{when.month:02d}",
                                           "day": f"{when.day:02d}"}}}


def transform(records: list[dict[str, Any]], delivery_stream_arn: str) -> list[dict[str, Any]]:
    stream_name = delivery_stream_arn.rsplit("/", 1)[-1]
    rules = DELIVERY_STREAMS.get(stream_name)
    if rules is None:  # a Firehose this function was not configured for: fail loudly, keep the data
        raise RuntimeError(f"no transformation rules for delivery stream {stream_name}")
    return [transform_record(record, rules) for record in records]


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=KinesisFirehoseEvent)
def lambda_handler(event: KinesisFirehoseEvent, context: Any) -> dict[str, Any]:
    results = transform(event["records"], event.delivery_stream_arn)
    for outcome in ("Ok", "Dropped", "ProcessingFailed"):
        metrics.add_metric(name=f"Records{outcome}", unit=MetricUnit.Count,
                           value=sum(1 for r in results if r["result"] == outcome))
    return {"records": results}
