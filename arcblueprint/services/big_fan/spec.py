"""Config of a "Big Fan" fan-out service (``pattern: big-fan``)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from arcblueprint.config.schema import ConfigError, setting
from arcblueprint.planning.event_patterns import plain
from arcblueprint.platform.consumer_settings import check_sqs_consumer
from arcblueprint.platform.function_code import FunctionCode
from arcblueprint.services.big_fan.filter_policy import FilterPolicyError, validate_filter_policy
from arcblueprint.services.event_wiring import EventSubscriber, check_subscriptions

__all__ = ["BigFanSpec", "ConsumerSpec"]

_NAME = re.compile(r"[a-z][a-z0-9-]{0,22}[a-z0-9]")
_ATTRIBUTE = re.compile(r"[A-Za-z0-9_.-]{1,256}")
_HEADER = re.compile(r"[A-Za-z][A-Za-z0-9-]{1,63}")


@dataclass(frozen=True, kw_only=True)
class ConsumerSpec(FunctionCode):
    """One subscriber: an SQS queue subscribed to the topic, and the function that drains it (the sample
    consumer, or the team's own code: ``codeDir``/``handler``)."""

    #: SNS filter policy; default: every message. Validated against SNS's grammar.
    filter_policy: Mapping[str, Any] | None = None
    filter_policy_scope: Literal["MessageAttributes", "MessageBody"] = "MessageAttributes"
    #: Deliver the message as published (no SNS JSON envelope): smaller, and attributes arrive as SQS attributes.
    raw_message_delivery: bool = True
    batch_size: int = setting(10, minimum=1, maximum=10000)
    maximum_batching_window_seconds: int = setting(0, minimum=0, maximum=300)
    maximum_concurrency: int | None = setting(None, minimum=2, maximum=1000)
    reserved_concurrency: int | None = setting(None, minimum=1, maximum=10000)
    timeout_seconds: int = setting(30, minimum=1, maximum=900)
    max_receive_count: int = setting(5, minimum=1, maximum=1000)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.filter_policy is not None:
            try:
                validate_filter_policy(plain(self.filter_policy), self.filter_policy_scope)
            except FilterPolicyError as error:
                key = f"filterPolicy.{error.path}" if error.path else "filterPolicy"
                raise ConfigError(key, error.value, f"is not valid SNS filter policy syntax: {error.message}") from None
        check_sqs_consumer(
            batch_size=self.batch_size,
            maximum_batching_window_seconds=self.maximum_batching_window_seconds,
            maximum_concurrency=self.maximum_concurrency,
            reserved_concurrency=self.reserved_concurrency,
        )

    @property
    def filter_policy_json(self) -> str | None:
        return None if self.filter_policy is None else json.dumps(plain(self.filter_policy), sort_keys=True)

    @property
    def visibility_timeout_seconds(self) -> int:
        return 6 * self.timeout_seconds


@dataclass(frozen=True, kw_only=True)
class BigFanSpec(EventSubscriber):
    """An API that publishes straight to an SNS topic, fanned out to filtered per-consumer queues."""

    #: Web ACL profile (docs/platform.md): payloads are opaque data passed on unread (no SQL injection rules),
    #: and bodies above the core rule set's 8 KB are the point of the claim check (that one rule only counts).
    waf_inspects_sql: ClassVar[bool] = False
    waf_large_bodies: ClassVar[bool] = True

    consumers: Mapping[str, ConsumerSpec] = setting(doc="consumer name -> its queue, filter and function")
    #: Message attribute name -> request header it is taken from (what attribute filter policies match on).
    attribute_headers: Mapping[str, str] = setting(default_factory=lambda: {"eventType": "X-Event-Type"})
    #: Payloads larger than this are compressed by the publisher helper, then claim-checked in S3 if still larger.
    payload_threshold_bytes: int = setting(200_000, minimum=1024, maximum=262_144)
    claim_check: bool = setting(True, doc="create the S3 bucket large payloads are stored in")
    payload_retention_days: int = setting(14, minimum=1, maximum=365)
    throttling_rate_limit: float = setting(100.0, minimum=1, maximum=10000)
    throttling_burst_limit: int = setting(200, minimum=1, maximum=5000)
    dlq_alarm_threshold: int = setting(1, minimum=1, maximum=100000)
    idempotency_ttl_seconds: int = setting(86400, minimum=300, maximum=30 * 86400)

    def function_code(self) -> Iterator[tuple[str, FunctionCode]]:
        yield from super().function_code()
        for name, consumer in self.consumers.items():
            yield f"consumers.{name}", consumer

    def function_names(self) -> tuple[str, ...]:
        return tuple(self.consumers)

    def __post_init__(self) -> None:
        if not self.consumers:
            raise ConfigError("consumers", {}, "must name at least one consumer")
        for name in self.consumers:
            if not _NAME.fullmatch(name):
                raise ConfigError(f"consumers.{name}", name, "consumer names are 2-24 lowercase letters, digits or -")
        if len(self.attribute_headers) > 9:  # SNS allows 10 attributes; one carries the request id
            raise ConfigError("attributeHeaders", dict(self.attribute_headers), "at most 9 attributes")
        for attribute, header in self.attribute_headers.items():
            if (
                not _ATTRIBUTE.fullmatch(attribute)
                or attribute.startswith(("AWS.", "Amazon."))
                or attribute == "messageId"
            ):
                raise ConfigError(
                    f"attributeHeaders.{attribute}",
                    attribute,
                    "attribute names are letters, digits, _ - . (not AWS./Amazon./messageId)",
                )
            if not isinstance(header, str) or not _HEADER.fullmatch(header):
                raise ConfigError(f"attributeHeaders.{attribute}", header, "must be an HTTP header name")
        if self.throttling_burst_limit < self.throttling_rate_limit:
            raise ConfigError(
                "throttlingBurstLimit", self.throttling_burst_limit, "must be at least throttlingRateLimit"
            )
        # A domain event from the bus lands in a consumer's own queue, next to what the topic fans out to it.
        check_subscriptions(self.subscribe, targets=self.consumers, default_target=None, what="consumer")
