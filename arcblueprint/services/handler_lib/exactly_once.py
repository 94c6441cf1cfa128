"""Effects once per key for the event consumers, when their own downstream calls fail.

Powertools idempotency guards an effect with a record: saved in progress before the function runs,
completed after it returns, deleted if it raises. Its own DynamoDB writes fail too (throttles,
connection errors), and two of those failures repeat the effect: a failed completion fails the
message after the effect happened, so the redelivery runs it again once the in-progress record has
expired; and anything that raises after the effect inside the guarded function deletes the record.
So a consumer here:

- guards only the external effect (nothing after it in the guarded function), with
  :class:`RetryingPersistenceLayer`, whose writes are retried in place and whose completion, once
  the effect happened, never fails the message (it is logged and counted instead);
- retries its downstream calls in place on transient errors (:func:`call_with_retries`), and its
  bookkeeping after the effect as well, without ever failing the message because of it;
- reads a stream in order and stops at the first failure (:func:`process_stream_in_order`):
  Lambda retries from the lowest failed sequence number, so a record after it that was processed
  would be processed again, and one entity's records would be applied out of order.

A call whose *response* is lost after it took effect (a read timeout) cannot be told from one that
did not: that effect may repeat; the key the effect carries lets its receiver drop the repeat.
"""

from __future__ import annotations

import logging
import os
import random
import time
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from clients import lazy_client_store

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from aws_lambda_powertools import Metrics
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

__all__ = [
    "RETRY_ATTEMPTS",
    "TRANSIENT_CODES",
    "RetryingPersistenceLayer",
    "StreamBatchError",
    "TransientError",
    "call_with_retries",
    "is_transient",
    "process_stream_in_order",
]

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: Attempts of one call (the first included) and the backoff between them (full jitter, capped).
RETRY_ATTEMPTS = 8
#: Completing the record of an effect that happened is worth the rest of the invocation: until then, a
#: copy of the message could repeat the effect (bounded by RETRY_RESERVE_MILLIS like every retry).
COMPLETION_RETRY_ATTEMPTS = 20
RETRY_BASE_DELAY_SECONDS = float(os.environ.get("RETRY_BASE_DELAY_MS", "25")) / 1000
RETRY_MAX_DELAY_SECONDS = 1.0
#: Time left for the rest of the batch: no retry starts later than this before the function's timeout.
RETRY_RESERVE_MILLIS = 3000

#: Error codes of a request AWS refused for now (throttled, or failed on its side): retrying is safe.
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "SlowDown",
        "TransactionInProgressException",
        "PriorRequestNotComplete",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)


class TransientError(Exception):
    """A downstream refused the request for now (e.g. a throttled PutEvents entry): retry it."""


class StreamBatchError(Exception):
    """The first record of a stream batch failed: the invocation fails, so that Lambda bisects the batch."""


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` says "try again": a throttle, a server-side failure, or no connection."""
    if isinstance(error, TransientError | BotocoreConnectionError | HTTPClientError):
        return True
    if isinstance(error, ClientError):
        response = error.response or {}
        code = response.get("Error", {}).get("Code", "")
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return code in TRANSIENT_CODES or status >= 500
    return False


def call_with_retries(
    call: Callable[[], T], *, remaining_millis: Callable[[], int] | None = None, attempts: int = RETRY_ATTEMPTS
) -> T:
    """``call()``, retried on transient errors with jittered backoff while the function has time left."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except Exception as error:
            if attempt == attempts or not is_transient(error):
                raise
            delay = random.uniform(0, min(RETRY_MAX_DELAY_SECONDS, RETRY_BASE_DELAY_SECONDS * 2**attempt))
            if remaining_millis is not None and remaining_millis() - delay * 1000 < RETRY_RESERVE_MILLIS:
                raise
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


class RetryingPersistenceLayer(DynamoDBPersistenceLayer):
    """Powertools' DynamoDB idempotency store, with its writes retried in place.

    Once the guarded function has returned (its effect happened), a completion that still fails is
    logged and reported to ``on_unsaved`` instead of raised: raising would fail the message and, the
    in-progress record having expired by the redelivery, run the effect again. The record then stays
    in progress until its in-progress expiry, after which a *copy* of the same message would run the
    effect again: that is the residual window, alarmed on through ``on_unsaved``.
    """

    def __init__(self, *args: Any, on_unsaved: Callable[[], None] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_unsaved = on_unsaved
        self._lambda_context_source: Any = None

    def configure(self, config: Any, function_name: str | None = None, key_prefix: str | None = None) -> None:
        self._lambda_context_source = config  # the config holds the context registered per invocation
        super().configure(config, function_name=function_name, key_prefix=key_prefix)

    def _remaining_millis(self) -> int | None:
        context = getattr(self._lambda_context_source, "lambda_context", None)
        return context.get_remaining_time_in_millis() if context is not None else None

    def _retried(self, call: Callable[[], T], attempts: int = RETRY_ATTEMPTS) -> T:
        if self._remaining_millis() is None:
            return call_with_retries(call, attempts=attempts)
        return call_with_retries(call, remaining_millis=lambda: self._remaining_millis() or 0, attempts=attempts)

    def _put_record(self, data_record: Any) -> None:
        put = super()._put_record  # a taken key raises IdempotencyItemAlreadyExistsError: not retried
        self._retried(lambda: put(data_record=data_record))

    def _get_record(self, idempotency_key: Any) -> Any:
        get = super()._get_record
        return self._retried(lambda: get(idempotency_key=idempotency_key))

    def _update_record(self, data_record: Any) -> None:
        update = super()._update_record  # only save_success updates: the completion of an effect
        self._retried(lambda: update(data_record=data_record), attempts=COMPLETION_RETRY_ATTEMPTS)

    def _delete_record(self, data_record: Any) -> None:
        delete = super()._delete_record
        self._retried(lambda: delete(data_record=data_record))

    def save_success(self, data: dict[str, Any], result: dict[str, Any]) -> None:
        try:
            super().save_success(data=data, result=result)
        except Exception:
            logger.exception("Effect done but its idempotency record was not completed; a copy could repeat it")
            if self._on_unsaved is not None:
                self._on_unsaved()


def idempotency_store(
    metrics: Metrics, *, key: str, duplicate_metric: str, default_ttl_seconds: int
) -> tuple[RetryingPersistenceLayer, IdempotencyConfig]:
    """The idempotency store and config of an exactly-once consumer, keyed on the ``key`` path of each record.

    Records live in ``IDEMPOTENCY_TABLE`` for ``IDEMPOTENCY_TTL_SECONDS`` (``default_ttl_seconds`` unset); a
    record that could not be completed counts ``IdempotencyRecordUnsaved``, a duplicate returns the stored
    result and counts ``duplicate_metric``. The table's client is created on first use (SnapStart-safe).
    """

    def count(name: str) -> None:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)

    def count_duplicate(response: Any, idempotent_data: DataRecord) -> Any:
        count(duplicate_metric)
        return response

    store = lazy_client_store(
        RetryingPersistenceLayer,
        table_name=os.environ.get("IDEMPOTENCY_TABLE", "idempotency"),
        on_unsaved=lambda: count("IdempotencyRecordUnsaved"),
    )
    config = IdempotencyConfig(
        event_key_jmespath=key,
        expires_after_seconds=int(os.environ.get("IDEMPOTENCY_TTL_SECONDS", str(default_ttl_seconds))),
        raise_on_no_idempotency_key=True,
        response_hook=count_duplicate,
    )
    return store, config


def process_stream_in_order(
    records: Iterable[Any], handle: Callable[[KinesisStreamRecord], Any]
) -> PartialItemFailureResponse:
    """Handle Kinesis ``records`` in order; at the first failure, report it and leave the rest unprocessed.

    Lambda checkpoints before the lowest reported sequence number and retries everything after it,
    so nothing after a failure is processed now (it would be again). A failure of the first record
    raises :class:`StreamBatchError`: no progress is possible, and only a function error makes
    Lambda bisect the batch (``BisectBatchOnFunctionError``) to isolate a bad record.
    """
    for index, raw in enumerate(records):
        try:
            handle(KinesisStreamRecord(raw))
        except Exception as error:
            sequence_number = _sequence_number(raw)
            logger.warning(
                "Stream record failed; the shard resumes from it",
                exc_info=True,
                extra={"sequence_number": sequence_number, "index": index},
            )
            if index == 0 or sequence_number is None:
                raise StreamBatchError(f"record {index} of the batch failed") from error
            return {"batchItemFailures": [{"itemIdentifier": sequence_number}]}
    return {"batchItemFailures": []}


def _sequence_number(raw: Any) -> str | None:
    kinesis = raw.get("kinesis") if isinstance(raw, dict) else None
    value = kinesis.get("sequenceNumber") if isinstance(kinesis, dict) else None
    return value if isinstance(value, str) and value else None
