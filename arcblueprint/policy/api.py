"""API Gateway (REST and HTTP APIs) and AppSync: authorized, throttled, logged, traced, encrypted caches."""

from __future__ import annotations

from typing import TYPE_CHECKING

from arcblueprint.policy.base import (
    as_list,
    dig,
    known,
    known_dig,
    linked,
    number,
    resource_policy,
    resources_of,
    stack_policy,
    truthy,
)

if TYPE_CHECKING:
    from pulumi_policy import ResourceValidationArgs, StackValidationArgs

    from arcblueprint.policy.base import ReportViolation

__all__ = [
    "APPSYNC_AUTHORIZED",
    "APPSYNC_CACHE_ENCRYPTED",
    "APPSYNC_LOGGED_TRACED",
    "METHOD_AUTHORIZED",
    "METHOD_CACHE_ENCRYPTED",
    "POLICIES",
    "STAGE_LOGGED_TRACED",
    "STAGE_THROTTLED",
]

REST_METHOD = "aws:apigateway/method:Method"
REST_STAGE = "aws:apigateway/stage:Stage"
METHOD_SETTINGS = "aws:apigateway/methodSettings:MethodSettings"
HTTP_ROUTE = "aws:apigatewayv2/route:Route"
HTTP_STAGE = "aws:apigatewayv2/stage:Stage"
GRAPHQL_API = "aws:appsync/graphQLApi:GraphQLApi"
APPSYNC_CACHE = "aws:appsync/apiCache:ApiCache"


def validate_method_authorized(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Every REST method and HTTP API route has an authorizer, unless it is listed as public.

    ``publicRoutes`` lists logical resource names of methods/routes, or HTTP API route keys
    (``GET /health``). CORS preflight (``OPTIONS``) is always public: browsers send it without credentials.
    """
    public = set(args.get_config().get("publicRoutes") or ())
    if args.resource_type == REST_METHOD:
        authorization = args.props.get("authorization")
        verb = args.props.get("httpMethod")
        key = None
    else:
        authorization = args.props.get("authorizationType")
        key = args.props.get("routeKey")
        verb = str(key).split(" ", 1)[0] if key else None
    if verb == "OPTIONS" or args.name in public or (key is not None and key in public):
        return
    if authorization in (None, "", "NONE"):
        report_violation(
            f"API method '{args.name}' ({key or verb}) has no authorization; add an authorizer "
            "(IAM, Cognito, JWT or Lambda) or list it in publicRoutes."
        )


METHOD_AUTHORIZED = resource_policy(
    "api-method-authorized",
    "API Gateway methods and routes are authorized unless listed public.",
    validate_method_authorized,
    types=[REST_METHOD, HTTP_ROUTE],
    parameters={"publicRoutes": {"type": "array", "items": {"type": "string"}, "default": []}},
)


def validate_stage_logged_traced(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Stages write access logs; REST stages also trace with X-Ray (HTTP APIs do not support X-Ray)."""
    if not known_dig(args.props, "accessLogSettings", "destinationArn"):  # computed from the log group: set
        report_violation(f"API stage '{args.name}' has no access log destination; set accessLogSettings.")
    if args.resource_type == REST_STAGE and not truthy(args.props.get("xrayTracingEnabled")):
        report_violation(f"API stage '{args.name}' does not trace with X-Ray; set xrayTracingEnabled.")


STAGE_LOGGED_TRACED = resource_policy(
    "api-stage-logged-traced",
    "API Gateway stages have access logging and (REST) X-Ray tracing.",
    validate_stage_logged_traced,
    types=[REST_STAGE, HTTP_STAGE],
)


def _throttled(settings: object) -> bool:
    return all((number(known_dig(settings, key)) or 0) > 0 for key in ("throttlingBurstLimit", "throttlingRateLimit"))


def _same_literal(left: object, right: object) -> bool:
    """Two props that are the same literal string (an unknown id matches nothing)."""
    return isinstance(left, str) and bool(left) and left == right


def validate_stage_throttled(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Every stage has concrete throttling numbers (burst and rate), so one client cannot use up the
    account's API Gateway and Lambda concurrency. REST: a MethodSettings for the stage; HTTP: default
    route settings."""
    settings = list(resources_of(args, METHOD_SETTINGS))
    for stage in resources_of(args, REST_STAGE):
        apis = {a.urn for a in linked(stage, "restApi")}
        mine = [
            s
            for s in settings
            if stage in linked(s, "stageName")
            or (
                known(s.props, "stageName") == known(stage.props, "stageName")
                and (
                    bool(apis & {a.urn for a in linked(s, "restApi")})
                    or _same_literal(known(s.props, "restApi"), known(stage.props, "restApi"))
                )
            )
        ]
        if not any(_throttled(known(s.props, "settings")) for s in mine):
            report_violation(
                f"API stage '{stage.name}' has no method settings with throttlingBurstLimit and throttlingRateLimit.",
                stage.urn,
            )
    for stage in resources_of(args, HTTP_STAGE):
        if not _throttled(known(stage.props, "defaultRouteSettings")):
            report_violation(
                f"HTTP API stage '{stage.name}' has no defaultRouteSettings throttling numbers.", stage.urn
            )


STAGE_THROTTLED = stack_policy(
    "api-stage-throttled",
    "API Gateway stages are throttled with concrete burst and rate limits.",
    validate_stage_throttled,
)


def validate_method_cache_encrypted(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Cached responses can hold personal data: encrypt the cache where caching is on."""
    settings = args.props.get("settings")
    if truthy(dig(settings, "cachingEnabled")) and not truthy(dig(settings, "cacheDataEncrypted")):
        report_violation(f"Method settings '{args.name}' enable caching without cacheDataEncrypted.")


METHOD_CACHE_ENCRYPTED = resource_policy(
    "api-cache-encrypted",
    "API Gateway caches are encrypted where caching is enabled.",
    validate_method_cache_encrypted,
    types=[METHOD_SETTINGS],
)


def validate_appsync_authorized(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """API keys identify a client, not a caller, and are meant for public data: not the only auth mode."""
    modes = {args.props.get("authenticationType")}
    modes |= {dig(p, "authenticationType") for p in as_list(args.props.get("additionalAuthenticationProviders"))}
    modes.discard(None)
    if not modes or modes == {"API_KEY"}:
        report_violation(
            f"AppSync API '{args.name}' is protected by API keys only; use IAM, Cognito, OIDC or a Lambda authorizer."
        )


APPSYNC_AUTHORIZED = resource_policy(
    "appsync-authorized",
    "AppSync APIs authorize callers with more than an API key.",
    validate_appsync_authorized,
    types=[GRAPHQL_API],
)


def validate_appsync_logged_traced(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Resolver errors are only visible in field logs; X-Ray shows which resolver is slow."""
    level = dig(args.props, "logConfig", "fieldLogLevel")
    if level in (None, "NONE") or not known_dig(args.props, "logConfig", "cloudwatchLogsRoleArn"):
        report_violation(
            f"AppSync API '{args.name}' has no field logging; set logConfig with a fieldLogLevel "
            "and a CloudWatch Logs role."
        )
    if not truthy(args.props.get("xrayEnabled")):
        report_violation(f"AppSync API '{args.name}' does not trace with X-Ray; set xrayEnabled.")


APPSYNC_LOGGED_TRACED = resource_policy(
    "appsync-logged-traced",
    "AppSync APIs log resolver fields and trace with X-Ray.",
    validate_appsync_logged_traced,
    types=[GRAPHQL_API],
)


def validate_appsync_cache_encrypted(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for key in ("atRestEncryptionEnabled", "transitEncryptionEnabled"):
        if not truthy(args.props.get(key)):
            report_violation(f"AppSync cache '{args.name}' does not set {key}.")


APPSYNC_CACHE_ENCRYPTED = resource_policy(
    "appsync-cache-encrypted",
    "AppSync caches are encrypted at rest and in transit.",
    validate_appsync_cache_encrypted,
    types=[APPSYNC_CACHE],
)

POLICIES = [
    METHOD_AUTHORIZED,
    STAGE_LOGGED_TRACED,
    STAGE_THROTTLED,
    METHOD_CACHE_ENCRYPTED,
    APPSYNC_AUTHORIZED,
    APPSYNC_LOGGED_TRACED,
    APPSYNC_CACHE_ENCRYPTED,
]
