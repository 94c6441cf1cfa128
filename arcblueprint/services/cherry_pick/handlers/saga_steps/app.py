"""The saga's steps and their compensations, one action per call from Step Functions.

Every action is idempotent (a conditional status transition), so Step Functions' retries and a
compensation of a step that never ran are both safe.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

logger = Logger()
tracer = Tracer()
metrics = Metrics()

TABLE_NAME = os.environ.get("TABLE_NAME", "")
table = boto3.resource("dynamodb").Table(TABLE_NAME) if TABLE_NAME else None

#: action -> (status the booking moves to, statuses it may come from).
TRANSITIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "reserve_flight": ("RESERVED", ("PENDING", "RESERVED")),
    "collect_payment": ("PAID", ("RESERVED", "PAID")),
    "confirm_booking": ("CONFIRMED", ("PAID", "CONFIRMED")),
    "cancel_booking": ("PAID", ("CONFIRMED", "PAID", "RESERVED", "PENDING", "CANCELLED")),
    "refund_payment": ("RESERVED", ("PAID", "RESERVED", "PENDING", "CANCELLED")),
    "cancel_reservation": ("CANCELLED", ("RESERVED", "PENDING", "CANCELLED", "PAID")),
}


class StepRetryableError(Exception):
    """A transient failure: the state machine retries it with backoff."""


class StepFailedError(Exception):
    """A business failure: the state machine compensates."""


def apply(store: Any, action: str, booking_id: str) -> dict[str, str]:
    if action not in TRANSITIONS:
        raise StepFailedError(f"unknown action {action}")
    target, allowed = TRANSITIONS[action]
    try:
        store.update_item(
            Key={"id": booking_id}, UpdateExpression="SET #s = :target",
            ConditionExpression="attribute_exists(id) AND #s IN (" + ", ".join(f":a{i}" for i in range(len(allowed))) + ")",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":target": target, **{f":a{i}": s for i, s in enumerate(allowed)}})
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code == "ConditionalCheckFailedException":
            raise StepFailedError(f"{action} is not allowed for booking {booking_id} now") from None
        logger.exception("Booking store failed", extra={"action": action})
        raise StepRetryableError(code) from None
    metrics.add_metric(name=f"Saga_{action}", unit=MetricUnit.Count, value=1)
    return {"bookingId": booking_id, "status": target}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    return apply(table, event["action"], event["booking"]["id"])
