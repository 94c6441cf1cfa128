"""Rules for an SQS consumer's queue and event source that every pattern with one shares (pure: no Pulumi).

The platform's dead-letter queues and ``constructs.durable_queue`` keep messages ``DEAD_LETTER_RETENTION_DAYS``;
pattern specs check their consumers with the functions here.
"""

from __future__ import annotations

from arcblueprint.config.schema import ConfigError

__all__ = ["DEAD_LETTER_RETENTION_DAYS", "MAX_SOURCE_RETENTION_DAYS", "check_source_retention", "check_sqs_consumer"]

#: The longest SQS keeps a message; every dead-letter queue keeps its messages that long.
DEAD_LETTER_RETENTION_DAYS = 14
#: SQS keeps a message's original enqueue time when it moves it to a standard DLQ, so the message
#: expires there once its total age passes the DLQ's retention: the DLQ must keep messages longer
#: than its source, which therefore keeps them at most 13 days.
MAX_SOURCE_RETENTION_DAYS = DEAD_LETTER_RETENTION_DAYS - 1


def check_source_retention(days: int, key: str) -> None:
    """A queue with a DLQ keeps messages for less time than its DLQ (14 days)."""
    if days > MAX_SOURCE_RETENTION_DAYS:
        raise ConfigError(
            key,
            days,
            f"must be at most {MAX_SOURCE_RETENTION_DAYS}: SQS keeps a message's first "
            f"enqueue time when it dead-letters it and the DLQ keeps messages "
            f"{DEAD_LETTER_RETENTION_DAYS} days, so a message could expire moments after it is "
            "dead-lettered",
        )


def check_sqs_consumer(
    *,
    batch_size: int,
    maximum_batching_window_seconds: int,
    maximum_concurrency: int | None,
    reserved_concurrency: int | None,
) -> None:
    """Lambda takes SQS batches above 10 only with a batching window, and a reserved concurrency
    below the source's maximum concurrency throttles the pollers instead of limiting them."""
    if batch_size > 10 and maximum_batching_window_seconds < 1:
        raise ConfigError(
            "batchSize", batch_size, "an SQS batch above 10 needs maximumBatchingWindowSeconds of at least 1"
        )
    if (
        maximum_concurrency is not None
        and reserved_concurrency is not None
        and reserved_concurrency < maximum_concurrency
    ):
        raise ConfigError(
            "reservedConcurrency",
            reserved_concurrency,
            f"must be at least maximumConcurrency ({maximum_concurrency}) or pollers are throttled",
        )
