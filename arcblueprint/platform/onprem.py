"""The path from VPC-attached functions to on-prem: proxies in a small VPC, published over PrivateLink.

This is the HSBC example of the ARC307 seeds: the VPC connected to on-prem (Direct Connect or
VPN, an input here, never created) stays deliberately small, its CIDR computed from the number
of proxies, and fronts the proxies with a Network Load Balancer published as a VPC endpoint
service. The application VPC reaches it through one interface endpoint, so the two VPCs never
route to each other and their CIDRs may even overlap; only the shared Lambda security group may
open connections to the endpoint, and only the application account may create endpoints to it.

Private DNS: an endpoint service can carry a ``private_dns_name`` only after its owner proves
control of the domain with a TXT record in *public* DNS; a blueprint cannot assume a public
domain. So the endpoint gets a friendly name from a Route 53 private hosted zone associated
with the application VPC only (``proxy.<prefix>.internal``), an alias to the endpoint's DNS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from arcblueprint.platform.cidr import VpcPlan, plan_onprem_vpc
from arcblueprint.platform.network import vpc_flow_logs, zone_id

if TYPE_CHECKING:
    from arcblueprint.platform.context import StackContext
    from arcblueprint.platform.handles import LogGroups
    from arcblueprint.platform.network import Network

__all__ = ["OnPremAccess", "OnPremAccessArgs"]

_SERVICE = "on-prem"
_GRAVITON = re.compile(r"^[a-z]+\d+[a-z]*g[a-z]*\.")


@dataclass(frozen=True, kw_only=True)
class OnPremAccessArgs:
    context: StackContext
    app_network: Network
    log_groups: LogGroups
    #: Encrypts the proxies' EBS volumes.
    kms_key_arn: pulumi.Input[str]
    #: default: planned from ``onPrem.proxyInstances`` in ``onPrem.allowedRange``, away from the app VPC and on-prem.
    plan: VpcPlan | None = None


class OnPremAccess(pulumi.ComponentResource):
    """Proxy VPC + NLB + endpoint service, and the interface endpoint the application VPC uses.

    Attributes
    ----------
    plan : VpcPlan
    endpoint_service : aws.ec2.VpcEndpointService
    endpoint : aws.ec2.VpcEndpoint
        In the application VPC.
    proxy_host : str
        The private DNS name functions use (``proxy.<prefix>.internal``), port ``proxy_port``.
    endpoint_dns : pulumi.Output[str]
        The endpoint's regional DNS name.
    """

    def __init__(self, name: str, args: OnPremAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("arcblueprint:platform:OnPremAccess", name, None, opts)
        ctx = args.context
        stack = ctx.stack
        spec = stack.on_prem
        network = args.app_network
        self.plan = plan = args.plan or plan_onprem_vpc(
            spec.proxy_instances, spec.allowed_range, avoid=(network.cidr, *stack.network.on_prem_ranges))
        child = pulumi.ResourceOptions(parent=self)
        tags = {**ctx.tags(_SERVICE), **({"attachment-id": spec.attachment_id} if spec.attachment_id else {})}

        def tagged(label: str) -> dict[str, str]:
            return {**tags, "Name": ctx.name("onprem", label)}

        self.vpc = aws.ec2.Vpc(f"{name}-vpc", cidr_block=plan.cidr, enable_dns_support=True,
                               enable_dns_hostnames=True, tags=tagged("vpc"), opts=child)
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=self.vpc.id, tags=tagged("default-unused"),
                                     opts=child)
        zones = aws.get_availability_zones_output(state="available", opts=pulumi.InvokeOutputOptions(parent=self))
        self.subnets = []
        for i, cidr in enumerate(plan.private_subnets):
            # Default: the application VPC's first zones (see OnPremSpec.availability_zone_ids).
            zone = (zone_id(zones, spec.availability_zone_ids, i, "onPrem.availabilityZones")
                    if spec.availability_zone_ids else
                    zone_id(zones, stack.network.availability_zone_ids, i, "network.availabilityZones"))
            subnet = aws.ec2.Subnet(f"{name}-subnet-{i}", vpc_id=self.vpc.id, cidr_block=cidr,
                                    availability_zone_id=zone,
                                    map_public_ip_on_launch=False, tags=tagged(f"subnet-{i}"), opts=child)
            # Routes to on-prem are propagated from the attachment (``attachmentId``), declared outside.
            table = aws.ec2.RouteTable(f"{name}-rt-{i}", vpc_id=self.vpc.id, tags=tagged(f"rt-{i}"), opts=child)
            aws.ec2.RouteTableAssociation(f"{name}-rta-{i}", subnet_id=subnet.id, route_table_id=table.id,
                                          opts=child)
            self.subnets.append(subnet)
        self.flow_log = vpc_flow_logs(f"{name}-flow", ctx, args.log_groups, vpc_id=self.vpc.id, label="onprem-vpc",
                                      traffic=stack.network.flow_log_traffic, parent=self)

        self.proxy_security_group = aws.ec2.SecurityGroup(
            f"{name}-proxy-sg", vpc_id=self.vpc.id, name=ctx.name("onprem-proxy"),
            description="Proxies: the proxy port from the load balancer's VPC only, out to on-prem only",
            tags=tagged("proxy"), opts=child)
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-proxy-in", security_group_id=self.proxy_security_group.id, ip_protocol="tcp",
            from_port=spec.proxy_port, to_port=spec.proxy_port, cidr_ipv4=plan.cidr,
            # PrivateLink traffic reaches the targets from the NLB's addresses in this VPC.
            description="Proxy port from the NLB (PrivateLink) inside this VPC", tags=tags, opts=child)
        for i, cidr in enumerate(stack.network.on_prem_ranges):
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-proxy-out-{i}", security_group_id=self.proxy_security_group.id, ip_protocol="tcp",
                from_port=0, to_port=65535, cidr_ipv4=cidr, description="To on-prem services", tags=tags, opts=child)

        arch = "arm64" if _GRAVITON.match(spec.proxy_instance_type) else "x86_64"
        self.launch_template = aws.ec2.LaunchTemplate(
            f"{name}-proxy-lt",
            name=ctx.name("onprem-proxy"),
            # EC2 resolves the latest Amazon Linux 2023 AMI at launch: no AMI id pinned in code.
            image_id=f"resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{arch}",
            instance_type=spec.proxy_instance_type,
            vpc_security_group_ids=[self.proxy_security_group.id],
            metadata_options={"http_endpoint": "enabled", "http_tokens": "required",
                              "http_put_response_hop_limit": 1},
            block_device_mappings=[{"device_name": "/dev/xvda",
                                    "ebs": {"encrypted": "true", "kms_key_id": args.kms_key_arn,
                                            "volume_size": 8, "volume_type": "gp3",
                                            "delete_on_termination": "true"}}],
            monitoring={"enabled": True},
            tag_specifications=[{"resource_type": "instance", "tags": tagged("proxy")},
                                {"resource_type": "volume", "tags": tagged("proxy")}],
            tags=tagged("proxy"),
            opts=child,
        )
        self.proxies = [
            aws.ec2.Instance(
                f"{name}-proxy-{i}",
                launch_template={"id": self.launch_template.id, "version": "$Latest"},
                subnet_id=self.subnets[i % len(self.subnets)].id,
                tags=tagged(f"proxy-{i}"),
                opts=child,
            )
            for i in range(spec.proxy_instances)
        ]

        self.load_balancer = aws.lb.LoadBalancer(
            f"{name}-nlb", name=ctx.name("onprem", max_length=32), load_balancer_type="network", internal=True,
            subnets=[s.id for s in self.subnets], enable_cross_zone_load_balancing=True,
            enable_deletion_protection=stack.protect_stateful_resources, tags=tagged("nlb"), opts=child)
        self.target_group = aws.lb.TargetGroup(
            f"{name}-proxies", name=ctx.name("onprem-proxy", max_length=32), port=spec.proxy_port, protocol="TCP",
            target_type="instance", vpc_id=self.vpc.id,
            health_check={"protocol": "TCP", "port": str(spec.proxy_port), "healthy_threshold": 3,
                          "unhealthy_threshold": 3, "interval": 10},
            tags=tagged("proxies"), opts=child)
        for i, proxy in enumerate(self.proxies):
            aws.lb.TargetGroupAttachment(f"{name}-proxy-{i}-target", target_group_arn=self.target_group.arn,
                                         target_id=proxy.id, port=spec.proxy_port, opts=child)
        aws.lb.Listener(
            f"{name}-listener", load_balancer_arn=self.load_balancer.arn, port=spec.proxy_port, protocol="TCP",
            default_actions=[{"type": "forward", "target_group_arn": self.target_group.arn}], tags=tags, opts=child)

        self.endpoint_service = aws.ec2.VpcEndpointService(
            f"{name}-service",
            network_load_balancer_arns=[self.load_balancer.arn],
            # Only the application account may create endpoints; it is the one asking, so no manual acceptance.
            acceptance_required=False,
            allowed_principals=[f"arn:{ctx.partition}:iam::{stack.account_id}:root"],
            supported_ip_address_types=["ipv4"],
            tags=tagged("service"), opts=child)

        self.endpoint_security_group = aws.ec2.SecurityGroup(
            f"{name}-endpoint-sg", vpc_id=network.vpc_id, name=ctx.name("onprem-endpoint"),
            description="On-prem proxy endpoint: the proxy port from the shared Lambda security group only",
            tags=tagged("endpoint"), opts=child)
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-endpoint-from-lambda", security_group_id=self.endpoint_security_group.id, ip_protocol="tcp",
            from_port=spec.proxy_port, to_port=spec.proxy_port,
            referenced_security_group_id=network.lambda_security_group.id,
            description="Proxy port from VPC-attached functions", tags=tags, opts=child)
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-lambda-to-endpoint", security_group_id=network.lambda_security_group.id, ip_protocol="tcp",
            from_port=spec.proxy_port, to_port=spec.proxy_port,
            referenced_security_group_id=self.endpoint_security_group.id,
            description="Proxy port to the on-prem proxy endpoint", tags=tags, opts=child)
        self.endpoint = aws.ec2.VpcEndpoint(
            f"{name}-endpoint", vpc_id=network.vpc_id, vpc_endpoint_type="Interface",
            service_name=self.endpoint_service.service_name,
            # The service has no verified private_dns_name (see module docstring): the private zone below names it.
            private_dns_enabled=False,
            # Only zones the load balancer serves: CreateVpcEndpoint rejects any other.
            subnet_ids=[network.private_subnets[i].id for i in stack.endpoint_zone_indexes()],
            security_group_ids=[self.endpoint_security_group.id],
            tags=tagged("endpoint"), opts=child)

        self.zone_name = f"{stack.naming_prefix}.internal"
        self.proxy_host = f"proxy.{self.zone_name}"
        zone = aws.route53.Zone(
            f"{name}-zone", name=self.zone_name, comment="Private names of the application VPC",
            vpcs=[{"vpc_id": network.vpc_id, "vpc_region": stack.region}], tags=tagged("zone"), opts=child)
        first_entry = self.endpoint.dns_entries.apply(lambda entries: entries[0])
        aws.route53.Record(
            f"{name}-proxy-record", zone_id=zone.zone_id, name=self.proxy_host, type="A",
            aliases=[{"name": first_entry.apply(lambda e: e["dns_name"]),
                      "zone_id": first_entry.apply(lambda e: e["hosted_zone_id"]),
                      "evaluate_target_health": True}],
            opts=child)

        self.endpoint_dns: pulumi.Output[str] = first_entry.apply(lambda e: e["dns_name"])
        self.register_outputs({"vpcCidr": plan.cidr, "endpointDns": self.endpoint_dns,
                               "proxyHost": self.proxy_host, "serviceName": self.endpoint_service.service_name})
