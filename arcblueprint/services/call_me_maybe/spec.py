"""Config of a "Call me maybe" webhook service (``pattern: call-me-maybe``)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import ClassVar, Literal

from arcblueprint.config.schema import ConfigError, setting
from arcblueprint.platform.consumer_settings import check_source_retention, check_sqs_consumer
from arcblueprint.services.event_wiring import ServiceTriggers

__all__ = ["CallMeMaybeSpec", "FIELD_PATH_PATTERN"]

#: A dotted path to a JSON field (``card.number``); a list on the way is searched item by item.
FIELD_PATH_PATTERN = r"[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*"
_HEADER = r"[A-Za-z][A-Za-z0-9-]{1,63}"


@dataclass(frozen=True, kw_only=True)
class CallMeMaybeSpec(ServiceTriggers):
    """A webhook receiver, a buffer (SQS or Kinesis) and a consumer with limited concurrency.

    Defaults are the production-safe choice: SQS with a DLQ, signature and replay window checked,
    idempotent consumer. Kinesis is for ordered, high-volume sources.
    """

    #: The functions ``functions.<name>`` can point at the team's own code.
    FUNCTION_NAMES: ClassVar[tuple[str, ...]] = ("receiver", "consumer")

    #: The webhook method is public by design: senders are third parties without AWS or Cognito
    #: identities, so each request is authenticated by its HMAC signature and timestamp in the
    #: receiver (401, nothing enqueued, otherwise). The policy pack reads this (``<service>-post``).
    public_operations: ClassVar[tuple[str, ...]] = ("post",)
    #: Web ACL profile (docs/platform.md): webhook bodies are third-party data passed on unread (no SQL
    #: injection rules) and may exceed the core rule set's 8 KB body limit (that one rule only counts).
    waf_inspects_sql: ClassVar[bool] = False
    waf_large_bodies: ClassVar[bool] = True

    #: Name of the shared HMAC secret in the stack's ``arcblueprint:secrets``.
    signing_secret: str = setting("webhook-signing", pattern=r"[a-z][a-z0-9-]{0,22}[a-z0-9]")
    signature_header: str = setting("X-Signature", pattern=_HEADER, doc="hex HMAC-SHA256 of '<timestamp>.<body>'")
    timestamp_header: str = setting("X-Timestamp", pattern=_HEADER, doc="unix seconds when the sender signed")
    #: The sender's delivery id header: logged, never used to deduplicate (the signature does not cover it).
    id_header: str = setting("X-Webhook-Id", pattern=_HEADER, doc="sender's delivery id, logged only")
    #: Dotted path of a field of the signed body that identifies the webhook (e.g. ``id``), so that a
    #: sender's redelivery with another body is a 409; default: the SHA-256 of the body is the key.
    id_field: str | None = setting(None, pattern=FIELD_PATH_PATTERN)
    replay_window_seconds: int = setting(300, minimum=30, maximum=3600)
    #: How long after a rotation the old signing key (AWSPREVIOUS) still verifies: the sender's time to switch.
    previous_key_grace_seconds: int = setting(86400, minimum=0, maximum=30 * 86400)
    #: Fields masked before the webhook is logged or buffered (dotted paths into the JSON body).
    sensitive_fields: tuple[str, ...] = setting(default_factory=tuple)
    #: The sender's published source ranges (IPv4 or IPv6 CIDRs): the web ACL blocks every other address
    #: before API Gateway or the receiver see the request, in addition to the HMAC check. Needs the
    #: service's web ACL (``waf``). Default: any address (the signature alone authenticates).
    allowed_sender_ranges: tuple[str, ...] = setting(default_factory=tuple)

    buffer: Literal["sqs", "kinesis"] = setting("sqs", doc="sqs (default) or kinesis for ordered sources")
    batch_size: int = setting(10, minimum=1, maximum=10000)
    maximum_batching_window_seconds: int = setting(0, minimum=0, maximum=300)
    #: SQS event-source maximum concurrency: pollers never run more than this many consumers.
    maximum_concurrency: int | None = setting(None, minimum=2, maximum=1000)
    #: Reserved concurrency of the consumer (a hard cap and a guaranteed share of the account).
    reserved_concurrency: int | None = setting(None, minimum=1, maximum=10000)
    #: SnapStart for the synchronous function(s) (the webhook receiver): init runs when a version is published and cold
    #: starts resume from its snapshot (Python 3.12+; billed per cached GB-second and per restore). Default: off.
    snap_start: bool = False
    consumer_timeout_seconds: int = setting(30, minimum=1, maximum=900)

    # SQS buffer
    max_receive_count: int = setting(5, minimum=1, maximum=1000, doc="deliveries before a message moves to the DLQ")
    #: At most 13: the DLQ keeps messages 14 days (the SQS maximum) and must outlive the buffer.
    message_retention_days: int = setting(4, minimum=1, maximum=14)
    dlq_alarm_threshold: int = setting(1, minimum=1, maximum=100000, doc="visible DLQ messages that page someone")

    # Kinesis buffer
    shard_count: int | None = setting(None, minimum=1, maximum=500, doc="default: on-demand capacity")
    #: Dotted path of the payload field whose value orders records (same key, same shard); default: webhook id.
    partition_key_field: str | None = setting(None, pattern=FIELD_PATH_PATTERN)
    parallelization_factor: int = setting(1, minimum=1, maximum=10)
    maximum_retry_attempts: int = setting(3, minimum=0, maximum=10000)
    maximum_record_age_seconds: int = setting(3600, minimum=60, maximum=604800)

    idempotency_ttl_seconds: int = setting(86400, minimum=300, maximum=30 * 86400)
    #: The talk's "DynamoDB + SQS" alternative: a table with the status of each webhook.
    status_tracking: bool = False
    throttling_rate_limit: float = setting(100.0, minimum=1, maximum=10000, doc="requests per second")
    throttling_burst_limit: int = setting(200, minimum=1, maximum=5000)

    def __post_init__(self) -> None:
        check_source_retention(self.message_retention_days, "messageRetentionDays")
        for i, cidr in enumerate(self.allowed_sender_ranges):
            try:
                ipaddress.ip_network(cidr, strict=True)
            except ValueError as error:
                raise ConfigError(
                    f"allowedSenderRanges[{i}]", cidr, f"must be an IPv4 or IPv6 CIDR without host bits ({error})"
                ) from None
        if len(set(self.allowed_sender_ranges)) != len(self.allowed_sender_ranges):
            raise ConfigError("allowedSenderRanges", list(self.allowed_sender_ranges), "must not repeat a range")
        for i, path in enumerate(self.sensitive_fields):
            if not re.fullmatch(FIELD_PATH_PATTERN, path):
                raise ConfigError(f"sensitiveFields[{i}]", path, "must be a dotted JSON field path like card.number")
        if self.buffer == "kinesis":
            if self.maximum_concurrency is not None:
                raise ConfigError(
                    "maximumConcurrency",
                    self.maximum_concurrency,
                    "applies to the sqs buffer only (use shardCount and parallelizationFactor)",
                )
            if self.batch_size > 10000:
                raise ConfigError("batchSize", self.batch_size, "must be at most 10000 for kinesis")
        else:
            for key, value in (("shardCount", self.shard_count), ("partitionKeyField", self.partition_key_field)):
                if value is not None:
                    raise ConfigError(key, value, "applies to the kinesis buffer only")
            check_sqs_consumer(
                batch_size=self.batch_size,
                maximum_batching_window_seconds=self.maximum_batching_window_seconds,
                maximum_concurrency=self.maximum_concurrency,
                reserved_concurrency=self.reserved_concurrency,
            )
        if self.throttling_burst_limit < self.throttling_rate_limit:
            raise ConfigError(
                "throttlingBurstLimit", self.throttling_burst_limit, "must be at least throttlingRateLimit"
            )

    @property
    def visibility_timeout_seconds(self) -> int:
        """Six times the consumer timeout, as AWS advises for Lambda event sources."""
        return 6 * self.consumer_timeout_seconds
