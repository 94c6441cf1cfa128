"""The pack as the engine runs it on the first ``pulumi preview`` of a new stack.

Nothing exists yet: ids, ARNs and every input computed from them are unknown, and a policy that
reads one is skipped by the engine (for a stack policy: the whole policy) with only an advisory
note. ``evaluate(graph, first_preview=True)`` builds that state from the synthesized graph; these
tests show that no stack policy is skipped on the shipped stacks, that the mode really does skip
a policy that reads an unknown value, and that the correctness rules still catch their defects
where the defect shows in inputs and edges.
"""

from __future__ import annotations

import copy
import dataclasses
import json

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from arcblueprint.policy.base import stack_policy
from arcblueprint.policy.offline import evaluate, first_preview_state
from arcblueprint.policy.pack import correctness_policy_names
from arcblueprint.policy.testing import first_preview_report, mutated, resource, run_stack, violations_of
from arcblueprint.policy.wiring.secrets import ROTATION_NOT_DENIED

ROLE = "aws:iam/role:Role"
FUNCTION = "aws:lambda/function:Function"
SECRET = "aws:secretsmanager/secret:Secret"
ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"
SECRET_POLICY = "aws:secretsmanager/secretPolicy:SecretPolicy"


def _named(graph, name):
    (resource,) = [r for r in graph.resources if r.name == name]
    return resource


@pytest.fixture(scope="module")
def prod_state(synthesized):
    graph = synthesized("prod")
    return graph, first_preview_state(graph)


def test_outputs_of_new_resources_are_unknown_and_so_is_what_is_computed_from_them(prod_state):
    graph, state = prod_state
    function = _named(graph, "facade-router-function")
    inputs, props = state[function.urn]
    assert props["arn"] == props["id"] == UNKNOWN_STRING_VALUE  # the function does not exist yet
    assert inputs["vpcConfig"]["subnetIds"] == [UNKNOWN_STRING_VALUE] * 3  # computed from the subnets' ids
    assert inputs["runtime"] == function.inputs["runtime"] and inputs["timeout"] == function.inputs["timeout"]
    # A name the program gives, and the name the provider generates (autonaming), are known in preview.
    assert props["name"] == function.inputs["name"]
    alias = _named(graph, "facade-router-alias-live")
    assert state[alias.urn][0]["functionName"] == function.inputs["name"]  # computed from the known name
    filters = [r for r in graph.resources if r.type.endswith("logSubscriptionFilter:LogSubscriptionFilter")]
    assert filters and all(state[f.urn][0]["destinationArn"] == UNKNOWN_STRING_VALUE for f in filters)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_stack_policy_is_skipped_and_nothing_new_is_reported(synthesized, stack):
    report = evaluate(synthesized(stack), first_preview=True)
    assert [s.line() for s in report.skipped if not s.urn] == []  # a stack policy skipped is skipped whole
    assert not {s.policy for s in report.skipped} & correctness_policy_names()
    assert report.mandatory == [], "\n".join(v.line() for v in report.mandatory)
    # Not vacuous: the mode does make values unknown, and resource policies that read them are skipped per resource.
    assert report.skipped and all("can't be known during preview" in s.message for s in report.skipped)


def test_a_stack_policy_that_reads_an_unknown_value_is_skipped_as_the_engine_skips_it(synthesized):
    def every_function_arn(args, report_violation):
        for function in args.resources:
            if function.resource_type == "aws:lambda/function:Function":
                report_violation(f"saw {function.props['arn']}", function.urn)

    fragile = stack_policy("reads-arns", "Reads every function's ARN.", every_function_arn)
    graph = synthesized("dev")
    known = evaluate(graph, policies=[fragile], config={})
    assert known.advisory == [] and len(known.mandatory) == len(graph.by_type("aws:lambda/function:Function"))
    first = evaluate(graph, policies=[fragile], config={}, first_preview=True)
    assert first.mandatory == []
    [skipped] = first.skipped
    assert (skipped.policy, skipped.urn) == ("reads-arns", "")
    assert skipped.message == "string value at .arn can't be known during preview"


# --- the defects, as the first preview of a new stack shows them ---------------------------------


def _without(graph, *names):
    return dataclasses.replace(graph, resources=[r for r in graph.resources if r.name not in names])


def _set(**values):
    def change(resource):
        for key, value in values.items():
            resource.inputs[key] = value
            resource.outputs.pop(key, None)

    return change


def _no_processing(stream):
    stream.inputs["extendedS3Configuration"].pop("processingConfiguration")


def _policy_without_rotation_role(policy):
    policy.property_dependencies["policy"] = [
        u for u in policy.property_dependencies["policy"] if "secret-rotation" not in u
    ]


def _forget_the_account(stage):
    stage.dependencies = [u for u in stage.dependencies if not u.endswith("::logging-apigateway-account")]


def _no_actions(alarm):
    for prop in ("alarmActions", "okActions"):
        alarm.inputs.pop(prop)
        alarm.outputs.pop(prop, None)  # the mocks echo inputs as outputs; unset, the provider has none
        alarm.property_dependencies.pop(prop, None)


def _nlb_picking_its_addresses(graph):
    """The on-prem NLB declared with subnets= (AWS picks its addresses; the mappings are the provider's, unknown)
    and created alongside the interface endpoints, the attachment and the proxies in its /28s."""
    copied = dataclasses.replace(graph, resources=copy.deepcopy(graph.resources))
    [balancer] = [r for r in copied.resources if r.name == "onprem-nlb"]
    balancer.inputs["subnets"] = [m["subnetId"] for m in balancer.inputs.pop("subnetMappings")]
    balancer.outputs.pop("subnetMappings", None)
    balancer.property_dependencies["subnets"] = balancer.property_dependencies.pop("subnetMappings")
    for other in copied.resources:
        if balancer.urn in other.dependencies:
            other.dependencies.remove(balancer.urn)
    return copied


CASES = [
    # (policy, stack, resource to change or None, change, resource the violation names)
    (
        "vpc-function-reaches-its-apis",
        "prod",
        None,
        lambda g: _without(g, "network-lambda-endpoint"),
        "facade-router-function",
    ),
    (
        "function-within-integration-timeout",
        "prod",
        "hooks-receiver-function",
        _set(timeout=10.0),
        "hooks-post-integration",
    ),
    ("log-sink-decompresses", "dev", "logging-stream", _no_processing, "logging-stream"),
    ("apigateway-logging-after-account", "prod", "hooks-stage-stage", _forget_the_account, "hooks-stage-stage"),
    ("alarm-has-actions", "dev", "orders-api-alarm-errors", _no_actions, "orders-api-alarm-errors"),
    (
        "sqs-dlq-outlives-source",
        "prod",
        "hooks-buffer-dlq",
        _set(messageRetentionSeconds=345600.0),
        "hooks-buffer-queue",
    ),
    ("apigateway-usage-plan-keyed", "prod", "orders-stage-usage-plan", _set(apiStages=[]), "orders-stage-usage-plan"),
    (
        "firehose-dynamic-partitioning-accepted",
        "prod",
        "lake-orders-delivery",
        lambda s: s.inputs["extendedS3Configuration"].update(bufferingSize=5.0),
        "lake-orders-delivery",
    ),
    # The router's legacy host: the proxy's name must be a record of the stack (merged from issue 13).
    (
        "vpc-function-reaches-its-apis",
        "prod",
        None,
        lambda g: _without(g, "onprem-proxy-record"),
        "facade-router-function",
    ),
    # The on-prem path: its ids (NLB, target group, template version, subnets) are all unknown here.
    ("onprem-path-complete", "prod", "onprem-proxy-lt", _set(userData=None), "onprem-proxy-lt"),
    ("onprem-path-complete", "prod", "onprem-proxy-asg", _set(healthCheckType="EC2"), "onprem-proxy-asg"),
    ("onprem-path-complete", "dev", None, lambda g: _without(g, "onprem-routes-0-0"), "onprem-rt-0"),
    # The review's gaps: security groups, ports, names, the listener behind the proxy URL (inputs and edges).
    ("onprem-path-complete", "prod", None, lambda g: _without(g, "onprem-nlb-to-proxies"), "onprem-nlb-sg"),
    ("onprem-path-complete", "prod", None, _nlb_picking_its_addresses, "onprem-nlb"),
    ("onprem-path-complete", "dev", None, lambda g: _without(g, "onprem-resolver-rule-0"), "onprem-vpc"),
    ("vpc-function-reaches-its-apis", "prod", "onprem-listener", _set(port=3129.0), "facade-router-function"),
]


@pytest.mark.parametrize(
    ("policy", "stack", "name", "change", "reported"), CASES, ids=[f"{c[0]}-{c[4]}" for c in CASES]
)
def test_the_defect_is_still_reported_in_a_first_preview(synthesized, policy, stack, name, change, reported):
    graph = synthesized(stack)
    broken = change(graph) if name is None else mutated(graph, name, change)
    report = first_preview_report(broken, policy)
    assert report.skipped == []
    assert any(v.urn.endswith(f"::{reported}") for v in report.mandatory), [v.line() for v in report.mandatory]
    assert violations_of(graph, policy, first_preview=True) == []  # the shipped stack, in the same mode


@pytest.mark.parametrize("exempted", [True, False])
def test_an_unknown_secret_policy_is_judged_by_what_it_was_computed_from(exempted):
    """The rotation role's ARN and the secret policy are unknown until the role exists; the edges are not."""
    role = resource(ROLE, "rotation-role", {"arn": UNKNOWN_STRING_VALUE, "name": "rotation"})
    reader = resource(ROLE, "reader-role", {"arn": UNKNOWN_STRING_VALUE, "name": "reader"})
    function = resource(
        FUNCTION, "rotator", {"arn": UNKNOWN_STRING_VALUE, "role": UNKNOWN_STRING_VALUE}, depends={"role": [role]}
    )
    secret = resource(SECRET, "secret", {"arn": UNKNOWN_STRING_VALUE})
    rotation = resource(
        ROTATION,
        "rotation",
        {"secretId": UNKNOWN_STRING_VALUE, "rotationLambdaArn": UNKNOWN_STRING_VALUE, "rotateImmediately": False},
        depends={"secretId": [secret], "rotationLambdaArn": [function]},
    )
    policy = resource(
        SECRET_POLICY,
        "secret-policy",
        {"secretArn": UNKNOWN_STRING_VALUE, "policy": UNKNOWN_STRING_VALUE},
        depends={"secretArn": [secret], "policy": [reader, role] if exempted else [reader]},
    )
    recorder = run_stack(ROTATION_NOT_DENIED, [role, reader, function, secret, rotation, policy])
    assert recorder.skipped == []
    if exempted:
        assert recorder.violations == []
    else:
        [(urn, message)] = recorder.violations
        assert urn.endswith("::secret-policy") and "is not computed from rotation role 'rotation-role'" in message


def test_a_role_policy_unknown_in_preview_still_says_the_code_calls_lambda(synthesized):
    """The router's invoke policy is computed from the new service's alias ARN: unknown, but it names an alias."""
    graph = synthesized("prod")
    invoke = _named(graph, "facade-router-invoke")
    assert json.loads(invoke.inputs["policy"])["Statement"][0]["Action"] == ["lambda:InvokeFunction"]
    inputs, _ = first_preview_state(graph)[invoke.urn]
    assert inputs["policy"] == UNKNOWN_STRING_VALUE
    [violation] = violations_of(
        _without(graph, "network-lambda-endpoint"), "vpc-function-reaches-its-apis", first_preview=True
    )
    assert "cannot reach the lambda API" in violation.message
    assert "an action on 'facade-notifications-alias-live'" in violation.message
