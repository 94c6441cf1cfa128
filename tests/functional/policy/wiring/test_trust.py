"""apigateway-integration-role-trust: API Gateway can assume every integration's credentials role."""

from __future__ import annotations

import json

import pytest

from arcblueprint.policy.testing import mutated, violations_of
from arcblueprint.policy.wiring.trust import blocking_keys

POLICY = "apigateway-integration-role-trust"
ROLE = "fan-api-role"


def _trust(graph):
    [role] = [r for r in graph.resources if r.name == ROLE]
    return json.loads(role.inputs["assumeRolePolicy"])


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_shipped_stacks_let_api_gateway_assume_the_publish_role(synthesized, stack):
    graph = synthesized(stack)
    assert violations_of(graph, POLICY) == []
    [integration] = [r for r in graph.resources if r.name == "fan-publish-integration"]
    [role] = [r for r in graph.resources if r.name == ROLE]
    assert integration.property_dependencies["credentials"] == [role.urn]  # the rule has an edge to follow
    [statement] = _trust(graph)["Statement"]
    assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"} and "Condition" not in statement


def _set_trust(document):
    def change(role):
        role.inputs["assumeRolePolicy"] = json.dumps(document)
        if "assumeRolePolicy" in role.outputs:
            role.outputs["assumeRolePolicy"] = json.dumps(document)

    return change


def test_source_account_condition_is_reported_with_the_fix(synthesized):
    graph = synthesized("prod")
    document = _trust(graph)
    document["Statement"][0]["Condition"] = {"StringEquals": {"aws:SourceAccount": "222222222222"}}
    [violation] = violations_of(mutated(graph, ROLE, _set_trust(document)), POLICY)
    assert violation.urn.endswith(f"::{ROLE}") and violation.level == "mandatory"
    assert "StringEquals aws:SourceAccount" in violation.message and "fan-publish-integration" in violation.message
    assert "Remove the condition" in violation.message


def test_role_that_does_not_trust_api_gateway_is_reported(synthesized):
    graph = synthesized("dev")
    document = _trust(graph)
    document["Statement"][0]["Principal"] = {"Service": "lambda.amazonaws.com"}
    [violation] = violations_of(mutated(graph, ROLE, _set_trust(document)), POLICY)
    assert violation.urn.endswith(f"::{ROLE}") and "does not allow apigateway.amazonaws.com" in violation.message


def test_source_arn_pattern_is_treated_as_unsent(synthesized):
    graph = synthesized("prod")
    document = _trust(graph)
    document["Statement"][0]["Condition"] = {
        "ArnLike": {"aws:SourceArn": "arn:aws:execute-api:eu-west-1:222222222222:abc123/*"}
    }
    [violation] = violations_of(mutated(graph, ROLE, _set_trust(document)), POLICY)
    assert "ArnLike aws:SourceArn" in violation.message


@pytest.mark.parametrize(
    ("condition", "blocks"),
    [
        ({"StringEquals": {"AWS:SourceAccount": "1"}}, True),  # key names are case-insensitive in IAM
        ({"StringEqualsIfExists": {"aws:SourceAccount": "1"}}, False),
        ({"Null": {"aws:SourceArn": "true"}}, False),
        ({"Null": {"aws:SourceArn": "false"}}, True),
        ({"StringEquals": {"aws:PrincipalTag/team": "x"}}, False),
        (None, False),
    ],
)
def test_which_conditions_need_a_key_api_gateway_does_not_send(condition, blocks):
    assert bool(blocking_keys(condition)) is blocks
