"""createBooking validates the request, records the booking once (idempotent) and starts the saga;
confirmBooking (IAM backends only) settles a booking the saga has brought to it.

Complex logic lives in Lambda (the talk's "use Lambda for complex logic"); the long transaction
itself runs in Step Functions so this resolver returns in milliseconds with a PENDING booking.

Starting the saga is idempotent per booking: the execution's name is derived from the booking id and
its input from the stored booking, so ``StartExecution`` of a STANDARD workflow returns the running
execution instead of a second one (and the saga steps make a second EXPRESS execution a no-op). When
the start fails:

- the service answered, or it was never reached (connection refused, DNS): nothing started, so the
  booking is removed and the client's retry starts from scratch;
- the answer was lost (read timeout, connection reset): the execution may exist, so the booking is
  kept PENDING without ``executionArn``, and the client's retry with the same ``idempotencyKey``
  starts it (a no-op if it had started).

Either way the client gets ``UnavailableError`` ("retry with the same idempotencyKey"), never the
SDK's message (which names the endpoint). Every error the resolver raises is a ``BookingError``
(its class name is the GraphQL ``errorType``), with a message that names nothing internal.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
import snapstart  # noqa: F401 - registers the after-restore reseed (SnapStart)
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import AppSyncResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from booking_status import SETTLEMENTS
from boto3.dynamodb.conditions import Attr
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, EndpointConnectionError
from clients import lazy
from masking import masked_json
from tracing import new_tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(json_serializer=masked_json)  # no log line carries a payment token, card number or secret
tracer = new_tracer()  # the X-Ray SDK is imported only when tracing is on
metrics = Metrics()
app = AppSyncResolver()

TABLE_NAME = os.environ.get("TABLE_NAME", "")
STATE_MACHINE_ARN = os.environ.get("STATE_MACHINE_ARN", "")
MAX_SEATS = 9
MAX_OWNER_CHARS = 512

table = lazy(lambda: boto3.resource("dynamodb").Table(TABLE_NAME)) if TABLE_NAME else None
# Transient start failures are retried in the call (standard mode: throttling, 5xx, connection errors),
# within AppSync's 30 s resolver budget.
sfn = lazy(
    lambda: boto3.client(
        "stepfunctions",
        config=Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5),
    )
)

# SnapStart: both are in the snapshot, loaded once when the version is published.
snapstart.create_before_snapshot(table, sfn)


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


class UnauthorizedError(BookingError):
    pass


class InternalError(BookingError):
    """Anything unexpected: the details are in the log, not in the answer."""


UNAVAILABLE = "Bookings are unavailable; retry with the same idempotencyKey"
PUBLIC_FIELDS = ("id", "flightId", "seats", "status", "createdAt", "paymentReference")


def _text(value: Any, name: str, *, max_chars: int = 128) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= max_chars:
        raise ValidationError(f"{name} must be 1-{max_chars} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(f"{name} must be valid Unicode") from None
    return value


def validate_input(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValidationError("input must be an object")
    seats = data.get("seats")
    if type(seats) is not int or not 1 <= seats <= MAX_SEATS:
        raise ValidationError(f"seats must be from 1 to {MAX_SEATS}")
    texts = {key: _text(data.get(key), key) for key in ("idempotencyKey", "flightId", "paymentToken")}
    return {"seats": seats, **texts}


def public(item: dict[str, Any]) -> dict[str, Any]:
    """The booking as the API shows it (no owner, no execution, seats as an int)."""
    shown = {k: item[k] for k in PUBLIC_FIELDS if k in item}
    if "seats" in shown:
        shown["seats"] = int(shown["seats"])
    return shown


def _unavailable(operation: str, error: Exception) -> UnavailableError:
    code = (
        error.response.get("Error", {}).get("Code", "Unknown")
        if isinstance(error, ClientError)
        else type(error).__name__
    )
    logger.error("Downstream call failed", extra={"operation": operation, "error_code": code})
    metrics.add_metric(name="DownstreamErrors", unit=MetricUnit.Count, value=1)
    return UnavailableError(UNAVAILABLE)


def create_booking(store: Any, states: Any, owner: str, data: Any) -> dict[str, Any]:
    data = validate_input(data)
    booking_id = f"{owner}:{data['idempotencyKey']}"
    booking = {
        "id": booking_id,
        "owner": owner,
        "flightId": data["flightId"],
        "seats": data["seats"],
        "status": "PENDING",
        "createdAt": datetime.now(UTC).isoformat(timespec="milliseconds"),
    }
    try:
        store.put_item(Item=booking, ConditionExpression=Attr("id").not_exists())
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise _unavailable("record", error) from None
        return _repeated(store, states, booking_id, data)
    except BotoCoreError as error:
        raise _unavailable("record", error) from None
    start_saga(store, states, booking, data["paymentToken"])
    metrics.add_metric(name="BookingsStarted", unit=MetricUnit.Count, value=1)
    logger.info("Booking saga started", extra={"booking_id": booking_id})
    return public(booking)


def _repeated(store: Any, states: Any, booking_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """A retried request: the same booking, its saga started if an earlier attempt could not tell."""
    try:
        existing = store.get_item(Key={"id": booking_id}, ConsistentRead=True).get("Item")
    except (ClientError, BotoCoreError) as error:
        raise _unavailable("read", error) from None
    if existing is None:  # removed by a failed attempt a moment ago: this retry starts over
        raise UnavailableError(UNAVAILABLE)
    if existing.get("flightId") != data["flightId"] or int(existing.get("seats", 0)) != data["seats"]:
        metrics.add_metric(name="IdempotencyConflicts", unit=MetricUnit.Count, value=1)
        raise ConflictError("idempotencyKey was already used for a different booking")
    if existing.get("status") == "PENDING" and "executionArn" not in existing:
        start_saga(store, states, existing, data["paymentToken"])
        metrics.add_metric(name="SagaRestarts", unit=MetricUnit.Count, value=1)
        logger.info("Booking saga started on retry", extra={"booking_id": booking_id})
    else:
        logger.info("Repeated request: returning the existing booking", extra={"booking_id": booking_id})
    return public(existing)


def execution_name(booking_id: str) -> str:
    """One execution name per booking (names allow 80 characters, no ``:``)."""
    return hashlib.sha256(booking_id.encode()).hexdigest()[:64]


def saga_input(booking: dict[str, Any], payment_token: str) -> str:
    """The same text for the same booking and token, so a restart is recognized as the same execution."""
    fields = {
        k: (int(v) if k == "seats" else v)
        for k, v in booking.items()
        if k in ("id", "owner", "flightId", "seats", "createdAt")
    }
    return json.dumps({"booking": {**fields, "status": "PENDING", "paymentToken": payment_token}}, sort_keys=True)


def start_saga(store: Any, states: Any, booking: dict[str, Any], payment_token: str) -> None:
    name = execution_name(booking["id"])
    try:
        arn = states.start_execution(
            stateMachineArn=STATE_MACHINE_ARN, name=name, input=saga_input(booking, payment_token)
        )["executionArn"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
            _roll_back(store, booking["id"])  # the service refused: nothing started
            raise _unavailable("start", error) from None
        # This booking's execution exists already (STANDARD: running with other input, or closed).
        arn = STATE_MACHINE_ARN.replace(":stateMachine:", ":execution:", 1) + f":{name}"
    except (EndpointConnectionError, ConnectTimeoutError) as error:
        _roll_back(store, booking["id"])  # never reached the service: nothing started
        raise _unavailable("start", error) from None
    except BotoCoreError as error:
        # The answer was lost: the execution may exist. Keep the booking for the retry to start.
        metrics.add_metric(name="SagaStartsUnknown", unit=MetricUnit.Count, value=1)
        raise _unavailable("start", error) from None
    try:
        store.update_item(
            Key={"id": booking["id"]},
            UpdateExpression="SET executionArn = :arn",
            ConditionExpression=Attr("id").exists(),
            ExpressionAttributeValues={":arn": arn},
        )
    except (ClientError, BotoCoreError) as error:  # the saga runs; a retry only finds it running
        logger.warning(
            "Could not record the execution", extra={"booking_id": booking["id"], "error_code": type(error).__name__}
        )


def _roll_back(store: Any, booking_id: str) -> None:
    try:
        store.delete_item(
            Key={"id": booking_id}, ConditionExpression=Attr("executionArn").not_exists() & Attr("status").eq("PENDING")
        )
    except (ClientError, BotoCoreError) as error:  # kept PENDING: the client's retry starts it
        logger.warning(
            "Could not remove the unstarted booking",
            extra={"booking_id": booking_id, "error_code": type(error).__name__},
        )


def confirm_booking(store: Any, booking_id: Any, status: Any) -> dict[str, Any]:
    """Settle a booking: confirm a paid one, or cancel one that holds no payment; a repeat is a no-op."""
    if not isinstance(status, str) or status not in SETTLEMENTS:
        raise ValidationError(f"status must be one of {', '.join(SETTLEMENTS)}")
    booking_id = _text(booking_id, "id", max_chars=MAX_OWNER_CHARS + 130)
    sources = SETTLEMENTS[status]
    try:
        updated = store.update_item(
            Key={"id": booking_id},
            UpdateExpression="SET #s = :s, updatedAt = :t",
            ConditionExpression=Attr("id").exists() & Attr("status").is_in(list(sources)),
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": status, ":t": datetime.now(UTC).isoformat(timespec="milliseconds")},
            ReturnValues="ALL_NEW",
        )["Attributes"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise _unavailable("settle", error) from None
        try:
            existing = store.get_item(Key={"id": booking_id}, ConsistentRead=True).get("Item")
        except (ClientError, BotoCoreError) as read_error:
            raise _unavailable("read", read_error) from None
        if existing is None:
            raise NotFoundError("booking does not exist") from None
        if existing.get("status") == status:
            return public(existing)  # a repeated call: same answer
        raise ConflictError(f"booking is {existing.get('status')}; {status} needs it {' or '.join(sources)}") from None
    except BotoCoreError as error:
        raise _unavailable("settle", error) from None
    metrics.add_metric(name=f"Bookings{status.title()}", unit=MetricUnit.Count, value=1)
    return public(updated)


def _owner(identity: Any) -> str:
    """The caller: a Cognito user's ``sub``, or an IAM principal's ARN."""
    identity = identity if isinstance(identity, dict) else {}
    owner = identity.get("sub") or identity.get("userArn")
    if not isinstance(owner, str) or not 1 <= len(owner) <= MAX_OWNER_CHARS:
        raise UnauthorizedError("caller identity is required")
    return owner


def _backend(identity: Any) -> None:
    """Only an IAM principal of a backend: not a user pool user, not an identity pool (end-user) identity."""
    identity = identity if isinstance(identity, dict) else {}
    if (
        not isinstance(identity.get("userArn"), str)
        or identity.get("sub")
        or identity.get("claims")
        or identity.get("cognitoIdentityId")
    ):
        raise UnauthorizedError("confirmBooking is for backends signed with IAM")


def _no_other_arguments(unexpected: dict[str, Any]) -> None:
    if unexpected:  # AppSync checks arguments against the schema; anything else is not a request of ours
        raise ValidationError("unexpected arguments")


def _identity() -> Any:
    """The caller's identity from the raw event (``_owner``/``_backend`` check its shape themselves)."""
    event = app.current_event  # set by ``app.resolve`` before any resolver runs
    return None if event is None else event.get("identity")


@app.resolver(type_name="Mutation", field_name="createBooking")
@tracer.capture_method
def create_booking_resolver(input: Any = None, **unexpected: Any) -> dict[str, Any]:  # noqa: A002 (GraphQL name)
    _no_other_arguments(unexpected)
    return create_booking(table, sfn, _owner(_identity()), input)


@app.resolver(type_name="Mutation", field_name="confirmBooking")
@tracer.capture_method
def confirm_booking_resolver(id: Any = None, status: Any = None, **unexpected: Any) -> dict[str, Any]:  # noqa: A002
    _no_other_arguments(unexpected)
    _backend(_identity())
    return confirm_booking(table, id, status)


def _well_formed(event: Any) -> bool:
    if not isinstance(event, dict) or not isinstance(event.get("arguments"), dict):
        return False
    info = event.get("info")
    return (
        isinstance(info, dict)
        and isinstance(info.get("fieldName"), str)
        and isinstance(info.get("parentTypeName"), str)
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.APPSYNC_RESOLVER)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if not _well_formed(event):
        raise ValidationError("Malformed request")
    try:
        return app.resolve(event, context)
    except BookingError:
        raise
    except Exception:  # noqa: BLE001 - the client sees a generic error, the log has the details
        logger.exception("Unexpected error")
        raise InternalError("Internal error") from None
