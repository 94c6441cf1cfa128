"""API Gateway can write the stages' access logs: its account-level CloudWatch role is set."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_api_gateway_account_role_is_set_with_the_push_policy(synthesized, stack):
    graph = synthesized(stack)
    accounts = graph.by_type("aws:apigateway/account:Account")
    assert len(accounts) == 1
    roles = {r.outputs.get("arn"): r for r in graph.by_type("aws:iam/role:Role")}
    role = roles[accounts[0].inputs["cloudwatchRoleArn"]]
    assert "apigateway.amazonaws.com" in role.inputs["assumeRolePolicy"]
    attached = [a.inputs["policyArn"] for a in graph.by_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                if a.inputs["role"] == role.inputs["name"]]
    assert attached == ["arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"]


def test_a_stack_can_leave_the_account_setting_to_another_owner(synthesized):
    from arcblueprint.config import read_stack_file
    from arcblueprint.preview.harness import REPO_ROOT, synthesize

    logging = {**read_stack_file(REPO_ROOT, "dev")["arcblueprint:logging"], "manageApiGatewayAccount": False}
    graph = synthesize("dev", overrides={"arcblueprint:logging": logging})
    assert graph.by_type("aws:apigateway/account:Account") == []
