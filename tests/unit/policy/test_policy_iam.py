"""IAM: no * actions, * resources only for allow-listed actions; trust and key policies exempt."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from arcblueprint.policy import iam
from arcblueprint.policy.testing import COMPLIANT_PROPS, run_resource

ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ROLE = "aws:iam/role:Role"


def document(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_compliant_policy_passes_both_rules():
    props = COMPLIANT_PROPS[ROLE_POLICY]
    assert run_resource(iam.NO_STAR_ACTION, ROLE_POLICY, props).messages == []
    assert run_resource(iam.NO_STAR_RESOURCE, ROLE_POLICY, props).messages == []


def test_star_and_service_star_actions_are_caught():
    for action in ("*", "s3:*", ["sqs:SendMessage", "dynamodb:*"]):
        props = {"policy": document({"Effect": "Allow", "Action": action, "Resource": "arn:aws:s3:::b/*"})}
        assert len(run_resource(iam.NO_STAR_ACTION, ROLE_POLICY, props).messages) == 1
    not_action = {"policy": document({"Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:aws:s3:::b"})}
    assert run_resource(iam.NO_STAR_ACTION, ROLE_POLICY, not_action).messages


def test_role_inline_policies_are_checked_and_trust_policy_is_not():
    role = {
        "assumeRolePolicy": document({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "*"}}),
        "inlinePolicies": [
            {"name": "runtime", "policy": document({"Effect": "Allow", "Action": "sqs:*", "Resource": "*"})}
        ],
    }
    assert "'runtime'" in run_resource(iam.NO_STAR_ACTION, ROLE, role).messages[0]
    assert "sqs:*" in run_resource(iam.NO_STAR_RESOURCE, ROLE, role).messages[0]
    trust_only = {"assumeRolePolicy": role["assumeRolePolicy"]}
    assert run_resource(iam.NO_STAR_RESOURCE, ROLE, trust_only).messages == []


def test_key_policies_are_exempt():
    key = {"policy": document({"Effect": "Allow", "Action": "kms:*", "Resource": "*"})}
    assert run_resource(iam.NO_STAR_ACTION, "aws:kms/key:Key", key).messages == []
    assert run_resource(iam.NO_STAR_RESOURCE, "aws:kms/key:Key", key).messages == []


def test_deny_statements_may_use_stars():
    props = {"policy": document({"Effect": "Deny", "Action": "*", "Resource": "*"})}
    assert run_resource(iam.NO_STAR_ACTION, "aws:iam/policy:Policy", props).messages == []
    assert run_resource(iam.NO_STAR_RESOURCE, "aws:iam/policy:Policy", props).messages == []


@given(
    st.lists(st.sampled_from(iam.STAR_RESOURCE_ALLOWLIST), min_size=1, max_size=4),
    st.lists(st.sampled_from(["s3:GetObject", "sqs:SendMessage", "dynamodb:Query", "kms:Decrypt"]), max_size=2),
)
def test_star_resource_fires_exactly_when_a_scopable_action_is_included(allowed, scopable):
    props = {"policy": document({"Effect": "Allow", "Action": allowed + scopable, "Resource": "*"})}
    found = run_resource(iam.NO_STAR_RESOURCE, ROLE_POLICY, props).messages
    assert bool(found) == bool(scopable)
    if scopable:
        assert all(action in found[0] for action in scopable)


def test_every_allow_listed_action_is_explained():
    assert all(len(reason) > 20 for reason in iam.STAR_RESOURCE_ACTIONS.values())
