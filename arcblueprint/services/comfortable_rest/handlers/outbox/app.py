"""Publish the table's changes as domain events: the transactional outbox of a Comfortable REST service.

The table's stream records every write the API makes; this function turns an ``INSERT`` into
``<Entity>Created`` and a ``MODIFY`` into ``<Entity>Updated`` (``OUTBOX_EVENTS``) with the item as
stored, validates each against its schema and puts it on the platform bus. Each change is
published once (Powertools idempotency keyed on ``<id>:<version>:<change>``, so a retried batch
or a replayed shard publishes nothing twice); a record that cannot be published is reported as a
batch item failure, retried alone (bisect), and finally described in the on-failure queue.

Environment: ``OUTBOX_EVENTS`` (``{"INSERT": "OrderCreated", "MODIFY": "OrderUpdated"}``),
``IDEMPOTENCY_TABLE``, ``IDEMPOTENCY_TTL_SECONDS``, and ``EVENT_BUS_NAME``/``EVENT_SOURCE``.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from boto3.dynamodb.types import TypeDeserializer
from clients import lazy_client_store
from domain_events import DomainEvents
from tracing import new_tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = new_tracer()  # the X-Ray SDK is imported only when tracing is on
metrics = Metrics()

OUTBOX_EVENTS: dict[str, str] = json.loads(os.environ.get("OUTBOX_EVENTS", "{}"))
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
# Its DynamoDB client is made on the first record, not at import.
persistence_layer = lazy_client_store(
    DynamoDBPersistenceLayer, table_name=os.environ.get("IDEMPOTENCY_TABLE", "idempotency")
)
idempotency_config = IdempotencyConfig(
    event_key_jmespath="key",
    expires_after_seconds=int(os.environ.get("IDEMPOTENCY_TTL_SECONDS", "86400")),
    raise_on_no_idempotency_key=True,
)

publisher = DomainEvents(metrics=metrics) if os.environ.get("EVENT_SOURCE") else None
_deserializer = TypeDeserializer()


def plain(image: dict[str, Any]) -> dict[str, Any]:
    """A stream image (DynamoDB JSON) as plain JSON values: numbers as int (or float), not Decimal."""

    def number(value: Any) -> Any:
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else float(value)
        if isinstance(value, dict):
            return {k: number(v) for k, v in value.items()}
        if isinstance(value, list | set):
            return [number(v) for v in value]
        return value

    return {key: number(_deserializer.deserialize(value)) for key, value in image.items()}


def change_of(record: dict[str, Any]) -> dict[str, Any] | None:
    """The event a stream record becomes (``key``, ``detailType``, ``detail``), or ``None`` when it becomes none."""
    change = record.get("eventName")
    detail_type = OUTBOX_EVENTS.get(change or "")
    stream = record.get("dynamodb") or {}
    if detail_type is None or "NewImage" not in stream:
        return None
    item = plain(stream["NewImage"])
    if change == "MODIFY":
        before = plain(stream.get("OldImage") or {})
        if before.get("version") == item.get("version"):
            # Not a new version of the item (a write outside the API, e.g. a backfill): no business event.
            logger.info("Change without a new version skipped", extra={"item_id": item.get("id")})
            return None
        item["previousVersion"] = before.get("version")
    return {"key": f"{item.get('id')}:{item.get('version')}:{change}", "detailType": detail_type, "detail": item}


@idempotent_function(data_keyword_argument="change", config=idempotency_config, persistence_store=persistence_layer)
def publish_change(change: dict[str, Any]) -> dict[str, str]:
    """Validate and put one change's event; idempotent on its key, so a retry returns the first event id."""
    assert publisher is not None, "EVENT_SOURCE is not set"
    event_id = publisher.publish(change["detailType"], change["detail"])
    return {"key": change["key"], "eventId": event_id}


def record_handler(record: DynamoDBRecord) -> dict[str, str] | None:
    change = change_of(record.raw_event)
    return None if change is None else publish_change(change=change)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    idempotency_config.register_lambda_context(context)
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    metrics.add_metric(name="OutboxChangesFailed", unit=MetricUnit.Count, value=len(response["batchItemFailures"]))
    return response
