"""secret-rotation-not-denied and secret-rotation-waits-for-value on the prod stack's rotated webhook key."""

from __future__ import annotations

import json

import pytest

from arcblueprint.policy.testing import mutated, violations_of
from arcblueprint.policy.wiring.secrets import denied_actions

NOT_DENIED = "secret-rotation-not-denied"
WAITS = "secret-rotation-waits-for-value"
POLICY = "secrets-webhook-signing-policy"
ROTATION = "secrets-webhook-signing-rotation"
ROLE = "arn:aws:iam::222222222222:role/arcbp-prod-secret-rotation"


def _policy(graph):
    [policy] = [r for r in graph.resources if r.name == POLICY]
    return json.loads(policy.inputs["policy"])


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("rule", [NOT_DENIED, WAITS])
def test_shipped_stacks_pass(synthesized, stack, rule):
    assert violations_of(synthesized(stack), rule) == []


def test_prod_rotates_the_webhook_key_and_exempts_its_role(synthesized):
    graph = synthesized("prod")
    assert graph.config.secrets["webhook-signing"].rotation_role_arn == ROLE
    [rotation] = [r for r in graph.resources if r.name == ROTATION]
    assert rotation.inputs["rotateImmediately"] is False
    [deny] = [s for s in _policy(graph)["Statement"] if s["Effect"] == "Deny"]
    assert ROLE in deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
    assert denied_actions(_policy(graph), ROLE) == []


def _set_policy(document):
    def change(policy):
        for props in (policy.inputs, policy.outputs):
            if "policy" in props:
                props["policy"] = json.dumps(document)

    return change


def test_deny_without_the_rotation_role_is_reported_with_the_fix(synthesized):
    graph = synthesized("prod")
    document = _policy(graph)
    for statement in document["Statement"]:
        if statement["Effect"] == "Deny":  # back to the readers-only Deny of the defect
            statement["Condition"]["ArnNotEquals"]["aws:PrincipalArn"].remove(ROLE)
    [violation] = violations_of(mutated(graph, POLICY, _set_policy(document)), NOT_DENIED)
    assert violation.urn.endswith(f"::{POLICY}") and violation.level == "mandatory"
    assert "denies secretsmanager:GetSecretValue" in violation.message and ROLE in violation.message
    assert "Exempt the rotation role" in violation.message


def test_rotation_whose_role_is_unknown_is_reported(synthesized):
    graph = synthesized("prod")

    def other_function(rotation):
        rotation.inputs["rotationLambdaArn"] = "arn:aws:lambda:eu-west-1:222222222222:function:somebody-else"

    [violation] = violations_of(mutated(graph, ROTATION, other_function), NOT_DENIED)
    assert violation.urn.endswith(f"::{ROTATION}") and "rotationRoleArn" in violation.message


@pytest.mark.parametrize(("function", "allowed"), [("hooks-receiver-function", True), ("fan-billing-function", False)])
def test_rotation_function_in_the_stack_is_judged_by_its_role(synthesized, function, allowed):
    """The receiver's role reads the key (exempt from the Deny); a Big Fan consumer's role is not."""
    graph = synthesized("prod")
    [target] = [r for r in graph.resources if r.name == function and r.type == "aws:lambda/function:Function"]

    def rotated_by(rotation):
        rotation.inputs["rotationLambdaArn"] = target.outputs["arn"]
        rotation.property_dependencies["rotationLambdaArn"] = [target.urn]

    violations = violations_of(mutated(graph, ROTATION, rotated_by), NOT_DENIED)
    assert (violations == []) is allowed
    if not allowed:
        role = next(r for r in graph.resources if r.urn == target.property_dependencies["role"][0])
        assert role.outputs["arn"] in violations[0].message


@pytest.mark.parametrize("setting", [None, True])
def test_immediate_rotation_of_a_secret_without_a_value_is_reported(synthesized, setting):
    graph = synthesized("prod")

    def immediately(rotation):
        if setting is None:
            rotation.inputs.pop("rotateImmediately")
            rotation.outputs.pop("rotateImmediately", None)
        else:
            rotation.inputs["rotateImmediately"] = setting

    [violation] = violations_of(mutated(graph, ROTATION, immediately), WAITS)
    assert violation.urn.endswith(f"::{ROTATION}") and "Set rotateImmediately=False" in violation.message
    assert ("provider default is true" in violation.message) is (setting is None)


ACTIONS = [
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetSecretValue",
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecretVersionStage",
]


@pytest.mark.parametrize(
    ("statement", "denied"),
    [
        ({"Effect": "Deny", "Principal": "*", "Action": "secretsmanager:*", "Resource": "*"}, ACTIONS),
        (
            {
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": "secretsmanager:Put*",
                "Resource": "*",
                "Condition": {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::222222222222:role/readers-*"}},
            },
            ["secretsmanager:PutSecretValue"],
        ),
        (
            {"Effect": "Deny", "Principal": "*", "NotAction": "secretsmanager:DescribeSecret", "Resource": "*"},
            ACTIONS[1:],
        ),
        (
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "*",
                "Resource": "*",
                "Condition": {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::222222222222:role/arcbp-*"}},
            },
            [],
        ),
        (
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "*",
                "Resource": "*",  # TLS only: rotation uses TLS
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            [],
        ),
        ({"Effect": "Deny", "NotPrincipal": {"AWS": ROLE}, "Action": "*", "Resource": "*"}, []),
        ({"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::222222222222:role/other"}, "Action": "*"}, []),
        ({"Effect": "Allow", "Principal": "*", "Action": "*"}, []),
    ],
)
def test_which_denies_block_the_rotation_role(statement, denied):
    assert denied_actions({"Statement": [statement]}, ROLE) == denied
