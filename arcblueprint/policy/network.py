"""Network: no ingress from the internet, VPC flow logs, VPC no larger than the planner says."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from arcblueprint.policy.base import (
    as_list,
    is_mapping,
    known,
    linked,
    number,
    resource_policy,
    resources_of,
    stack_policy,
)

if TYPE_CHECKING:
    from pulumi_policy import ResourceValidationArgs, StackValidationArgs

    from arcblueprint.policy.base import ReportViolation

__all__ = ["NO_PUBLIC_INGRESS", "POLICIES", "VPC_CIDR_WITHIN_PLAN", "VPC_FLOW_LOGS"]

SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"

_ANYWHERE = {"0.0.0.0/0", "::/0"}


def _open_ranges(*values: Any) -> list[str]:
    return sorted({str(v) for value in values for v in as_list(value) if str(v) in _ANYWHERE})


def validate_no_public_ingress(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Functions and proxies are reached through API Gateway, load balancers or PrivateLink, never directly."""
    props, kind = args.props, args.resource_type
    if kind == SECURITY_GROUP:
        opened = [
            r
            for rule in as_list(props.get("ingress"))
            for r in _open_ranges(rule.get("cidrBlocks"), rule.get("ipv6CidrBlocks"))
            if is_mapping(rule)
        ]
    elif kind == INGRESS_RULE:
        opened = _open_ranges(props.get("cidrIpv4"), props.get("cidrIpv6"))
    elif props.get("type") == "ingress":
        opened = _open_ranges(props.get("cidrBlocks"), props.get("ipv6CidrBlocks"))
    else:
        opened = []
    if opened:
        report_violation(
            f"Security group rule '{args.name}' allows ingress from {', '.join(sorted(set(opened)))}; "
            "allow only the ranges and security groups that need access."
        )


NO_PUBLIC_INGRESS = resource_policy(
    "sg-no-public-ingress",
    "Security groups allow no ingress from 0.0.0.0/0 or ::/0.",
    validate_no_public_ingress,
    types=[SECURITY_GROUP, INGRESS_RULE, SECURITY_GROUP_RULE],
)


def validate_vpc_flow_logs(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Flow logs are the only record of who talked to what inside a VPC."""
    flow_logs = list(resources_of(args, FLOW_LOG))
    for vpc in resources_of(args, VPC):
        vpc_id = known(vpc.props, "id")
        if not any(
            vpc in linked(f, "vpcId") or (isinstance(vpc_id, str) and known(f.props, "vpcId") == vpc_id)
            for f in flow_logs
        ):
            report_violation(f"VPC '{vpc.name}' has no flow log.", vpc.urn)


VPC_FLOW_LOGS = stack_policy("vpc-flow-logs", "Every VPC has flow logs.", validate_vpc_flow_logs)


def validate_vpc_cidr_within_plan(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """No VPC is larger than the CIDR planner's result for the configured demand plus headroom: address
    space is shared with on-prem and other VPCs, so oversizing one takes it from the rest."""
    planned = number(args.get_config().get("plannedPrefixLength"))
    if planned is None:
        args.not_applicable("plannedPrefixLength is not configured (run with the stack's policy config)")
        return  # not reached: not_applicable raises, though the SDK annotates it as returning None
    for vpc in resources_of(args, VPC):
        cidr, netmask = known(vpc.props, "cidrBlock"), number(known(vpc.props, "ipv4NetmaskLength"))
        try:
            prefix = ipaddress.ip_network(cidr).prefixlen if isinstance(cidr, str) and cidr else netmask
        except ValueError:
            prefix = netmask
        if prefix is not None and prefix < planned:
            report_violation(
                f"VPC '{vpc.name}' is /{prefix:g}, larger than the planned /{planned:g}; size it from "
                "the network demand (arcblueprint.planning.cidr.plan_vpc).",
                vpc.urn,
            )


VPC_CIDR_WITHIN_PLAN = stack_policy(
    "vpc-cidr-within-plan",
    "VPCs are no larger than the CIDR planner's result for the configured demand.",
    validate_vpc_cidr_within_plan,
    parameters={
        "plannedPrefixLength": {
            "type": "integer",
            "minimum": 8,
            "maximum": 28,
            "description": "prefix length plan_vpc computed for the stack",
        }
    },
)

POLICIES = [NO_PUBLIC_INGRESS, VPC_FLOW_LOGS, VPC_CIDR_WITHIN_PLAN]
