"""The Strangler: a REST API facade over a legacy HTTP backend, with routes moving to Lambda by config."""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pulumi_aws as aws

from arcblueprint.config.schema import ConfigError
from arcblueprint.platform.constructs.rest_stage import MethodThrottle, RestStage, RestStageArgs
from arcblueprint.platform.constructs.user_pool import ApiUserPool, ApiUserPoolArgs
from arcblueprint.platform.functions import FunctionArgs, ServerlessFunction
from arcblueprint.services.base import Service, ServiceArgs
from arcblueprint.services.strangler.spec import (
    LAMBDA_INTEGRATION_TIMEOUT_MS,
    ROUTER_TIMEOUT_SECONDS,
    RouteSpec,
    StranglerSpec,
    route_nodes,
)

__all__ = ["StranglerService"]

HANDLERS = Path(__file__).resolve().parent / "handlers"
STAGE_NAME = "v1"


class StranglerService(Service[StranglerSpec]):
    """Every path is served by legacy unless the route table gives it to a Lambda service.

    Per route node the facade declares ``ANY <path>`` and ``ANY <path>/{proxy+}``:

    - ``legacy``: ``HTTP_PROXY`` to ``<legacy.url><path>`` (through a VPC link to the NLB in front of
      the corporate load balancer when ``vpcLinkTargetArn`` is set);
    - ``new``: ``AWS_PROXY`` to the service's ``live`` alias;
    - ``weighted``: ``AWS_PROXY`` to the router function, which sends ``percentNew`` percent of
      callers to the service and the rest to legacy (see ``handlers/router``).

    Every method is authorized (Cognito or IAM), throttled and access-logged by the one stage.
    Lambda routes wait up to 29 s; the router stops 1 s earlier, and what it calls (the weighted
    route's function, legacy) 1 s before the router.

    Attributes
    ----------
    rest_api : aws.apigateway.RestApi
    functions : dict[str, ServerlessFunction]
        The new services by function name, plus ``router`` when a route is weighted.
    outputs : dict[str, pulumi.Input]
    """

    TYPE = "arcblueprint:services:StranglerService"

    def __init__(self, name: str, args: ServiceArgs[StranglerSpec], opts: pulumi.ResourceOptions | None = None) -> None:
        spec, platform = args.spec, args.platform
        ctx = platform.context
        vpc_link_needed = spec.legacy.vpc_link_target_arn is not None
        weighted = [r for r in spec.routes if r.target == "weighted"]
        if vpc_link_needed and weighted and platform.vpc is None:
            raise ConfigError(
                "legacy.vpcLinkTargetArn",
                spec.legacy.vpc_link_target_arn,
                "weighted routes behind a VPC link need the platform VPC (the router calls legacy from it)",
            )
        via_proxy = spec.legacy.via_on_prem_proxy and bool(weighted)
        if via_proxy:
            proxy = platform.onprem_proxy
            if proxy is None:
                raise ConfigError("legacy.viaOnPremProxy", True, "needs the platform's on-prem proxy (onPrem.enabled)")
            if not proxy.allows(spec.legacy.url):
                raise ConfigError(
                    "legacy.url",
                    spec.legacy.url,
                    "is not a destination of the on-prem proxy: list its "
                    "host (or its address's network) in onPrem.destinations and its port in "
                    "onPrem.destinationPorts, or the proxy refuses every legacy request",
                )
        super().__init__(name, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = ctx.tags(name)

        self.functions: dict[str, ServerlessFunction] = {}
        for i, route in enumerate(spec.routes):
            if route.function is None:
                continue
            self.functions[route.function] = ServerlessFunction(
                f"{name}-{route.function}",
                FunctionArgs(
                    platform=platform,
                    service=name,
                    **ctx.code(route, HANDLERS / route.function, key=f"services.{name}.routes[{i}]"),
                    description=f"{name}: {route.path} (moved from legacy)",
                    memory_mib=spec.memory_mib,
                    timeout_seconds=spec.function_timeout_seconds(route),
                    environment={"ROUTE_PATH": route.path},
                    snap_start=spec.snap_start,
                ),
                opts=child,
            )
        self.router: ServerlessFunction | None = None
        if weighted:
            routes_env = pulumi.Output.all(*[self.functions[r.lambda_function].alias_arn for r in weighted]).apply(
                lambda arns: json.dumps(
                    {
                        r.path: {"percent": r.percent_new, "function": arn}
                        for r, arn in zip(weighted, arns, strict=True)
                    },
                    sort_keys=True,
                )
            )
            self.router = ServerlessFunction(
                f"{name}-router",
                FunctionArgs(
                    platform=platform,
                    service=name,
                    **ctx.code(spec.code("router"), HANDLERS / "router", key=f"services.{name}.functions.router"),
                    description=f"{name}: splits weighted routes between Lambda and legacy",
                    memory_mib=spec.memory_mib,
                    timeout_seconds=ROUTER_TIMEOUT_SECONDS,
                    # Legacy is in (or behind) the VPC: through the VPC link's network or the proxy.
                    attach_to_vpc=vpc_link_needed or via_proxy,
                    use_onprem_proxy=via_proxy,
                    environment={
                        "ROUTES": routes_env,
                        "LEGACY_URL": spec.legacy.url,
                        "LEGACY_TIMEOUT_SECONDS": str(spec.legacy.timeout_ms / 1000),
                        "LEGACY_CONNECT_TIMEOUT_SECONDS": str(spec.legacy.connect_timeout_ms / 1000),
                        "STICKINESS": spec.stickiness,
                    },
                    snap_start=spec.snap_start,
                ),
                opts=child,
            )
            for route in weighted:
                # In the VPC this also gives the router the Lambda API's endpoint: no NAT, no other path.
                self.router.grant_invoke(self.functions[route.lambda_function].alias_arn)

        self.rest_api = aws.apigateway.RestApi(
            f"{name}-rest-api",
            name=ctx.name(name),
            description=f"{name}: facade over the legacy backend",
            endpoint_configuration={"types": "REGIONAL"},
            tags=tags,
            opts=child,
        )
        self.vpc_link = None
        if vpc_link_needed:
            self.vpc_link = aws.apigateway.VpcLink(
                f"{name}-vpc-link",
                name=ctx.name(name, "legacy"),
                target_arn=spec.legacy.vpc_link_target_arn,
                description="Private path to the corporate load balancer's virtual IP",
                tags=tags,
                opts=child,
            )

        user_pool_id: pulumi.Input[str] | None = None
        self.authorizer = None
        if spec.authorizer == "cognito":
            pool_arn: pulumi.Input[str]
            if spec.user_pool_arn:
                pool_arn = spec.user_pool_arn
            else:
                pool = ApiUserPool(f"{name}-users", ApiUserPoolArgs(context=ctx, service=name), opts=child)
                pool_arn, user_pool_id = pool.arn, pool.user_pool.id
            self.authorizer = aws.apigateway.Authorizer(
                f"{name}-authorizer",
                rest_api=self.rest_api.id,
                name=ctx.name(name, "cognito"),
                type="COGNITO_USER_POOLS",
                provider_arns=[pool_arn],
                identity_source="method.request.header.Authorization",
                opts=child,
            )

        created: list[pulumi.Resource] = []
        throttles: list[MethodThrottle] = []
        resource_ids: dict[str, pulumi.Input[str]] = {"/": self.rest_api.root_resource_id}
        for path, route in route_nodes(spec).items():
            if path != "/":
                parent, _, part = path.rpartition("/")
                resource_ids[path] = aws.apigateway.Resource(
                    f"{name}-path{_slug(path)}",
                    rest_api=self.rest_api.id,
                    parent_id=resource_ids[parent or "/"],
                    path_part=part,
                    opts=child,
                ).id
            proxy_path = path.rstrip("/") + "/{proxy+}"
            proxy_id = aws.apigateway.Resource(
                f"{name}-path{_slug(path)}-proxy",
                rest_api=self.rest_api.id,
                parent_id=resource_ids[path],
                path_part="{proxy+}",
                opts=child,
            ).id
            for resource_path, resource_id, greedy in ((path, resource_ids[path], False), (proxy_path, proxy_id, True)):
                created += self._route(name, resource_path, resource_id, greedy, route, spec)
                throttles.append(
                    MethodThrottle(
                        resource_path=resource_path,
                        http_method="ANY",
                        rate_limit=spec.throttle.rate_limit,
                        burst_limit=spec.throttle.burst_limit,
                    )
                )

        self.stage = RestStage(
            f"{name}-stage",
            RestStageArgs(
                platform=platform,
                service=name,
                waf_inspects_sql=spec.waf_inspects_sql,
                waf_large_bodies=spec.waf_large_bodies,
                rest_api=self.rest_api,
                stage_name=STAGE_NAME,
                rate_limit=spec.throttle.rate_limit,
                burst_limit=spec.throttle.burst_limit,
                method_throttles=throttles,
                depends_on=created,
                deployment_triggers={
                    "routes": json.dumps([[r.path, r.target, r.percent_new, r.function] for r in spec.routes]),
                    "legacy": json.dumps([spec.legacy.url, spec.legacy.vpc_link_target_arn, spec.legacy.timeout_ms]),
                    "authorizer": spec.authorizer,
                },
                execution_logging_level="ERROR" if ctx.stack.is_production else "INFO",
            ),
            opts=child,
        )
        source_arn = self.stage.execution_arn.apply(lambda arn: f"{arn}/*/*")
        for function_name, function in self.functions.items():
            if any(r.function == function_name and r.target == "new" for r in spec.routes):
                function.allow_invoke("apigw", principal="apigateway.amazonaws.com", source_arn=source_arn)
        if self.router is not None:
            self.router.allow_invoke("apigw", principal="apigateway.amazonaws.com", source_arn=source_arn)

        self.outputs = {
            "url": self.stage.invoke_url,
            "routes": json.dumps(
                {r.path: r.target if r.target != "weighted" else f"weighted:{r.percent_new}" for r in spec.routes}
            ),
        }
        if user_pool_id is not None:
            self.outputs["userPoolId"] = user_pool_id
        self.finish(self.outputs)

    def _route(
        self,
        name: str,
        resource_path: str,
        resource_id: pulumi.Input[str],
        greedy: bool,
        route: RouteSpec,
        spec: StranglerSpec,
    ) -> list[pulumi.Resource]:
        suffix = _slug(resource_path) + ("" if resource_path != "/" else "-root")
        method = aws.apigateway.Method(
            f"{name}-any{suffix}",
            rest_api=self.rest_api.id,
            resource_id=resource_id,
            http_method="ANY",
            authorization="COGNITO_USER_POOLS" if self.authorizer else "AWS_IAM",
            authorizer_id=self.authorizer.id if self.authorizer else None,
            request_parameters={"method.request.path.proxy": True} if greedy else None,
            opts=pulumi.ResourceOptions(parent=self),
        )
        if route.target == "legacy":
            legacy = spec.legacy
            backend_path = "" if resource_path == "/" else resource_path.replace("{proxy+}", "{proxy}")
            args = aws.apigateway.IntegrationArgs(
                rest_api=self.rest_api.id,
                resource_id=resource_id,
                http_method=method.http_method,
                type="HTTP_PROXY",
                integration_http_method="ANY",
                uri=legacy.url + (backend_path or "/"),
                request_parameters={"integration.request.path.proxy": "method.request.path.proxy"} if greedy else None,
                timeout_milliseconds=legacy.timeout_ms,
                connection_type="VPC_LINK" if self.vpc_link is not None else None,
                connection_id=self.vpc_link.id if self.vpc_link is not None else None,
            )
        else:
            target = self.functions[route.lambda_function] if route.target == "new" else self.router
            assert target is not None  # declared above whenever a route is weighted
            args = aws.apigateway.IntegrationArgs(
                rest_api=self.rest_api.id,
                resource_id=resource_id,
                http_method=method.http_method,
                type="AWS_PROXY",
                integration_http_method="POST",
                uri=target.alias_invoke_arn,
                timeout_milliseconds=LAMBDA_INTEGRATION_TIMEOUT_MS,
            )
        integration = aws.apigateway.Integration(
            f"{name}-any{suffix}-integration", args, opts=pulumi.ResourceOptions(parent=self)
        )
        return [method, integration]


def _slug(path: str) -> str:
    """``/api/{proxy+}`` -> ``-api.greedy`` (a dot cannot occur in a configured path, so names never clash)."""
    return "".join("-" + part if part != "{proxy+}" else ".greedy" for part in path.split("/") if part)
