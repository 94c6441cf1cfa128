"""ServerlessFunction under the mock runtime: each release strategy declares what it needs, nothing targets $LATEST."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pulumi
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arcblueprint.config.model import ReleaseSpec
from arcblueprint.platform.functions import (
    AsyncInvocation,
    FunctionArgs,
    ServerlessFunction,
    SqsSource,
    StreamSource,
)
from arcblueprint.platform.functions.grants import AWS_REQUIRES_ANY_RESOURCE

HELLO = Path(__file__).parent / "fixtures" / "hello"
FN = "arcblueprint:functions:ServerlessFunction"
QUEUE = "arn:aws:sqs:eu-west-1:222222222222:arcbp-prod-orders-in"
STREAM = "arn:aws:kinesis:eu-west-1:222222222222:stream/arcbp-prod-clicks"
FAILURES = "arn:aws:sqs:eu-west-1:222222222222:arcbp-prod-clicks-failed"


def fake_alarm_topic_arn_of(graph) -> str:
    """The topic the fake platform's ``alarm_actions`` name (tests/functional/conftest.py)."""
    return f"arn:aws:sns:{graph.config.region}:{graph.config.account_id}:{graph.config.naming_prefix}-alarms"


def _children(graph, parent_urn, type_token):
    return [r for r in graph.resources if r.parent == parent_urn and r.type == type_token]


def _component(graph, name):
    (component,) = [r for r in graph.resources if r.type == FN and r.name == name]
    return component


def _only(graph, parent_urn, type_token, name=None):
    found = [r for r in _children(graph, parent_urn, type_token) if name is None or r.name == name]
    assert len(found) == 1, [r.name for r in found]
    return found[0]


@pytest.fixture(scope="module")
def graph(run_component, fake_platform):
    """One prod program with a function per strategy, plus sources, async config and two VPC functions."""

    def program(context):
        platform = fake_platform(context, with_vpc=True, with_bus=True, secrets=("db",))

        def function(name, release=None, **extra):
            return ServerlessFunction(
                name, FunctionArgs(platform=platform, service="orders", code_dir=HELLO, release=release, **extra)
            )

        all_at_once = function("all", ReleaseSpec(strategy="all-at-once"), reserved_concurrency=5)
        all_at_once.allow_invoke(
            "api",
            principal="apigateway.amazonaws.com",
            source_arn="arn:aws:execute-api:eu-west-1:222222222222:abc123/*/GET/orders",
        )
        function("bluegreen", ReleaseSpec(strategy="blue-green", previous_version=3, extra_aliases=("debug",)))
        canary = function(
            "canary",
            None,
            pre_traffic_hook=True,
            post_traffic_hook=True,
            async_invocation=AsyncInvocation(maximum_retry_attempts=1, maximum_event_age_seconds=600),
        )
        canary.grant_table_read_write("arn:aws:dynamodb:eu-west-1:222222222222:table/orders")
        canary.grant_secret_read("db")
        function(
            "linear",
            ReleaseSpec(
                strategy="linear",
                deployment_config="custom",
                custom_percent=20,
                custom_interval_minutes=4,
                error_alarm_threshold=7,
                p99_duration_alarm_ms=1500,
            ),
        )
        function("weighted", ReleaseSpec(strategy="weighted-canary", previous_version=3, canary_weight_percent=10))
        consumer = function("vpc-a", ReleaseSpec(strategy="all-at-once"), attach_to_vpc=True)
        consumer.add_sqs_source("orders-in", SqsSource(queue_arn=QUEUE, maximum_concurrency=5))
        reader = function("vpc-b", ReleaseSpec(strategy="all-at-once"), attach_to_vpc=True)
        reader.add_stream_source("clicks", StreamSource(stream_arn=STREAM, on_failure_destination_arn=FAILURES))
        pulumi.export("canaryRelease", canary.release_info)
        pulumi.export("endpointsRequired", platform.vpc.endpoints.required)

    return run_component(program, stack="prod")


def test_every_alias_points_at_a_published_version(graph) -> None:
    aliases = graph.by_type("aws:lambda/alias:Alias")
    assert len(aliases) >= 9
    for alias in aliases:
        assert re.fullmatch(r"[1-9][0-9]*", str(alias.inputs["functionVersion"])), alias.name
    for function in graph.by_type("aws:lambda/function:Function"):
        assert function.inputs["publish"] is True
        assert function.inputs["tracingConfig"] == {"mode": "Active"}
        assert function.inputs["architectures"] == ["arm64"]
        (layer,) = function.inputs["layers"]
        assert layer == "arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:18"
        env = function.inputs["environment"]["variables"]
        assert env["POWERTOOLS_LOG_LEVEL"] == "INFO" and env["POWERTOOLS_DEV"] == "false"
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "arcbp-prod/orders"


def test_each_function_has_one_role_and_its_own_encrypted_log_group(graph) -> None:
    components = graph.by_type(FN)
    assert len(components) == 9  # 7 functions + 2 hooks
    for component in components:
        roles = _children(graph, component.urn, "aws:iam/role:Role")
        lambda_roles = [r for r in roles if "lambda.amazonaws.com" in r.inputs["assumeRolePolicy"]]
        assert len(lambda_roles) == 1, component.name
        function = _only(graph, component.urn, "aws:lambda/function:Function")
        assert function.inputs["role"] == lambda_roles[0].outputs["arn"]
        log_group = _only(graph, component.urn, "aws:cloudwatch/logGroup:LogGroup")
        assert log_group.inputs["name"] == f"/aws/lambda/{function.inputs['name']}"
        assert log_group.inputs["retentionInDays"] == 365 and log_group.inputs["kmsKeyId"].startswith("arn:aws:kms:")
        assert function.inputs["loggingConfig"]["logGroup"] == log_group.inputs["name"]
        assert function.inputs["loggingConfig"]["logFormat"] == "JSON"
        assert log_group.urn in function.dependencies


def test_no_policy_has_a_star_action_and_star_resources_are_explained(graph) -> None:
    policies = graph.by_type("aws:iam/rolePolicy:RolePolicy")
    assert len(policies) > 20
    for policy in policies:
        for statement in json.loads(policy.inputs["policy"])["Statement"]:
            assert not any("*" in action for action in statement["Action"]), policy.name
            if "*" in statement["Resource"]:
                assert statement["Sid"].startswith(AWS_REQUIRES_ANY_RESOURCE), policy.name


def test_prod_canary_gets_a_codedeploy_group_with_alarms_and_rollback(graph) -> None:
    canary = _component(graph, "canary")
    alias = _only(graph, canary.urn, "aws:lambda/alias:Alias")
    assert alias.inputs["name"] == "live"
    release = [
        r for r in graph.resources if r.type == "arcblueprint:functions:CodeDeployRelease" and r.parent == canary.urn
    ]
    assert len(release) == 1
    group = _only(graph, release[0].urn, "aws:codedeploy/deploymentGroup:DeploymentGroup")
    assert group.inputs["deploymentConfigName"] == "CodeDeployDefault.LambdaCanary10Percent5Minutes"
    assert group.inputs["deploymentStyle"] == {
        "deploymentOption": "WITH_TRAFFIC_CONTROL",
        "deploymentType": "BLUE_GREEN",
    }
    assert group.inputs["autoRollbackConfiguration"] == {
        "enabled": True,
        "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM", "DEPLOYMENT_STOP_ON_REQUEST"],
    }
    alarms = _children(graph, canary.urn, "aws:cloudwatch/metricAlarm:MetricAlarm")
    assert sorted(group.inputs["alarmConfiguration"]["alarms"]) == sorted(a.inputs["name"] for a in alarms)
    # The alarms CodeDeploy rolls back on also tell people: ALARM and OK go to the platform's topic.
    topic = fake_alarm_topic_arn_of(graph)
    assert all(a.inputs["alarmActions"] == a.inputs["okActions"] == [topic] for a in alarms)
    app = _only(graph, release[0].urn, "aws:codedeploy/application:Application")
    assert app.inputs["computePlatform"] == "Lambda"
    attachment = _only(graph, release[0].urn, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert attachment.inputs["policyArn"] == "arn:aws:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited"
    info = graph.outputs["canaryRelease"]
    assert info["deploymentGroupName"] == group.inputs["deploymentGroupName"]
    assert info["applicationName"] == app.inputs["name"] and info["targetVersion"] == "1"
    assert info["strategy"] == "canary" and len(info["alarmNames"]) == 3


def test_hooks_may_only_report_to_their_group_and_invoke_their_target(graph) -> None:
    canary = _component(graph, "canary")
    group = next(
        r
        for r in graph.by_type("aws:codedeploy/deploymentGroup:DeploymentGroup")
        if r.inputs["appName"] == "arcbp-prod-canary"
    )
    hooks = [r for r in graph.by_type(FN) if r.parent == canary.urn]
    assert sorted(h.name for h in hooks) == ["canary-post-hook", "canary-pre-hook"]
    for hook in hooks:
        function = _only(graph, hook.urn, "aws:lambda/function:Function")
        assert function.inputs["name"].startswith("CodeDeployHook_")
        assert len(function.inputs["name"]) <= 64
        status = _only(graph, hook.urn, "aws:iam/rolePolicy:RolePolicy", f"{hook.name}-hook-status")
        (statement,) = json.loads(status.inputs["policy"])["Statement"]
        assert statement["Action"] == ["codedeploy:PutLifecycleEventHookExecutionStatus"]
        assert statement["Resource"] == [group.outputs["arn"]]
        invoke = _only(graph, hook.urn, "aws:iam/rolePolicy:RolePolicy", f"{hook.name}-invoke")
        (statement,) = json.loads(invoke.inputs["policy"])["Statement"]
        target = function.inputs["environment"]["variables"]["TARGET_FUNCTION_ARN"]
        assert statement["Resource"] == [target]
        assert target.endswith(":1" if hook.name.endswith("pre-hook") else ":live")
    assert set(graph.outputs["canaryRelease"]["hooks"]) == {"BeforeAllowTraffic", "AfterAllowTraffic"}


def test_custom_linear_config_and_alarm_thresholds_come_from_config(graph) -> None:
    linear = _component(graph, "linear")
    config = next(r for r in graph.by_type("aws:codedeploy/deploymentConfig:DeploymentConfig"))
    assert config.inputs["computePlatform"] == "Lambda"
    assert config.inputs["trafficRoutingConfig"] == {
        "type": "TimeBasedLinear",
        "timeBasedLinear": {"interval": 4, "percentage": 20},
    }
    group = next(
        r
        for r in graph.by_type("aws:codedeploy/deploymentGroup:DeploymentGroup")
        if r.inputs["appName"] == "arcbp-prod-linear"
    )
    assert group.inputs["deploymentConfigName"] == config.inputs["deploymentConfigName"]
    alarms = {a.name: a.inputs for a in _children(graph, linear.urn, "aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert alarms["linear-alarm-errors"]["threshold"] == 7
    assert alarms["linear-alarm-p99-duration"]["threshold"] == 1500
    assert alarms["linear-alarm-p99-duration"]["extendedStatistic"] == "p99"
    for alarm in alarms.values():
        assert alarm["dimensions"] == {"FunctionName": "arcbp-prod-linear", "Resource": "arcbp-prod-linear:live"}


def test_every_function_alarm_notifies_the_platform_topic_on_alarm_and_ok(graph) -> None:
    alarms = graph.by_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert len(alarms) >= 3 * len(graph.by_type("aws:lambda/function:Function"))
    topic = fake_alarm_topic_arn_of(graph)
    assert {(tuple(a.inputs.get("alarmActions", ())), tuple(a.inputs.get("okActions", ()))) for a in alarms} == {
        ((topic,), (topic,))
    }


def test_blue_green_keeps_the_previous_version_behind_its_own_alias(graph) -> None:
    bluegreen = _component(graph, "bluegreen")
    aliases = {a.inputs["name"]: a.inputs for a in _children(graph, bluegreen.urn, "aws:lambda/alias:Alias")}
    assert aliases["live"]["functionVersion"] == "1"
    assert aliases["previous"]["functionVersion"] == "3"
    assert aliases["debug"]["functionVersion"] == "1"
    function = _only(graph, bluegreen.urn, "aws:lambda/function:Function")
    # The way back is on record in the releases output and the alias, not on the function: a tag that moved
    # with every release would update the function itself whenever only its rollback target changed.
    assert "previous-version" not in function.inputs["tags"]
    assert function.inputs["tags"]["release-strategy"] == "blue-green"
    assert not _children(graph, bluegreen.urn, "arcblueprint:functions:CodeDeployRelease")


def test_weighted_canary_sends_the_rest_to_the_previous_version(graph) -> None:
    weighted = _component(graph, "weighted")
    alias = _only(graph, weighted.urn, "aws:lambda/alias:Alias")
    assert alias.inputs["functionVersion"] == "1"
    assert alias.inputs["routingConfig"] == {"additionalVersionWeights": {"3": 0.9}}


def test_vpc_functions_share_the_subnets_and_one_security_group(graph) -> None:
    configs = [
        f.inputs["vpcConfig"] for f in graph.by_type("aws:lambda/function:Function") if f.inputs.get("vpcConfig")
    ]
    assert len(configs) == 2
    assert {tuple(c["subnetIds"]) for c in configs} == {("subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2")}
    assert {tuple(c["securityGroupIds"]) for c in configs} == {("sg-0aaaaaaaaaaaaaaa1",)}


def test_vpc_pollers_and_destinations_need_no_endpoint(graph) -> None:
    """Lambda's pollers and destinations use the role outside the VPC: an SQS consumer and a stream
    reader with an on-failure destination need an endpoint for X-Ray only (their one code-side call)."""
    assert graph.outputs["endpointsRequired"] == ["xray"]
    policies = {p.name: json.loads(p.inputs["policy"]) for p in graph.by_type("aws:iam/rolePolicy:RolePolicy")}
    for name in ("vpc-a-queue-consume", "vpc-b-stream-read", "vpc-b-failure-destination", "canary-queue-send"):
        assert all(s["Sid"].startswith("OnBehalf") for s in policies[name]["Statement"]), name
    assert [s["Sid"] for s in policies["canary-table-read-write"]["Statement"]] == [
        "TableReadWrite",
        "OnBehalfPlatformKeyEncrypt",
    ]  # the code calls DynamoDB; DynamoDB calls KMS


def test_a_vpc_function_and_its_hooks_get_the_endpoints_their_code_calls(run_component, fake_platform) -> None:
    from arcblueprint.policy.wiring.reachability import called_apis

    def program(context):
        platform = fake_platform(context, with_vpc=True)
        router = ServerlessFunction(
            "router",
            FunctionArgs(
                platform=platform,
                service="orders",
                code_dir=HELLO,
                attach_to_vpc=True,
                pre_traffic_hook=True,
                post_traffic_hook=True,
            ),
        )
        router.grant_table_read_write("arn:aws:dynamodb:eu-west-1:222222222222:table/orders")
        router.grant_queue_send(QUEUE)
        outside = ServerlessFunction("outside", FunctionArgs(platform=platform, service="orders", code_dir=HELLO))
        outside.grant_topic_publish("arn:aws:sns:eu-west-1:222222222222:orders")
        pulumi.export("endpointsRequired", platform.vpc.endpoints.required)

    graph = run_component(program, stack="prod")
    # The router: X-Ray, DynamoDB (a gateway endpoint), SQS; its hooks, in the VPC too: CodeDeploy and Lambda.
    # No KMS: SQS and DynamoDB use the key; no SNS: the function that publishes is not in the VPC.
    assert sorted(graph.outputs["endpointsRequired"]) == ["codedeploy", "dynamodb", "lambda", "sqs", "xray"]
    in_vpc = [f for f in graph.by_type("aws:lambda/function:Function") if f.inputs.get("vpcConfig")]
    assert sorted(f.name for f in in_vpc) == [
        "router-function",
        "router-post-hook-function",
        "router-pre-hook-function",
    ]
    for function in in_vpc:
        (role,) = function.property_dependencies["role"]
        documents = [
            json.loads(p.inputs["policy"])
            for p in graph.by_type("aws:iam/rolePolicy:RolePolicy")
            if role in p.property_dependencies["role"]
        ]
        # What the reachability rule will demand of the function is what it asked the network for.
        assert set(called_apis(documents)) <= set(graph.outputs["endpointsRequired"]), function.name


def test_event_sources_permissions_and_async_config_target_the_alias(graph) -> None:
    mappings = {m.name: m.inputs for m in graph.by_type("aws:lambda/eventSourceMapping:EventSourceMapping")}
    assert mappings["vpc-a-orders-in"]["functionName"].endswith(":function:arcbp-prod-vpc-a:live")
    assert mappings["vpc-a-orders-in"]["scalingConfig"] == {"maximumConcurrency": 5}
    assert mappings["vpc-a-orders-in"]["tags"]["protected-downstream"] == "true"
    stream = mappings["vpc-b-clicks"]
    assert stream["functionName"].endswith(":live") and stream["bisectBatchOnFunctionError"] is True
    assert stream["destinationConfig"] == {"onFailure": {"destinationArn": FAILURES}}
    for mapping in mappings.values():
        assert mapping["functionResponseTypes"] == ["ReportBatchItemFailures"]
    (permission,) = graph.by_type("aws:lambda/permission:Permission")
    assert permission.inputs["qualifier"] == "live" and permission.inputs["principal"] == "apigateway.amazonaws.com"
    (invoke_config,) = graph.by_type("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")
    assert invoke_config.inputs["qualifier"] == "live"
    assert invoke_config.inputs["maximumRetryAttempts"] == 1
    (dlq,) = [q for q in graph.by_type("aws:sqs/queue:Queue") if q.name == "canary-dlq"]
    assert invoke_config.inputs["destinationConfig"] == {"onFailure": {"destination": dlq.outputs["arn"]}}
    assert dlq.inputs["kmsMasterKeyId"].startswith("arn:aws:kms:") and dlq.protect


def test_reserved_concurrency_marks_a_protected_downstream(graph) -> None:
    tags = {f.name: f.inputs["tags"] for f in graph.by_type("aws:lambda/function:Function")}
    assert tags["all-function"]["protected-downstream"] == "true"
    assert "protected-downstream" not in tags["linear-function"]
    assert tags["all-function"]["release-strategy"] == "all-at-once"


@pytest.mark.parametrize(
    ("stack", "strategy", "has_codedeploy"), [("prod", "canary", True), ("dev", "all-at-once", False)]
)
def test_stack_default_strategy(run_component, fake_platform, stack, strategy, has_codedeploy) -> None:
    def program(context):
        ServerlessFunction("orders", FunctionArgs(platform=fake_platform(context), service="orders", code_dir=HELLO))

    graph = run_component(program, stack=stack)
    (function,) = graph.by_type("aws:lambda/function:Function")
    assert function.inputs["tags"]["release-strategy"] == strategy
    assert bool(graph.by_type("aws:codedeploy/deploymentGroup:DeploymentGroup")) == has_codedeploy
    (alias,) = graph.by_type("aws:lambda/alias:Alias")
    assert alias.inputs["functionVersion"] == "1"
    level = "DEBUG" if stack == "dev" else "INFO"
    assert function.inputs["environment"]["variables"]["POWERTOOLS_LOG_LEVEL"] == level


@pytest.mark.parametrize(
    ("extra", "platform", "message"),
    [
        ({"pre_traffic_hook": True, "release": ReleaseSpec(strategy="all-at-once")}, {}, "traffic hooks need"),
        ({"attach_to_vpc": True}, {}, "platform has no VPC"),
        ({"use_onprem_proxy": True}, {"with_vpc": True}, "use_onprem_proxy needs attach_to_vpc"),
        ({"use_onprem_proxy": True, "attach_to_vpc": True}, {"with_vpc": True}, r"no on-prem proxy \(onPrem.enabled"),
    ],
)
def test_misuse_fails_at_construction(run_component, fake_platform, extra, platform, message) -> None:
    def program(context):
        ServerlessFunction(
            "bad", FunctionArgs(platform=fake_platform(context, **platform), service="orders", code_dir=HELLO, **extra)
        )

    with pytest.raises(Exception, match=message):
        run_component(program, stack="dev")


@pytest.mark.parametrize(
    ("field", "value"), [("memory_mib", 64), ("timeout_seconds", 901), ("environment", {"AWS_REGION": "x"})]
)
def test_function_args_are_validated(field, value) -> None:
    with pytest.raises(ValueError, match=field.split("_")[0]):
        FunctionArgs(platform=None, service="orders", code_dir=HELLO, **{field: value})  # type: ignore[arg-type]


@st.composite
def function_configs(draw):
    count = draw(st.integers(1, 3))
    return [
        {
            "strategy": draw(st.sampled_from(["all-at-once", "blue-green", "canary", "linear", "weighted-canary"])),
            "vpc": draw(st.booleans()),
            "previous": draw(st.none() | st.integers(1, 40)),
            "weight": draw(st.integers(0, 100)),
            "memory": draw(st.sampled_from([128, 512, 1769, 10240])),
        }
        for _ in range(count)
    ]


@settings(max_examples=12, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(function_configs())
def test_generated_function_configs_keep_the_invariants(run_component, fake_platform, configs) -> None:
    def program(context):
        platform = fake_platform(context, with_vpc=True)
        for i, config in enumerate(configs):
            deployment = "Linear10PercentEvery1Minute" if config["strategy"] == "linear" else "Canary10Percent5Minutes"
            release = ReleaseSpec(
                strategy=config["strategy"],
                deployment_config=deployment,
                previous_version=config["previous"],
                canary_weight_percent=config["weight"],
            )
            ServerlessFunction(
                f"fn{i}",
                FunctionArgs(
                    platform=platform,
                    service="gen",
                    code_dir=HELLO,
                    release=release,
                    attach_to_vpc=config["vpc"],
                    memory_mib=config["memory"],
                ),
            )

    graph = run_component(program, stack="dev")
    for alias in graph.by_type("aws:lambda/alias:Alias"):
        assert alias.inputs["functionVersion"] != "$LATEST"
        assert re.fullmatch(r"[1-9][0-9]*", str(alias.inputs["functionVersion"]))
        for version in (alias.inputs.get("routingConfig") or {}).get("additionalVersionWeights", {}):
            assert version != "$LATEST"
    vpc_configs = set()
    for i, config in enumerate(configs):
        component = _component(graph, f"fn{i}")
        roles = _children(graph, component.urn, "aws:iam/role:Role")
        assert len([r for r in roles if "lambda.amazonaws.com" in r.inputs["assumeRolePolicy"]]) == 1
        assert _only(graph, component.urn, "aws:cloudwatch/logGroup:LogGroup").inputs["retentionInDays"] == 14
        function = _only(graph, component.urn, "aws:lambda/function:Function")
        assert function.inputs["tracingConfig"] == {"mode": "Active"}
        assert function.inputs["memorySize"] == config["memory"]
        groups = _children(graph, component.urn, "arcblueprint:functions:CodeDeployRelease")
        assert len(groups) == (1 if config["strategy"] in ("canary", "linear") else 0)
        if config["vpc"]:
            vpc = function.inputs["vpcConfig"]
            vpc_configs.add((tuple(vpc["subnetIds"]), tuple(vpc["securityGroupIds"])))
        else:
            assert not function.inputs.get("vpcConfig")
    assert len(vpc_configs) <= 1
    for policy in graph.by_type("aws:iam/rolePolicy:RolePolicy"):
        for statement in json.loads(policy.inputs["policy"])["Statement"]:
            assert not any("*" in action for action in statement["Action"])
            assert "*" not in statement["Resource"] or statement["Sid"].startswith(AWS_REQUIRES_ANY_RESOURCE)
