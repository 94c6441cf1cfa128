"""The config of a Cherry-pick service (pure: no Pulumi here)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from arcblueprint.config.schema import ConfigError, setting
from arcblueprint.services.event_wiring import ServiceTriggers

__all__ = ["CACHEABLE_RESOLVERS", "CachingSpec", "CherryPickSpec", "SagaRetrySpec"]

#: Resolvers that only read, so their results may be cached (per caller: the cache key has the caller's sub).
CACHEABLE_RESOLVERS = frozenset({"Query.getBooking", "Query.listBookings"})


@dataclass(frozen=True, kw_only=True)
class CachingSpec:
    """AppSync server-side caching, per resolver."""

    #: AppSync accepts 1-3600 seconds.
    ttl_seconds: int = setting(60, minimum=1, maximum=3600, doc="AppSync cache TTL, 1-3600 s")
    instance_type: Literal["SMALL", "MEDIUM", "LARGE", "XLARGE", "LARGE_2X"] = "SMALL"
    resolvers: tuple[str, ...] = setting(default_factory=lambda: ("Query.getBooking",), choices=CACHEABLE_RESOLVERS)

    def __post_init__(self) -> None:
        if not self.resolvers:
            raise ConfigError("resolvers", [], "must name at least one resolver (omit caching to turn it off)")


@dataclass(frozen=True, kw_only=True)
class SagaRetrySpec:
    """Retry of every saga step: ``maxAttempts`` retries, waiting ``intervalSeconds`` x ``backoffRate``^n."""

    max_attempts: int = setting(3, minimum=1, maximum=10)
    interval_seconds: int = setting(2, minimum=1, maximum=300)
    backoff_rate: float = setting(2.0, minimum=1.1, maximum=10)
    max_delay_seconds: int = setting(60, minimum=1, maximum=3600)


@dataclass(frozen=True, kw_only=True)
class CherryPickSpec(ServiceTriggers):
    """A booking GraphQL API: reads straight from DynamoDB, the booking transaction as a saga."""

    #: The functions ``functions.<name>`` can point at the team's own code.
    FUNCTION_NAMES: ClassVar[tuple[str, ...]] = ("bookings", "saga-steps")
    #: Web ACL profile (docs/platform.md): requests reach a data store, so the web ACL adds AWS's SQL
    #: injection rules; bodies stay under the core rule set's 8 KB limit.
    waf_inspects_sql: ClassVar[bool] = True
    waf_large_bodies: ClassVar[bool] = False

    #: Default auth of the API; IAM is always added for backends (field-level ``@aws_iam``).
    authorizer: Literal["cognito", "iam"] = "cognito"
    user_pool_arn: str | None = setting(
        None, pattern=r"arn:aws[a-z-]*:cognito-idp:[a-z0-9-]+:\d{12}:userpool/[\w-]+_\w+"
    )
    #: Default: no cache (dev); prod caches the read resolvers.
    caching: CachingSpec | None = None
    #: STANDARD keeps a year of history and runs up to a year; EXPRESS is cheaper for short sagas.
    saga_type: Literal["STANDARD", "EXPRESS"] = "STANDARD"
    saga_retry: SagaRetrySpec = setting(default_factory=SagaRetrySpec)
    #: AppSync resolver logging: ALL logs every field resolution (request ids, timings, errors).
    field_log_level: Literal["ALL", "ERROR"] = "ALL"
    memory_mib: int | None = setting(None, minimum=128, maximum=10240)
    #: SnapStart for the synchronous function(s) (the GraphQL resolver): init runs when a version is published and cold
    #: starts resume from its snapshot (Python 3.12+; billed per cached GB-second and per restore). Default: off.
    snap_start: bool = False

    def __post_init__(self) -> None:
        if self.user_pool_arn is not None and self.authorizer != "cognito":
            raise ConfigError("userPoolArn", self.user_pool_arn, "only applies when authorizer is cognito")
