"""The on-prem access path as a whole: a small routable VPC of proxies, published over PrivateLink.

This is the HSBC example of the ARC307 seeds: the VPC connected to on-prem (through the network
team's transit gateway or virtual private gateway, ``onPrem.gatewayId``) stays deliberately small,
its CIDR computed from the proxies and the interfaces beside them, and fronts the proxies with an
internal Network Load Balancer published as a VPC endpoint service. The application VPC reaches it
through one interface endpoint, so the two VPCs never route to each other and their CIDRs may even
overlap; only the shared Lambda security group may open connections to the endpoint (once a
function asks for the proxy), and only the application account may create endpoints to it.

The path of a request: function (``HTTPS_PROXY=http://proxy.<prefix>.internal:<port>``) ->
interface endpoint in the application VPC -> endpoint service -> load balancer -> a healthy proxy
of the Auto Scaling group (:class:`ProxyFleet`) -> the proxy subnet's route to the gateway
(:class:`OnPremRouting`) -> on-prem. The rule ``onprem-path-complete`` checks every link.

Private DNS: an endpoint service can carry a ``private_dns_name`` only after its owner proves
control of the domain with a TXT record in *public* DNS; a blueprint cannot assume a public
domain. So the endpoint gets a friendly name from a Route 53 private hosted zone associated
with the application VPC only (``proxy.<prefix>.internal``), an alias to the endpoint's DNS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from arcblueprint.planning.cidr import ProxyVpcDemand, VpcPlan, plan_onprem_vpc
from arcblueprint.planning.proxy_config import SquidConfig, allows
from arcblueprint.platform.network import vpc_flow_logs, zone_id
from arcblueprint.platform.onprem.fleet import ProxyFleet, ProxyFleetArgs
from arcblueprint.platform.onprem.routing import OnPremRouting, OnPremRoutingArgs

if TYPE_CHECKING:
    from arcblueprint.platform.context import StackContext
    from arcblueprint.platform.handles import LogGroups
    from arcblueprint.platform.network import Network

__all__ = ["OnPremAccess", "OnPremAccessArgs"]

_SERVICE = "on-prem"
#: Requests in flight finish before a proxy leaves the target group (an instance refresh or scale-in
#: waits for it): longer than any API Gateway caller waits (29 s), short enough for quick refreshes.
DEREGISTRATION_DELAY_SECONDS = 120


@dataclass(frozen=True, kw_only=True)
class OnPremAccessArgs:
    context: StackContext
    app_network: Network
    log_groups: LogGroups
    #: default: planned from ``onPrem`` (proxies, zones, endpoints, gateway) in ``onPrem.allowedRange``,
    #: away from the application VPC and the on-prem ranges.
    plan: VpcPlan | None = None


class OnPremAccess(pulumi.ComponentResource):
    """Proxy VPC, routing, proxy fleet, load balancer and endpoint service; the endpoint the application VPC uses.

    Implements :class:`arcblueprint.platform.handles.OnPremProxy` (``url``, ``allows``, ``admit_functions``).

    Attributes
    ----------
    plan : VpcPlan
    fleet : ProxyFleet
    routing : OnPremRouting
    load_balancer : aws.lb.LoadBalancer
    target_group : aws.lb.TargetGroup
    endpoint_service : aws.ec2.VpcEndpointService
    endpoint : aws.ec2.VpcEndpoint
        In the application VPC.
    proxy_host : str
        The private DNS name functions use (``proxy.<prefix>.internal``), port ``proxy_port``.
    url : str
        ``http://proxy.<prefix>.internal:<port>``: what ``HTTP_PROXY``/``HTTPS_PROXY`` are set to.
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
            ProxyVpcDemand.from_spec(spec), avoid=(network.cidr, *stack.network.on_prem_ranges)
        )
        child = pulumi.ResourceOptions(parent=self)
        assert spec.gateway_id is not None  # the config model requires it when on-prem is enabled
        tags = {**ctx.tags(_SERVICE), "gateway-id": spec.gateway_id}
        self._name, self._tags, self._network = name, tags, network
        self._spec = spec

        def tagged(label: str) -> dict[str, str]:
            return {**tags, "Name": ctx.name("onprem", label)}

        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=plan.cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags=tagged("vpc"),
            opts=child,
        )
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg", vpc_id=self.vpc.id, tags=tagged("default-unused"), opts=child
        )
        zones = aws.get_availability_zones_output(state="available", opts=pulumi.InvokeOutputOptions(parent=self))
        if len(plan.load_balancer_addresses) != len(plan.private_subnets):
            raise ValueError("OnPremAccessArgs.plan needs one load balancer address per subnet (plan_onprem_vpc)")
        self.subnets: list[aws.ec2.Subnet] = []
        self.route_tables: list[aws.ec2.RouteTable] = []
        self.route_table_associations: list[aws.ec2.RouteTableAssociation] = []
        for i, cidr in enumerate(plan.private_subnets):
            # Default: the application VPC's first zones (see OnPremSpec.availability_zone_ids).
            zone = (
                zone_id(zones, spec.availability_zone_ids, i, "onPrem.availabilityZones")
                if spec.availability_zone_ids
                else zone_id(zones, stack.network.availability_zone_ids, i, "network.availabilityZones")
            )
            subnet = aws.ec2.Subnet(
                f"{name}-subnet-{i}",
                vpc_id=self.vpc.id,
                cidr_block=cidr,
                availability_zone_id=zone,
                map_public_ip_on_launch=False,
                tags=tagged(f"subnet-{i}"),
                opts=child,
            )
            table = aws.ec2.RouteTable(f"{name}-rt-{i}", vpc_id=self.vpc.id, tags=tagged(f"rt-{i}"), opts=child)
            self.route_table_associations.append(
                aws.ec2.RouteTableAssociation(
                    f"{name}-rta-{i}", subnet_id=subnet.id, route_table_id=table.id, opts=child
                )
            )
            self.subnets.append(subnet)
            self.route_tables.append(table)
        self.flow_log = vpc_flow_logs(
            f"{name}-flow",
            ctx,
            args.log_groups,
            vpc_id=self.vpc.id,
            label="onprem-vpc",
            traffic=stack.network.flow_log_traffic,
            parent=self,
        )
        for i, rule in enumerate(spec.resolver_rule_ids):
            # On-prem names (``legacy.corp.example.com``) resolve in this VPC through the network team's rules.
            aws.route53.ResolverRuleAssociation(
                f"{name}-resolver-rule-{i}", resolver_rule_id=rule, vpc_id=self.vpc.id, opts=child
            )

        # --- the load balancer PrivateLink publishes ------------------------------------------
        self.load_balancer_security_group = aws.ec2.SecurityGroup(
            f"{name}-nlb-sg",
            vpc_id=self.vpc.id,
            name=ctx.name("onprem-nlb"),
            description="On-prem load balancer: PrivateLink traffic only, forwarded to the proxies",
            tags=tagged("nlb"),
            opts=child,
        )
        # No ingress rule: PrivateLink traffic skips the inbound rules (enforcement off, below); anything
        # else reaching the load balancer from inside this VPC is refused.
        self.load_balancer_addresses = plan.load_balancer_addresses
        self.load_balancer = aws.lb.LoadBalancer(
            f"{name}-nlb",
            name=ctx.name("onprem", max_length=32),
            load_balancer_type="network",
            internal=True,
            # A fixed address per zone (the subnet's first usable one, from the planner): with addresses left
            # to AWS, CreateLoadBalancer needs 8 free in each subnet, which these /28s shared with the
            # endpoints, the attachment and the proxies do not keep. Squid admits exactly these addresses, and
            # everything else taking an address in these subnets waits for the load balancer, so AWS cannot
            # hand its address to another interface first.
            subnet_mappings=[
                {"subnet_id": subnet.id, "private_ipv4_address": address}
                for subnet, address in zip(self.subnets, plan.load_balancer_addresses, strict=True)
            ],
            enable_cross_zone_load_balancing=True,
            security_groups=[self.load_balancer_security_group.id],
            enforce_security_group_inbound_rules_on_private_link_traffic="off",
            enable_deletion_protection=stack.protect_stateful_resources,
            tags=tagged("nlb"),
            opts=child,
        )
        self.routing = OnPremRouting(
            f"{name}-routes",
            OnPremRoutingArgs(
                vpc_id=self.vpc.id,
                route_tables=self.route_tables,
                subnet_ids=[s.id for s in self.subnets],
                on_prem_ranges=stack.network.on_prem_ranges,
                gateway_id=spec.gateway_id,
                tags=tags,
                # The attachment takes an address AWS picks in each proxy subnet: after the load balancer's.
                address_holders=[self.load_balancer],
            ),
            opts=child,
        )

        self.target_group = aws.lb.TargetGroup(
            f"{name}-proxies",
            aws.lb.TargetGroupArgs(
                name=ctx.name("onprem-proxy", max_length=32),
                port=spec.proxy_port,
                protocol="TCP",
                target_type="instance",
                vpc_id=self.vpc.id,
                # Squid admits clients by source address: the load balancer's fixed addresses, which is what targets
                # see with client IP preservation off ("the source IP address is the private IP address of the
                # Network Load Balancer", ELB guide, target group attributes).
                preserve_client_ip="false",
                # The SDK types this as int; it stays the text every stack has declared so far (an int would
                # change the declared graph).
                deregistration_delay=str(DEREGISTRATION_DELAY_SECONDS),  # type: ignore[arg-type]
                connection_termination=True,
                health_check=aws.lb.TargetGroupHealthCheckArgs(
                    protocol="TCP", port="traffic-port", healthy_threshold=3, unhealthy_threshold=3, interval=10
                ),
                tags=tagged("proxies"),
            ),
            opts=child,
        )
        aws.lb.Listener(
            f"{name}-listener",
            load_balancer_arn=self.load_balancer.arn,
            port=spec.proxy_port,
            protocol="TCP",
            default_actions=[{"type": "forward", "target_group_arn": self.target_group.arn}],
            tags=tags,
            opts=child,
        )

        self.squid = SquidConfig.for_stack(stack, plan.load_balancer_addresses)
        self.fleet = ProxyFleet(
            f"{name}-proxy",
            ProxyFleetArgs(
                context=ctx,
                log_groups=args.log_groups,
                vpc_id=self.vpc.id,
                subnets=self.subnets,
                route_tables=self.route_tables,
                route_table_associations=self.route_table_associations,
                address_holders=[self.load_balancer],
                target_group_arn=self.target_group.arn,
                load_balancer_security_group_id=self.load_balancer_security_group.id,
                squid=self.squid,
                tags=tags,
                previous_parent=self,
            ),
            opts=child,
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-nlb-to-proxies",
            security_group_id=self.load_balancer_security_group.id,
            ip_protocol="tcp",
            from_port=spec.proxy_port,
            to_port=spec.proxy_port,
            referenced_security_group_id=self.fleet.security_group.id,
            description="Proxy port (traffic and health checks) to the proxies",
            tags=tags,
            opts=child,
        )

        self.endpoint_service = aws.ec2.VpcEndpointService(
            f"{name}-service",
            network_load_balancer_arns=[self.load_balancer.arn],
            # Only the application account may create endpoints; it is the one asking, so no manual acceptance.
            acceptance_required=False,
            allowed_principals=[f"arn:{ctx.partition}:iam::{stack.account_id}:root"],
            supported_ip_address_types=["ipv4"],
            tags=tagged("service"),
            opts=child,
        )

        # --- the application VPC's side ------------------------------------------------------
        self.endpoint_security_group = aws.ec2.SecurityGroup(
            f"{name}-endpoint-sg",
            vpc_id=network.vpc_id,
            name=ctx.name("onprem-endpoint"),
            description="On-prem proxy endpoint: the proxy port from the shared Lambda security group only",
            tags=tagged("endpoint"),
            opts=child,
        )
        self.endpoint = aws.ec2.VpcEndpoint(
            f"{name}-endpoint",
            vpc_id=network.vpc_id,
            vpc_endpoint_type="Interface",
            service_name=self.endpoint_service.service_name,
            # The service has no verified private_dns_name (see module docstring): the private zone below names it.
            private_dns_enabled=False,
            # Only zones the load balancer serves: CreateVpcEndpoint rejects any other.
            subnet_ids=[network.private_subnets[i].id for i in stack.endpoint_zone_indexes()],
            security_group_ids=[self.endpoint_security_group.id],
            tags=tagged("endpoint"),
            opts=child,
        )

        self.zone_name = f"{stack.naming_prefix}.internal"
        self.proxy_host = f"proxy.{self.zone_name}"
        self.proxy_port = spec.proxy_port
        self.url = f"http://{self.proxy_host}:{spec.proxy_port}"
        private_zone = aws.route53.Zone(
            f"{name}-zone",
            name=self.zone_name,
            comment="Private names of the application VPC",
            vpcs=[{"vpc_id": network.vpc_id, "vpc_region": stack.region}],
            tags=tagged("zone"),
            opts=child,
        )
        first_entry = self.endpoint.dns_entries.apply(lambda entries: entries[0])
        aws.route53.Record(
            f"{name}-proxy-record",
            zone_id=private_zone.zone_id,
            name=self.proxy_host,
            type="A",
            aliases=[
                {
                    "name": first_entry.apply(lambda e: e["dns_name"]),
                    "zone_id": first_entry.apply(lambda e: e["hosted_zone_id"]),
                    "evaluate_target_health": True,
                }
            ],
            opts=child,
        )
        self._admitted = False

        self.endpoint_dns: pulumi.Output[str] = first_entry.apply(lambda e: e["dns_name"])
        self.register_outputs(
            {
                "vpcCidr": plan.cidr,
                "endpointDns": self.endpoint_dns,
                "proxyUrl": self.url,
                "serviceName": self.endpoint_service.service_name,
            }
        )

    def allows(self, url: str) -> bool:
        """Whether the proxies let a request for ``url`` through (``onPrem.destinations`` and ports)."""
        return allows(url, destinations=tuple(self._spec.destinations), ports=tuple(self._spec.destination_ports))

    def admit_functions(self) -> None:
        """Let the shared Lambda security group open connections to the proxy endpoint (idempotent).

        Declared on the first function that uses the proxy: a stack with no such function opens nothing.
        """
        if self._admitted:
            return
        self._admitted = True
        name, network, port = self._name, self._network, self._spec.proxy_port
        opts = pulumi.ResourceOptions(parent=self)
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-endpoint-from-lambda",
            security_group_id=self.endpoint_security_group.id,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            referenced_security_group_id=network.lambda_security_group.id,
            description="Proxy port from VPC-attached functions",
            tags=self._tags,
            opts=opts,
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-lambda-to-endpoint",
            security_group_id=network.lambda_security_group.id,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            referenced_security_group_id=self.endpoint_security_group.id,
            description="Proxy port to the on-prem proxy endpoint",
            tags=self._tags,
            opts=opts,
        )
