"""Lambda rules: each passes a compliant function/resource and catches a violating variant."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arcblueprint.policy import lambda_
from arcblueprint.policy.testing import COMPLIANT_PROPS, resource, run_resource, run_stack

FUNCTION = "aws:lambda/function:Function"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ESM = "aws:lambda/eventSourceMapping:EventSourceMapping"
EIC = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"


def fn(**changes):
    props = copy.deepcopy(COMPLIANT_PROPS[FUNCTION])
    props.update(changes)
    return props


def test_tracing_active_passes_active_and_catches_passthrough():
    assert run_resource(lambda_.TRACING_ACTIVE, FUNCTION, fn()).messages == []
    found = run_resource(lambda_.TRACING_ACTIVE, FUNCTION, fn(tracingConfig={"mode": "PassThrough"}), name="orders")
    assert len(found.messages) == 1 and "'orders'" in found.messages[0] and "PassThrough" in found.messages[0]
    assert run_resource(
        lambda_.TRACING_ACTIVE, FUNCTION, {k: v for k, v in fn().items() if k != "tracingConfig"}
    ).messages


def test_tracing_policy_ignores_other_types():
    assert run_resource(lambda_.TRACING_ACTIVE, "aws:sqs/queue:Queue", {}).messages == []


def test_log_group_retention_requires_days_and_key():
    good = COMPLIANT_PROPS[LOG_GROUP]
    assert run_resource(lambda_.LOG_GROUP_RETENTION, LOG_GROUP, good).messages == []
    never = run_resource(lambda_.LOG_GROUP_RETENTION, LOG_GROUP, {**good, "retentionInDays": 0.0})
    assert ["retentionInDays" in m for m in never.messages] == [True]
    plain = run_resource(lambda_.LOG_GROUP_RETENTION, LOG_GROUP, {k: v for k, v in good.items() if k != "kmsKeyId"})
    assert ["kmsKeyId" in m for m in plain.messages] == [True]


def test_function_log_group_must_be_declared_with_retention():
    function = resource(FUNCTION, "orders", {"name": "orders-fn"})
    group = resource(LOG_GROUP, "orders-logs", {"name": "/aws/lambda/orders-fn", "retentionInDays": 30.0})
    assert run_stack(lambda_.FUNCTION_LOG_GROUPS, [function, group]).violations == []
    missing = run_stack(lambda_.FUNCTION_LOG_GROUPS, [function])
    assert (
        missing.violations == [(function.urn, missing.messages[0])] and "/aws/lambda/orders-fn" in missing.messages[0]
    )
    forever = resource(LOG_GROUP, "orders-logs", {"name": "/aws/lambda/orders-fn"})
    assert "never expires" in run_stack(lambda_.FUNCTION_LOG_GROUPS, [function, forever]).messages[0]
    custom = resource(FUNCTION, "c", {"name": "c", "loggingConfig": {"logGroup": "/shared/app"}})
    shared = resource(LOG_GROUP, "shared", {"name": "/shared/app", "retentionInDays": 7.0})
    assert run_stack(lambda_.FUNCTION_LOG_GROUPS, [custom, shared]).violations == []


def test_protected_downstream_needs_reserved_or_max_concurrency():
    tags = {"protected-downstream": "true"}
    capped = resource(FUNCTION, "writer", {"name": "writer", "tags": tags, "reservedConcurrentExecutions": 5.0})
    assert run_stack(lambda_.CONCURRENCY_FOR_PROTECTED_DOWNSTREAM, [capped]).violations == []
    open_fn = resource(FUNCTION, "writer", {"name": "writer", "tags": tags})
    assert len(run_stack(lambda_.CONCURRENCY_FOR_PROTECTED_DOWNSTREAM, [open_fn]).violations) == 1
    mapping = resource(
        ESM,
        "writer-sqs",
        {"functionName": "writer:live", "scalingConfig": {"maximumConcurrency": 2.0}},
        depends={"functionName": [open_fn]},
    )
    assert run_stack(lambda_.CONCURRENCY_FOR_PROTECTED_DOWNSTREAM, [open_fn, mapping]).violations == []
    uncapped = resource(ESM, "writer-sqs", {"functionName": "writer:live"}, depends={"functionName": [open_fn]})
    assert len(run_stack(lambda_.CONCURRENCY_FOR_PROTECTED_DOWNSTREAM, [open_fn, uncapped]).violations) == 1
    untagged = resource(FUNCTION, "reader", {"name": "reader"})
    assert run_stack(lambda_.CONCURRENCY_FOR_PROTECTED_DOWNSTREAM, [untagged]).violations == []


def test_async_functions_need_an_event_invoke_config_with_a_queue_and_limits():
    tagged = resource(FUNCTION, "notify", {"name": "notify", "tags": {"invocation": "async"}})
    assert len(run_stack(lambda_.ASYNC_FAILURE_DESTINATION, [tagged]).violations) == 1
    with_dlq_only = resource(
        FUNCTION,
        "notify",
        {"name": "notify", "tags": {"invocation": "async"}, "deadLetterConfig": {"targetArn": "arn:aws:sqs:r:1:dlq"}},
    )
    assert len(run_stack(lambda_.ASYNC_FAILURE_DESTINATION, [with_dlq_only]).violations) == 1
    complete = {
        "functionName": "notify",
        "qualifier": "live",
        "maximumRetryAttempts": 1.0,
        "maximumEventAgeInSeconds": 600.0,
        "destinationConfig": {"onFailure": {"destination": "arn:aws:sqs:eu-west-1:1:d"}},
    }
    config = resource(EIC, "notify-async", complete)
    assert run_stack(lambda_.ASYNC_FAILURE_DESTINATION, [tagged, config]).violations == []
    bare = resource(EIC, "notify-async", {"functionName": "notify", "qualifier": "live"})
    found = run_stack(lambda_.ASYNC_FAILURE_DESTINATION, [tagged, bare])
    assert {urn for urn, _ in found.violations} == {bare.urn}  # the config is there, but incomplete
    [(_, message)] = found.violations
    assert "on-failure destination" in message and "maximumRetryAttempts" in message


def test_an_sns_subscription_of_a_function_is_an_async_call():
    function = resource(FUNCTION, "notify", {"name": "notify"})
    subscription = resource(
        "aws:sns/topicSubscription:TopicSubscription",
        "notify-sub",
        {"protocol": "lambda", "endpoint": "arn:aws:lambda:eu-west-1:1:function:notify:live"},
    )
    [(urn, message)] = run_stack(lambda_.ASYNC_FAILURE_DESTINATION, [function, subscription]).violations
    assert urn == function.urn and "an SNS subscription: 'notify-sub'" in message and "'live'" in message
    config = resource(
        EIC,
        "notify-async",
        {
            "functionName": "notify",
            "qualifier": "live",
            "maximumRetryAttempts": 0.0,
            "maximumEventAgeInSeconds": 60.0,
            "destinationConfig": {"onFailure": {"destination": "arn:aws:sqs:eu-west-1:1:d"}},
        },
    )
    assert run_stack(lambda_.ASYNC_FAILURE_DESTINATION, [function, subscription, config]).violations == []


@pytest.mark.parametrize(
    ("resource_type", "props"),
    [
        (ESM, {"functionName": "arn:aws:lambda:eu-west-1:1:function:orders"}),
        (ESM, {"functionName": "orders"}),
        (ESM, {"functionName": "arn:aws:lambda:eu-west-1:1:function:orders:$LATEST"}),
        ("aws:lambda/permission:Permission", {"function": "orders"}),
        ("aws:lambda/permission:Permission", {"function": "orders", "qualifier": "$LATEST"}),
        (EIC, {"functionName": "orders"}),
        (
            "aws:apigateway/integration:Integration",
            {
                "uri": (
                    "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/"
                    "arn:aws:lambda:eu-west-1:1:function:o/invocations"
                )
            },
        ),
        ("aws:apigatewayv2/integration:Integration", {"integrationUri": "arn:aws:lambda:eu-west-1:1:function:o"}),
        (
            "aws:sns/topicSubscription:TopicSubscription",
            {"protocol": "lambda", "endpoint": "arn:aws:lambda:r:1:function:o"},
        ),
        ("aws:cloudwatch/eventTarget:EventTarget", {"arn": "arn:aws:lambda:r:1:function:o"}),
        ("aws:appsync/dataSource:DataSource", {"lambdaConfig": {"functionArn": "arn:aws:lambda:r:1:function:o"}}),
    ],
)
def test_unqualified_invocations_are_caught(resource_type, props):
    found = run_resource(lambda_.NO_UNQUALIFIED_INVOCATION, resource_type, props, name="wire")
    assert len(found.messages) == 1 and "$LATEST" in found.messages[0] and "'wire'" in found.messages[0]


@pytest.mark.parametrize(
    ("resource_type", "props"),
    [
        (ESM, COMPLIANT_PROPS[ESM]),
        ("aws:lambda/permission:Permission", COMPLIANT_PROPS["aws:lambda/permission:Permission"]),
        ("aws:lambda/permission:Permission", {"function": "arn:aws:lambda:r:1:function:o:7"}),
        (EIC, {"functionName": "orders", "qualifier": "live"}),
        ("aws:apigateway/integration:Integration", COMPLIANT_PROPS["aws:apigateway/integration:Integration"]),
        ("aws:apigateway/integration:Integration", {"type": "HTTP_PROXY", "uri": "https://example.com/{proxy}"}),
        ("aws:sns/topicSubscription:TopicSubscription", {"protocol": "sqs", "endpoint": "arn:aws:sqs:r:1:q"}),
        ("aws:cloudwatch/eventTarget:EventTarget", {"arn": "arn:aws:sqs:r:1:q"}),
    ],
)
def test_qualified_or_non_lambda_targets_pass(resource_type, props):
    assert run_resource(lambda_.NO_UNQUALIFIED_INVOCATION, resource_type, props).messages == []


def test_runtime_supported_default_and_configured():
    assert run_resource(lambda_.RUNTIME_SUPPORTED, FUNCTION, fn()).messages == []
    assert "python3.8" in run_resource(lambda_.RUNTIME_SUPPORTED, FUNCTION, fn(runtime="python3.8")).messages[0]
    narrowed = {"supportedRuntimes": ["python3.12"]}
    assert run_resource(lambda_.RUNTIME_SUPPORTED, FUNCTION, fn(), config=narrowed).messages
    image = {k: v for k, v in fn().items() if k != "runtime"}
    assert run_resource(lambda_.RUNTIME_SUPPORTED, FUNCTION, {**image, "packageType": "Image"}).messages == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DB_PASSWORD", "hunter2hunter2"),
        ("STRIPE_API_KEY", "sk_live_abc"),
        ("GITHUB_TOKEN", "x"),
        ("CONFIG", "AKIAIOSFODNN7EXAMPLE"),
        ("BLOB", "Zx9pQ2rT7vB4nM8kL1wE5yU3iO6aS0dF"),
        ("BLOBS", "Zx9pQ2rT7vB4nM8k,L1wE5yU3iO6aS0dF"),  # commas do not make tokens a host list
        ("CERT", "-----BEGIN RSA PRIVATE KEY-----\nMIIB"),
    ],
)
def test_plaintext_secrets_are_caught(name, value):
    found = run_resource(lambda_.NO_PLAINTEXT_SECRETS, FUNCTION, fn(environment={"variables": {name: value}}))
    assert len(found.messages) == 1 and name in found.messages[0]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DB_SECRET_ARN", "arn:aws:secretsmanager:eu-west-1:1:secret:db-AbC123"),
        ("TOKEN_TABLE_NAME", "arcbp-prod-tokens"),
        ("API_KEY_PARAMETER", "/arcbp/prod/api-key"),
        ("POWERTOOLS_SERVICE_NAME", "orders"),
        ("QUEUE_URL", "https://sqs.eu-west-1.amazonaws.com/1/arcbp-prod-orders-queue"),
        ("TABLE", "arcbp-prod-orders-events-archive-table"),
        # The proxy bypass list the on-prem proxy's clients get: varied characters, but a list of hosts.
        ("NO_PROXY", ".amazonaws.com,169.254.169.254,169.254.170.2,localhost,127.0.0.1"),
    ],
)
def test_references_and_names_are_not_secrets(name, value):
    assert (
        run_resource(lambda_.NO_PLAINTEXT_SECRETS, FUNCTION, fn(environment={"variables": {name: value}})).messages
        == []
    )


@given(st.text(alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyz-"), min_size=1, max_size=60))
def test_lowercase_hyphenated_names_never_look_like_secrets(value):
    assert lambda_.secret_findings("RESOURCE", value) == []


@given(st.from_regex(r"(AKIA|ASIA)[0-9A-Z]{16}", fullmatch=True), st.text(max_size=10))
def test_access_key_ids_are_always_found(key, noise):
    assert "its value contains an AWS access key id" in lambda_.secret_findings("X", f"{noise} {key} {noise}")


def test_waiver_silences_only_the_named_resource_and_reports_to_the_hook():
    bad = fn(tracingConfig={"mode": "PassThrough"})
    config = {"waivers": [{"resource": "legacy", "reason": "vendor layer breaks with active tracing"}]}
    waived = run_resource(lambda_.TRACING_ACTIVE, FUNCTION, bad, name="legacy", config=config)
    assert waived.messages == [] and waived.waived_violations[0][2] == "vendor layer breaks with active tracing"
    assert run_resource(lambda_.TRACING_ACTIVE, FUNCTION, bad, name="other", config=config).messages
