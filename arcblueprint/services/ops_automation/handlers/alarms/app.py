"""Respond to this stack's CloudWatch alarms: record every state change, notify the ones that matter.

CloudWatch sends ``CloudWatch Alarm State Change`` events to the account's default bus; the rule
passes only alarms named with the stack's prefix. Each transition is recorded in the operations
log (``alarm#<name>#<time>``, written once, so a retried delivery records nothing twice); a
transition into one of ``NOTIFY_STATES`` is also published to the platform topic, with the
runbook link and how often the alarm fired in the last 24 hours (from the log).

Environment: ``OPS_TABLE``, ``KIND_INDEX``, ``RECORD_RETENTION_DAYS``, ``TOPIC_ARN``, ``NOTIFY_STATES``,
``RUNBOOK_URL``, ``ALARM_NAME_PREFIX``.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError
from clients import lazy
from tracing import new_tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = new_tracer()  # the X-Ray SDK is imported only when tracing is on
metrics = Metrics()

OPS_TABLE = os.environ.get("OPS_TABLE", "")
RETENTION_DAYS = int(os.environ.get("RECORD_RETENTION_DAYS", "90"))
TOPIC_ARN = os.environ.get("TOPIC_ARN", "")
NOTIFY_STATES = frozenset(s for s in os.environ.get("NOTIFY_STATES", "ALARM").split(",") if s)
RUNBOOK_URL = os.environ.get("RUNBOOK_URL", "")
ALARM_NAME_PREFIX = os.environ.get("ALARM_NAME_PREFIX", "")
dynamodb = lazy(lambda: boto3.client("dynamodb")) if OPS_TABLE else None
sns = lazy(lambda: boto3.client("sns")) if TOPIC_ARN else None
ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"


class NotAnAlarmChangeError(ValueError):
    """The event is not an alarm state change of this stack."""


def transition(event: dict[str, Any]) -> dict[str, str]:
    """(alarm, state, previous state, reason, time) of an alarm state change event."""
    detail = event.get("detail") or {}
    name = detail.get("alarmName")
    if event.get("detail-type") != ALARM_STATE_CHANGE or not isinstance(name, str):
        raise NotAnAlarmChangeError(f"not an alarm state change: {event.get('detail-type')!r}")
    if ALARM_NAME_PREFIX and not name.startswith(ALARM_NAME_PREFIX):
        raise NotAnAlarmChangeError(f"alarm {name} is not one of this stack's ({ALARM_NAME_PREFIX}*)")
    state = detail.get("state") or {}
    previous = detail.get("previousState") or {}
    return {
        "alarm": name,
        "state": str(state.get("value", "")),
        "previous": str(previous.get("value", "")),
        "reason": str(state.get("reason", ""))[:1000],
        "time": str(event.get("time", "")),
        "region": str(event.get("region", "")),
    }


def record(change: dict[str, str], now: datetime) -> bool:
    """Write the transition once; False when it was already recorded (a redelivery)."""
    assert dynamodb is not None, "OPS_TABLE is not set"
    expires = now + timedelta(days=RETENTION_DAYS)
    item = {
        "id": {"S": f"alarm#{change['alarm']}#{change['time']}#{change['state']}"},
        "kind": {"S": "ALARM"},
        "recordedAt": {"S": now.isoformat(timespec="milliseconds")},
        "alarmName": {"S": change["alarm"]},
        "state": {"S": change["state"]},
        "previousState": {"S": change["previous"]},
        "reason": {"S": change["reason"] or "-"},
        "expiresAt": {"N": str(int(expires.timestamp()))},
    }
    try:
        dynamodb.put_item(TableName=OPS_TABLE, Item=item, ConditionExpression="attribute_not_exists(id)")
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return False
    return True


def recent_count(alarm: str, state: str, now: datetime) -> int:
    """How many times the alarm entered ``state`` in the last 24 hours (from the operations log)."""
    assert dynamodb is not None
    since = (now - timedelta(hours=24)).isoformat(timespec="milliseconds")
    pages = dynamodb.get_paginator("query").paginate(
        TableName=OPS_TABLE,
        IndexName=os.environ.get("KIND_INDEX", "byKind"),
        KeyConditionExpression="#kind = :kind AND recordedAt >= :since",
        ExpressionAttributeNames={"#kind": "kind"},
        ExpressionAttributeValues={":kind": {"S": "ALARM"}, ":since": {"S": since}},
    )
    prefix = f"alarm#{alarm}#"
    return sum(
        1
        for page in pages
        for item in page.get("Items", [])
        if item["id"]["S"].startswith(prefix) and item["id"]["S"].endswith(f"#{state}")
    )


def message(change: dict[str, str], count: int) -> tuple[str, str]:
    subject = f"[{change['state']}] {change['alarm']}"[:100]
    lines = [
        f"{change['alarm']} went from {change['previous'] or '?'} to {change['state']} at {change['time']}.",
        f"Reason: {change['reason'] or '-'}",
        f"Times in {change['state']} in the last 24 hours: {count}",
    ]
    if RUNBOOK_URL:
        lines.append(f"Runbook: {RUNBOOK_URL}")
    return subject, "\n".join(lines)


def respond(event: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    change = transition(event)
    recorded = record(change, now)
    notified = False
    if recorded and change["state"] in NOTIFY_STATES and sns is not None:
        subject, body = message(change, recent_count(change["alarm"], change["state"], now))
        sns.publish(TopicArn=TOPIC_ARN, Subject=subject, Message=body)
        notified = True
        metrics.add_metric(name="AlarmsNotified", unit=MetricUnit.Count, value=1)
    return {"alarm": change["alarm"], "state": change["state"], "recorded": recorded, "notified": notified}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return respond(event)
