"""Consume buffered webhooks at the pace the downstream can take, each delivered once.

Concurrency is limited by the event source (SQS maximum concurrency, or Kinesis shards) and/or
reserved concurrency, so a non-scalable downstream is never flooded. The one external effect, the
``WebhookReceived`` event on the bus, is guarded by Powertools idempotency keyed on ``webhookId``
(derived by the receiver from the signed body): a redelivery or a replay is a no-op. The guarded
step holds the effect only; the status write comes after it and never fails a delivered webhook,
so a webhook is either delivered or dead-lettered, never both. Every downstream call is retried in
place on throttling and connection errors (``exactly_once.py``).

SQS: failures are reported per record (one poison message goes to the DLQ alone). Kinesis: records
are processed in order up to the first failure, which is the checkpoint Lambda retries from.

Environment: ``BUFFER`` (``sqs``/``kinesis``), ``IDEMPOTENCY_TABLE``, ``IDEMPOTENCY_TTL_SECONDS``,
``STATUS_TABLE`` (optional), ``EVENT_BUS_NAME`` and ``EVENT_SOURCE`` (optional: where processed webhooks
are published, as ``WebhookReceived`` validated against its schema by ``domain_events.py``).
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
from aws_lambda_powertools.utilities.idempotency import idempotent_function
from clients import lazy
from domain_events import DomainEvents, InvalidEventError
from exactly_once import (
    TRANSIENT_CODES,
    StreamBatchError,
    TransientError,
    call_with_retries,
    idempotency_store,
    process_stream_in_order,
)
from tracing import new_tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = new_tracer()  # the X-Ray SDK is imported only when tracing is on
metrics = Metrics()

BUFFER = os.environ.get("BUFFER", "sqs")
STATUS_TABLE = os.environ.get("STATUS_TABLE", "")

# One bad message must not fail the invocation: all records failed is reported, not raised.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def count(name: str) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


# A redelivery or replay of a webhook already delivered returns the stored result and counts WebhookDuplicate.
persistence_layer, idempotency_config = idempotency_store(
    metrics, key="webhookId", duplicate_metric="WebhookDuplicate", default_ttl_seconds=86400
)

dynamodb = lazy(lambda: boto3.client("dynamodb")) if STATUS_TABLE else None
# The bus policy admits this role for its own source only (arcblueprint.<service>), set by the component.
publisher = DomainEvents(metrics=metrics) if os.environ.get("EVENT_SOURCE") else None


class PoisonMessageError(ValueError):
    """The record can never be processed (not a webhook envelope); it will end in the DLQ."""


class DeliveryError(RuntimeError):
    """The bus refused the webhook for good (e.g. too large): retrying will not help."""


def remaining_millis() -> int:
    context = idempotency_config.lambda_context
    return context.get_remaining_time_in_millis() if context is not None else 60_000


def parse_envelope(text: str) -> dict[str, Any]:
    try:
        message = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise PoisonMessageError(f"not JSON: {type(error).__name__}") from None
    if (
        not isinstance(message, dict)
        or not isinstance(message.get("webhookId"), str)
        or not message["webhookId"]
        or "payload" not in message
    ):
        raise PoisonMessageError("not a webhook envelope (webhookId, payload)")
    return message


def deliver(message: dict[str, Any]) -> None:
    """The external effect: publish the webhook on the platform bus for whoever subscribes."""
    if publisher is None:
        logger.info("Webhook processed", extra={"webhook_id": message["webhookId"]})
        return
    try:
        entry = publisher.entry("WebhookReceived", message)  # validated against its schema (and counted if not)
    except InvalidEventError as error:
        raise PoisonMessageError(str(error)) from None

    def put() -> None:
        response = publisher.client.put_events(Entries=[entry])
        if response.get("FailedEntryCount"):
            code = response["Entries"][0].get("ErrorCode") or "unknown"
            refused = TransientError if code in TRANSIENT_CODES else DeliveryError
            raise refused(f"event bus refused the webhook: {code}")

    call_with_retries(put, remaining_millis=remaining_millis)


@idempotent_function(data_keyword_argument="key", config=idempotency_config, persistence_store=persistence_layer)
def deliver_once(key: dict[str, str], message: dict[str, Any]) -> dict[str, str]:
    """The guarded step holds the effect and nothing after it: a failure after the effect would delete the
    idempotency record, and the redelivery would deliver the webhook again. Powertools copies ``key``
    (the idempotency data), not the payload."""
    deliver(message)
    return {"webhookId": key["webhookId"], "status": "PROCESSED"}


def set_status(message_id: str, status: str) -> None:
    """Bookkeeping after the effect: retried in place, and never a reason to fail a delivered webhook."""
    if dynamodb is None:
        return
    try:
        call_with_retries(
            lambda: dynamodb.update_item(
                TableName=STATUS_TABLE,
                Key={"webhookId": {"S": message_id}},
                UpdateExpression="SET #s = :s",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":s": {"S": status}},
            ),
            remaining_millis=remaining_millis,
        )
    except Exception:
        logger.exception("Webhook delivered but its status was not recorded", extra={"webhook_id": message_id})
        count("WebhookStatusUnrecorded")


def record_body(record: SQSRecord | KinesisStreamRecord) -> str:
    if isinstance(record, KinesisStreamRecord):  # BUFFER == "kinesis": process_stream_in_order's records
        return record.kinesis.data_as_text()
    return record.body


def record_handler(record: SQSRecord | KinesisStreamRecord) -> dict[str, str]:
    try:
        text = record_body(record)
    except (ValueError, TypeError) as error:  # undecodable Kinesis data (base64, UTF-8), a body of the wrong type
        raise PoisonMessageError(f"unreadable record: {type(error).__name__}") from None
    if not isinstance(text, str):
        raise PoisonMessageError("record body is not text")
    message = parse_envelope(text)
    result = deliver_once(key={"webhookId": message["webhookId"]}, message=message)
    set_status(message["webhookId"], "PROCESSED")
    return result


def add_batch_metrics(processed: int, failed: int) -> None:
    """One metric per batch, not per record: per-record metrics and trace subsegments cost more than the work."""
    metrics.add_metric(name="WebhookProcessed", unit=MetricUnit.Count, value=processed)
    metrics.add_metric(name="WebhookFailed", unit=MetricUnit.Count, value=failed)


def process_stream(records: list[dict[str, Any]]) -> PartialItemFailureResponse:
    try:
        response = process_stream_in_order(records, record_handler)
    except StreamBatchError:
        add_batch_metrics(0, 1)
        raise
    failures = response["batchItemFailures"]
    processed = next(
        (
            i
            for i, r in enumerate(records)
            if failures and r.get("kinesis", {}).get("sequenceNumber") == failures[0]["itemIdentifier"]
        ),
        len(records),
    )
    add_batch_metrics(processed, len(failures))
    return response


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    idempotency_config.register_lambda_context(context)
    if BUFFER == "kinesis":
        return process_stream(event["Records"])
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    failed = len(response["batchItemFailures"])
    add_batch_metrics(len(event["Records"]) - failed, failed)
    return response
