"""Drain one consumer's queue of fanned-out messages: decode large payloads, process each once.

The queue is subscribed to the topic with this consumer's filter policy, so only the messages it
wants arrive. Messages come raw (the published body, attributes as SQS attributes) or wrapped in the
SNS JSON envelope; both are read. Compressed and claim-checked payloads are decoded transparently.
Each message is processed by an idempotent function (SQS and SNS deliver at least once) and failures
are reported per record, so a poison message goes to the DLQ alone.

Environment: ``CONSUMER_NAME``, ``IDEMPOTENCY_TABLE``, ``IDEMPOTENCY_TTL_SECONDS``,
``PAYLOAD_BUCKET`` (optional: where claim-checked payloads are).
"""

from __future__ import annotations

import hashlib
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

from payloads import decode

logger = Logger()
tracer = Tracer()
metrics = Metrics()

CONSUMER_NAME = os.environ.get("CONSUMER_NAME", "consumer")
PAYLOAD_BUCKET = os.environ.get("PAYLOAD_BUCKET", "")

processor = BatchProcessor(event_type=EventType.SQS)
persistence_layer = DynamoDBPersistenceLayer(table_name=os.environ.get("IDEMPOTENCY_TABLE", "idempotency"))
idempotency_config = IdempotencyConfig(
    event_key_jmespath="messageId",
    expires_after_seconds=int(os.environ.get("IDEMPOTENCY_TTL_SECONDS", "86400")),
    raise_on_no_idempotency_key=True,
)
s3 = boto3.client("s3") if PAYLOAD_BUCKET else None


class PoisonMessageError(ValueError):
    """The message can never be processed; it will end in the DLQ."""


def read_object(bucket: str, key: str) -> bytes:
    if s3 is None or bucket != PAYLOAD_BUCKET:
        raise PoisonMessageError(f"claim check points outside the payload bucket: s3://{bucket}/{key}")
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def unwrap(body: str, sqs_attributes: dict[str, Any]) -> tuple[str, dict[str, str], str | None]:
    """(published text, attributes, SNS message id) from a raw or enveloped SQS body."""
    if body.startswith("{") and '"TopicArn"' in body:
        try:
            notification = json.loads(body)
        except json.JSONDecodeError:
            notification = None
        if isinstance(notification, dict) and notification.get("Type") == "Notification":
            attributes = {k: v.get("Value", "") for k, v in (notification.get("MessageAttributes") or {}).items()}
            return notification.get("Message", ""), attributes, notification.get("MessageId")
    attributes = {k: v.get("stringValue", "") for k, v in (sqs_attributes or {}).items()}
    return body, attributes, None


def to_message(body: str, sqs_attributes: dict[str, Any]) -> dict[str, Any]:
    """The message as published (decoded), with the id idempotency is keyed on."""
    text, attributes, sns_id = unwrap(body, sqs_attributes)
    try:
        payload = json.loads(decode(text, get_object=read_object))
    except ValueError as error:  # JSONDecodeError and PayloadError
        raise PoisonMessageError(str(error)) from None
    message_id = attributes.get("messageId") or sns_id or hashlib.sha256(text.encode()).hexdigest()
    return {"messageId": message_id, "attributes": attributes, "payload": payload}


def handle(message: dict[str, Any]) -> None:
    """This consumer's business logic (replace per consumer); here it records what it received."""
    logger.info("Message processed", extra={"message_id": message["messageId"],
                                            "event_type": message["attributes"].get("eventType")})


@idempotent_function(data_keyword_argument="message", config=idempotency_config, persistence_store=persistence_layer)
def process_message(message: dict[str, Any]) -> dict[str, str]:
    handle(message)
    return {"messageId": message["messageId"]}


def record_handler(record: Any) -> dict[str, str]:
    message = to_message(record.body, record.raw_event.get("messageAttributes") or {})
    return process_message(message=message)


def add_batch_metrics(records: int, failures: int) -> None:
    """One metric per batch, not per record: per-record metrics and trace subsegments cost more than the work."""
    metrics.add_metric(name="MessageProcessed", unit=MetricUnit.Count, value=records - failures)
    metrics.add_metric(name="MessageFailed", unit=MetricUnit.Count, value=failures)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    idempotency_config.register_lambda_context(context)
    metrics.add_dimension(name="consumer", value=CONSUMER_NAME)
    response = process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                        context=context)
    add_batch_metrics(len(event["Records"]), len(response["batchItemFailures"]))
    return response
