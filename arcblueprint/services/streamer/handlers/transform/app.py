"""Firehose transformation: keep this domain's records, strip sensitive fields, add date partition keys.

The Firehose streams of the *stream domains* read the same Kinesis stream and call this function;
so does each *Direct PUT* stream, which EventBridge writes one domain's events to. Per record it answers:

- ``Ok``: a record of this stream's domain, with ``remove`` fields removed, ``mask`` fields, the
  always-masked names and card numbers masked, as one JSON line with ``partitionKeys`` year/month/day;
- ``Dropped``: in a stream reading Kinesis, a record of another stream domain (that domain's Firehose
  delivers it);
- ``ProcessingFailed``: a record of this domain that cannot be transformed (bad timestamp, nested
  deeper than masking inspects), and every *unroutable* record (not base64, not UTF-8, not JSON, not
  an object, no domain or one no Kinesis-reading stream claims) but only in the one stream marked
  ``unroutable`` (the others drop it), so it lands under ``errors/<that domain>/processing-failed/``
  exactly once. A Direct PUT stream (``direct``) fails every record that is not its domain's: no other
  stream sees it, so dropping it would lose it.

Firehose writes ``ProcessingFailed`` records, as received, under the error output prefix; the reason is
in this function's log (record id and reason, never the record's content). No record fails its batch:
the only error the function raises is a delivery stream it has no rules for (a deployment error).

Domain events routed from the bus arrive wrapped by the rule's input transformer
(``{"eventbridge": {...}, "detail": {...}}``) and are flattened into one row (detail fields plus
``eventId``/``eventSource``/``eventType``/``eventTime``), partitioned by the event's time when the
record lacks the domain's timestamp field.

Environment: ``DOMAIN_FIELD`` and ``DELIVERY_STREAMS``, a JSON map of delivery stream name to
``{"domain", "remove", "mask", "timestampField", "unroutable", "direct"}`` (set by the component).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from masking import MASK, MAX_DEPTH, mask_fields, mask_text, masked_json, remove_fields
from tracing import new_tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(json_serializer=masked_json)  # no log line carries a card number or an always-masked field
tracer = new_tracer()  # the X-Ray SDK is imported only when tracing is on
metrics = Metrics()

DOMAIN_FIELD = os.environ.get("DOMAIN_FIELD", "domain")
#: The key of the envelope the bus's input transformer wraps a domain event in (``component.EVENT_ENVELOPE_KEY``).
EVENT_ENVELOPE_KEY = "eventbridge"
DELIVERY_STREAMS: dict[str, dict[str, Any]] = json.loads(os.environ.get("DELIVERY_STREAMS", "{}"))
#: The domains of the streams reading Kinesis: a Kinesis record of any other domain is unroutable.
KNOWN_DOMAINS = frozenset(rules["domain"] for rules in DELIVERY_STREAMS.values() if not rules.get("direct"))
#: The stream that fails unroutable records (the others drop them): the marked one, else the first by name.
UNROUTABLE_STREAM = next(
    (name for name, rules in sorted(DELIVERY_STREAMS.items()) if rules.get("unroutable")),
    min(DELIVERY_STREAMS, default=None),
)

OUTCOMES = ("Ok", "Dropped", "ProcessingFailed")


class RecordError(ValueError):
    """The record cannot be transformed; the message is the reason logged (never the record's content)."""


class UnroutableError(RecordError):
    """No configured domain claims the record."""


class UnknownDeliveryStreamError(RuntimeError):
    """The function was called by a Firehose it has no rules for: a deployment error, so the batch fails
    (Firehose retries it, then writes it under its error prefix) rather than guess."""


def field_value(document: dict[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def arrival_time(arrival_ms: Any) -> datetime:
    """When Firehose received the record (its ``approximateArrivalTimestamp``), else now."""
    try:
        if isinstance(arrival_ms, int | float) and not isinstance(arrival_ms, bool):
            return datetime.fromtimestamp(arrival_ms / 1000, tz=UTC)
    except (ValueError, OverflowError, OSError):
        pass
    return datetime.now(UTC)


def event_time(document: dict[str, Any], timestamp_field: str | None, arrival_ms: Any) -> datetime:
    value = field_value(document, timestamp_field) if timestamp_field else None
    if value is None:
        return arrival_time(arrival_ms)
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value / 1000 if value > 1e11 else value, tz=UTC)
        if not isinstance(value, str) or len(value) > 64:
            raise ValueError
        parsed = datetime.fromisoformat(value)
    except (ValueError, OverflowError, OSError):
        raise RecordError(f"{timestamp_field} is not a timestamp") from None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def unwrap(document: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """A domain event routed from the bus (``{"eventbridge": {...}, "detail": {...}}``) as one flat row.

    The detail's fields, plus ``eventId``, ``eventSource``, ``eventType`` and ``eventTime`` (a detail field
    of the same name wins); any other record unchanged. Second value: whether it was an event.
    """
    envelope, detail = document.get(EVENT_ENVELOPE_KEY), document.get("detail")
    if not isinstance(envelope, dict) or not isinstance(detail, dict):
        return document, False
    row = {
        "eventId": envelope.get("id"),
        "eventSource": envelope.get("source"),
        "eventType": envelope.get("detailType"),
        "eventTime": envelope.get("time"),
    }
    return {**row, **detail}, True


def _deeper_than(document: Any, limit: int) -> bool:
    stack = [(document, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(value, dict):
            stack += [(v, depth + 1) for v in value.values() if isinstance(v, dict | list)]
        elif isinstance(value, list):
            stack += [(v, depth + 1) for v in value if isinstance(v, dict | list)]
    return False


def decode(data: Any) -> dict[str, Any]:
    """The record's JSON object, or an ``UnroutableError`` saying why there is none."""
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise UnroutableError("data is not base64") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UnroutableError("data is not UTF-8") from None
    try:
        document = json.loads(text)
    except RecursionError:
        raise UnroutableError(f"data is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError:
        raise UnroutableError("data is not JSON") from None
    if not isinstance(document, dict):
        raise UnroutableError("data is not a JSON object")
    return document


def domain_of(document: dict[str, Any], known: frozenset[str] | None = None) -> str:
    """The record's domain, one of ``known`` (default: the domains of the streams reading Kinesis)."""
    domain = field_value(document, DOMAIN_FIELD)
    if domain is None:
        raise UnroutableError(f"{DOMAIN_FIELD} is missing")
    if not isinstance(domain, str):
        raise UnroutableError(f"{DOMAIN_FIELD} is not a string")
    if domain not in (KNOWN_DOMAINS if known is None else known):
        raise UnroutableError(f"{DOMAIN_FIELD} {mask_text(domain[:40])!r} is not a domain of this stream")
    return domain


def transform_record(record: Any, rules: dict[str, Any], *, fails_unroutable: bool = False) -> dict[str, Any]:
    """One Firehose response record (``recordId``, ``result``, ``data`` base64, ``metadata``)."""
    record = record if isinstance(record, dict) else {}
    record_id, data = record.get("recordId"), record.get("data")
    record_id = record_id if isinstance(record_id, str) else str(record_id)
    data = data if isinstance(data, str) else ""
    direct = bool(rules.get("direct"))
    try:
        document = decode(data)
        # A Direct PUT stream holds one domain: anything else reached it by mistake and is failed, not dropped.
        if domain_of(document, frozenset({rules["domain"]}) if direct else None) != rules["domain"]:
            return {"recordId": record_id, "result": "Dropped", "data": data}
        if _deeper_than(document, MAX_DEPTH - 2):
            raise RecordError(f"data is nested deeper than {MAX_DEPTH} levels")
        document, is_event = unwrap(document)
        # An event without the domain's timestamp field is partitioned by when it happened, not when it arrived.
        timestamp_field = rules.get("timestampField")
        if is_event and (not timestamp_field or field_value(document, timestamp_field) is None):
            timestamp_field = "eventTime"
        when = event_time(document, timestamp_field, record.get("approximateArrivalTimestamp"))
        clean = mask_fields(remove_fields(document, rules.get("remove", ())), rules.get("mask", ()))
        if clean == MASK:
            raise RecordError("masking failed")
        line = json.dumps(clean, separators=(",", ":"), ensure_ascii=False) + "\n"
    except UnroutableError as error:
        if not (fails_unroutable or direct):
            return {"recordId": record_id, "result": "Dropped", "data": data}
        metrics.add_metric(name="RecordsUnroutable", unit=MetricUnit.Count, value=1)
        return _failed(record_id, data, str(error))
    except RecordError as error:
        return _failed(record_id, data, str(error))
    except Exception as error:  # noqa: BLE001 - one bad record never fails its batch
        return _failed(record_id, data, f"unexpected {type(error).__name__}")
    return {
        "recordId": record_id,
        "result": "Ok",
        "data": base64.b64encode(line.encode()).decode(),
        "metadata": {
            "partitionKeys": {"year": f"{when.year:04d}", "month": f"{when.month:02d}", "day": f"{when.day:02d}"}
        },
    }


def _failed(record_id: str, data: str, reason: str) -> dict[str, Any]:
    logger.warning("Record failed", extra={"record_id": record_id[:128], "reason": reason[:200]})
    return {"recordId": record_id, "result": "ProcessingFailed", "data": data}


def transform(records: Any, delivery_stream_arn: Any) -> list[dict[str, Any]]:
    stream_name = delivery_stream_arn.rsplit("/", 1)[-1] if isinstance(delivery_stream_arn, str) else None
    rules = DELIVERY_STREAMS.get(stream_name) if stream_name else None
    if rules is None:  # a Firehose this function was not configured for: fail loudly, keep the data
        raise UnknownDeliveryStreamError(f"no transformation rules for delivery stream {str(stream_name)[:128]}")
    if not isinstance(records, list):
        logger.error("Event without a records list")
        return []
    owner = stream_name == UNROUTABLE_STREAM
    return [transform_record(record, rules, fails_unroutable=owner) for record in records]


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    event = event if isinstance(event, dict) else {}
    results = transform(event.get("records"), event.get("deliveryStreamArn"))
    for outcome in OUTCOMES:
        metrics.add_metric(
            name=f"Records{outcome}", unit=MetricUnit.Count, value=sum(1 for r in results if r["result"] == outcome)
        )
    return {"records": results}
