"""The config of a Comfortable REST service (pure: no Pulumi here)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from arcblueprint.config.schema import ConfigError, setting

__all__ = ["OPERATIONS", "ComfortableRestSpec", "QuotaSpec", "ThrottleSpec", "route_table"]

#: Operation name -> (HTTP method, path below the API root; ``{r}`` is the resource name).
OPERATIONS: dict[str, tuple[str, str]] = {
    "health": ("GET", "/health"),
    "list": ("GET", "/{r}"),
    "create": ("POST", "/{r}"),
    "get": ("GET", "/{r}/{id}"),
    "update": ("PUT", "/{r}/{id}"),
    "delete": ("DELETE", "/{r}/{id}"),
}

#: Operations whose request carries a JSON body that API Gateway validates before Lambda runs.
BODY_OPERATIONS = frozenset({"create", "update"})


@dataclass(frozen=True, kw_only=True)
class ThrottleSpec:
    """A token bucket: ``rateLimit`` requests per second refilled, ``burstLimit`` requests at once."""

    rate_limit: float = setting(minimum=1, maximum=10000, doc="steady requests per second")
    burst_limit: int = setting(minimum=1, maximum=5000, doc="bucket size (concurrent requests)")

    def __post_init__(self) -> None:
        if self.burst_limit < self.rate_limit / 10:
            # A bucket smaller than a tenth of a second of traffic throttles even steady load.
            raise ConfigError("burstLimit", self.burst_limit, f"must be at least rateLimit/10 ({self.rate_limit / 10:g})")


@dataclass(frozen=True, kw_only=True)
class QuotaSpec:
    """Requests a usage-plan client may make per period."""

    limit: int = setting(minimum=1, maximum=1_000_000_000)
    period: Literal["DAY", "WEEK", "MONTH"] = "DAY"


def _default_throttle() -> ThrottleSpec:
    return ThrottleSpec(rate_limit=50, burst_limit=100)


@dataclass(frozen=True, kw_only=True)
class ComfortableRestSpec:
    """A REST API over one DynamoDB-backed resource (list, create, get, update, delete, health)."""

    #: Path segment and item noun, e.g. ``orders`` -> ``/orders`` and ``/orders/{id}``.
    resource_name: str = setting("items", pattern=r"[a-z][a-z0-9-]{1,30}", doc="lowercase path segment")
    #: ``cognito``: a Cognito user pool authorizer on every non-public method; ``iam``: SigV4 (AWS_IAM).
    authorizer: Literal["cognito", "iam"] = "cognito"
    #: User pool whose tokens are accepted; default: a user pool is created with the service.
    user_pool_arn: str | None = setting(None, pattern=r"arn:aws[a-z-]*:cognito-idp:[a-z0-9-]+:\d{12}:userpool/[\w-]+_\w+")
    #: Operations callable without credentials: only the health check may be (items belong to a caller,
    #: so anonymous reads or writes have no owner); ``[]`` makes the health check authorized too.
    public_operations: tuple[str, ...] = setting(default_factory=lambda: ("health",), choices={"health"})
    #: Stage-wide throttle (every method), and the usage plan's throttle.
    throttle: ThrottleSpec = setting(default_factory=_default_throttle)
    #: Per-operation throttles, stricter than the stage's (e.g. writes).
    operation_throttles: Mapping[str, ThrottleSpec] = setting(default_factory=dict)
    quota: QuotaSpec | None = None
    #: Origin allowed by CORS (``https://app.example.com``); default: no CORS headers.
    cors_allow_origin: str | None = setting(None, pattern=r"\*|https?://[a-z0-9.-]+(:\d{1,5})?")
    default_page_size: int = setting(20, minimum=1, maximum=1000)
    max_page_size: int = setting(100, minimum=1, maximum=1000)
    memory_mib: int | None = setting(None, minimum=128, maximum=10240)
    reserved_concurrency: int | None = setting(None, minimum=1, maximum=10000)
    #: Seconds API Gateway waits for the function (REST APIs allow at most 29 s by default).
    integration_timeout_ms: int = setting(10000, minimum=50, maximum=29000)

    def __post_init__(self) -> None:
        for operation, throttle in self.operation_throttles.items():
            if operation not in OPERATIONS:
                raise ConfigError(f"operationThrottles.{operation}", operation,
                                  "must be one of " + ", ".join(OPERATIONS))
            if throttle.rate_limit > self.throttle.rate_limit or throttle.burst_limit > self.throttle.burst_limit:
                raise ConfigError(f"operationThrottles.{operation}",
                                  {"rateLimit": throttle.rate_limit, "burstLimit": throttle.burst_limit},
                                  "must not exceed the stage throttle (the stage limit applies first)")
        if self.default_page_size > self.max_page_size:
            raise ConfigError("defaultPageSize", self.default_page_size, f"must be at most maxPageSize ({self.max_page_size})")
        if self.user_pool_arn is not None and self.authorizer != "cognito":
            raise ConfigError("userPoolArn", self.user_pool_arn, "only applies when authorizer is cognito")
        if self.resource_name == "health":
            raise ConfigError("resourceName", self.resource_name, "must not be 'health' (reserved for the health check)")

    def throttle_for(self, operation: str) -> ThrottleSpec:
        return self.operation_throttles.get(operation, self.throttle)

    def is_public(self, operation: str) -> bool:
        return operation in self.public_operations


def route_table(resource_name: str) -> dict[str, tuple[str, str]]:
    """Operation -> (method, concrete path) for a resource name, e.g. ``get -> (GET, /orders/{id})``."""
    if not re.fullmatch(r"[a-z][a-z0-9-]{1,30}", resource_name):
        raise ValueError(resource_name)
    return {op: (method, path.replace("{r}", resource_name)) for op, (method, path) in OPERATIONS.items()}
