"""API Gateway and AppSync rules."""

from __future__ import annotations

import copy

from arcblueprint.policy import api
from arcblueprint.policy.testing import COMPLIANT_PROPS, resource, run_resource, run_stack

METHOD = "aws:apigateway/method:Method"
ROUTE = "aws:apigatewayv2/route:Route"
STAGE = "aws:apigateway/stage:Stage"
HTTP_STAGE = "aws:apigatewayv2/stage:Stage"
SETTINGS = "aws:apigateway/methodSettings:MethodSettings"
GRAPHQL = "aws:appsync/graphQLApi:GraphQLApi"
CACHE = "aws:appsync/apiCache:ApiCache"


def props(kind, **changes):
    value = copy.deepcopy(COMPLIANT_PROPS[kind])
    value.update(changes)
    return value


def test_methods_need_authorization_unless_public_or_preflight():
    assert run_resource(api.METHOD_AUTHORIZED, METHOD, props(METHOD)).messages == []
    open_method = props(METHOD, authorization="NONE")
    assert "'get-orders'" in run_resource(api.METHOD_AUTHORIZED, METHOD, open_method, name="get-orders").messages[0]
    public = {"publicRoutes": ["health-method"]}
    assert run_resource(api.METHOD_AUTHORIZED, METHOD, open_method, name="health-method", config=public).messages == []
    assert (
        run_resource(api.METHOD_AUTHORIZED, METHOD, props(METHOD, authorization="NONE", httpMethod="OPTIONS")).messages
        == []
    )


def test_http_routes_by_route_key():
    assert run_resource(api.METHOD_AUTHORIZED, ROUTE, props(ROUTE)).messages == []
    open_route = props(ROUTE, authorizationType="NONE", routeKey="GET /health")
    assert run_resource(api.METHOD_AUTHORIZED, ROUTE, open_route).messages
    assert (
        run_resource(api.METHOD_AUTHORIZED, ROUTE, open_route, config={"publicRoutes": ["GET /health"]}).messages == []
    )


def test_stage_access_logs_and_xray():
    assert run_resource(api.STAGE_LOGGED_TRACED, STAGE, props(STAGE)).messages == []
    found = run_resource(api.STAGE_LOGGED_TRACED, STAGE, props(STAGE, xrayTracingEnabled=False, accessLogSettings=None))
    assert len(found.messages) == 2
    http = {"name": "live", "accessLogSettings": {"destinationArn": "arn:aws:logs:r:1:log-group:x", "format": "{}"}}
    assert run_resource(api.STAGE_LOGGED_TRACED, HTTP_STAGE, http).messages == []  # no X-Ray for HTTP APIs


def test_stages_need_throttling_numbers():
    stage = resource(STAGE, "api-live", props(STAGE))
    settings = resource(SETTINGS, "api-settings", props(SETTINGS))
    assert run_stack(api.STAGE_THROTTLED, [stage, settings]).violations == []
    assert [u for u, _ in run_stack(api.STAGE_THROTTLED, [stage]).violations] == [stage.urn]
    zero = resource(
        SETTINGS, "api-settings", props(SETTINGS, settings={"throttlingBurstLimit": 0.0, "throttlingRateLimit": 10.0})
    )
    assert run_stack(api.STAGE_THROTTLED, [stage, zero]).violations
    other_stage = resource(SETTINGS, "api-settings", props(SETTINGS, stageName="beta"))
    assert run_stack(api.STAGE_THROTTLED, [stage, other_stage]).violations
    http = resource(
        HTTP_STAGE, "http", {"defaultRouteSettings": {"throttlingBurstLimit": 5.0, "throttlingRateLimit": 5.0}}
    )
    assert run_stack(api.STAGE_THROTTLED, [http]).violations == []
    assert run_stack(api.STAGE_THROTTLED, [resource(HTTP_STAGE, "http", {})]).violations


def test_cache_encryption():
    assert run_resource(api.METHOD_CACHE_ENCRYPTED, SETTINGS, props(SETTINGS)).messages == []
    plain = props(SETTINGS, settings={"cachingEnabled": True, "cacheDataEncrypted": False})
    assert run_resource(api.METHOD_CACHE_ENCRYPTED, SETTINGS, plain).messages
    no_cache = props(SETTINGS, settings={"cachingEnabled": False})
    assert run_resource(api.METHOD_CACHE_ENCRYPTED, SETTINGS, no_cache).messages == []
    assert run_resource(api.APPSYNC_CACHE_ENCRYPTED, CACHE, props(CACHE)).messages == []
    assert (
        len(
            run_resource(
                api.APPSYNC_CACHE_ENCRYPTED,
                CACHE,
                props(CACHE, atRestEncryptionEnabled=False, transitEncryptionEnabled=False),
            ).messages
        )
        == 2
    )


def test_appsync_auth_logging_tracing():
    assert run_resource(api.APPSYNC_AUTHORIZED, GRAPHQL, props(GRAPHQL)).messages == []
    key_only = props(GRAPHQL, authenticationType="API_KEY", additionalAuthenticationProviders=[])
    assert "API keys only" in run_resource(api.APPSYNC_AUTHORIZED, GRAPHQL, key_only).messages[0]
    key_plus_iam = props(GRAPHQL, authenticationType="API_KEY")
    assert run_resource(api.APPSYNC_AUTHORIZED, GRAPHQL, key_plus_iam).messages == []
    assert run_resource(api.APPSYNC_LOGGED_TRACED, GRAPHQL, props(GRAPHQL)).messages == []
    dark = props(GRAPHQL, logConfig={"fieldLogLevel": "NONE", "cloudwatchLogsRoleArn": "r"}, xrayEnabled=False)
    assert len(run_resource(api.APPSYNC_LOGGED_TRACED, GRAPHQL, dark).messages) == 2
