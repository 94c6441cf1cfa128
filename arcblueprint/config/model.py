"""The typed model of one stack's config (``Pulumi.<stack>.yaml``).

Keys are camelCase under the project namespace (``arcblueprint:logging``), as ``pulumi config
set`` writes them; ``aws:region`` comes from the AWS provider's namespace. Defaults are the
secure and production-safe choice; ``Pulumi.dev.yaml`` relaxes them where dev should be cheaper.
Each section is a frozen dataclass so components receive validated, immutable values.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Literal, Protocol

from arcblueprint.config.schema import ConfigError, config_key, parse, setting, yaml_text
from arcblueprint.planning.cidr import NetworkDemand, ProxyVpcDemand, plan_onprem_vpc, plan_vpc
from arcblueprint.planning.proxy_config import allows, is_host_name
from arcblueprint.planning.releases import plan_release
from arcblueprint.planning.zones import endpoint_zone_indexes
from arcblueprint.services.registry import PATTERNS, pattern_of
from arcblueprint.vpc_access import INTERFACE_ENDPOINT_SERVICES

if TYPE_CHECKING:
    from collections.abc import Iterator

    from arcblueprint.platform.function_code import FunctionCode

__all__ = [
    "LOG_RETENTION_DAYS",
    "EventBusSpec",
    "FunctionDefaults",
    "FunctionReleaseState",
    "LoggingSpec",
    "NetworkSpec",
    "NotificationsSpec",
    "OnPremSpec",
    "OverrideSpec",
    "PolicySpec",
    "ProxyCapacitySpec",
    "ReleaseOverride",
    "ReleaseSpec",
    "SecretSpec",
    "ServiceSpec",
    "StackConfig",
    "WafServiceSpec",
    "WafSpec",
    "CodeSigningSpec",
    "WaiverSpec",
]

#: The values CloudWatch Logs accepts for ``retentionInDays`` (0, never expire, is not allowed here).
LOG_RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
)

#: Tags every stack must set; ``environment`` and ``service`` are added by the blueprint.
REQUIRED_TAGS = ("owner", "cost-center")


_ZONE_ID = re.compile(r"[a-z]{2,5}\d-az\d{1,2}")


def check_zone_ids(values: tuple[str, ...], key: str, count: int, count_key: str) -> None:
    """Pinned availability zone ids: well formed, distinct, as many as the section uses."""
    for i, value in enumerate(values):
        if not _ZONE_ID.fullmatch(value):
            raise ConfigError(
                f"{key}[{i}]",
                value,
                "must be an availability zone id such as euw1-az1 "
                "(ids name the same zone in every account; names such as eu-west-1a do not)",
            )
    if len(set(values)) != len(values):
        raise ConfigError(key, list(values), "must not repeat a zone")
    if values and len(values) != count:
        raise ConfigError(key, list(values), f"must list exactly {count} zones ({count_key} = {count})")


def check_cidr(value: str, key: str) -> ipaddress.IPv4Network:
    """Parse an IPv4 CIDR (strict: no host bits) or raise a one-line ConfigError."""
    try:
        return ipaddress.IPv4Network(value, strict=True)
    except ValueError as error:
        raise ConfigError(key, value, f"must be an IPv4 CIDR block without host bits ({error})") from None


#: A function's logical name: ``<service>-<role>`` (``orders-api``, ``fan-billing``).
FUNCTION_NAME = r"[a-z][a-z0-9-]{0,62}[a-z0-9]"


@dataclass(frozen=True, kw_only=True)
class FunctionDefaults:
    """Defaults for every Lambda function; a service may override per function."""

    memory_mib: int = setting(256, minimum=128, maximum=10240, doc="Lambda memory size in MiB")
    timeout_seconds: int = setting(10, minimum=1, maximum=900)
    architecture: Literal["arm64", "x86_64"] = setting("arm64", doc="arm64 is cheaper per GB-second")
    runtime: Literal["python3.12", "python3.13"] = "python3.13"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    #: Powertools layer version used for the public layer ARN.
    powertools_layer_version: int = setting(18, minimum=1, maximum=1000)
    #: Asynchronous invocations (EventBridge, SNS, S3, schedules): how often Lambda retries a failed event
    #: and how long it keeps one queued before it goes to the function's on-failure queue.
    async_maximum_retry_attempts: int = setting(2, minimum=0, maximum=2, doc="Lambda's own default is 2")
    async_maximum_event_age_seconds: int = setting(
        3600, minimum=60, maximum=21600, doc="Lambda's default is 21600 (6 h); an hour keeps replays timely"
    )

    #: Memory (MiB) of single functions by logical name (``orders-api``), as ``blueprint tune`` writes it; wins
    #: over the service's ``memoryMib`` and ``functions.memoryMib``. Default: none. A name that is no function
    #: of the stack stops the program (checked once every service is built).
    memory_mib_by_function: Mapping[str, int] = setting(default_factory=dict)

    def __post_init__(self) -> None:
        for name, memory in self.memory_mib_by_function.items():
            key = f"memoryMibByFunction.{name}"
            if not re.fullmatch(FUNCTION_NAME, name):
                raise ConfigError(key, name, "must be a function's logical name such as orders-api")
            if isinstance(memory, bool) or not isinstance(memory, int) or not 128 <= memory <= 10240:
                raise ConfigError(key, memory, "must be a whole number from 128 to 10240 (MiB)")


@dataclass(frozen=True, kw_only=True)
class FunctionReleaseState:
    """Where one function's release stands: ``releases.functions.<function>`` (the function's release key,
    ``<service>-<name>``, as in the ``releases`` stack output).

    ``blueprint deploy`` derives ``previousVersion`` and ``liveVersion`` from the last deployment for every
    function the stack file does not pin, and passes them for that run only; ``rollback`` and
    ``canaryWeightPercent`` are decisions, written to the stack file by ``blueprint rollback``/``promote``.
    """

    #: The version to go back to: the ``previous`` alias (blue-green), the rest of a weighted canary's traffic.
    #: Set here, it pins the function (the driver derives nothing for it).
    previous_version: int | None = setting(None, minimum=1, maximum=10**9)
    #: The version ``live`` served when this update started (set by the driver). When the update publishes a
    #: newer version, that one becomes the previous version; when it publishes none, ``previousVersion`` stays.
    live_version: int | None = setting(None, minimum=1, maximum=10**9)
    #: Blue-green: ``live`` points back at the previous version; default: the stack's ``releases.rollback``.
    rollback: bool | None = None
    #: Weighted canary: this function's weight; default: the stack's ``releases.canaryWeightPercent``.
    canary_weight_percent: int | None = setting(None, minimum=0, maximum=100)


#: Release settings that are state of one function, never a strategy: a service's ``release`` block cannot set
#: them, and the stack keeps the versions per function (``releases.functions``).
RELEASE_STATE_FIELDS = frozenset({"previous_version", "live_version", "rollback", "canary_weight_percent", "functions"})
#: What belongs to one strategy: a service that switches strategy does not inherit these from the stack.
_STRATEGY_FIELDS = frozenset(
    {"deployment_config", "custom_percent", "custom_interval_minutes", "weighted_steps"} | RELEASE_STATE_FIELDS
)


@dataclass(frozen=True, kw_only=True)
class ReleaseSpec:
    """How new function versions reach traffic; a service may override it (``release:``), per function state
    lives under ``functions``."""

    strategy: Literal["all-at-once", "blue-green", "canary", "linear", "weighted-canary"] = "canary"
    #: CodeDeploy predefined config suffix (``Linear10PercentEvery1Minute``) or ``custom``;
    #: default: ``Canary10Percent5Minutes`` for canary, ``Linear10PercentEvery1Minute`` for linear.
    deployment_config: str | None = setting(None)
    custom_percent: int = setting(10, minimum=1, maximum=99)
    custom_interval_minutes: int = setting(5, minimum=1, maximum=2880)
    #: Weights (percent) the CI driver moves a weighted-alias canary through; ends at 100.
    weighted_steps: tuple[int, ...] = setting(default_factory=lambda: (10, 50, 100))
    #: One function's version the ``live`` alias points at besides the new one (blue-green rollback target). A
    #: number, because ``pulumi config set --path`` (and the CI driver) store digit strings as numbers. Per
    #: function only: in stack config it is ``functions.<function>.previousVersion``.
    previous_version: int | None = setting(None, minimum=1, maximum=10**9)
    #: One function's version ``live`` served before the update (see :class:`FunctionReleaseState`).
    live_version: int | None = setting(None, minimum=1, maximum=10**9)
    #: Blue-green only: point ``live`` back at the previous version (one config change + ``pulumi up``).
    rollback: bool = False
    #: Current weight of a weighted canary (set by the CI driver's ``promote``).
    canary_weight_percent: int = setting(0, minimum=0, maximum=100)
    extra_aliases: tuple[str, ...] = setting(default_factory=tuple)
    error_alarm_threshold: int = setting(1, minimum=1, maximum=100000, doc="errors per minute")
    throttle_alarm_threshold: int = setting(1, minimum=1, maximum=100000)
    p99_duration_alarm_ms: int = setting(3000, minimum=10, maximum=900000)
    #: Release state per function (key: ``<service>-<name>``, as in the ``releases`` output).
    functions: Mapping[str, FunctionReleaseState] = setting(default_factory=dict)

    def __post_init__(self) -> None:
        steps = self.weighted_steps
        if not steps or steps[-1] != 100 or any(b <= a for a, b in zip(steps, steps[1:], strict=False)) or steps[0] < 1:
            raise ConfigError("weightedSteps", list(steps), "must rise strictly from 1 or more and end at 100")
        # Whether a rollback has a version to go back to is known per function (release_for), not here.
        plan_release(self, key="", per_function=False)

    def for_function(self, function: str) -> ReleaseSpec:
        """This spec with ``function``'s state (``functions.<function>``) applied."""
        state = self.functions.get(function)
        if state is None:
            return self
        changes: dict[str, Any] = {}
        for field in ("previous_version", "live_version", "rollback", "canary_weight_percent"):
            value = getattr(state, field)
            if value is not None:
                changes[field] = value
        return dataclasses.replace(self, **changes) if changes else self


class ReleaseOverride:
    """A service's ``release:`` block: the keys it sets replace the stack's ``releases`` for its functions.

    It is parsed as a :class:`ReleaseSpec` (the same checks and release planner), and may not hold release
    state (versions, rollback, weight: those are per function). A service that changes the strategy
    inherits only what is not strategy-specific (alarm thresholds, extra aliases).
    """

    def __init__(self, values: Mapping[str, Any]) -> None:
        #: Field name -> parsed value, for the keys the block sets.
        self.values: Mapping[str, Any] = types.MappingProxyType(dict(values))

    @staticmethod
    def parse_config(value: Any, key: str) -> ReleaseOverride:
        if not isinstance(value, Mapping):
            raise ConfigError(key, value, "must be a mapping of release settings (strategy, deploymentConfig, ...)")
        names = {config_key(f): f.name for f in dataclasses.fields(ReleaseSpec)}
        for name in value:
            if names.get(name) in RELEASE_STATE_FIELDS:
                raise ConfigError(
                    f"{key}.{name}",
                    value[name],
                    "is release state of one function: set it under the stack's "
                    "releases.functions.<function> (blueprint deploy/rollback/promote keep it there)",
                )
        spec = parse(ReleaseSpec, value, key)  # unknown keys, types, ranges and the release planner's rules
        return ReleaseOverride({names[name]: getattr(spec, names[name]) for name in value})

    def apply(self, base: ReleaseSpec) -> ReleaseSpec:
        """The service's release spec on top of the stack's ``base``."""
        values = dict(self.values)
        if values.get("strategy", base.strategy) != base.strategy:
            kept = {
                f.name: getattr(base, f.name)
                for f in dataclasses.fields(ReleaseSpec)
                if f.name not in _STRATEGY_FIELDS and f.name != "strategy"
            }
            return ReleaseSpec(**{**kept, "functions": base.functions, **values})
        return dataclasses.replace(base, **values)


@dataclass(frozen=True, kw_only=True)
class LoggingSpec:
    """Retention of every log group and the central sink (Firehose to S3)."""

    retention_days: int = setting(90, choices=LOG_RETENTION_DAYS)
    #: Zero buffering is not available with dynamic partitioning (how the sink drops health checks).
    sink_buffer_seconds: int = setting(300, minimum=60, maximum=900)
    #: Firehose needs 64 MiB or more when dynamic partitioning routes health checks away from the logs.
    sink_buffer_mib: int = setting(64, minimum=64, maximum=128)
    archive_after_days: int = setting(90, minimum=1, maximum=3650, doc="move to Glacier after")
    expire_after_days: int = setting(730, minimum=1, maximum=36500)
    #: Set API Gateway's account-level CloudWatch role (needed for stage logs; one per account+region).
    manage_api_gateway_account: bool = True
    #: S3 server access logs of every bucket (to a dedicated SSE-S3 bucket: S3 does not deliver them to
    #: a bucket whose default encryption is SSE-KMS). Cheap, so on in every stack by default.
    s3_access_logs: bool = True
    #: Route 53 Resolver query logs of the stack's VPCs (every DNS query their resources make);
    #: default: on in prod only (billed per GB ingested).
    resolver_query_logs: bool | None = None

    def __post_init__(self) -> None:
        if self.expire_after_days <= self.archive_after_days:
            raise ConfigError("expireAfterDays", self.expire_after_days, "must be later than archiveAfterDays")


#: The evaluation windows AWS WAF's rate-based rules accept (seconds).
WAF_EVALUATION_WINDOWS = frozenset({60, 120, 300, 600})


@dataclass(frozen=True, kw_only=True)
class WafServiceSpec:
    """One service's departure from the stack's ``waf`` settings."""

    #: default: the stack's ``waf.enabled``.
    enabled: bool | None = None
    #: default: the stack's ``waf.rateLimit``.
    rate_limit: int | None = setting(None, minimum=10, maximum=2_000_000_000)


@dataclass(frozen=True, kw_only=True)
class WafSpec:
    """A WAFv2 web ACL in front of every public REST API stage and AppSync API (docs/platform.md).

    Each ACL runs AWS's managed rule groups (core rule set, known bad inputs, IP reputation; SQL
    injection for APIs backed by data stores) and a rate-based rule, logs to the central sink with
    the Authorization header redacted, and publishes CloudWatch metrics.
    """

    #: default: on in prod, off elsewhere (a web ACL is billed per month, per rule and per request).
    enabled: bool | None = None
    #: Requests one client IP may send per ``evaluationWindowSeconds`` before it is blocked (WAF's minimum is 10).
    rate_limit: int = setting(2000, minimum=10, maximum=2_000_000_000, doc="requests per IP per window")
    evaluation_window_seconds: int = setting(300, choices=WAF_EVALUATION_WINDOWS)
    #: Per service (by name): ``enabled`` and ``rateLimit`` overrides.
    services: Mapping[str, WafServiceSpec] = setting(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class CodeSigningSpec:
    """AWS Signer signs every function package; Lambda checks the signature on each deploy (docs/platform.md)."""

    enabled: bool = True
    #: What Lambda does with a package no allowed profile signed. ``Enforce`` (default in prod) refuses it,
    #: so functions deploy from the signed objects the driver uploads; ``Warn`` (default elsewhere) deploys
    #: the local package and records a warning.
    untrusted_artifacts: Literal["Enforce", "Warn"] | None = None
    #: How long a signature stays valid (AWS Signer's ``signatureValidityPeriod``); Lambda refuses expired ones.
    signature_validity_months: int = setting(60, minimum=1, maximum=135)


@dataclass(frozen=True, kw_only=True)
class NetworkSpec:
    """Demand the application VPC must hold; the CIDR is computed from it, never typed in."""

    peak_concurrent_executions: int = setting(1000, minimum=0, maximum=1_000_000)
    #: ``hyperplane`` (current Lambda: one ENI per subnet+security group) or ``legacy`` (pre-2019).
    eni_model: Literal["hyperplane", "legacy"] = "hyperplane"
    security_group_combinations: int = setting(1, minimum=1, maximum=50)
    availability_zones: int = setting(3, minimum=2, maximum=6)
    #: default: the region's first ``availabilityZones`` zones. Pin zone ids, never names.
    availability_zone_ids: tuple[str, ...] = setting(default_factory=tuple)
    headroom_percent: int = setting(100, minimum=0, maximum=1000)
    other_addresses_per_az: int = setting(16, minimum=0, maximum=60000, doc="NAT, endpoints, other ENIs")
    allowed_range: str = setting("10.0.0.0/8")
    on_prem_ranges: tuple[str, ...] = setting(default_factory=tuple)
    public_subnets: bool = False
    isolated_subnets: bool = False
    #: Interface endpoints wanted whatever the functions need (PrivateLink service names). The network
    #: adds, on demand, one for each AWS API a VPC-attached function is granted (docs/network.md).
    interface_endpoints: tuple[str, ...] = setting(
        default_factory=lambda: ("secretsmanager", "logs", "events", "sqs"),
        choices=INTERFACE_ENDPOINT_SERVICES,
    )
    flow_log_traffic: Literal["ALL", "ACCEPT", "REJECT"] = "ALL"

    def __post_init__(self) -> None:
        check_cidr(self.allowed_range, "allowedRange")
        check_zone_ids(self.availability_zone_ids, "availabilityZoneIds", self.availability_zones, "availabilityZones")
        for i, cidr in enumerate(self.on_prem_ranges):
            check_cidr(cidr, f"onPremRanges[{i}]")
        # The demand must fit before any resource is declared: plan the VPC now (pure, fast).
        try:
            plan_vpc(NetworkDemand.from_spec(self))
        except ConfigError as error:
            raise ConfigError(error.key.removeprefix("network."), error.value, error.allowed) from None


@dataclass(frozen=True, kw_only=True)
class ProxyCapacitySpec:
    """How many proxies the Auto Scaling group keeps (EC2 Auto Scaling's names)."""

    min_size: int = setting(2, minimum=1, maximum=32)
    desired_capacity: int = setting(2, minimum=1, maximum=32)
    #: Also sizes the proxy VPC: each zone holds its share twice over during an instance refresh.
    max_size: int = setting(4, minimum=1, maximum=32)

    def __post_init__(self) -> None:
        if not self.min_size <= self.desired_capacity <= self.max_size:
            raise ConfigError(
                "desiredCapacity",
                self.desired_capacity,
                f"must lie between minSize ({self.min_size}) and maxSize ({self.max_size})",
            )


#: ``tgw-`` (a transit gateway: the proxy VPC gets an attachment) or ``vgw-`` (a virtual private gateway,
#: attached to the proxy VPC): the gateway the network team gave this stack toward on-prem.
GATEWAY_ID = r"(tgw|vgw)-[0-9a-f]{8}([0-9a-f]{9})?"


@dataclass(frozen=True, kw_only=True)
class OnPremSpec:
    """The small VPC connected to on-prem whose proxies the functions reach through PrivateLink."""

    enabled: bool = False
    proxies: ProxyCapacitySpec = setting(default_factory=ProxyCapacitySpec)
    proxy_port: int = setting(3128, minimum=1024, maximum=65535)
    #: Graviton only: the proxies run the arm64 Amazon Linux 2023 image.
    proxy_instance_type: str = setting(
        "t4g.small", pattern=r"[a-z]+\d+[a-z]*g[a-z]*\.[a-z0-9]+", doc="a Graviton (arm64) type such as t4g.small"
    )
    allowed_range: str = setting("172.16.0.0/12")
    #: Where the proxy VPC's route tables send ``network.onPremRanges`` (required when enabled).
    gateway_id: str | None = setting(None, pattern=GATEWAY_ID, doc="tgw-... or vgw-...")
    #: What the proxies may reach: IPv4 CIDRs inside ``network.onPremRanges``, host names
    #: (``legacy.corp.example.com``) and domain suffixes (``.corp.example.com``). Required when enabled.
    destinations: tuple[str, ...] = setting(default_factory=tuple)
    destination_ports: tuple[int, ...] = setting(default_factory=lambda: (443,))
    #: Route 53 Resolver rules (shared by the network team) that resolve on-prem names in the proxy VPC.
    resolver_rule_ids: tuple[str, ...] = setting(default_factory=tuple)
    #: The proxy VPC (and its load balancer) spans this many zones; production needs two or more.
    availability_zones: int = setting(2, minimum=1, maximum=3)
    #: default: the application VPC's first zones, so the endpoint (in the application VPC) can reach
    #: every zone the proxies' load balancer serves. Pinned ids need ``network.availabilityZoneIds``.
    availability_zone_ids: tuple[str, ...] = setting(default_factory=tuple)

    def __post_init__(self) -> None:
        check_cidr(self.allowed_range, "allowedRange")
        check_zone_ids(self.availability_zone_ids, "availabilityZoneIds", self.availability_zones, "availabilityZones")
        for i, value in enumerate(self.destinations):
            if not is_host_name(value):
                check_cidr(value, f"destinations[{i}]")
        for i, port in enumerate(self.destination_ports):
            if not 1 <= port <= 65535:
                raise ConfigError(f"destinationPorts[{i}]", port, "must be a port from 1 to 65535")
        for i, rule in enumerate(self.resolver_rule_ids):
            if not re.fullmatch(r"rslvr-rr-[0-9a-z]{8,32}", rule):
                raise ConfigError(f"resolverRuleIds[{i}]", rule, "must be a Route 53 Resolver rule id (rslvr-rr-...)")
        if self.enabled:
            if self.gateway_id is None:
                raise ConfigError(
                    "gatewayId",
                    None,
                    "is required when onPrem is enabled: the transit gateway "
                    "(tgw-...) or virtual private gateway (vgw-...) that reaches on-prem",
                    show_value=False,
                )
            if not self.destinations:
                raise ConfigError(
                    "destinations",
                    [],
                    "must list what the proxies may reach (on-prem CIDRs, host "
                    "names, .domain suffixes) when onPrem is enabled: a proxy to nowhere refuses all",
                )
            if not self.destination_ports:
                raise ConfigError("destinationPorts", [], "must list at least one port")
            names = [d for d in self.destinations if is_host_name(d)]
            if names and not self.resolver_rule_ids:
                # The proxy VPC's resolver answers its own names and asks public DNS for the rest: on-prem
                # names resolve there only through the network team's forwarding rules.
                raise ConfigError(
                    "resolverRuleIds",
                    [],
                    f"must list the Route 53 Resolver rules (rslvr-rr-...) that forward on-prem DNS when "
                    f"destinations name hosts ({', '.join(names)}): without them the proxies cannot resolve those "
                    "names and refuse every request to them",
                    show_value=False,
                )

    @property
    def destination_networks(self) -> tuple[str, ...]:
        return tuple(d for d in self.destinations if not is_host_name(d))


@dataclass(frozen=True, kw_only=True)
class EventBusSpec:
    """The shared EventBridge bus."""

    archive_retention_days: int = setting(30, minimum=1, maximum=3650)
    #: Must stay false: kept as a key so that asking for discovery says why it cannot be had.
    enable_schema_discovery: bool = False
    target_maximum_retry_attempts: int = setting(8, minimum=0, maximum=185)
    target_maximum_event_age_seconds: int = setting(3600, minimum=60, maximum=86400)

    def __post_init__(self) -> None:
        if self.enable_schema_discovery:
            raise ConfigError(
                "enableSchemaDiscovery",
                True,
                "EventBridge rejects schema discovery on a bus "
                "encrypted with a customer managed key, and the platform bus always uses the "
                "platform key; publish the event schemas to a registry instead",
            )


_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"
)
_HTTPS_URL = re.compile(r"https://[A-Za-z0-9.-]+(?::\d{1,5})?(?:/\S*)?")


@dataclass(frozen=True, kw_only=True)
class NotificationsSpec:
    """Who hears the alarms: every alarm's ALARM and OK transitions go to one encrypted topic with these subscribers.

    Email and HTTPS subscriptions stay pending until the address's owner (or the endpoint) confirms
    them; the URLs are plain stack config, so an endpoint whose URL carries a credential does not
    belong here.
    """

    emails: tuple[str, ...] = setting(default_factory=tuple, doc="addresses that receive alarm emails")
    #: An incident tool or chat relay; each must confirm the subscription SNS posts to it.
    https_endpoints: tuple[str, ...] = setting(default_factory=tuple)

    def __post_init__(self) -> None:
        for key, values, pattern, allowed in (
            ("emails", self.emails, _EMAIL, "must be an email address such as ops@example.com"),
            (
                "httpsEndpoints",
                self.https_endpoints,
                _HTTPS_URL,
                "must be an https:// URL (SNS sends alarms to plain http endpoints unencrypted)",
            ),
        ):
            for i, value in enumerate(values):
                if not pattern.fullmatch(value):
                    raise ConfigError(f"{key}[{i}]", value, allowed)
            if len(set(values)) != len(values):
                raise ConfigError(key, list(values), "must not repeat an endpoint")

    @property
    def has_subscribers(self) -> bool:
        return bool(self.emails or self.https_endpoints)


@dataclass(frozen=True, kw_only=True)
class SecretSpec:
    """A Secrets Manager secret; its value is set out of band, never in config."""

    description: str = setting(pattern=r".{3,200}")
    rotation_days: int | None = setting(None, minimum=1, maximum=1000)
    rotation_function_arn: str | None = setting(None, pattern=r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:.+")
    #: The rotation function's execution role: the secret's resource policy exempts it from the
    #: readers-only Deny, or rotation could never read the value it rotates.
    rotation_role_arn: str | None = setting(None, pattern=r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+")

    def __post_init__(self) -> None:
        if (self.rotation_days is None) != (self.rotation_function_arn is None):
            raise ConfigError(
                "rotationDays", self.rotation_days, "rotationDays and rotationFunctionArn must be set together"
            )
        if (self.rotation_function_arn is None) != (self.rotation_role_arn is None):
            raise ConfigError(
                "rotationRoleArn",
                self.rotation_role_arn,
                "rotationRoleArn (the rotation function's execution role, exempted from the secret's "
                "readers-only Deny) and rotationFunctionArn must be set together",
            )


#: A waiver's or a weakening override's reason: what a reviewer reads instead of the rule's verdict.
_REASON = r"(?s).{10,500}"

#: ``YYYY-MM-DD``; a timestamp at midnight UTC is what a YAML parser may make of an unquoted date.
_DATE = r"\d{4}-\d{2}-\d{2}(T00:00:00Z)?"


@dataclass(frozen=True, kw_only=True)
class WaiverSpec:
    """Waive one policy for one resource, with a reason that reviewers can read (and, optionally, an end date)."""

    policy: str = setting(pattern=r"[a-z0-9-]+")
    resource: str = setting(pattern=r"\S+", doc="the resource's logical name")
    reason: str = setting(pattern=_REASON, doc="at least 10 characters")
    #: From this day on (UTC) the waiver fails every preview and deploy until it is renewed or removed.
    expires: str | None = setting(None, pattern=_DATE, doc="a date, YYYY-MM-DD")

    def __post_init__(self) -> None:
        if self.expires is not None:
            try:
                self.expiry_date  # noqa: B018 - parses the date: 2026-02-30 matches the pattern, not the calendar
            except ValueError:
                raise ConfigError("expires", self.expires, "must be a calendar date, YYYY-MM-DD") from None

    @property
    def expiry_date(self) -> date | None:
        return date.fromisoformat(self.expires[:10]) if self.expires else None


#: Enforcement levels from strongest to weakest.
ENFORCEMENT_LEVELS = ("mandatory", "advisory", "disabled")


@dataclass(frozen=True, kw_only=True)
class OverrideSpec:
    """One policy's enforcement level in this stack, and why it differs from the stack's ``enforcement``.

    Written ``tags-required: advisory`` or ``tags-required: {level: advisory, reason: "..."}``; in a
    production stack an override that weakens a rule (``disabled``, or ``advisory`` under
    ``enforcement: mandatory``) needs the ``reason``, as a waiver does.
    """

    level: Literal["mandatory", "advisory", "disabled"] = setting(doc="mandatory, advisory or disabled")
    reason: str | None = setting(None, pattern=_REASON, doc="at least 10 characters")

    @staticmethod
    def parse_config(value: Any, key: str) -> OverrideSpec:
        if isinstance(value, str):  # the plain form: a level only
            if value not in ENFORCEMENT_LEVELS:
                raise ConfigError(
                    key, value, "must be one of " + ", ".join(ENFORCEMENT_LEVELS) + ", or {level: ..., reason: ...}"
                )
            return OverrideSpec(level=value)  # type: ignore[arg-type]
        if not isinstance(value, Mapping):
            raise ConfigError(
                key, value, "must be a level (mandatory, advisory, disabled) or {level: ..., reason: ...}"
            )
        return parse(OverrideSpec, value, key)

    def weakens(self, enforcement: str) -> bool:
        """Whether this level is weaker than the stack's ``enforcement``."""
        return ENFORCEMENT_LEVELS.index(self.level) > ENFORCEMENT_LEVELS.index(enforcement)


@dataclass(frozen=True, kw_only=True)
class PolicySpec:
    """How the policy pack enforces its rules in this stack: the level, per-policy overrides, per-resource waivers.

    Names are checked against the pack, and the governance rules (no weakening of a correctness rule,
    a reason for weakening one in production, no expired waiver) in :mod:`arcblueprint.policy.config`.
    """

    enforcement: Literal["mandatory", "advisory"] = "mandatory"
    overrides: Mapping[str, OverrideSpec] = setting(default_factory=dict)
    waivers: tuple[WaiverSpec, ...] = setting(default_factory=tuple)


class ServiceSpec(Protocol):
    """What a parsed service entry is, whatever its pattern (every pattern's spec derives from
    ``services.service_settings.ServiceSettings``): ``pattern`` picks the spec class in
    :mod:`arcblueprint.services.registry`, which parses the rest of the entry."""

    @property
    def release(self) -> ReleaseOverride | None: ...

    def function_names(self) -> tuple[str, ...]: ...

    def function_code(self) -> Iterator[tuple[str, FunctionCode]]: ...

    def check_settings(self) -> None: ...


def parse_service(value: Any, key: str) -> ServiceSpec:
    """A service entry: ``pattern`` (looked up in the registry) picks the spec class that parses the rest."""
    if not isinstance(value, Mapping):
        raise ConfigError(key, value, "must be a mapping with a 'pattern' key")
    name = value.get("pattern")
    pattern = PATTERNS.get(name) if isinstance(name, str) else None
    if pattern is None:
        raise ConfigError(f"{key}.pattern", name, "must be one of " + ", ".join(PATTERNS))
    body = {k: v for k, v in value.items() if k != "pattern"}
    spec = parse(pattern.spec_type(), body, key)
    try:
        spec.check_settings()  # what every pattern accepts (functions' code, release override)
    except ConfigError as error:
        raise error.under(key) from None
    return spec


# The parser's hook for ``Mapping[str, ServiceSpec]`` fields, attached outside the class body: it is how an
# entry is parsed, not a member every spec must have (a protocol member would be required of ServiceSettings).
ServiceSpec.parse_config = staticmethod(parse_service)  # type: ignore[attr-defined]


@dataclass(frozen=True, kw_only=True)
class StackConfig:
    """Everything one stack is configured with, validated before any resource is declared."""

    environment: Literal["dev", "staging", "prod"] = setting(doc="dev, staging or prod")
    region: str = setting(pattern=r"[a-z]{2}(-gov)?-[a-z]+-\d", key="region", doc="from aws:region")
    account_id: str = setting(pattern=r"\d{12}", doc="the 12-digit AWS account id")
    #: ``aws:allowedAccountIds``: the AWS provider refuses credentials of any other account. Only ``accountId``
    #: may be listed; ``blueprint deploy`` sets it for every run whether the file does or not.
    allowed_account_ids: tuple[str, ...] = setting(default_factory=tuple, key="allowedAccountIds")
    organization_id: str | None = setting(None, pattern=r"o-[a-z0-9]{10,32}")
    naming_prefix: str = setting(pattern=r"[a-z][a-z0-9-]{1,14}[a-z0-9]", doc="3-16 lowercase letters, digits, -")
    tags: Mapping[str, str] = setting(default_factory=dict)
    #: Protect stateful resources (``protect``, retain on delete, deletion windows, deletion protection).
    protect_stateful_resources: bool = True
    functions: FunctionDefaults = setting(default_factory=FunctionDefaults)
    releases: ReleaseSpec = setting(default_factory=ReleaseSpec)
    logging: LoggingSpec = setting(default_factory=LoggingSpec)
    network: NetworkSpec = setting(default_factory=NetworkSpec)
    on_prem: OnPremSpec = setting(default_factory=OnPremSpec)
    event_bus: EventBusSpec = setting(default_factory=EventBusSpec)
    notifications: NotificationsSpec = setting(default_factory=NotificationsSpec)
    waf: WafSpec = setting(default_factory=WafSpec)
    code_signing: CodeSigningSpec = setting(default_factory=CodeSigningSpec)
    secrets: Mapping[str, SecretSpec] = setting(default_factory=dict)
    services: Mapping[str, ServiceSpec] = setting(default_factory=dict)
    policy: PolicySpec = setting(default_factory=PolicySpec)

    def __post_init__(self) -> None:
        if self.allowed_account_ids and list(self.allowed_account_ids) != [self.account_id]:
            raise ConfigError(
                "allowedAccountIds",
                list(self.allowed_account_ids),
                f"must be [{self.account_id!r}], the stack's accountId: the provider may act in that account only",
            )
        missing = [tag for tag in REQUIRED_TAGS if not self.tags.get(tag)]
        if missing:
            raise ConfigError("tags", dict(self.tags), "must set " + " and ".join(REQUIRED_TAGS))
        for name in list(self.services) + list(self.secrets):
            if not _is_name(name):
                raise ConfigError(
                    "services", name, "service and secret names must be 2-24 lowercase letters, digits or -"
                )
        if self.on_prem.enabled:
            self._check_on_prem()
        self._check_on_prem_clients()
        self._check_releases()
        self._check_waf()
        from arcblueprint.services.event_wiring import check_event_routes

        check_event_routes(self.services, pattern_of)  # publishers have schemas; subscriptions name them
        from arcblueprint.policy.config import check_exceptions  # the pack's names and governance rules

        check_exceptions(self)

    def release_for(self, service: str, function: str) -> ReleaseSpec:
        """How ``function`` (its release key, ``<service>-<name>``) is released: the stack's ``releases``, the
        service's ``release`` block on top, then the function's own state (``releases.functions``)."""
        spec = self.releases
        service_spec = self.services.get(service)
        override = service_spec.release if service_spec is not None else None
        if override is not None:
            spec = override.apply(spec)
        return spec.for_function(function)

    def function_names(self) -> dict[str, str]:
        """Release key (``<service>-<name>``) -> service, for every function the services may declare."""
        return {
            f"{service}-{function}": service
            for service, spec in self.services.items()
            for function in spec.function_names()
        }

    def _check_releases(self) -> None:
        """Versions are kept per function, each named function exists, and each function's release plans."""
        for field, key in (("previous_version", "previousVersion"), ("live_version", "liveVersion")):
            value = getattr(self.releases, field)
            if value is not None:
                raise ConfigError(
                    f"releases.{key}",
                    value,
                    "is kept per function (Lambda counts versions per function): set "
                    f"releases.functions.<function>.{key}, or let blueprint deploy derive it from the last deployment",
                )
        known = self.function_names()
        for function in self.releases.functions:
            if function not in known:
                close = difflib.get_close_matches(function, list(known), n=1)
                hint = f"did you mean '{close[0]}'?" if close else "functions: " + ", ".join(sorted(known))
                raise ConfigError(
                    f"releases.functions.{function}", function, f"is not a function of this stack ({hint})"
                )
        for name, spec in self.services.items():
            override = spec.release
            if override is not None:
                try:
                    override.apply(self.releases)
                except ConfigError as error:
                    raise error.under(f"services.{name}.release") from None
        for function, service in known.items():
            try:
                plan_release(self.release_for(service, function), key="")
            except ConfigError as error:
                raise error.under(f"releases.functions.{function}") from None

    def waf_enabled(self, service: str) -> bool:
        """Whether the service's public APIs get a web ACL (``waf.services.<name>.enabled``, else ``waf.enabled``)."""
        override = self.waf.services.get(service)
        if override is not None and override.enabled is not None:
            return override.enabled
        return self.is_production if self.waf.enabled is None else self.waf.enabled

    def waf_rate_limit(self, service: str) -> int:
        override = self.waf.services.get(service)
        return override.rate_limit if override is not None and override.rate_limit is not None else self.waf.rate_limit

    @property
    def untrusted_artifacts(self) -> str:
        """``Enforce`` or ``Warn``: the code signing policy of the stack's functions."""
        chosen = self.code_signing.untrusted_artifacts
        return chosen or ("Enforce" if self.is_production else "Warn")

    @property
    def resolver_query_logs(self) -> bool:
        chosen = self.logging.resolver_query_logs
        return self.is_production if chosen is None else chosen

    def _check_waf(self) -> None:
        """WAF settings name services of the stack; an IP allow-list is enforced by a web ACL, so it needs one."""
        for name in self.waf.services:
            if name not in self.services:
                raise ConfigError(
                    f"waf.services.{name}",
                    name,
                    "must name a service of the stack: " + ", ".join(sorted(self.services)),
                )
        for name, service in self.services.items():
            ranges = getattr(service, "allowed_sender_ranges", ())
            if ranges and not self.waf_enabled(name):
                raise ConfigError(
                    f"services.{name}.allowedSenderRanges",
                    list(ranges),
                    "is enforced by the service's web ACL, which is off: "
                    f"set waf.enabled or waf.services.{name}.enabled",
                )

    def triggers_disabled(self, service: str) -> bool:
        """The service's kill switch (``triggersDisabled``): its rules, schedules and event source mappings are off."""
        return bool(getattr(self.services.get(service), "triggers_disabled", False))

    def endpoint_zone_indexes(self) -> tuple[int, ...]:
        """Indexes of the application VPC's zones the on-prem endpoint takes (see :func:`endpoint_zone_indexes`)."""
        return endpoint_zone_indexes(
            self.network.availability_zone_ids,
            self.network.availability_zones,
            self.on_prem.availability_zone_ids,
            self.on_prem.availability_zones,
        )

    def _check_on_prem(self) -> None:
        """The on-prem path is checked as a whole before any resource: zones, capacity, and addresses.

        Both VPCs are planned away from ``network.onPremRanges``, so those ranges never overlap them;
        what can still go wrong is a destination outside the routed ranges (no route: the proxies could
        never reach it) or inside a VPC (the proxies would send on-prem traffic into AWS).
        """
        spec, key = self.on_prem, "onPrem"
        self.endpoint_zone_indexes()  # an endpoint that could reach no proxy stops here
        if spec.availability_zones > self.network.availability_zones and not spec.availability_zone_ids:
            raise ConfigError(
                f"{key}.availabilityZones",
                spec.availability_zones,
                f"must not exceed network.availabilityZones ({self.network.availability_zones}): the "
                "proxy VPC takes the application VPC's zones unless availabilityZoneIds pins others",
            )
        if self.is_production:
            if spec.availability_zones < 2:
                raise ConfigError(
                    f"{key}.availabilityZones",
                    spec.availability_zones,
                    "must be at least 2 in production (one zone's outage would cut on-prem off)",
                )
            if spec.proxies.min_size < spec.availability_zones:
                raise ConfigError(
                    f"{key}.proxies.minSize",
                    spec.proxies.min_size,
                    f"must be at least the proxy VPC's {spec.availability_zones} zones in production, "
                    "so every zone the load balancer serves keeps a proxy",
                )
        if not self.network.on_prem_ranges:
            raise ConfigError(
                "network.onPremRanges",
                [],
                "must list the on-prem CIDRs when onPrem is enabled: the proxy VPC routes them to onPrem.gatewayId",
                show_value=False,
            )
        app = plan_vpc(NetworkDemand.from_spec(self.network)).cidr
        proxy = plan_onprem_vpc(ProxyVpcDemand.from_spec(spec), avoid=(app, *self.network.on_prem_ranges)).cidr
        routed = [ipaddress.IPv4Network(r) for r in self.network.on_prem_ranges]
        for i, value in enumerate(spec.destinations):
            if value not in spec.destination_networks:
                continue
            network = ipaddress.IPv4Network(value)
            for label, vpc in (("the application VPC", app), ("the proxy VPC", proxy)):
                if network.overlaps(ipaddress.IPv4Network(vpc)):
                    raise ConfigError(
                        f"{key}.destinations[{i}]",
                        value,
                        f"overlaps {label} {vpc}: on-prem destinations must lie outside both VPCs",
                    )
            if not any(network.subnet_of(r) for r in routed):
                raise ConfigError(
                    f"{key}.destinations[{i}]",
                    value,
                    f"is outside network.onPremRanges {yaml_text([str(r) for r in routed])}: the proxy VPC routes "
                    "only those to the gateway, so the proxies could never reach it",
                )

    def _check_on_prem_clients(self) -> None:
        """Services that reach a URL through the on-prem proxy need the proxy, and the proxy must let it through."""
        spec = self.on_prem
        for name, service in self.services.items():
            for key, url in getattr(service, "on_prem_destinations", tuple)():
                if not spec.enabled:
                    raise ConfigError(
                        f"services.{name}.{key}",
                        url,
                        "is reached through the on-prem proxy, which needs onPrem.enabled: true",
                    )
                if not allows(url, destinations=spec.destinations, ports=spec.destination_ports):
                    raise ConfigError(
                        f"services.{name}.{key}",
                        url,
                        "is not a destination of the on-prem proxy: "
                        "list its host (or its address's network) in onPrem.destinations and its port "
                        "in onPrem.destinationPorts, or the proxy refuses every request to it",
                    )

    @property
    def is_production(self) -> bool:
        return self.environment == "prod"


def _is_name(name: str) -> bool:
    return re.fullmatch(r"[a-z][a-z0-9-]{0,22}[a-z0-9]", name) is not None
