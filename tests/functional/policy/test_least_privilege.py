"""Least privilege on the shipped prod graph: service role trust, the key policy, topic TLS, function roles.

Each rule passes on the stacks as shipped (also as a first preview sees them) and fails, naming the
resource and the control, when the prod graph is turned back into the defect it exists for.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from arcblueprint.code_calls import from_tags
from arcblueprint.policy.testing import mutated, violations_of
from arcblueprint.service_facts import CALLER_KEY_SERVICES, TOPIC_POLICY_ACTIONS

RULES = ["iam-service-role-source-condition", "kms-key-service-principals", "sns-topic-tls-only"]
CODE_CALLS = "lambda-role-within-code-calls"


def _named(graph, name):
    [resource] = [r for r in graph.resources if r.name == name]
    return resource


def _set_json(prop, edit):
    """A change that edits the JSON document in ``prop`` (inputs, and outputs where the mocks echo it)."""

    def change(resource):
        document = json.loads(resource.inputs[prop])
        edit(document)
        resource.inputs[prop] = json.dumps(document)
        resource.outputs.pop(prop, None)

    return change


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("rule", [*RULES, CODE_CALLS])
def test_the_shipped_stacks_pass(synthesized, stack, rule):
    # (as a first preview sees them too: tests/functional/policy/test_first_preview.py runs the whole pack)
    assert violations_of(synthesized(stack), rule) == []


@pytest.mark.parametrize("rule", [*RULES, CODE_CALLS, "lambda-async-failure-destination"])
def test_mandatory_in_prod_advisory_in_dev(synthesized, rule):
    from arcblueprint.policy.config import pack_config_for

    levels = {stack: pack_config_for(synthesized(stack).config)[rule]["enforcementLevel"] for stack in ("dev", "prod")}
    assert levels == {"dev": "advisory", "prod": "mandatory"}


# --- service roles trust only this account's sources -----------------------------------------------


@pytest.mark.parametrize(
    ("role", "service", "source"),
    [
        ("bookings-saga-role", "states.amazonaws.com", ":stateMachine:*"),
        ("ops-workflow-role", "states.amazonaws.com", ":stateMachine:*"),
        ("lake-orders-order-events-events-role", "events.amazonaws.com", ":rule/arcbp-prod-bus/"),
        ("ops-scheduler-role", "scheduler.amazonaws.com", ":schedule-group/arcbp-prod-ops"),
    ],
)
def test_a_service_role_trusts_only_this_accounts_sources(synthesized, role, service, source):
    graph = synthesized("prod")
    [statement] = json.loads(_named(graph, role).inputs["assumeRolePolicy"])["Statement"]
    assert statement["Principal"] == {"Service": service}
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": "222222222222"}
    assert source in statement["Condition"]["ArnLike"]["aws:SourceArn"]
    assert ":222222222222:" in statement["Condition"]["ArnLike"]["aws:SourceArn"]

    def drop(document):
        document["Statement"][0].pop("Condition")

    [violation] = violations_of(mutated(graph, role, _set_json("assumeRolePolicy", drop)), RULES[0])
    assert violation.urn.endswith(f"::{role}")
    assert f"lets {service} assume it for any account's resources" in violation.message


def test_an_if_exists_or_wildcard_source_does_not_pin_the_account(synthesized):
    def loosen(document):
        document["Statement"][0]["Condition"] = {"StringEqualsIfExists": {"aws:SourceAccount": "222222222222"}}

    graph = mutated(synthesized("prod"), "ops-scheduler-role", _set_json("assumeRolePolicy", loosen))
    assert len(violations_of(graph, RULES[0])) == 1

    def wildcard(document):
        document["Statement"][0]["Condition"] = {"ArnLike": {"aws:SourceArn": "*"}}

    graph = mutated(synthesized("prod"), "ops-scheduler-role", _set_json("assumeRolePolicy", wildcard))
    assert len(violations_of(graph, RULES[0])) == 1


def test_roles_of_services_that_send_no_source_keys_are_left_alone(synthesized):
    """API Gateway's integration role must not carry the condition (apigateway-integration-role-trust)."""
    graph = synthesized("prod")
    trust = json.loads(_named(graph, "fan-api-role").inputs["assumeRolePolicy"])
    assert "Condition" not in trust["Statement"][0]
    assert violations_of(graph, "apigateway-integration-role-trust") == []


# --- the key policy names only services that use the key themselves --------------------------------


def test_the_platform_key_names_no_service_that_uses_the_callers_permissions(synthesized):
    key = _named(synthesized("prod"), "platform-key")
    services: set[str] = set()
    for statement in json.loads(key.inputs["policy"])["Statement"]:
        named = statement["Principal"].get("Service") or []
        services.update([named] if isinstance(named, str) else named)
    assert {"events.amazonaws.com", "sns.amazonaws.com", "cloudwatch.amazonaws.com"} <= services
    assert not services & set(CALLER_KEY_SERVICES)


@pytest.mark.parametrize("service", ["dynamodb.amazonaws.com", "kinesis.amazonaws.com", "states.amazonaws.com"])
def test_a_key_granted_to_a_service_that_acts_with_the_callers_role_is_reported(synthesized, service):
    def add(document):
        [shared] = [s for s in document["Statement"] if s.get("Sid") == "ServicesUseTheKeyForThisAccount"]
        shared["Principal"]["Service"].append(service)

    [violation] = violations_of(mutated(synthesized("prod"), "platform-key", _set_json("policy", add)), RULES[1])
    assert violation.urn.endswith("::platform-key") and f"lets {service} use it" in violation.message
    assert "remove the service principal" in violation.message


# --- topics refuse every action without TLS --------------------------------------------------------


@pytest.mark.parametrize("topic", ["fan-topic", "alarms-topic"])
def test_every_topic_action_is_denied_without_tls(synthesized, topic):
    graph = synthesized("prod")
    [deny] = [
        s for s in json.loads(_named(graph, f"{topic}-policy").inputs["policy"])["Statement"] if s["Effect"] == "Deny"
    ]
    assert {"sns:Subscribe", "sns:SetTopicAttributes", "sns:Publish"} <= set(deny["Action"])
    assert "sns:*" not in deny["Action"]  # SNS refuses a topic policy naming it (out of service scope)

    def publish_only(document):
        for statement in document["Statement"]:
            if statement["Effect"] == "Deny":
                statement["Action"] = "sns:Publish"

    [violation] = violations_of(mutated(graph, f"{topic}-policy", _set_json("policy", publish_only)), RULES[2])
    assert violation.urn.endswith(f"::{topic}")
    assert "sns:Subscribe" in violation.message and "sns:Publish," not in violation.message


def test_a_topic_without_a_policy_is_reported(synthesized):
    graph = synthesized("prod")
    without = dataclasses.replace(graph, resources=[r for r in graph.resources if r.name != "fan-topic-policy"])
    [violation] = violations_of(without, RULES[2])
    assert violation.urn.endswith("::fan-topic")
    assert all(action in violation.message for action in TOPIC_POLICY_ACTIONS)


# --- a function's role grants only what its code calls ---------------------------------------------

ITEM_ACTIONS = [
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
]


@pytest.mark.parametrize(
    ("policy", "function", "kept"),
    [
        ("hooks-receiver-table-read-write-2", "hooks-receiver-function", ["dynamodb:UpdateItem"]),
        (
            "bookings-saga-steps-table-read-write",
            "bookings-saga-steps-function",
            ["dynamodb:GetItem", "dynamodb:UpdateItem"],
        ),
    ],
)
def test_a_role_granting_more_than_the_code_calls_is_reported(synthesized, policy, function, kept):
    """The receiver's status table and the saga steps' table had the eight item actions for one or two calls."""
    graph = synthesized("prod")
    [table] = [
        s for s in json.loads(_named(graph, policy).inputs["policy"])["Statement"] if s["Sid"] == "TableReadWrite"
    ]
    assert table["Action"] == kept

    def all_eight(document):
        for statement in document["Statement"]:
            if statement["Sid"] == "TableReadWrite":
                statement["Action"] = ITEM_ACTIONS

    [violation] = violations_of(mutated(graph, policy, _set_json("policy", all_eight)), CODE_CALLS)
    assert violation.urn.endswith(f"::{function}") and f"role policy '{policy}'" in violation.message
    # The rule judges the role against what the code calls anywhere (the receiver puts items in its
    # idempotency table): the actions no code path calls are the ones reported.
    declared = from_tags(_named(graph, function).inputs["tags"])
    extra = sorted(set(ITEM_ACTIONS) - declared)
    assert extra and f"allows {', '.join(extra)}, which its code does not call" in violation.message


def test_an_on_behalf_sid_does_not_hide_a_call_of_the_code(synthesized):
    def smuggle(document):
        document["Statement"].append(
            {"Sid": "OnBehalfTable", "Effect": "Allow", "Action": ["dynamodb:DeleteTable"], "Resource": "*"}
        )

    graph = mutated(synthesized("prod"), "ops-jobs-table-read-write", _set_json("policy", smuggle))
    [violation] = violations_of(graph, CODE_CALLS)
    assert violation.urn.endswith("::ops-jobs-function") and "allows dynamodb:DeleteTable" in violation.message


def test_a_function_without_its_allow_list_is_reported(synthesized):
    def untag(function):
        function.inputs["tags"].pop("code-calls")
        function.outputs.pop("tags", None)
        function.outputs.pop("tagsAll", None)

    [violation] = violations_of(mutated(synthesized("prod"), "ops-audit-function", untag), CODE_CALLS)
    assert violation.urn.endswith("::ops-audit-function") and "declares no allow-list" in violation.message
