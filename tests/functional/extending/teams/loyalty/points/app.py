"""Loyalty points: the loyalty team's consumer of order messages, deployed by the blueprint as its own code.

The team's service is a Big Fan consumer whose ``codeDir`` names this folder (``service.yaml``); the
blueprint packages the folder as it packages its own handlers and wires the queue, the DLQ, the alarms
and the grants. Each order earns its customer one point per full 10 of its amount. The message id (the
``messageId`` attribute the Big Fan API sets from the request id, else SQS's own) is recorded in the
consumer's table (``IDEMPOTENCY_TABLE``, created and granted by the component) with a conditional write,
so a redelivered message awards nothing twice.

Environment (set by the Big Fan component): ``IDEMPOTENCY_TABLE``, ``CONSUMER_NAME``.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from botocore.exceptions import ClientError

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
table = boto3.resource("dynamodb").Table(os.environ.get("IDEMPOTENCY_TABLE", "loyalty-points"))

#: How long an award's record keeps a redelivery from awarding again (the table expires items on it).
RECORD_TTL_SECONDS = 86400


class InvalidOrderError(ValueError):
    """The message is not an order this consumer can award points for (it goes to the DLQ)."""


def points_for(order: Any) -> int:
    """One point per full 10 of the order's amount."""
    amount = order.get("amount") if isinstance(order, dict) else None
    if isinstance(amount, bool) or not isinstance(amount, int | float) or amount < 0:
        raise InvalidOrderError(f"order {order.get('id') if isinstance(order, dict) else None!r} has no valid amount")
    return int(amount // 10)


def award(message_id: str, order: dict[str, Any]) -> int | None:
    """Award the order's points once: the points awarded, or ``None`` when this message already was."""
    points = points_for(order)
    try:
        table.put_item(
            Item={
                "id": f"points#{message_id}",
                "expiration": int(time.time()) + RECORD_TTL_SECONDS,
                "customer": str(order.get("customer", "")),
                "points": points,
            },
            ConditionExpression="attribute_not_exists(id)",
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        logger.info("points already awarded", extra={"messageId": message_id})
        return None
    logger.info("points awarded", extra={"messageId": message_id, "customer": order.get("customer"), "points": points})
    return points


def process(record: Any) -> None:
    attribute = (record.message_attributes or {}).get("messageId") or {}
    message_id = attribute.get("stringValue") or record.message_id
    try:
        order = json.loads(record.body)
    except ValueError:
        raise InvalidOrderError(f"message {message_id} is not JSON") from None
    award(message_id, order)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=process, processor=processor, context=context)
