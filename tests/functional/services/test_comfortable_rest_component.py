"""Comfortable REST under the mock runtime: every method authorized, validated, throttled and logged;
the table on-demand, recoverable, encrypted and protected in prod."""

from __future__ import annotations

import json

import pytest

SPEC = {
    "resourceName": "orders",
    "throttle": {"rateLimit": 100, "burstLimit": 200},
    "operationThrottles": {"create": {"rateLimit": 10, "burstLimit": 20}, "delete": {"rateLimit": 2, "burstLimit": 5}},
    "apiClients": ["web", "partner-acme"],
    "quota": {"limit": 50000, "period": "DAY"},
    "corsAllowOrigin": "https://app.example.com",
    "integrationTimeoutMs": 6500,
}


@pytest.fixture(scope="module", params=["dev", "prod"])
def graph(request, run_component, service_program):
    return run_component(service_program("orders", "comfortable-rest", SPEC), stack=request.param, preview=False)


@pytest.fixture(scope="module")
def iam_graph(run_component, service_program):
    return run_component(
        service_program("orders", "comfortable-rest", {"authorizer": "iam", "publicOperations": []}),
        stack="dev",
        preview=False,
    )


def _methods(graph):
    return [m for m in graph.by_type("aws:apigateway/method:Method") if m.inputs["httpMethod"] != "OPTIONS"]


def test_every_method_but_health_uses_the_cognito_authorizer(graph):
    (authorizer,) = graph.by_type("aws:apigateway/authorizer:Authorizer")
    assert authorizer.inputs["type"] == "COGNITO_USER_POOLS"
    assert authorizer.inputs["identitySource"] == "method.request.header.Authorization"
    (pool,) = graph.by_type("aws:cognito/userPool:UserPool")
    assert authorizer.inputs["providerArns"] == [pool.outputs["arn"]]
    methods = _methods(graph)
    assert len(methods) == 6
    for method in methods:
        if method.name == "orders-health":
            assert method.inputs["authorization"] == "NONE"
        else:
            assert method.inputs["authorization"] == "COGNITO_USER_POOLS", method.name
            assert method.inputs["authorizerId"], method.name
            assert authorizer.urn in method.property_dependencies["authorizerId"], method.name


def test_iam_authorizer_signs_every_method_including_health(iam_graph):
    assert not iam_graph.by_type("aws:apigateway/authorizer:Authorizer")
    assert not iam_graph.by_type("aws:cognito/userPool:UserPool")
    assert {m.inputs["authorization"] for m in _methods(iam_graph)} == {"AWS_IAM"}


def test_bodies_and_parameters_are_validated_before_lambda(graph):
    validators = {v.urn: v.inputs for v in graph.by_type("aws:apigateway/requestValidator:RequestValidator")}
    models = {m.inputs["name"]: json.loads(m.inputs["schema"]) for m in graph.by_type("aws:apigateway/model:Model")}
    assert set(models) == {"CreateItem", "UpdateItem"}
    for method in _methods(graph):
        (validator_urn,) = method.property_dependencies["requestValidatorId"]
        validator = validators[validator_urn]
        assert validator["validateRequestParameters"] is True
        if method.inputs["httpMethod"] in ("POST", "PUT"):
            assert validator["validateRequestBody"] is True
            assert method.inputs["requestModels"]["application/json"] in models
    get_one = next(m for m in _methods(graph) if m.name == "orders-get")
    assert get_one.inputs["requestParameters"] == {"method.request.path.id": True}


def test_every_method_has_an_explicit_throttle_and_the_usage_plan_repeats_the_keyed_ones(graph):
    settings = {
        s.inputs["methodPath"]: s.inputs["settings"]
        for s in graph.by_type("aws:apigateway/methodSettings:MethodSettings")
    }
    expected = {
        "~1health/GET": 100,
        "~1orders/GET": 100,
        "~1orders/POST": 10,
        "~1orders~1{id}/GET": 100,
        "~1orders~1{id}/PUT": 100,
        "~1orders~1{id}/DELETE": 2,
        "*/*": 100,
    }
    assert {path: s["throttlingRateLimit"] for path, s in settings.items()} == expected
    assert settings["~1orders~1{id}/DELETE"]["throttlingBurstLimit"] == 5
    assert all(s["metricsEnabled"] and s["dataTraceEnabled"] is False for s in settings.values())
    (plan,) = graph.by_type("aws:apigateway/usagePlan:UsagePlan")
    assert plan.inputs["throttleSettings"] == {"rateLimit": 100, "burstLimit": 200}
    assert plan.inputs["quotaSettings"] == {"limit": 50000, "period": "DAY"}
    paths = {t["path"]: t["rateLimit"] for t in plan.inputs["apiStages"][0]["throttles"]}
    assert paths["/orders/POST"] == 10 and paths["/orders/{id}/DELETE"] == 2
    # The plan meters keyed requests only: the public health check keeps its method settings, not a plan throttle.
    assert "/health/GET" not in paths and len(paths) == 5


def test_the_stage_logs_json_access_logs_and_traces(graph):
    (stage,) = graph.by_type("aws:apigateway/stage:Stage")
    assert stage.inputs["xrayTracingEnabled"] is True
    logs = {g.outputs["arn"]: g for g in graph.by_type("aws:cloudwatch/logGroup:LogGroup")}
    destination = logs[stage.inputs["accessLogSettings"]["destinationArn"]]
    assert destination.inputs["name"].startswith("/aws/apigateway/") and destination.inputs["kmsKeyId"]
    fields = json.loads(stage.inputs["accessLogSettings"]["format"])
    assert {"requestId", "status", "sub", "xrayTraceId", "integrationLatency"} <= set(fields)
    level = "ERROR" if graph.stack == "prod" else "INFO"
    all_methods = next(
        s for s in graph.by_type("aws:apigateway/methodSettings:MethodSettings") if s.inputs["methodPath"] == "*/*"
    )
    assert all_methods.inputs["settings"]["loggingLevel"] == level


def test_the_api_is_regional_and_integrates_with_the_live_alias(graph):
    (api,) = graph.by_type("aws:apigateway/restApi:RestApi")
    assert api.inputs["endpointConfiguration"]["types"] == "REGIONAL"
    integrations = graph.by_type("aws:apigateway/integration:Integration")
    assert len(integrations) == 6 + 2  # CRUD + health, and the two CORS preflights
    for integration in integrations:
        assert integration.inputs["type"] == "AWS_PROXY" and integration.inputs["integrationHttpMethod"] == "POST"
        assert integration.inputs["uri"].endswith(":live/invocations")


def test_only_this_stage_may_invoke_the_alias(graph):
    (stage,) = graph.by_type("aws:apigateway/stage:Stage")
    permissions = [
        p
        for p in graph.by_type("aws:lambda/permission:Permission")
        if p.inputs["principal"] == "apigateway.amazonaws.com"
    ]
    assert len(permissions) == 1
    assert permissions[0].inputs["sourceArn"] == stage.outputs["executionArn"] + "/*/*"


def test_the_table_is_on_demand_recoverable_encrypted_and_protected_in_prod(graph):
    (table,) = graph.by_type("aws:dynamodb/table:Table")
    assert table.inputs["billingMode"] == "PAY_PER_REQUEST"
    # Keyed per owner: ids are each owner's own namespace (no 409 reveals another owner's id).
    assert (table.inputs["hashKey"], table.inputs["rangeKey"]) == ("owner", "id")
    assert table.inputs["pointInTimeRecovery"]["enabled"] is True
    (key,) = graph.by_type("aws:kms/key:Key")
    assert table.inputs["serverSideEncryption"] == {"enabled": True, "kmsKeyArn": key.outputs["arn"]}
    prod = graph.stack == "prod"
    assert table.inputs["deletionProtectionEnabled"] is prod
    assert table.protect is prod and table.retain_on_delete is prod
    (pool,) = graph.by_type("aws:cognito/userPool:UserPool")
    assert pool.inputs["deletionProtection"] == ("ACTIVE" if prod else "INACTIVE") and pool.protect is prod


def test_the_function_gets_read_write_on_its_table_only(graph):
    (table,) = graph.by_type("aws:dynamodb/table:Table")
    policies = [p for p in graph.by_type("aws:iam/rolePolicy:RolePolicy") if table.outputs["arn"] in p.inputs["policy"]]
    assert policies, "no role policy names the table"
    assert all(
        "*" not in json.dumps(json.loads(p.inputs["policy"]).get("Statement", [{}])[0].get("Action", []))
        for p in policies
    )


def test_outputs_name_the_endpoint_and_the_table(graph):
    outputs = graph.outputs["outputs"]
    assert outputs["url"].startswith("https://") and outputs["url"].endswith("/v1")
    assert outputs["tableName"].endswith("-orders-orders")
    assert outputs["userPoolId"] and outputs["userPoolClientId"]


def test_the_function_is_the_shared_component_with_the_handler_env(graph):
    functions = graph.by_type("aws:lambda/function:Function")
    assert len(functions) == 1
    variables = functions[0].inputs["environment"]["variables"]
    (table,) = graph.by_type("aws:dynamodb/table:Table")
    assert variables["TABLE_NAME"] == table.outputs["name"] and variables["RESOURCE_NAME"] == "orders"
    assert variables["CORS_ALLOW_ORIGIN"] == "https://app.example.com"
    assert graph.by_type("arcblueprint:functions:ServerlessFunction")


def test_each_api_client_has_a_generated_key_on_the_plan_and_sends_it_on_every_non_public_method(graph):
    (api,) = graph.by_type("aws:apigateway/restApi:RestApi")
    assert api.inputs["apiKeySource"] == "HEADER"
    keys = {k.urn: k for k in graph.by_type("aws:apigateway/apiKey:ApiKey")}
    assert sorted(k.inputs["name"] for k in keys.values()) == sorted(
        f"{graph.config.naming_prefix}-orders-{client}" for client in ("web", "partner-acme")
    )
    assert all("value" not in k.inputs and k.inputs["enabled"] is True for k in keys.values())  # AWS generates it
    (plan,) = graph.by_type("aws:apigateway/usagePlan:UsagePlan")
    links = graph.by_type("aws:apigateway/usagePlanKey:UsagePlanKey")
    assert sorted(u for link in links for u in link.property_dependencies["keyId"]) == sorted(keys)
    assert all(
        link.property_dependencies["usagePlanId"] == [plan.urn] and link.inputs["keyType"] == "API_KEY"
        for link in links
    )
    for method in graph.by_type("aws:apigateway/method:Method"):
        public = method.name == "orders-health" or method.inputs["httpMethod"] == "OPTIONS"
        assert method.inputs.get("apiKeyRequired", False) is not public, method.name
    ids = graph.outputs["outputs"]["apiKeyIds"]  # ids for `get-api-key --include-value`; never the values
    assert set(ids) == {"web", "partner-acme"} and len(set(ids.values())) == 2
    assert all(isinstance(i, str) and i.isalnum() for i in ids.values())


def test_without_api_clients_there_is_no_usage_plan_and_no_method_requires_a_key(iam_graph):
    for kind in ("usagePlan:UsagePlan", "apiKey:ApiKey", "usagePlanKey:UsagePlanKey"):
        assert iam_graph.by_type(f"aws:apigateway/{kind}") == []
    assert not any(m.inputs.get("apiKeyRequired") for m in iam_graph.by_type("aws:apigateway/method:Method"))
    assert "apiKeyIds" not in iam_graph.outputs["outputs"]


def test_logging_stage_and_method_settings_wait_for_the_account_role_setting(graph):
    (account,) = graph.by_type("aws:apigateway/account:Account")  # the platform's (here the fake's)
    logging = [
        *graph.by_type("aws:apigateway/stage:Stage"),
        *graph.by_type("aws:apigateway/methodSettings:MethodSettings"),
    ]
    assert len(logging) == 1 + 7
    for resource in logging:
        assert account.urn in resource.dependencies, resource.name


def test_the_function_stops_a_second_before_the_integration_gives_up(graph, iam_graph):
    for subject, waits_ms, runs_s in ((graph, 6500, 5), (iam_graph, 10000, 9)):  # 10000 ms: the default
        (function,) = subject.by_type("aws:lambda/function:Function")
        assert function.inputs["timeout"] == runs_s
        assert {i.inputs["timeoutMilliseconds"] for i in subject.by_type("aws:apigateway/integration:Integration")} == {
            waits_ms
        }


def test_a_rest_stage_refuses_a_quota_that_no_key_would_count():
    from arcblueprint.platform.constructs.rest_stage import RestStageArgs

    common = {
        "platform": None,
        "service": "orders",
        "rest_api": None,
        "rate_limit": 10,
        "burst_limit": 20,
        "method_throttles": (),
    }
    with pytest.raises(ValueError, match="quota_limit = 5 is invalid: .* needs api_clients"):
        RestStageArgs(**common, quota_limit=5)
    with pytest.raises(ValueError, match="must be unique"):
        RestStageArgs(**common, api_clients=("web", "web"))
    assert RestStageArgs(**common, api_clients=("web",), quota_limit=5).quota_limit == 5
