"""Security group ingress, flow logs, VPC size against the plan."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arcblueprint.policy import network
from arcblueprint.policy.testing import resource, run_resource, run_stack

SG = "aws:ec2/securityGroup:SecurityGroup"
RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LEGACY_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
VPC = "aws:ec2/vpc:Vpc"


@pytest.mark.parametrize(
    ("kind", "props"),
    [
        (SG, {"ingress": [{"cidrBlocks": ["10.0.0.0/8", "0.0.0.0/0"], "fromPort": 443.0, "toPort": 443.0}]}),
        (SG, {"ingress": [{"ipv6CidrBlocks": ["::/0"], "fromPort": 22.0, "toPort": 22.0}]}),
        (RULE, {"cidrIpv4": "0.0.0.0/0"}),
        (RULE, {"cidrIpv6": "::/0"}),
        (LEGACY_RULE, {"type": "ingress", "cidrBlocks": ["0.0.0.0/0"]}),
    ],
)
def test_ingress_from_anywhere_is_caught(kind, props):
    assert len(run_resource(network.NO_PUBLIC_INGRESS, kind, props).messages) == 1


@pytest.mark.parametrize(
    ("kind", "props"),
    [
        (SG, {"ingress": [{"cidrBlocks": ["10.0.0.0/8"]}], "egress": [{"cidrBlocks": ["0.0.0.0/0"]}]}),
        (RULE, {"referencedSecurityGroupId": "sg-1"}),
        (LEGACY_RULE, {"type": "egress", "cidrBlocks": ["0.0.0.0/0"]}),
    ],
)
def test_private_ingress_and_egress_pass(kind, props):
    assert run_resource(network.NO_PUBLIC_INGRESS, kind, props).messages == []


def test_every_vpc_has_a_flow_log():
    vpc = resource(VPC, "app-vpc", {"cidrBlock": "10.0.0.0/16"})
    log = resource("aws:ec2/flowLog:FlowLog", "app-flow", {"trafficType": "ALL"}, depends={"vpcId": [vpc]})
    assert run_stack(network.VPC_FLOW_LOGS, [vpc, log]).violations == []
    assert [u for u, _ in run_stack(network.VPC_FLOW_LOGS, [vpc]).violations] == [vpc.urn]


@given(st.integers(min_value=8, max_value=28), st.integers(min_value=8, max_value=28))
def test_vpc_no_larger_than_plan(actual, planned):
    vpc = resource(VPC, "app-vpc", {"cidrBlock": f"10.0.0.0/{actual}"})
    found = run_stack(network.VPC_CIDR_WITHIN_PLAN, [vpc], {"plannedPrefixLength": float(planned)})
    assert bool(found.violations) == (actual < planned)


def test_vpc_plan_not_applicable_without_config():
    vpc = resource(VPC, "app-vpc", {"cidrBlock": "10.0.0.0/8"})
    assert run_stack(network.VPC_CIDR_WITHIN_PLAN, [vpc]).violations == []
