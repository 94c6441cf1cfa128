"""The Strangler facade under the mock runtime: routes follow the table, every method is authorized,
throttled and logged, and moving a route is only a config change."""

from __future__ import annotations

import json
import re

import pytest

from arcblueprint.config.schema import ConfigError, parse
from arcblueprint.services.strangler.spec import StranglerSpec

NLB = "arn:aws:elasticloadbalancing:eu-west-1:111111111111:loadbalancer/net/corp-vip/0123456789abcdef"


def _spec(routes, **legacy):
    return {
        "legacy": {"url": "https://legacy.corp.example.com", **legacy},
        "routes": routes,
        "throttle": {"rateLimit": 200, "burstLimit": 400},
    }


WEIGHTED = _spec(
    [
        {"path": "/api/notifications", "target": "weighted", "percentNew": 25, "function": "notifications"},
        {"path": "/api/orders", "target": "legacy"},
    ]
)
MOVED = _spec(
    [
        {"path": "/api/notifications", "target": "new", "function": "notifications"},
        {"path": "/api/orders", "target": "legacy"},
    ]
)


@pytest.fixture(scope="module", params=["dev", "prod"])
def weighted(request, run_component, service_program):
    return run_component(service_program("facade", "strangler", WEIGHTED), stack=request.param, preview=False)


@pytest.fixture(scope="module")
def moved(run_component, service_program):
    return run_component(service_program("facade", "strangler", MOVED), stack="dev", preview=False)


@pytest.fixture(scope="module")
def vpc_link(run_component, service_program):
    data = _spec(
        [{"path": "/api/notifications", "target": "weighted", "percentNew": 50, "function": "notifications"}],
        url="http://10.20.0.10:8080",
        vpcLinkTargetArn=NLB,
    )
    return run_component(service_program("facade", "strangler", data, with_vpc=True), stack="dev", preview=False)


def _integrations(graph) -> dict[str, dict]:
    """Method resource name -> its integration's inputs."""
    return {
        i.name.removesuffix("-integration"): i.inputs for i in graph.by_type("aws:apigateway/integration:Integration")
    }


def test_every_method_is_authorized_and_throttled(weighted):
    methods = weighted.by_type("aws:apigateway/method:Method")
    (authorizer,) = weighted.by_type("aws:apigateway/authorizer:Authorizer")
    assert len(methods) == 8  # /, /api, /api/notifications, /api/orders: each itself and {proxy+}
    for method in methods:
        assert method.inputs["authorization"] == "COGNITO_USER_POOLS", method.name
        assert authorizer.urn in method.property_dependencies["authorizerId"]
    settings = {
        s.inputs["methodPath"]: s.inputs["settings"]
        for s in weighted.by_type("aws:apigateway/methodSettings:MethodSettings")
    }
    assert "~1api~1notifications~1{proxy+}/ANY" in settings and "api~1notifications/ANY" not in settings
    assert "~1{proxy+}/ANY" in settings and "~1/ANY" in settings and "/ANY" not in settings
    assert len(settings) == 9 and all(s["throttlingRateLimit"] == 200 for s in settings.values())
    (stage,) = weighted.by_type("aws:apigateway/stage:Stage")
    assert stage.inputs["xrayTracingEnabled"] is True and json.loads(stage.inputs["accessLogSettings"]["format"])


def test_routes_follow_the_table(weighted):
    integrations = _integrations(weighted)
    assert integrations["facade-any-root"]["uri"] == "https://legacy.corp.example.com/"
    assert integrations["facade-any.greedy"]["uri"] == "https://legacy.corp.example.com/{proxy}"
    assert integrations["facade-any-api-orders.greedy"]["uri"] == "https://legacy.corp.example.com/api/orders/{proxy}"
    assert integrations["facade-any-api-orders.greedy"]["requestParameters"] == {
        "integration.request.path.proxy": "method.request.path.proxy"
    }
    for key in ("facade-any-api-notifications", "facade-any-api-notifications.greedy"):
        assert integrations[key]["type"] == "AWS_PROXY" and "facade-router" in integrations[key]["uri"]
    router = next(f for f in weighted.by_type("aws:lambda/function:Function") if "router" in f.name)
    routes = json.loads(router.inputs["environment"]["variables"]["ROUTES"])
    assert routes["/api/notifications"]["percent"] == 25
    assert routes["/api/notifications"]["function"].endswith(":live")
    invoke = [
        p for p in weighted.by_type("aws:iam/rolePolicy:RolePolicy") if "lambda:InvokeFunction" in p.inputs["policy"]
    ]
    assert len(invoke) == 1
    statement = json.loads(invoke[0].inputs["policy"])["Statement"][0]
    assert statement["Resource"] in (
        routes["/api/notifications"]["function"],
        [routes["/api/notifications"]["function"]],
    )


def test_moving_a_route_is_a_config_change(moved, weighted):
    integrations = _integrations(moved)
    for key in ("facade-any-api-notifications", "facade-any-api-notifications.greedy"):
        assert "facade-notifications" in integrations[key]["uri"] and integrations[key]["uri"].endswith(
            ":live/invocations"
        )
    assert not [f for f in moved.by_type("aws:lambda/function:Function") if "router" in f.name]
    permissions = moved.by_type("aws:lambda/permission:Permission")
    assert [p.inputs["principal"] for p in permissions] == ["apigateway.amazonaws.com"]
    # Only the moved route's integrations and the deployment differ; no stateful resource is replaced.
    before = {r.name: r.inputs for r in weighted.resources if r.type.startswith("aws:apigateway/integration")}
    after = {r.name: r.inputs for r in moved.resources if r.type.startswith("aws:apigateway/integration")}
    assert set(before) == set(after)
    changed = {name for name in before if before[name]["uri"] != after[name]["uri"]}
    assert changed == {"facade-any-api-notifications-integration", "facade-any-api-notifications.greedy-integration"}


def test_legacy_through_a_vpc_link_to_the_corporate_load_balancer(vpc_link):
    (link,) = vpc_link.by_type("aws:apigateway/vpcLink:VpcLink")
    assert link.inputs["targetArn"] == NLB
    legacy = [i for i in vpc_link.by_type("aws:apigateway/integration:Integration") if i.inputs["type"] == "HTTP_PROXY"]
    assert legacy and all(i.inputs["connectionType"] == "VPC_LINK" for i in legacy)
    assert all(link.urn in i.property_dependencies["connectionId"] for i in legacy)
    router = next(f for f in vpc_link.by_type("aws:lambda/function:Function") if "router" in f.name)
    assert router.inputs["vpcConfig"]["subnetIds"]  # it calls legacy from inside the VPC
    # ...and invokes the new service through the Lambda API, so the network must give it that endpoint.
    assert sorted(vpc_link.outputs["endpointsRequired"]) == ["lambda", "xray"]


@pytest.fixture(scope="module")
def via_proxy(run_component, service_program):
    data = _spec(
        [{"path": "/api/notifications", "target": "weighted", "percentNew": 50, "function": "notifications"}],
        url="http://legacy.corp.example.com:8080",
        vpcLinkTargetArn=NLB,
        viaOnPremProxy=True,
        timeoutMs=8000,
        connectTimeoutMs=1500,
    )
    return run_component(
        service_program("facade", "strangler", data, with_vpc=True, with_onprem_proxy=True), stack="prod", preview=False
    )


def test_the_router_reaches_legacy_through_the_on_prem_proxy(via_proxy):
    router = next(f for f in via_proxy.by_type("aws:lambda/function:Function") if f.name == "facade-router-function")
    variables = router.inputs["environment"]["variables"]
    assert router.inputs["vpcConfig"]["subnetIds"]
    assert variables["HTTP_PROXY"] == variables["HTTPS_PROXY"] == "http://proxy.arcbp-test.internal:3128"
    assert ".amazonaws.com" in variables["NO_PROXY"].split(",")
    assert (variables["LEGACY_TIMEOUT_SECONDS"], variables["LEGACY_CONNECT_TIMEOUT_SECONDS"]) == ("8.0", "1.5")
    assert via_proxy.outputs["proxyAdmissions"] == 1  # the router opened the Lambda group to the endpoint
    # The new service, behind the router, needs no proxy.
    service = next(f for f in via_proxy.by_type("aws:lambda/function:Function") if "notifications" in f.name)
    assert "HTTP_PROXY" not in service.inputs["environment"]["variables"]


@pytest.mark.parametrize(
    ("legacy", "platform", "fragment"),
    [
        (
            {"url": "http://legacy.elsewhere.example.com:8080"},
            {"with_onprem_proxy": True},
            "legacy.url = 'http://legacy.elsewhere.example.com:8080' is invalid in stack 'prod': is not a destination",
        ),
        ({"url": "http://legacy.corp.example.com:9999"}, {"with_onprem_proxy": True}, "onPrem.destinationPorts"),
        ({"url": "http://legacy.corp.example.com:8080"}, {}, "needs the platform's on-prem proxy (onPrem.enabled)"),
    ],
)
def test_legacy_through_the_proxy_must_be_a_proxy_destination(
    run_component, service_program, legacy, platform, fragment
):
    data = _spec(
        [{"path": "/api/notifications", "target": "weighted", "percentNew": 5, "function": "notifications"}],
        viaOnPremProxy=True,
        **legacy,
    )
    with pytest.raises(Exception, match=re.escape(fragment)):
        run_component(
            service_program("facade", "strangler", data, with_vpc=True, **platform), stack="prod", preview=False
        )


def test_a_connect_timeout_longer_than_the_call_is_a_config_error():
    data = _spec([], timeoutMs=2000, connectTimeoutMs=3000)
    with pytest.raises(ConfigError, match=r"legacy\.connectTimeoutMs = 3000 is invalid: must be at most timeoutMs"):
        parse(StranglerSpec, data, "services.facade")


def test_a_vpc_link_with_weighted_routes_needs_the_platform_vpc(run_component, service_program):
    data = _spec(
        [{"path": "/api/notifications", "target": "weighted", "percentNew": 5, "function": "notifications"}],
        url="http://10.20.0.10",
        vpcLinkTargetArn=NLB,
    )
    with pytest.raises(Exception, match="platform VPC"):
        run_component(service_program("facade", "strangler", data), stack="dev", preview=False)


def test_outputs_show_the_route_table(weighted):
    outputs = weighted.outputs["outputs"]
    assert json.loads(outputs["routes"]) == {"/api/notifications": "weighted:25", "/api/orders": "legacy"}
    assert outputs["url"].endswith("/v1")


@pytest.mark.parametrize(
    ("routes", "key", "fragment"),
    [
        ([{"path": "/a"}], "services.facade.routes[0].target", "is required"),
        (
            [{"path": "/a", "target": "weighted", "percentNew": 101, "function": "notifications"}],
            "services.facade.routes[0].percentNew",
            "from 0 to 100",
        ),
        (
            [{"path": "/a", "target": "weighted", "function": "notifications"}],
            "services.facade.routes[0].percentNew",
            "required",
        ),
        ([{"path": "/a", "target": "legacy", "percentNew": 5}], "services.facade.routes[0].percentNew", "weighted"),
        ([{"path": "/a", "target": "new"}], "services.facade.routes[0].function", "notifications"),
        ([{"path": "/a", "target": "new", "function": "billing"}], "services.facade.routes[0].function", "one of"),
        (
            [{"path": "/a", "target": "legacy"}, {"path": "/a", "target": "legacy"}],
            "services.facade.routes[1].path",
            "unique",
        ),
        ([{"path": "a/b", "target": "legacy"}], "services.facade.routes[0].path", "must match"),
        ([{"path": "/a", "target": "moved"}], "services.facade.routes[0].target", "legacy, new, weighted"),
    ],
)
def test_bad_route_tables_fail_before_any_resource(routes, key, fragment):
    with pytest.raises(ConfigError) as caught:
        parse(StranglerSpec, _spec(routes), "services.facade")
    assert caught.value.key == key and fragment in str(caught.value) and "\n" not in str(caught.value)


def test_a_facade_needs_a_legacy_url():
    with pytest.raises(ConfigError) as caught:
        parse(StranglerSpec, {"routes": []}, "services.facade")
    assert caught.value.key == "services.facade.legacy"


def test_the_stack_example_parses_for_both_stacks():
    from pathlib import Path

    import yaml

    example = Path(__file__).resolve().parents[3] / "arcblueprint/services/strangler/stack-example.yaml"
    data = yaml.safe_load(example.read_text())
    for stack in ("dev", "prod"):
        ((name, entry),) = data[stack].items()
        assert entry.pop("pattern") == "strangler"
        spec = parse(StranglerSpec, entry, f"services.{name}")
        assert spec.routes and spec.legacy.url


def _timeout(graph, function):
    (fn,) = [f for f in graph.by_type("aws:lambda/function:Function") if f.name == f"facade-{function}-function"]
    return fn.inputs["timeout"]


def test_functions_stop_before_what_waits_for_them(weighted, moved):
    lambda_routes = [
        i
        for g in (weighted, moved)
        for i in g.by_type("aws:apigateway/integration:Integration")
        if i.inputs["type"] == "AWS_PROXY"
    ]
    assert lambda_routes and {i.inputs["timeoutMilliseconds"] for i in lambda_routes} == {29000}
    # API Gateway waits 29 s for the router; the router waits for the weighted route's function.
    assert (_timeout(weighted, "router"), _timeout(weighted, "notifications")) == (28, 27)
    assert _timeout(moved, "notifications") == 28  # a moved route answers API Gateway itself
    router = next(f for f in weighted.by_type("aws:lambda/function:Function") if f.name == "facade-router-function")
    assert float(router.inputs["environment"]["variables"]["LEGACY_TIMEOUT_SECONDS"]) < 28


def test_the_facade_has_stage_throttles_and_no_usage_plan(weighted):
    assert weighted.by_type("aws:apigateway/usagePlan:UsagePlan") == []
    (account,) = weighted.by_type("aws:apigateway/account:Account")
    (stage,) = weighted.by_type("aws:apigateway/stage:Stage")
    assert account.urn in stage.dependencies


def test_legacy_slower_than_the_router_can_wait_is_a_config_error():
    routes = [{"path": "/a", "target": "weighted", "percentNew": 5, "function": "notifications"}]
    assert parse(StranglerSpec, _spec(routes, timeoutMs=27000), "services.facade").legacy.timeout_ms == 27000
    with pytest.raises(ConfigError) as caught:
        parse(StranglerSpec, _spec(routes, timeoutMs=27001), "services.facade")
    assert caught.value.key == "services.facade.legacy.timeoutMs" and "\n" not in str(caught.value)
    assert "router" in str(caught.value) and "27000" in str(caught.value)
    # Without a weighted route API Gateway itself waits for legacy (up to 29 s): nothing to contradict.
    legacy_only = _spec([{"path": "/a", "target": "legacy"}], timeoutMs=29000)
    assert parse(StranglerSpec, legacy_only, "services.facade").legacy.timeout_ms == 29000
