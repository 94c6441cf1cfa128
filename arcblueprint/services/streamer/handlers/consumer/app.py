"""Read the stream directly (besides the Firehoses): each record handled once, in order per shard.

Lambda checkpoints at the lowest sequence number reported failed and retries everything after it,
so records are handled in order and the batch stops at the first failure: nothing is handled twice
because a record before it failed, and one entity's records are never applied out of order. A
failure of the first record fails the invocation, so the event source bisects the batch; after the
maximum retries it gives the record up to the on-failure destination (which gets its position, not
its data) and the shard moves on. Records of other domains are skipped, not failed.

A retried batch (a timeout, a crash, a bisected half) replays records already handled: ``handle``
is guarded by Powertools idempotency keyed on the record's ``eventID`` (shard and sequence number),
so a replay is a no-op, counted as ``RecordDuplicate``.

Environment: ``DOMAIN_FIELD``, ``CONSUMER_DOMAINS`` (comma list; default: every domain),
``IDEMPOTENCY_TABLE``, ``IDEMPOTENCY_TTL_SECONDS``.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import idempotent_function
from exactly_once import StreamBatchError, idempotency_store, process_stream_in_order
from tracing import new_tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = new_tracer()  # the X-Ray SDK is imported only when tracing is on
metrics = Metrics()

DOMAIN_FIELD = os.environ.get("DOMAIN_FIELD", "domain")
CONSUMER_DOMAINS = frozenset(d for d in os.environ.get("CONSUMER_DOMAINS", "").split(",") if d)


# A replay of a record already handled returns the stored result and counts RecordDuplicate.
persistence_layer, idempotency_config = idempotency_store(
    metrics, key="eventId", duplicate_metric="RecordDuplicate", default_ttl_seconds=7200
)


class PoisonRecordError(ValueError):
    """The record is not a JSON object with a domain."""


def parse_record(text: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise PoisonRecordError(f"not JSON: {type(error).__name__}") from None
    if not isinstance(document, dict) or not isinstance(document.get(DOMAIN_FIELD), str):
        raise PoisonRecordError(f"not a JSON object with a {DOMAIN_FIELD}")
    return document


def handle(document: dict[str, Any]) -> None:
    """The consumer's business logic (replace per service): the effect, once per record.

    Its calls to other services should go through ``exactly_once.call_with_retries``: a failure
    here stops the batch at this record, which is retried, or given up after the maximum retries.
    """
    logger.debug("Record", extra={"domain": document[DOMAIN_FIELD]})


@idempotent_function(data_keyword_argument="key", config=idempotency_config, persistence_store=persistence_layer)
def handle_once(key: dict[str, str], document: dict[str, Any]) -> dict[str, str]:
    """The guarded step: the effect and nothing after it. Powertools copies ``key``, not the document."""
    handle(document)
    return {"eventId": key["eventId"]}


def record_handler(record: KinesisStreamRecord) -> None:
    try:
        text = record.kinesis.data_as_text()
    except (ValueError, TypeError, AttributeError, KeyError) as error:  # not base64, not UTF-8, not a record
        raise PoisonRecordError(f"unreadable record: {type(error).__name__}") from None
    document = parse_record(text)
    if CONSUMER_DOMAINS and document[DOMAIN_FIELD] not in CONSUMER_DOMAINS:
        return
    event_id = record.raw_event.get("eventID")
    if not isinstance(event_id, str) or not event_id:
        raise PoisonRecordError("record without an eventID")
    handle_once(key={"eventId": event_id}, document=document)


def add_batch_metrics(processed: int, failed: int) -> None:
    """One metric per batch, not per record: per-record metrics and trace subsegments cost more than the work."""
    metrics.add_metric(name="RecordProcessed", unit=MetricUnit.Count, value=processed)
    metrics.add_metric(name="RecordFailed", unit=MetricUnit.Count, value=failed)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    idempotency_config.register_lambda_context(context)
    records = event["Records"]
    try:
        response = process_stream_in_order(records, record_handler)
    except StreamBatchError:
        add_batch_metrics(0, 1)
        raise
    failures = response["batchItemFailures"]
    failed = failures[0]["itemIdentifier"] if failures else None
    processed = next((i for i, r in enumerate(records) if r["kinesis"]["sequenceNumber"] == failed), len(records))
    add_batch_metrics(processed, len(failures))
    return response
