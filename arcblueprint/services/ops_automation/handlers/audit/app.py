"""Record each domain event routed to operations in the operations log (the audit trail).

One item per event (``event#<id>``), written once: a redelivered or retried event finds its item
and changes nothing. The workflow calls this function too (``RecordEvent``) before it notifies.
Items expire after ``RECORD_RETENTION_DAYS`` (DynamoDB TTL; the cleanup job enforces the cut-off).

Environment: ``OPS_TABLE``, ``RECORD_RETENTION_DAYS``.
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
dynamodb = lazy(lambda: boto3.client("dynamodb")) if OPS_TABLE else None


class NotAnEventError(ValueError):
    """The input is not an EventBridge event (no id, source or detail-type)."""


def audit_item(event: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The log item of one event: who sent what, when; the detail itself stays in the archive and the lake."""
    for key in ("id", "source", "detail-type"):
        if not isinstance(event.get(key), str) or not event[key]:
            raise NotAnEventError(f"not an EventBridge event: {key} is missing")
    expires = now + timedelta(days=RETENTION_DAYS)
    return {
        "id": {"S": f"event#{event['id']}"},
        "kind": {"S": "EVENT"},
        "recordedAt": {"S": now.isoformat(timespec="milliseconds")},
        "source": {"S": event["source"]},
        "detailType": {"S": event["detail-type"]},
        "eventTime": {"S": str(event.get("time", ""))},
        "expiresAt": {"N": str(int(expires.timestamp()))},
    }


def record(event: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """Write the event's item unless it exists; ``{"recorded": bool, "id": ...}``."""
    assert dynamodb is not None, "OPS_TABLE is not set"
    item = audit_item(event, now or datetime.now(UTC))
    try:
        dynamodb.put_item(TableName=OPS_TABLE, Item=item, ConditionExpression="attribute_not_exists(id)")
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return {"recorded": False, "id": item["id"]["S"]}
    metrics.add_metric(name="EventsAudited", unit=MetricUnit.Count, value=1)
    return {"recorded": True, "id": item["id"]["S"]}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return record(event)
