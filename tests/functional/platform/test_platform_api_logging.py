"""API Gateway can write the stages' access logs: its account-level CloudWatch role is set, after the
role's policy, and every logging stage is created after it (or the stack leaves it to another owner)."""

from __future__ import annotations

import pytest

from arcblueprint.policy.testing import violations_of


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_api_gateway_account_role_is_set_with_the_push_policy(synthesized, stack):
    graph = synthesized(stack)
    accounts = graph.by_type("aws:apigateway/account:Account")
    assert len(accounts) == 1
    roles = {r.outputs.get("arn"): r for r in graph.by_type("aws:iam/role:Role")}
    role = roles[accounts[0].inputs["cloudwatchRoleArn"]]
    assert "apigateway.amazonaws.com" in role.inputs["assumeRolePolicy"]
    attached = [
        a
        for a in graph.by_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.inputs["role"] == role.inputs["name"]
    ]
    assert [a.inputs["policyArn"] for a in attached] == [
        "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
    ]
    # UpdateAccount checks the role can write logs: the policy must be attached before.
    assert attached[0].urn in accounts[0].dependencies


def test_a_stack_can_leave_the_account_setting_to_another_owner(synthesized):
    from arcblueprint.config import read_stack_file
    from arcblueprint.preview.harness import REPO_ROOT, synthesize

    logging = {**read_stack_file(REPO_ROOT, "dev")["arcblueprint:logging"], "manageApiGatewayAccount": False}
    graph = synthesize("dev", overrides={"arcblueprint:logging": logging})
    assert graph.by_type("aws:apigateway/account:Account") == []
    stages = graph.by_type("aws:apigateway/stage:Stage")
    assert len(stages) == 4 and all(s.inputs["accessLogSettings"] for s in stages)
    # The role pre-exists (docs): nothing in the stack to wait for, and the rule does not ask for it.
    assert not any("apigateway/account" in u for s in stages for u in s.dependencies)
    assert violations_of(graph, "apigateway-logging-after-account") == []
