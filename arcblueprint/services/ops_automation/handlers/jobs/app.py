"""Periodic jobs, invoked by EventBridge Scheduler with ``{"job", "action", ...}``.

``cleanup``: delete operations records older than ``retentionDays``. DynamoDB's TTL removes expired
items eventually (typically within days); the job makes the cut-off exact, which an audit
retention rule may require. It queries the log's ``kind`` index by date, so it reads only what it
deletes. An exception fails the invocation: Scheduler retries it (its retry policy) and then
sends it to the schedule's dead-letter queue, which alarms.

Environment: ``OPS_TABLE``, ``KIND_INDEX``.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from clients import lazy
from tracing import new_tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = new_tracer()  # the X-Ray SDK is imported only when tracing is on
metrics = Metrics()

OPS_TABLE = os.environ.get("OPS_TABLE", "")
KIND_INDEX = os.environ.get("KIND_INDEX", "byKind")
KINDS = ("ALARM", "EVENT")
dynamodb = lazy(lambda: boto3.client("dynamodb")) if OPS_TABLE else None


class UnknownJobError(ValueError):
    """The schedule's input names an action this function does not have."""


def cleanup(retention_days: int, now: datetime) -> int:
    """Delete the records of every kind older than ``retention_days``; the number deleted."""
    assert dynamodb is not None, "OPS_TABLE is not set"
    if retention_days < 1:
        raise ValueError("retentionDays must be at least 1")
    cutoff = (now - timedelta(days=retention_days)).isoformat(timespec="milliseconds")
    deleted = 0
    for kind in KINDS:
        pages = dynamodb.get_paginator("query").paginate(
            TableName=OPS_TABLE,
            IndexName=KIND_INDEX,
            KeyConditionExpression="#kind = :kind AND recordedAt < :cutoff",
            ExpressionAttributeNames={"#kind": "kind"},
            ExpressionAttributeValues={":kind": {"S": kind}, ":cutoff": {"S": cutoff}},
        )
        keys = [{"id": item["id"]} for page in pages for item in page.get("Items", [])]
        for start in range(0, len(keys), 25):  # BatchWriteItem takes 25 requests
            requests = [{"DeleteRequest": {"Key": key}} for key in keys[start : start + 25]]
            while requests:
                response = dynamodb.batch_write_item(RequestItems={OPS_TABLE: requests})
                requests = response.get("UnprocessedItems", {}).get(OPS_TABLE, [])
        deleted += len(keys)
    return deleted


def run(job: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    action = job.get("action")
    if action != "cleanup":
        raise UnknownJobError(f"unknown action {action!r} (known: cleanup)")
    deleted = cleanup(int(job.get("retentionDays", 30)), now or datetime.now(UTC))
    metrics.add_metric(name="RecordsCleanedUp", unit=MetricUnit.Count, value=deleted)
    logger.info("Cleanup done", extra={"job": job.get("job"), "deleted": deleted})
    return {"job": job.get("job"), "action": action, "deleted": deleted}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run(event)
