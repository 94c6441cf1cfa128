"""eventbridge-rules-deliver: every rule has a target, every target a DLQ, retries and EventBridge's permission."""

from __future__ import annotations

import json

import pytest

from arcblueprint.policy.testing import mutated, violations_of

POLICY = "eventbridge-rules-deliver"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"


def _edit(*keys, value=None, remove=False):
    def change(resource):
        for props in (resource.inputs, resource.outputs):
            node = props
            for key in keys[:-1]:
                node = node.get(key, {})
            if remove:
                node.pop(keys[-1], None)
            elif keys[-1] in node or props is resource.inputs:
                node[keys[-1]] = value
        if remove and len(keys) == 1:
            resource.property_dependencies.pop(keys[0], None)

    return change


def _policy(change_document):
    """Edit the JSON document in ``policy`` (inputs and outputs)."""

    def change(resource):
        for props in (resource.inputs, resource.outputs):
            if "policy" in props:
                props["policy"] = json.dumps(change_document(json.loads(props["policy"])))

    return change


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_shipped_stacks_deliver_every_route(synthesized, stack):
    graph = synthesized(stack)
    assert violations_of(graph, POLICY) == []
    targets = graph.by_type(TARGET)
    kinds = {t.inputs["arn"].split(":")[2] for t in targets}
    # Every kind of target the rule knows is in the shipped stacks, so each check runs on real wiring.
    assert kinds == {"sqs", "kinesis", "lambda", "states"}
    rules = {r.urn for r in graph.by_type("aws:cloudwatch/eventRule:EventRule")}
    assert rules == {u for t in targets for u in t.property_dependencies["rule"]}  # the edge the rule follows


def test_a_rule_without_a_target_is_reported(synthesized):
    def detach(target):
        target.property_dependencies["rule"] = []
        target.inputs["rule"] = "some-other-rule"

    broken = mutated(synthesized("prod"), "fan-orders-billing-target", detach, resource_type=TARGET)
    [violation] = violations_of(broken, POLICY)
    assert violation.urn.endswith("::fan-orders-billing-rule") and violation.level == "mandatory"
    assert "has no target" in violation.message and "every event it matches is dropped" in violation.message


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (("deadLetterConfig",), "no dead-letter queue"),
        (("retryPolicy",), "no retry policy"),
    ],
)
def test_a_target_without_dlq_or_retry_policy_is_reported(synthesized, keys, expected):
    broken = mutated(
        synthesized("dev"), "lake-orders-order-events-target", _edit(*keys, remove=True), resource_type=TARGET
    )
    [violation] = violations_of(broken, POLICY)
    assert violation.urn.endswith("::lake-orders-order-events-target")
    assert expected in violation.message and "cannot deliver as declared" in violation.message
    assert "rule 'lake-orders-order-events-rule'" in violation.message


def test_a_queue_target_whose_policy_does_not_admit_the_rule_is_reported(synthesized):
    def drop_rule_statement(document):
        document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != "TheseRulesSend"]
        return document

    broken = mutated(synthesized("prod"), "fan-billing-policy", _policy(drop_rule_statement))
    [violation] = violations_of(broken, POLICY)
    assert violation.urn.endswith("::fan-orders-billing-target")
    assert (
        "target queue 'fan-billing-queue' does not allow events.amazonaws.com to sqs:SendMessage" in violation.message
    )
    assert "aws:SourceArn" in violation.message


def test_a_queue_policy_naming_another_rule_is_reported(synthesized):
    def other_rule(document):
        for statement in document["Statement"]:
            if statement.get("Sid") == "TheseRulesSend":
                statement["Condition"]["ArnEquals"]["aws:SourceArn"] = [
                    "arn:aws:events:eu-west-1:222222222222:rule/arcbp-prod-bus/arcbp-prod-fan-something-else"
                ]
        return document

    broken = mutated(synthesized("prod"), "fan-billing-policy", _policy(other_rule))
    assert [v.urn.rsplit("::", 1)[-1] for v in violations_of(broken, POLICY)] == ["fan-orders-billing-target"]


def test_a_dead_letter_queue_with_the_aws_managed_key_is_reported(synthesized):
    broken = mutated(
        synthesized("dev"),
        "ops-hooks-audit-dlq",
        _edit("kmsMasterKeyId", value="alias/aws/sqs"),
        resource_type="aws:sqs/queue:Queue",
    )
    [violation] = violations_of(broken, POLICY)
    assert violation.urn.endswith("::ops-hooks-audit-target")
    assert (
        "dead-letter queue 'ops-hooks-audit-dlq' is encrypted with the AWS managed key alias/aws/sqs"
        in violation.message
    )


def test_a_key_that_does_not_let_eventbridge_encrypt_fails_every_queue_it_protects(synthesized):
    def without_events(document):
        for statement in document["Statement"]:
            services = statement.get("Principal", {}).get("Service")
            if isinstance(services, list) and "events.amazonaws.com" in services:
                services.remove("events.amazonaws.com")
        return document

    graph = synthesized("prod")
    broken = mutated(graph, "platform-key", _policy(without_events), resource_type="aws:kms/key:Key")
    violations = violations_of(broken, POLICY)
    # Each target's DLQ, and the queue target itself, is encrypted with the platform key.
    assert len(violations) == len(graph.by_type(TARGET)) + 1
    assert all(
        "with key 'platform-key', whose policy does not let events.amazonaws.com kms:GenerateDataKey and "
        "kms:Decrypt" in v.message
        for v in violations
    )


def test_a_stream_target_whose_role_eventbridge_cannot_assume_is_reported(synthesized):
    def trust_lambda(role):
        role.inputs["assumeRolePolicy"] = json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        )

    broken = mutated(synthesized("dev"), "lake-hooks-webhook-events-events-role", trust_lambda)
    [violation] = violations_of(broken, POLICY)
    assert violation.urn.endswith("::lake-hooks-webhook-events-target")
    assert "role 'lake-hooks-webhook-events-events-role' does not trust events.amazonaws.com" in violation.message


def test_a_state_machine_target_whose_role_may_not_start_it_is_reported(synthesized):
    def read_only(document):
        for statement in document["Statement"]:
            if statement.get("Sid") == "StartTheStateMachine":
                statement["Action"] = ["states:DescribeExecution"]
        return document

    broken = mutated(synthesized("prod"), "ops-bookings-workflow-events-policy", _policy(read_only))
    [violation] = violations_of(broken, POLICY)
    assert violation.urn.endswith("::ops-bookings-workflow-target")
    assert "has no policy that allows states:StartExecution on the target" in violation.message


def test_a_function_target_without_a_permission_for_the_rule_is_reported(synthesized):
    def other_source(permission):
        permission.inputs["sourceArn"] = "arn:aws:events:eu-west-1:222222222222:rule/arcbp-prod-bus/another-rule"
        permission.outputs["sourceArn"] = permission.inputs["sourceArn"]
        permission.property_dependencies["sourceArn"] = []

    broken = mutated(synthesized("prod"), "ops-audit-events-hooks-audit", other_source)
    [violation] = violations_of(broken, POLICY)
    assert violation.urn.endswith("::ops-hooks-audit-target")
    assert (
        "no Lambda permission lets events.amazonaws.com invoke alias 'ops-audit-alias-live' from this rule"
        in violation.message
    )
