"""The saga's steps and their compensations, one action per call from Step Functions.

Every action is a conditional status move (``booking_status.MOVES``), so Step Functions' retries and
a compensation of a step that never ran are both safe. The first step claims the booking for its
execution (``sagaExecution``); every later step and compensation acts only on a booking its own
execution claimed, so a second execution of the same booking (an EXPRESS workflow started twice:
Step Functions does not deduplicate those) changes nothing: it fails with ``SagaNotOwnerError``,
which the state machine ends without compensating.

Errors, by the name Step Functions matches on: ``StepRetryableError`` for anything transient (the
store throttled or unreachable: network errors included), ``StepFailedError`` for a move the booking's
status does not allow (the saga compensates), ``SagaNotOwnerError`` (the saga stops).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from booking_events import publish_settlement
from booking_status import COMPENSATIONS, MOVES
from botocore.exceptions import BotoCoreError, ClientError
from clients import lazy
from domain_events import DomainEvents, InvalidEventError, PublishError
from masking import masked_json
from tracing import new_tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(json_serializer=masked_json)  # no log line carries a card number or an always-masked field
tracer = new_tracer()  # the X-Ray SDK is imported only when tracing is on
metrics = Metrics()

TABLE_NAME = os.environ.get("TABLE_NAME", "")
table = lazy(lambda: boto3.resource("dynamodb").Table(TABLE_NAME)) if TABLE_NAME else None
# Settlement events on the platform bus, under this service's own source (EVENT_SOURCE, set by the component).
publisher = DomainEvents(metrics=metrics) if os.environ.get("EVENT_SOURCE") else None


class StepRetryableError(Exception):
    """A transient failure: the state machine retries it with backoff."""


class StepFailedError(Exception):
    """A business failure: the state machine compensates."""


class SagaNotOwnerError(Exception):
    """The booking belongs to another execution of its saga: this one stops, changing nothing."""


def _owner_token(event: dict[str, Any]) -> str:
    """This execution's claim: its id and start time (EXPRESS executions of one name share the name)."""
    execution, started = event.get("execution"), event.get("startedAt")
    if not isinstance(execution, str) or not execution or not isinstance(started, str):
        raise StepFailedError("the step was not called by a saga execution")
    return f"{execution}@{started}"[:1024]


def apply(store: Any, action: object, booking_id: object, owner: str) -> dict[str, Any]:
    if not isinstance(action, str) or action not in MOVES:
        raise StepFailedError("unknown action")
    move = MOVES[action]
    if not isinstance(booking_id, str) or not 1 <= len(booking_id) <= 1024:
        raise StepFailedError("the event names no booking")
    compensation = action in COMPENSATIONS
    claim = "attribute_not_exists(sagaExecution) OR sagaExecution = :owner"
    names = {"#s": "status"}
    values: dict[str, Any] = {
        ":target": move.target,
        ":owner": owner,
        ":now": _now(),
        **{f":s{i}": s for i, s in enumerate(move.sources)},
    }
    condition = (
        f"attribute_exists(id) AND #s IN ({', '.join(f':s{i}' for i in range(len(move.sources)))}) AND ({claim})"
    )
    try:
        store.update_item(
            Key={"id": booking_id},
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            UpdateExpression="SET #s = :target, sagaExecution = :owner, updatedAt = :now",
        )
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "Unknown")
        if code != "ConditionalCheckFailedException":
            logger.exception("Booking store failed", extra={"action": action, "error_code": code})
            raise StepRetryableError(code) from None
        return _settled(store, action, booking_id, owner, compensation=compensation)
    except BotoCoreError as error:  # unreachable, timed out, connection closed: retry with backoff
        logger.exception("Booking store unreachable", extra={"action": action})
        raise StepRetryableError(type(error).__name__) from None
    metrics.add_metric(name=f"Saga_{action}", unit=MetricUnit.Count, value=1)
    return {"bookingId": booking_id, "status": move.target, "changed": True}


def _settled(store: Any, action: str, booking_id: str, owner: str, *, compensation: bool) -> dict[str, Any]:
    """Why the move did not apply: already done (a retry), another execution's booking, or not allowed now."""
    try:
        item = store.get_item(Key={"id": booking_id}, ConsistentRead=True).get("Item")
    except (ClientError, BotoCoreError) as error:
        logger.exception("Booking store failed", extra={"action": action})
        raise StepRetryableError(type(error).__name__) from None
    unchanged = {"bookingId": booking_id, "status": item.get("status") if item else None, "changed": False}
    if item is None:
        if compensation:
            return unchanged  # nothing to undo
        raise StepFailedError(f"{action}: the booking does not exist")
    if item.get("sagaExecution") not in (None, owner):
        if compensation:
            return unchanged  # another execution's booking: not ours to undo
        metrics.add_metric(name="SagaDuplicateExecutions", unit=MetricUnit.Count, value=1)
        raise SagaNotOwnerError(f"{action}: the booking belongs to another execution")
    if item.get("status") in MOVES[action].done:
        return unchanged
    raise StepFailedError(f"{action} is not allowed while the booking is {item.get('status')}")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if not isinstance(event, dict) or not isinstance(event.get("booking"), dict):
        raise StepFailedError("the event names no booking")
    result = apply(table, event.get("action"), event["booking"].get("id"), _owner_token(event))
    if publisher is not None:
        settle(event["booking"], result)
    return result


def settle(booking: dict[str, Any], result: dict[str, Any]) -> None:
    """Publish BookingConfirmed/BookingCancelled when a step left the booking settled.

    At least once: a retried step publishes again (consumers deduplicate on bookingId + status). A
    publish failure is retryable and never a step failure, so it cannot send a confirmed booking down
    the compensation path; an event that breaks its schema is counted and logged, and the booking stands.
    """
    try:
        publish_settlement(publisher, booking, str(result.get("status")))
    except (PublishError, ClientError, BotoCoreError) as error:
        raise StepRetryableError(
            f"publishing the {result.get('status')} event failed: {type(error).__name__}"
        ) from None
    except InvalidEventError:
        pass  # counted (DomainEventsRejected) and logged by the publisher
