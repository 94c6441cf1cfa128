"""Consume buffered webhooks at the pace the downstream can take, each exactly once.

Concurrency is limited by the event source (SQS maximum concurrency, or Kinesis shards) and/or
reserved concurrency, so a non-scalable downstream is never flooded. Each record is processed by
an idempotent function keyed on the webhook id (a sender's redelivery or an SQS redelivery is a
no-op), and failures are reported per record so one poison message never blocks the batch.

Environment: ``BUFFER`` (``sqs``/``kinesis``), ``IDEMPOTENCY_TABLE``, ``IDEMPOTENCY_TTL_SECONDS``,
``STATUS_TABLE`` (optional), ``EVENT_BUS_NAME`` (optional: where processed webhooks are published).
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

logger = Logger()
tracer = Tracer()
metrics = Metrics()

BUFFER = os.environ.get("BUFFER", "sqs")
STATUS_TABLE = os.environ.get("STATUS_TABLE", "")
EVENT_BUS_NAME = os.environ.get("EVENT_BUS_NAME", "")
SOURCE = os.environ.get("POWERTOOLS_SERVICE_NAME", "webhooks")

processor = BatchProcessor(event_type=EventType.KinesisDataStreams if BUFFER == "kinesis" else EventType.SQS)
persistence_layer = DynamoDBPersistenceLayer(table_name=os.environ.get("IDEMPOTENCY_TABLE", "idempotency"))
idempotency_config = IdempotencyConfig(
    event_key_jmespath="webhookId",
    expires_after_seconds=int(os.environ.get("IDEMPOTENCY_TTL_SECONDS", "86400")),
    raise_on_no_idempotency_key=True,
)
dynamodb = boto3.client("dynamodb") if STATUS_TABLE else None
events = boto3.client("events") if EVENT_BUS_NAME else None


class PoisonMessageError(ValueError):
    """The record can never be processed (not a webhook envelope); it will end in the DLQ."""


def parse_envelope(text: str) -> dict[str, Any]:
    try:
        message = json.loads(text)
    except json.JSONDecodeError as error:
        raise PoisonMessageError(f"not JSON: {error.msg}") from None
    if not isinstance(message, dict) or not isinstance(message.get("webhookId"), str) or "payload" not in message:
        raise PoisonMessageError("not a webhook envelope (webhookId, payload)")
    return message


def deliver(message: dict[str, Any]) -> None:
    """The downstream call: publish the webhook on the platform bus for whoever subscribes."""
    if events is None:
        logger.info("Webhook processed", extra={"webhook_id": message["webhookId"]})
        return
    response = events.put_events(Entries=[{
        "EventBusName": EVENT_BUS_NAME, "Source": SOURCE, "DetailType": "WebhookReceived",
        "Detail": json.dumps(message, separators=(",", ":"))}])
    if response.get("FailedEntryCount"):
        raise RuntimeError(f"event bus rejected the webhook: {response['Entries'][0].get('ErrorCode')}")


def set_status(message_id: str, status: str) -> None:
    if dynamodb is not None:
        dynamodb.update_item(TableName=STATUS_TABLE, Key={"webhookId": {"S": message_id}},
                             UpdateExpression="SET #s = :s", ExpressionAttributeNames={"#s": "status"},
                             ExpressionAttributeValues={":s": {"S": status}})


@idempotent_function(data_keyword_argument="message", config=idempotency_config, persistence_store=persistence_layer)
def process_webhook(message: dict[str, Any]) -> dict[str, str]:
    """Deliver one webhook; idempotent on ``webhookId`` so redeliveries return the stored result."""
    deliver(message)
    set_status(message["webhookId"], "PROCESSED")
    return {"webhookId": message["webhookId"], "status": "PROCESSED"}


def record_body(record: Any) -> str:
    if BUFFER == "kinesis":
        return record.kinesis.data_as_text()
    return record.body


def record_handler(record: Any) -> dict[str, str]:
    message = parse_envelope(record_body(record))
    return process_webhook(message=message)


def add_batch_metrics(records: int, failures: int) -> None:
    """One metric per batch, not per record: per-record metrics and trace subsegments cost more than the work."""
    metrics.add_metric(name="WebhookProcessed", unit=MetricUnit.Count, value=records - failures)
    metrics.add_metric(name="WebhookFailed", unit=MetricUnit.Count, value=failures)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    idempotency_config.register_lambda_context(context)
    response = process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                        context=context)
    add_batch_metrics(len(event["Records"]), len(response["batchItemFailures"]))
    return response
