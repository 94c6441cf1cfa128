"""Read the stream directly (besides the Firehoses), one record at a time with partial batch failures.

The event source bisects a failing batch, gives up on records older than the maximum age and sends
what it gives up on to the on-failure destination; reporting the failed sequence number lets Lambda
checkpoint everything before it, so one bad record neither blocks the shard nor replays the rest.

Environment: ``DOMAIN_FIELD``, ``CONSUMER_DOMAINS`` (comma list; default: every domain). Records of other
domains are skipped, not failed.
"""

from __future__ import annotations

import json
import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

logger = Logger()
tracer = Tracer()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.KinesisDataStreams)

DOMAIN_FIELD = os.environ.get("DOMAIN_FIELD", "domain")
CONSUMER_DOMAINS = frozenset(d for d in os.environ.get("CONSUMER_DOMAINS", "").split(",") if d)


class PoisonRecordError(ValueError):
    """The record is not a JSON object with a domain."""


def parse_record(text: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise PoisonRecordError(error.msg) from None
    if not isinstance(document, dict) or not isinstance(document.get(DOMAIN_FIELD), str):
        raise PoisonRecordError(f"not a JSON object with a {DOMAIN_FIELD}")
    return document


def handle(document: dict[str, Any]) -> None:
    """The consumer's business logic (replace per service); it must tolerate a replay of the same record."""
    logger.debug("Record", extra={"domain": document[DOMAIN_FIELD]})


def record_handler(record: Any) -> None:
    document = parse_record(record.kinesis.data_as_text())
    if not CONSUMER_DOMAINS or document[DOMAIN_FIELD] in CONSUMER_DOMAINS:
        handle(document)


def add_batch_metrics(records: int, failures: int) -> None:
    """One metric per batch, not per record: per-record metrics and trace subsegments cost more than the work."""
    metrics.add_metric(name="RecordProcessed", unit=MetricUnit.Count, value=records - failures)
    metrics.add_metric(name="RecordFailed", unit=MetricUnit.Count, value=failures)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    response = process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                        context=context)
    add_batch_metrics(len(event["Records"]), len(response["batchItemFailures"]))
    return response
