"""createBooking validates the request, records the booking once (idempotent) and starts the saga;
confirmBooking (IAM callers only) records how the saga settled.

Complex logic lives in Lambda (the talk's "use Lambda for complex logic"); the long transaction
itself runs in Step Functions so this resolver returns in milliseconds with a PENDING booking.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import AppSyncResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = AppSyncResolver()

TABLE_NAME = os.environ.get("TABLE_NAME", "")
STATE_MACHINE_ARN = os.environ.get("STATE_MACHINE_ARN", "")
MAX_SEATS = 9

table = boto3.resource("dynamodb").Table(TABLE_NAME) if TABLE_NAME else None
sfn = boto3.client("stepfunctions")


class BookingError(Exception):
    """A GraphQL error the client can act on (its class name is the errorType AppSync returns)."""


class ValidationError(BookingError):
    pass


class ConflictError(BookingError):
    pass


class UnavailableError(BookingError):
    pass


class NotFoundError(BookingError):
    pass


#: Statuses a booking may settle into, and the ones it may leave (settled bookings stay settled).
SETTLED = ("CONFIRMED", "CANCELLED")
OPEN = ("PENDING", "RESERVED", "PAID")


def validate_input(data: dict[str, Any]) -> dict[str, Any]:
    seats = data.get("seats")
    if not isinstance(seats, int) or not 1 <= seats <= MAX_SEATS:
        raise ValidationError(f"seats must be from 1 to {MAX_SEATS}")
    for key in ("idempotencyKey", "flightId", "paymentToken"):
        value = data.get(key)
        if not isinstance(value, str) or not 1 <= len(value) <= 128:
            raise ValidationError(f"{key} must be 1-128 characters")
    return data


def create_booking(store: Any, states: Any, owner: str, data: dict[str, Any]) -> dict[str, Any]:
    data = validate_input(data)
    booking_id = f"{owner}:{data['idempotencyKey']}"
    booking = {"id": booking_id, "owner": owner, "flightId": data["flightId"], "seats": data["seats"],
               "status": "PENDING", "createdAt": datetime.now(UTC).isoformat(timespec="milliseconds")}
    try:
        store.put_item(Item=booking, ConditionExpression=Attr("id").not_exists())
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            logger.exception("Booking store failed")
            metrics.add_metric(name="DownstreamErrors", unit=MetricUnit.Count, value=1)
            raise UnavailableError("Bookings are unavailable; retry later") from None
        existing = store.get_item(Key={"id": booking_id}).get("Item", {})
        if existing.get("flightId") != data["flightId"] or int(existing.get("seats", 0)) != data["seats"]:
            metrics.add_metric(name="IdempotencyConflicts", unit=MetricUnit.Count, value=1)
            raise ConflictError("idempotencyKey was already used for a different booking") from None
        logger.info("Repeated request: returning the existing booking", extra={"booking_id": booking_id})
        return {**existing, "seats": int(existing["seats"])}
    try:
        # The execution name is the booking id: Step Functions refuses a second execution of it.
        states.start_execution(stateMachineArn=STATE_MACHINE_ARN, name=_execution_name(booking_id),
                               input=json.dumps({"booking": {**booking, "paymentToken": data["paymentToken"]}}))
    except ClientError:
        logger.exception("Starting the saga failed", extra={"booking_id": booking_id})
        metrics.add_metric(name="DownstreamErrors", unit=MetricUnit.Count, value=1)
        store.delete_item(Key={"id": booking_id})  # nothing started: let the client retry cleanly
        raise UnavailableError("Bookings are unavailable; retry later") from None
    metrics.add_metric(name="BookingsStarted", unit=MetricUnit.Count, value=1)
    logger.info("Booking saga started", extra={"booking_id": booking_id})
    return booking


def confirm_booking(store: Any, booking_id: str, status: str) -> dict[str, Any]:
    """Move an open booking to its final or next status; a settled booking is never reopened."""
    if status not in OPEN + SETTLED or status == "PENDING":
        raise ValidationError(f"status must be one of RESERVED, PAID, {', '.join(SETTLED)}")
    try:
        updated = store.update_item(
            Key={"id": booking_id}, UpdateExpression="SET #s = :s, updatedAt = :t",
            ConditionExpression=Attr("id").exists() & Attr("status").is_in(list(OPEN)),
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": status, ":t": datetime.now(UTC).isoformat(timespec="milliseconds")},
            ReturnValues="ALL_NEW")["Attributes"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            logger.exception("Booking store failed")
            metrics.add_metric(name="DownstreamErrors", unit=MetricUnit.Count, value=1)
            raise UnavailableError("Bookings are unavailable; retry later") from None
        existing = store.get_item(Key={"id": booking_id}).get("Item")
        if existing is None:
            raise NotFoundError(f"booking {booking_id} does not exist") from None
        if existing.get("status") == status:
            return {**existing, "seats": int(existing["seats"])}  # a repeated call: same answer
        raise ConflictError(f"booking {booking_id} is already {existing.get('status')}") from None
    metrics.add_metric(name=f"Bookings{status.title()}", unit=MetricUnit.Count, value=1)
    return {**updated, "seats": int(updated["seats"])}


def _execution_name(booking_id: str) -> str:
    import hashlib

    return hashlib.sha256(booking_id.encode()).hexdigest()[:64]


@app.resolver(type_name="Mutation", field_name="createBooking")
@tracer.capture_method
def create_booking_resolver(input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002 (GraphQL argument name)
    identity = app.current_event.identity
    owner = getattr(identity, "sub", None) or getattr(identity, "user_arn", None)
    if not owner:
        raise ValidationError("caller identity is required")
    return create_booking(table, sfn, owner, input)


@app.resolver(type_name="Mutation", field_name="confirmBooking")
@tracer.capture_method
def confirm_booking_resolver(id: str, status: str) -> dict[str, Any]:  # noqa: A002 (GraphQL argument name)
    return confirm_booking(table, id, status)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.APPSYNC_RESOLVER)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
