"""The config of a Strangler facade: where legacy lives and who owns each route (pure: no Pulumi)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

from arcblueprint.config.schema import ConfigError, setting
from arcblueprint.platform.constructs.rest_conventions import function_timeout_seconds
from arcblueprint.platform.function_code import FunctionCode
from arcblueprint.services.event_wiring import ServiceTriggers
from arcblueprint.services.rest_settings import ThrottleSpec

__all__ = [
    "LAMBDA_INTEGRATION_TIMEOUT_MS",
    "NEW_FUNCTIONS",
    "ROUTER_TIMEOUT_SECONDS",
    "LegacySpec",
    "RouteSpec",
    "StranglerSpec",
    "route_nodes",
]

_HANDLERS = Path(__file__).resolve().parent / "handlers"
#: Lambda services a route may move to: the handler folders next to this file (the router is not one).
NEW_FUNCTIONS = frozenset(p.name for p in _HANDLERS.iterdir() if p.is_dir() and (p / "app.py").exists()) - {"router"}

#: How long API Gateway waits for a Lambda route (new or weighted): the REST API default and maximum.
LAMBDA_INTEGRATION_TIMEOUT_MS = 29000
#: The router, like every function behind an integration, stops 1 s before API Gateway gives up.
ROUTER_TIMEOUT_SECONDS = function_timeout_seconds(LAMBDA_INTEGRATION_TIMEOUT_MS)
#: What the router waits for (a weighted route's function, or legacy) ends 1 s before the router
#: does, so the router still answers with its own 502/504 rather than being cut off.
ROUTER_BACKEND_TIMEOUT_SECONDS = ROUTER_TIMEOUT_SECONDS - 1


@dataclass(frozen=True, kw_only=True)
class RouteSpec(FunctionCode):
    """One path prefix (and everything below it) and who serves it; a new or weighted route's function runs a
    built-in handler named by ``function``, or the team's own code (``codeDir``, any ``function`` name)."""

    path: str = setting(pattern=r"(/[a-z0-9][a-z0-9_-]*)+", doc="e.g. /notifications")
    #: ``legacy``: proxied to the legacy backend; ``new``: the Lambda ``function``; ``weighted``:
    #: ``percentNew`` percent of callers to the function, the rest to legacy.
    target: Literal["legacy", "new", "weighted"] = setting(doc="the route's owner: legacy, new or weighted")
    percent_new: int | None = setting(None, minimum=0, maximum=100)
    function: str | None = setting(None, pattern=r"[a-z][a-z0-9_]*")

    @property
    def lambda_function(self) -> str:
        """The function of a ``new`` or ``weighted`` route (parsing made sure they name one)."""
        if self.function is None:
            raise ValueError(f"route {self.path} is served by legacy: it has no function")
        return self.function

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.target == "weighted" and self.percent_new is None:
            raise ConfigError("percentNew", None, "is required when target is weighted (0-100)", show_value=False)
        if self.target != "weighted" and self.percent_new is not None:
            raise ConfigError("percentNew", self.percent_new, "only applies when target is weighted")
        if self.target == "legacy" and self.function is not None:
            raise ConfigError("function", self.function, "only applies when target is new or weighted")
        if self.target == "legacy" and self.code_dir is not None:
            raise ConfigError("codeDir", self.code_dir, "only applies when target is new or weighted")
        if self.target != "legacy":
            if self.function is None:
                raise ConfigError(
                    "function",
                    None,
                    f"is required when target is {self.target} (one of " + ", ".join(sorted(NEW_FUNCTIONS)) + ")",
                    show_value=False,
                )
            if self.function == "router":
                raise ConfigError("function", self.function, "is the facade's own router; name the function otherwise")
            if self.code_dir is None and self.function not in NEW_FUNCTIONS:
                raise ConfigError(
                    "function",
                    self.function,
                    "must be one of " + ", ".join(sorted(NEW_FUNCTIONS)) + " (or set codeDir to a folder of your own)",
                )


@dataclass(frozen=True, kw_only=True)
class LegacySpec:
    """The legacy backend: an HTTP(S) base URL, reached directly or through a VPC link to an NLB."""

    #: Base URL; with a VPC link, the address behind the NLB (the corporate load balancer's virtual IP).
    url: str = setting(pattern=r"https?://[A-Za-z0-9.-]+(:\d{1,5})?(/[A-Za-z0-9._~-]+)*", doc="no trailing slash")
    #: NLB in the VPC that forwards to the corporate load balancer; default: ``url`` is reached directly.
    vpc_link_target_arn: str | None = setting(
        None, pattern=r"arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:loadbalancer/net/[\w-]+/[0-9a-f]+"
    )
    #: The whole legacy call (connect, send, every byte of the answer) ends within this.
    timeout_ms: int = setting(10000, minimum=50, maximum=29000)
    #: The router's TCP connect (to legacy, or to the proxy) gives up after this; at most ``timeoutMs``.
    connect_timeout_ms: int = setting(2000, minimum=50, maximum=29000)
    #: The router reaches legacy through the platform's on-prem proxy (``onPrem``): legacy is a host or
    #: virtual IP on-prem that only the proxy VPC routes to. ``url`` must then be one of ``onPrem.destinations``.
    via_on_prem_proxy: bool = False

    def __post_init__(self) -> None:
        if self.connect_timeout_ms > self.timeout_ms:
            raise ConfigError(
                "connectTimeoutMs",
                self.connect_timeout_ms,
                f"must be at most timeoutMs ({self.timeout_ms}): the connect is part of the call",
            )


def _default_throttle() -> ThrottleSpec:
    return ThrottleSpec(rate_limit=100, burst_limit=200)


@dataclass(frozen=True, kw_only=True)
class StranglerSpec(ServiceTriggers):
    """A facade whose route table says, per path, legacy, new or weighted; moving a route is a config change."""

    #: Web ACL profile (docs/platform.md): requests reach a data store, so the web ACL adds AWS's SQL
    #: injection rules; bodies stay under the core rule set's 8 KB limit.
    waf_inspects_sql: ClassVar[bool] = True
    waf_large_bodies: ClassVar[bool] = False

    legacy: LegacySpec = setting(doc="the legacy backend (url, optional vpcLinkTargetArn)")
    routes: tuple[RouteSpec, ...] = setting(default_factory=tuple)
    authorizer: Literal["cognito", "iam"] = "cognito"
    user_pool_arn: str | None = setting(
        None, pattern=r"arn:aws[a-z-]*:cognito-idp:[a-z0-9-]+:\d{12}:userpool/[\w-]+_\w+"
    )
    throttle: ThrottleSpec = setting(default_factory=_default_throttle)
    #: Weighted split key: ``caller`` keeps each caller on one side (their ``sub``), ``request`` splits per request.
    stickiness: Literal["caller", "request"] = "caller"
    memory_mib: int | None = setting(None, minimum=128, maximum=10240)
    #: SnapStart for the synchronous functions (the route functions and the router): init runs when a version
    #: is published and cold starts resume from its snapshot (Python 3.12+; billed per cached GB-second and
    #: per restore). Default: off.
    snap_start: bool = False

    def __post_init__(self) -> None:
        seen: set[str] = set()
        functions: set[str] = set()
        for i, route in enumerate(self.routes):
            if route.path in seen:
                raise ConfigError(f"routes[{i}].path", route.path, "must be unique (each path has one owner)")
            seen.add(route.path)
            if route.function in functions:
                raise ConfigError(
                    f"routes[{i}].function", route.function, "serves one route only (it is mounted at its path)"
                )
            if route.function:
                functions.add(route.function)
        if self.user_pool_arn is not None and self.authorizer != "cognito":
            raise ConfigError("userPoolArn", self.user_pool_arn, "only applies when authorizer is cognito")
        limit_ms = ROUTER_BACKEND_TIMEOUT_SECONDS * 1000
        if any(r.target == "weighted" for r in self.routes) and self.legacy.timeout_ms > limit_ms:
            raise ConfigError(
                "legacy.timeoutMs",
                self.legacy.timeout_ms,
                f"must be at most {limit_ms} when a route is weighted: the router calls legacy and "
                f"must answer within its own {ROUTER_TIMEOUT_SECONDS} s timeout, which ends 1 s "
                f"before API Gateway's {LAMBDA_INTEGRATION_TIMEOUT_MS} ms",
            )

    FUNCTION_NAMES: ClassVar[tuple[str, ...]] = ("router",)

    def function_code(self) -> Iterator[tuple[str, FunctionCode]]:
        yield from super().function_code()
        for i, route in enumerate(self.routes):
            if route.function is not None:
                yield f"routes[{i}]", route

    def function_names(self) -> tuple[str, ...]:
        router = ("router",) if any(r.target == "weighted" for r in self.routes) else ()
        return (*(r.function for r in self.routes if r.function is not None), *router)

    def on_prem_destinations(self) -> tuple[tuple[str, str], ...]:
        """(config key, URL) of what this service reaches through the on-prem proxy: legacy, when the
        router calls it that way (a weighted route and ``legacy.viaOnPremProxy``). The stack config
        checks each against ``onPrem`` before any resource."""
        if self.legacy.via_on_prem_proxy and any(r.target == "weighted" for r in self.routes):
            return (("legacy.url", self.legacy.url),)
        return ()

    def owner(self, path: str) -> RouteSpec | None:
        return next((r for r in self.routes if r.path == path), None)

    def function_timeout_seconds(self, route: RouteSpec) -> int:
        """A new route's function stops 1 s before its integration; a weighted one 1 s before the router."""
        if route.target == "weighted":
            return ROUTER_BACKEND_TIMEOUT_SECONDS
        return function_timeout_seconds(LAMBDA_INTEGRATION_TIMEOUT_MS)


def route_nodes(spec: StranglerSpec) -> dict[str, RouteSpec]:
    """Every resource path the facade declares -> the route that serves it and its subtree.

    Parents of configured paths get a node too (served by legacy), because API Gateway does not
    fall back to a shorter greedy path once a longer resource matches: ``/api/other`` would be a
    403 if ``/api/orders`` existed without ``/api/{proxy+}``. ``/`` is the root (legacy by default).
    """
    nodes: dict[str, RouteSpec] = {"/": RouteSpec(path="/root", target="legacy")}
    for route in spec.routes:
        parts = route.path.strip("/").split("/")
        for depth in range(1, len(parts)):
            parent = "/" + "/".join(parts[:depth])
            if spec.owner(parent) is None:
                nodes.setdefault(parent, RouteSpec(path=parent, target="legacy"))
        nodes[route.path] = route
    return dict(sorted(nodes.items(), key=lambda item: (item[0].count("/"), item[0])))
