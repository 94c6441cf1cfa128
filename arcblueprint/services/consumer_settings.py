"""Rules for an SQS consumer's event source that every pattern with one shares (pure: no Pulumi)."""

from __future__ import annotations

from arcblueprint.config.schema import ConfigError

__all__ = ["check_sqs_consumer"]


def check_sqs_consumer(*, batch_size: int, maximum_batching_window_seconds: int,
                       maximum_concurrency: int | None, reserved_concurrency: int | None) -> None:
    """Lambda takes SQS batches above 10 only with a batching window, and a reserved concurrency
    below the source's maximum concurrency throttles the pollers instead of limiting them."""
    if batch_size > 10 and maximum_batching_window_seconds < 1:
        raise ConfigError("batchSize", batch_size,
                          "an SQS batch above 10 needs maximumBatchingWindowSeconds of at least 1")
    if maximum_concurrency is not None and reserved_concurrency is not None and reserved_concurrency < maximum_concurrency:
        raise ConfigError("reservedConcurrency", reserved_concurrency,
                          f"must be at least maximumConcurrency ({maximum_concurrency}) or pollers are throttled")
