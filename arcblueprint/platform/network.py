"""The application VPC, sized by the CIDR planner for the Lambda functions it hosts.

Private subnets reach AWS services through VPC endpoints only (gateway endpoints for S3 and
DynamoDB, interface endpoints with private DNS for the rest), so there is no NAT and no route
to the internet from them. Interface endpoints are those the stack config asks for plus, on
demand, one for every AWS API a VPC-attached function is granted (:meth:`Network.require`): a
function in this VPC can call an API only if its endpoint exists. All VPC-attached functions
share one security group and the same subnets: Lambda then needs one Hyperplane ENI per subnet,
not one per function. Flow logs go to a log group of the central logging component, like every
other log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws

from arcblueprint.planning.cidr import NetworkDemand, VpcPlan, plan_vpc
from arcblueprint.planning.zones import choose_zone
from arcblueprint.platform.handles import VpcAttachment
from arcblueprint.service_facts import service_trust_policy
from arcblueprint.vpc_access import GATEWAY_SERVICES, endpoint_service, service_name

if TYPE_CHECKING:
    from collections.abc import Sequence

    from arcblueprint.platform.context import StackContext
    from arcblueprint.platform.handles import LogGroups

__all__ = ["Network", "NetworkArgs", "vpc_flow_logs", "zone_id"]

_SERVICE = "network"


@dataclass(frozen=True, kw_only=True)
class NetworkArgs:
    context: StackContext
    log_groups: LogGroups
    #: default: planned from the stack's ``network`` config with :func:`plan_vpc`.
    plan: VpcPlan | None = None


class Network(pulumi.ComponentResource):
    """VPC, per-AZ subnets and route tables, flow logs, VPC endpoints and the shared Lambda security group.

    Attributes
    ----------
    plan : VpcPlan
    vpc : aws.ec2.Vpc
    private_subnet_ids : pulumi.Output[list[str]]
    lambda_security_group : aws.ec2.SecurityGroup
        The one group every VPC-attached function uses; egress only to the VPC's endpoints.
    endpoint_security_group : aws.ec2.SecurityGroup
        On interface endpoints: HTTPS from inside the VPC, nothing else.
    interface_endpoints : dict[str, aws.ec2.VpcEndpoint]
        Endpoint service name -> interface endpoint: the configured ones, then those functions required.
    endpoint_dns : dict[str, pulumi.Output[str]]
        Interface endpoint service -> its regional DNS name (grows as functions require endpoints).
    attachment : VpcAttachment
        What functions receive; its ``endpoints`` is this component.
    """

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("arcblueprint:platform:Network", name, None, opts)
        ctx = args.context
        stack = ctx.stack
        spec = stack.network
        self.plan = plan = args.plan or plan_vpc(NetworkDemand.from_spec(spec))
        child = pulumi.ResourceOptions(parent=self)
        tags = ctx.tags(_SERVICE)

        def tagged(label: str) -> dict[str, str]:
            return {**tags, "Name": ctx.name(label)}

        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=plan.cidr,
            enable_dns_support=True,
            # Private DNS of interface endpoints needs both DNS attributes.
            enable_dns_hostnames=True,
            tags=tagged("vpc"),
            opts=child,
        )
        vpc_id = self.vpc.id
        # Nothing may use the default group by accident: declaring it without rules removes AWS's defaults.
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=vpc_id, tags=tagged("default-unused"), opts=child)
        zones = aws.get_availability_zones_output(state="available", opts=pulumi.InvokeOutputOptions(parent=self))

        def subnets(tier: str, cidrs: tuple[str, ...]) -> list[aws.ec2.Subnet]:
            return [
                aws.ec2.Subnet(
                    f"{name}-{tier}-{i}",
                    vpc_id=vpc_id,
                    cidr_block=cidr,
                    availability_zone_id=zone_id(zones, spec.availability_zone_ids, i, "network.availabilityZones"),
                    map_public_ip_on_launch=False,
                    tags={**tagged(f"{tier}-{i}"), "tier": tier},
                    opts=child,
                )
                for i, cidr in enumerate(cidrs)
            ]

        self.private_subnets = subnets("private", plan.private_subnets)
        self.public_subnets = subnets("public", plan.public_subnets)
        self.isolated_subnets = subnets("isolated", plan.isolated_subnets)

        # One route table per private subnet: an AZ's routing can change without touching the others.
        self.private_route_tables = []
        for i, subnet in enumerate(self.private_subnets):
            table = aws.ec2.RouteTable(f"{name}-private-rt-{i}", vpc_id=vpc_id, tags=tagged(f"private-{i}"), opts=child)
            aws.ec2.RouteTableAssociation(
                f"{name}-private-rta-{i}", subnet_id=subnet.id, route_table_id=table.id, opts=child
            )
            self.private_route_tables.append(table)
        route_tables = list(self.private_route_tables)
        if self.isolated_subnets:
            isolated = aws.ec2.RouteTable(f"{name}-isolated-rt", vpc_id=vpc_id, tags=tagged("isolated"), opts=child)
            for i, subnet in enumerate(self.isolated_subnets):
                aws.ec2.RouteTableAssociation(
                    f"{name}-isolated-rta-{i}", subnet_id=subnet.id, route_table_id=isolated.id, opts=child
                )
            route_tables.append(isolated)
        if self.public_subnets:
            gateway = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc_id, tags=tagged("igw"), opts=child)
            public = aws.ec2.RouteTable(f"{name}-public-rt", vpc_id=vpc_id, tags=tagged("public"), opts=child)
            aws.ec2.Route(
                f"{name}-public-default",
                route_table_id=public.id,
                destination_cidr_block="0.0.0.0/0",
                gateway_id=gateway.id,
                opts=child,
            )
            for i, subnet in enumerate(self.public_subnets):
                aws.ec2.RouteTableAssociation(
                    f"{name}-public-rta-{i}", subnet_id=subnet.id, route_table_id=public.id, opts=child
                )

        self.flow_log = vpc_flow_logs(
            f"{name}-flow", ctx, args.log_groups, vpc_id=vpc_id, label="vpc", traffic=spec.flow_log_traffic, parent=self
        )

        self.gateway_endpoints = {
            service: aws.ec2.VpcEndpoint(
                f"{name}-{service}-gateway",
                vpc_id=vpc_id,
                vpc_endpoint_type="Gateway",
                service_name=service_name(stack.region, service),
                route_table_ids=[t.id for t in route_tables],
                tags=tagged(f"{service}-gateway"),
                opts=child,
            )
            for service in GATEWAY_SERVICES
        }

        self.endpoint_security_group = aws.ec2.SecurityGroup(
            f"{name}-endpoints-sg",
            vpc_id=vpc_id,
            name=ctx.name("vpc-endpoints"),
            description="Interface endpoints: HTTPS from inside the VPC only",
            tags=tagged("vpc-endpoints"),
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-endpoints-https-in",
            security_group_id=self.endpoint_security_group.id,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            cidr_ipv4=plan.cidr,
            description="HTTPS from the VPC",
            tags=tags,
            opts=child,
        )

        private_subnet_ids = [s.id for s in self.private_subnets]
        self._name, self._region, self._tagged = name, stack.region, tagged
        self.interface_endpoints: dict[str, aws.ec2.VpcEndpoint] = {}
        self.endpoint_dns: dict[str, pulumi.Output[str]] = {}
        for service in spec.interface_endpoints:
            self._interface_endpoint(service)

        self.lambda_security_group = aws.ec2.SecurityGroup(
            f"{name}-lambda-sg",
            vpc_id=vpc_id,
            name=ctx.name("lambda"),
            description="Shared by every VPC-attached function: no ingress, egress to VPC endpoints only",
            tags=tagged("lambda"),
            opts=child,
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-lambda-to-endpoints",
            security_group_id=self.lambda_security_group.id,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            referenced_security_group_id=self.endpoint_security_group.id,
            description="HTTPS to interface endpoints",
            tags=tags,
            opts=child,
        )
        for service, endpoint in self.gateway_endpoints.items():
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-lambda-to-{service}",
                security_group_id=self.lambda_security_group.id,
                ip_protocol="tcp",
                from_port=443,
                to_port=443,
                prefix_list_id=endpoint.prefix_list_id,
                description=f"HTTPS to {service} through its gateway endpoint",
                tags=tags,
                opts=child,
            )

        self.private_subnet_ids: pulumi.Output[list[str]] = pulumi.Output.all(*private_subnet_ids)
        self.vpc_id: pulumi.Output[str] = vpc_id
        self.cidr: str = plan.cidr
        self.attachment = VpcAttachment(
            subnet_ids=self.private_subnet_ids, security_group_id=self.lambda_security_group.id, endpoints=self
        )
        self.register_outputs(
            {
                "vpcId": vpc_id,
                "cidr": plan.cidr,
                "privateSubnetIds": self.private_subnet_ids,
                "lambdaSecurityGroupId": self.lambda_security_group.id,
                "endpointSecurityGroupId": self.endpoint_security_group.id,
            }
        )

    def require(self, api: str) -> None:
        """Give the VPC's functions a path to the API of IAM prefix ``api`` (see :class:`ServiceEndpoints`).

        S3 and DynamoDB are reached through the gateway endpoints every private route table has and
        the Lambda group's egress to their prefix lists; any other API gets its interface endpoint,
        declared once, on the shared subnets and endpoint security group, with private DNS so the
        SDK's default endpoint resolves to it.
        """
        service = endpoint_service(api)
        if service not in GATEWAY_SERVICES:
            self._interface_endpoint(service)

    def _interface_endpoint(self, service: str) -> aws.ec2.VpcEndpoint:
        if service in self.interface_endpoints:
            return self.interface_endpoints[service]
        endpoint = aws.ec2.VpcEndpoint(
            f"{self._name}-{service}-endpoint",
            vpc_id=self.vpc.id,
            vpc_endpoint_type="Interface",
            service_name=service_name(self._region, service),
            private_dns_enabled=True,
            subnet_ids=[s.id for s in self.private_subnets],
            security_group_ids=[self.endpoint_security_group.id],
            tags=self._tagged(f"{service}-endpoint"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.interface_endpoints[service] = endpoint
        self.endpoint_dns[service] = endpoint.dns_entries.apply(
            lambda entries: entries[0]["dns_name"] if entries else ""
        )
        return endpoint


def zone_id(zones: pulumi.Output[Any], pinned: Sequence[str], index: int, key: str) -> pulumi.Output[str]:
    """The id of the ``index``-th zone: the pinned one, else the region's ``index``-th available zone.

    Subnets are placed by zone *id*: names map to different physical zones in every account, ids
    do not, and what must match across VPCs (an endpoint and its service's load balancer) is the
    physical zone. A pinned id the region does not offer, or an index past the region's zones,
    is a one-line error naming the config key.
    """

    return zones.zone_ids.apply(lambda ids: choose_zone(ids, pinned, index, key))


def vpc_flow_logs(
    name: str,
    ctx: StackContext,
    log_groups: LogGroups,
    *,
    vpc_id: pulumi.Input[str],
    label: str,
    traffic: str,
    parent: pulumi.Resource,
) -> aws.ec2.FlowLog:
    """Flow logs of one VPC into a central log group, written through a role scoped to that group."""
    stack = ctx.stack
    opts = pulumi.ResourceOptions(parent=parent)
    group = log_groups.log_group(
        f"{name}-logs", f"/aws/vpc/flow-logs/{ctx.name(label)}", service=_SERVICE, parent=parent
    )
    role = aws.iam.Role(
        f"{name}-role",
        name=ctx.name(label, "flow-logs"),
        assume_role_policy=service_trust_policy("vpc-flow-logs.amazonaws.com", account_id=stack.account_id),
        tags=ctx.tags(_SERVICE),
        opts=opts,
    )
    aws.iam.RolePolicy(
        f"{name}-policy",
        role=role.id,
        policy=pulumi.Output.json_dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "WriteThisLogGroupOnly",
                        "Effect": "Allow",
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                        "Resource": [group.arn, pulumi.Output.concat(group.arn, ":log-stream:*")],
                    }
                ],
            }
        ),
        opts=opts,
    )
    return aws.ec2.FlowLog(
        f"{name}-log",
        vpc_id=vpc_id,
        traffic_type=traffic,
        log_destination_type="cloud-watch-logs",
        log_destination=group.arn,
        iam_role_arn=role.arn,
        max_aggregation_interval=60,
        tags=ctx.tags(_SERVICE),
        opts=opts,
    )
