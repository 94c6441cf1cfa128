"""Drain one consumer's queue of fanned-out messages: decode large payloads, process each once.

The queue is subscribed to the topic with this consumer's filter policy, so only the messages it
wants arrive. A raw subscription delivers the published body as is, with the message attributes as
SQS attributes; otherwise the body is the SNS JSON envelope. The subscription says which
(``RAW_MESSAGE_DELIVERY``): a raw body that looks like an envelope is only a message, so it cannot
forge the attributes (deduplication key, tenant, event type) that SNS set. Compressed and
claim-checked payloads are decoded transparently, up to ``payloads.MAX_PAYLOAD_BYTES`` inflated.

The business effect (``handle``) is guarded by Powertools idempotency keyed on the ``messageId``
attribute (SNS and SQS deliver at least once); the guarded step holds the effect only, and its
downstream calls are retried in place on throttling and connection errors (``exactly_once.py``).
Failures are reported per record, so a poison message goes to the DLQ alone.

Environment: ``CONSUMER_NAME``, ``IDEMPOTENCY_TABLE``, ``IDEMPOTENCY_TTL_SECONDS``, ``RAW_MESSAGE_DELIVERY``
(``true``/``false``, the subscription's setting), ``PAYLOAD_BUCKET`` (optional: where claim-checked payloads are).
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.idempotency import idempotent_function
from clients import lazy
from exactly_once import call_with_retries, idempotency_store
from payloads import MAX_PAYLOAD_BYTES, decode
from tracing import new_tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = new_tracer()  # the X-Ray SDK is imported only when tracing is on
metrics = Metrics()

CONSUMER_NAME = os.environ.get("CONSUMER_NAME", "consumer")
PAYLOAD_BUCKET = os.environ.get("PAYLOAD_BUCKET", "")
RAW_MESSAGE_DELIVERY = os.environ.get("RAW_MESSAGE_DELIVERY", "true").lower() == "true"

# One bad message must not fail the invocation: all records failed is reported, not raised.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


# A redelivery of a message already processed returns the stored result and counts MessageDuplicate.
persistence_layer, idempotency_config = idempotency_store(
    metrics, key="messageId", duplicate_metric="MessageDuplicate", default_ttl_seconds=86400
)

s3 = lazy(lambda: boto3.client("s3")) if PAYLOAD_BUCKET else None


class PoisonMessageError(ValueError):
    """The message can never be processed; it will end in the DLQ."""


def remaining_millis() -> int:
    context = idempotency_config.lambda_context
    return context.get_remaining_time_in_millis() if context is not None else 60_000


def read_object(bucket: str, key: str) -> bytes:
    if s3 is None or bucket != PAYLOAD_BUCKET or not isinstance(key, str):
        raise PoisonMessageError("claim check points outside the payload bucket")

    def get() -> bytes:  # at most one byte more than a payload may have: decode() refuses it
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read(MAX_PAYLOAD_BYTES + 1)

    return call_with_retries(get, remaining_millis=remaining_millis)


def string_values(attributes: Any, value_key: str) -> dict[str, str]:
    """``{name: value}`` of the String/Number attributes (each ``{value_key: str, ...}``); others are ignored."""
    if not isinstance(attributes, dict):
        return {}
    return {
        name: value[value_key]
        for name, value in attributes.items()
        if isinstance(name, str) and isinstance(value, dict) and isinstance(value.get(value_key), str)
    }


def unwrap(body: str, sqs_attributes: Any) -> tuple[str, dict[str, str], str | None]:
    """(published text, attributes, SNS message id), as the subscription delivers them."""
    if RAW_MESSAGE_DELIVERY:
        return body, string_values(sqs_attributes, "stringValue"), None
    try:
        notification = json.loads(body)
    except (ValueError, RecursionError):
        notification = None
    if (
        not isinstance(notification, dict)
        or notification.get("Type") != "Notification"
        or not isinstance(notification.get("Message"), str)
    ):
        raise PoisonMessageError("not an SNS notification, on a subscription without raw delivery")
    message_id = notification.get("MessageId")
    return (
        notification["Message"],
        string_values(notification.get("MessageAttributes"), "Value"),
        message_id if isinstance(message_id, str) else None,
    )


def to_message(body: Any, sqs_attributes: Any) -> dict[str, Any]:
    """The message as published (decoded), with the id idempotency is keyed on."""
    if not isinstance(body, str):
        raise PoisonMessageError("the body is not text")
    text, attributes, sns_id = unwrap(body, sqs_attributes)
    try:
        payload = json.loads(decode(text, get_object=read_object))
    except (ValueError, RecursionError) as error:  # JSONDecodeError and PayloadError
        raise PoisonMessageError(f"{type(error).__name__}: {str(error)[:200]}") from None
    message_id = attributes.get("messageId") or sns_id or hashlib.sha256(text.encode(errors="replace")).hexdigest()
    return {"messageId": message_id, "attributes": attributes, "payload": payload}


def handle(message: dict[str, Any]) -> None:
    """This consumer's business logic (replace per consumer); here it records what it received.

    Its calls to other services should go through ``call_with_retries``: a failure here fails the
    message, which comes back later (or ends in the DLQ), so only the effect may happen in here.
    """
    logger.info(
        "Message processed",
        extra={"message_id": message["messageId"], "event_type": message["attributes"].get("eventType")},
    )


@idempotent_function(data_keyword_argument="key", config=idempotency_config, persistence_store=persistence_layer)
def process_message(key: dict[str, str], message: dict[str, Any]) -> dict[str, str]:
    """The guarded step: the effect and nothing after it. Powertools copies ``key``, not the payload."""
    handle(message)
    return {"messageId": key["messageId"]}


def record_handler(record: SQSRecord) -> dict[str, str]:
    message = to_message(record.raw_event.get("body"), record.raw_event.get("messageAttributes"))
    return process_message(key={"messageId": message["messageId"]}, message=message)


def add_batch_metrics(records: int, failures: int) -> None:
    """One metric per batch, not per record: per-record metrics and trace subsegments cost more than the work."""
    metrics.add_metric(name="MessageProcessed", unit=MetricUnit.Count, value=records - failures)
    metrics.add_metric(name="MessageFailed", unit=MetricUnit.Count, value=failures)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    idempotency_config.register_lambda_context(context)
    metrics.add_dimension(name="consumer", value=CONSUMER_NAME)
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    add_batch_metrics(len(event["Records"]), len(response["batchItemFailures"]))
    return response
