"""The on-prem path is complete: from each PrivateLink endpoint of an in-stack service to the gateway to on-prem.

A deploy succeeds with any link of this chain missing, and the path then carries nothing: an
endpoint service whose load balancer has no listener, a target group with no targets (or fixed
instances nothing replaces), instances that boot without user data (nothing listens on the proxy
port: every target is unhealthy), a proxy subnet without a route to on-prem, or a route to a gateway
that is not attached to the VPC (AWS refuses it, or it blackholes). For every interface endpoint
whose endpoint service is declared in the stack, the rule walks:

endpoint -> endpoint service -> network load balancer -> listener forwarding to a target group ->
target group attached to an Auto Scaling group that replaces unhealthy instances (ELB health
check, on the traffic port) -> launch template with user data, at an explicit version with an
instance refresh -> the route tables of the group's subnets: every network the proxies may send to
(their security groups' CIDR egress) routed to a transit gateway attached to the VPC in each of
the group's zones, or to a virtual private gateway attached to the VPC, and created after the
attachment.

Whether functions reach the endpoint is ``vpc-function-reaches-its-apis``' part.

Props are read through :func:`~arcblueprint.policy.base.known`, so the rule runs in the first
``pulumi preview`` of a new stack too: a value computed at deploy time there (a launch template
version, user data rendered from new resources, a gateway id, a route's destination) leaves that
link to be judged at ``pulumi up`` instead of failing it or the whole policy.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

from arcblueprint.policy.base import UNKNOWN, is_mapping, known, number, stack_policy
from arcblueprint.policy.graph import StackGraph
from arcblueprint.policy.wiring._network import (
    ENDPOINT,
    ROUTE,
    ROUTE_TABLE,
    SECURITY_GROUP,
    SUBNET,
    VPC,
    SecurityGroups,
    covers,
    route_tables_of,
)

if TYPE_CHECKING:
    from pulumi_policy import PolicyResource, ReportViolation, StackValidationArgs

__all__ = ["PATH_COMPLETE", "POLICIES"]

ENDPOINT_SERVICE = "aws:ec2/vpcEndpointService:VpcEndpointService"
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
TARGET_ATTACHMENT = "aws:lb/targetGroupAttachment:TargetGroupAttachment"
GROUP = "aws:autoscaling/group:Group"
GROUP_ATTACHMENT = "aws:autoscaling/attachment:Attachment"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
TGW_ATTACHMENT = "aws:ec2transitgateway/vpcAttachment:VpcAttachment"
VGW_ATTACHMENT = "aws:ec2/vpnGatewayAttachment:VpnGatewayAttachment"


class _Chain:
    """Walks the chain behind one endpoint service, reporting each broken link once, on the resource to fix."""

    def __init__(self, graph: StackGraph, report: ReportViolation) -> None:
        self.graph = graph
        self.report = report
        self.security_groups = SecurityGroups(graph)
        self._reported: set[tuple[str, str]] = set()

    def fail(self, resource: PolicyResource, message: str) -> None:
        if (resource.urn, message) not in self._reported:
            self._reported.add((resource.urn, message))
            self.report(
                f"{message} The on-prem path (endpoint -> load balancer -> proxies -> gateway) carries "
                "nothing until this is fixed.",
                resource.urn,
            )

    # --- endpoint service, load balancer, listener --------------------------------------------------

    def service(self, service: PolicyResource) -> None:
        balancers = self.graph.refs(service, "networkLoadBalancerArns", LOAD_BALANCER)
        if not balancers:
            self.fail(service, f"Endpoint service '{service.name}' fronts no network load balancer of the stack.")
        for balancer in balancers:
            self.load_balancer(balancer)

    def load_balancer(self, balancer: PolicyResource) -> None:
        graph = self.graph
        listeners = graph.referrers(balancer, LISTENER, prop="loadBalancerArn")
        forwarded = [
            (listener, tg) for listener in listeners for tg in graph.refs(listener, "defaultActions", TARGET_GROUP)
        ]
        if not forwarded:
            self.fail(
                balancer,
                f"Load balancer '{balancer.name}' has no listener forwarding to a target group: "
                "add one on the proxy port.",
            )
        served = {
            z
            for s in graph.refs(balancer, "subnets", SUBNET) + graph.refs(balancer, "subnetMappings", SUBNET)
            if isinstance(z := known(s.props, "availabilityZoneId"), str)
        }
        for _, target_group in forwarded:
            self.target_group(target_group, served)

    # --- targets -------------------------------------------------------------------------------------

    def target_group(self, target_group: PolicyResource, served: set[str]) -> None:
        graph = self.graph
        groups = graph.referrers(target_group, GROUP, prop="targetGroupArns") + [
            g
            for a in graph.referrers(target_group, GROUP_ATTACHMENT, prop="lbTargetGroupArn")
            for g in graph.refs(a, "autoscalingGroupName", GROUP)
        ]
        if not groups:
            fixed = graph.referrers(target_group, TARGET_ATTACHMENT, prop="targetGroupArn")
            self.fail(
                target_group,
                f"Target group '{target_group.name}' "
                + ("has only fixed targets, which nothing replaces when they fail" if fixed else "has no targets")
                + ": attach it to the proxies' Auto Scaling group (targetGroupArns).",
            )
            return
        check = known(target_group.props, "healthCheck")
        port = known(check, "port") if is_mapping(check) else None
        if isinstance(port, str) and port not in (
            "traffic-port",
            str(int(number(known(target_group.props, "port")) or 0)),
        ):
            self.fail(
                target_group,
                f"Target group '{target_group.name}' checks health on port {port}, not the proxy "
                "port it forwards to: a proxy that stops listening stays 'healthy'. Use "
                "'traffic-port'.",
            )
        for group in groups:
            self.auto_scaling_group(group, served)

    def auto_scaling_group(self, group: PolicyResource, served: set[str]) -> None:
        graph = self.graph
        props = group.props
        if known(props, "healthCheckType") != "ELB" and known(props, "healthCheckType") is not UNKNOWN:
            self.fail(
                group,
                f"Auto Scaling group '{group.name}' replaces instances on EC2 status checks only: a proxy "
                "whose squid died stays in service. Set healthCheckType to ELB.",
            )
        template_spec = known(props, "launchTemplate")
        version = known(template_spec, "version") if is_mapping(template_spec) else None
        if version in ("$Latest", "$Default") or known(props, "instanceRefresh") is None:
            self.fail(
                group,
                f"Auto Scaling group '{group.name}' does not roll out launch template changes (an "
                "explicit version and instanceRefresh are needed; $Latest/$Default start no refresh): "
                "running proxies keep the old configuration.",
            )
        templates = graph.refs(group, "launchTemplate", LAUNCH_TEMPLATE)
        if not templates:
            self.fail(group, f"Auto Scaling group '{group.name}' launches from no launch template of the stack.")
        for template in templates:
            self.launch_template(template)
        subnets = graph.refs(group, "vpcZoneIdentifiers", SUBNET)
        zones = {z for s in subnets if isinstance(z := known(s.props, "availabilityZoneId"), str)}
        if served and zones - served:
            self.fail(
                group,
                f"Auto Scaling group '{group.name}' runs proxies in zones the load balancer does not "
                f"serve ({', '.join(sorted(zones - served))}): they never receive traffic.",
            )
        self.routes(group, subnets, templates)

    def launch_template(self, template: PolicyResource) -> None:
        user_data = known(template.props, "userData")
        if user_data is UNKNOWN:
            return
        try:
            script = base64.b64decode(user_data or "", validate=True).decode() if user_data else ""
        except (binascii.Error, UnicodeDecodeError):
            script = ""
        if not script.strip():
            self.fail(
                template,
                f"Launch template '{template.name}' has no user data: its instances boot without a "
                "proxy, nothing listens on the proxy port and every target stays unhealthy. Install "
                "and configure the proxy in userData.",
            )

    # --- routes to on-prem ---------------------------------------------------------------------------

    def _on_prem_networks(self, templates: list[PolicyResource]) -> set[str]:
        groups = {g.urn for t in templates for g in self.graph.refs(t, "vpcSecurityGroupIds", SECURITY_GROUP)}
        return {
            cidr
            for rule in self.security_groups.rules
            if rule.egress and rule.group in groups
            for cidr in rule.cidrs
            if cidr not in ("0.0.0.0/0", "::/0")
        }

    def routes(self, group: PolicyResource, subnets: list[PolicyResource], templates: list[PolicyResource]) -> None:
        graph = self.graph
        networks = self._on_prem_networks(templates)
        if templates and not networks:
            self.fail(
                group,
                f"Auto Scaling group '{group.name}' runs proxies whose security groups allow no on-prem "
                "network out: add egress to the on-prem CIDRs on the destination ports.",
            )
        zones = {s.urn: known(s.props, "availabilityZoneId") for s in subnets}
        for subnet_urn, tables in route_tables_of(graph, subnets).items():
            subnet = next(s for s in subnets if s.urn == subnet_urn)
            if not tables:
                self.fail(
                    subnet,
                    f"Proxy subnet '{subnet.name}' has no route table of the stack: nothing routes it to on-prem.",
                )
            for table_urn in tables:
                table = next(t for t in graph.of_type(ROUTE_TABLE) if t.urn == table_urn)
                for network in sorted(networks):
                    self.route(table, network, zones.get(subnet_urn))

    def route(self, table: PolicyResource, network: str, zone: object) -> None:
        graph = self.graph
        routes = graph.referrers(table, ROUTE, prop="routeTableId")
        destinations = {r.urn: known(r.props, "destinationCidrBlock") for r in routes}
        candidates = [r for r in routes if covers([str(destinations[r.urn] or "")], [network])]
        if not candidates and UNKNOWN in destinations.values():
            return  # a route whose destination is computed at deploy time may be this one: judged at `pulumi up`
        if not candidates:
            self.fail(
                table,
                f"Route table '{table.name}' of the proxies has no route for on-prem {network}: add one "
                "to the transit gateway or virtual private gateway (onPrem.gatewayId).",
            )
            return
        problems = [self._gateway_problem(route, table, zone) for route in candidates]
        if all(problems):
            self.fail(candidates[0], str(problems[0]))

    def _gateway_problem(self, route: PolicyResource, table: PolicyResource, zone: object) -> str | None:
        graph = self.graph
        vpcs = {v.urn for v in graph.refs(table, "vpcId", VPC)}
        transit = known(route.props, "transitGatewayId")
        gateway = known(route.props, "gatewayId")
        cidr = known(route.props, "destinationCidrBlock")
        if isinstance(transit, str) and transit.startswith("tgw-"):
            attachments = [
                a
                for a in graph.of_type(TGW_ATTACHMENT)
                if known(a.props, "transitGatewayId") == transit and {v.urn for v in graph.refs(a, "vpcId", VPC)} & vpcs
            ]
            if not attachments:
                return (
                    f"Route '{route.name}' sends {cidr} to transit gateway {transit}, which has no VPC attachment "
                    "to this VPC in the stack: CreateRoute fails (InvalidTransitGatewayID.NotFound). Declare the "
                    "attachment in the proxy subnets."
                )
            if not any(graph.waits_for(route, a) for a in attachments):
                return (
                    f"Route '{route.name}' is not created after the transit gateway attachment: the first deploy "
                    "races it and fails. Make the route depend on the attachment."
                )
            attached = {
                z
                for a in attachments
                for s in graph.refs(a, "subnetIds", SUBNET)
                if isinstance(z := known(s.props, "availabilityZoneId"), str)
            }
            if isinstance(zone, str) and attached and zone not in attached:
                return (
                    f"Route '{route.name}' sends {cidr} to transit gateway {transit}, but its attachment has no "
                    f"subnet in zone {zone}, so the proxies there cannot use it."
                )
            return None
        if isinstance(gateway, str) and gateway.startswith("vgw-"):
            attachments = [
                a
                for a in graph.of_type(VGW_ATTACHMENT)
                if known(a.props, "vpnGatewayId") == gateway and {v.urn for v in graph.refs(a, "vpcId", VPC)} & vpcs
            ]
            if not attachments:
                return (
                    f"Route '{route.name}' sends {cidr} to virtual private gateway {gateway}, which is not "
                    "attached to this VPC in the stack: declare the VPN gateway attachment."
                )
            if not any(graph.waits_for(route, a) for a in attachments):
                return (
                    f"Route '{route.name}' is not created after the VPN gateway attachment: the first deploy races "
                    "it and fails. Make the route depend on the attachment."
                )
            return None
        if transit is UNKNOWN or gateway is UNKNOWN:
            return None
        return (
            f"Route '{route.name}' sends on-prem {cidr} to {transit or gateway or 'no target'}, not to a transit "
            "gateway or virtual private gateway: point it at onPrem.gatewayId."
        )


def validate_path_complete(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Behind every interface endpoint of an in-stack endpoint service, the whole on-prem path exists."""
    graph = StackGraph(args.resources)
    chain = _Chain(graph, report_violation)
    seen: set[str] = set()
    for endpoint in graph.of_type(ENDPOINT):
        if known(endpoint.props, "vpcEndpointType") != "Interface":
            continue
        for service in graph.refs(endpoint, "serviceName", ENDPOINT_SERVICE):
            if service.urn not in seen:
                seen.add(service.urn)
                chain.service(service)


PATH_COMPLETE = stack_policy(
    "onprem-path-complete",
    "Behind every PrivateLink endpoint of an in-stack endpoint service: a load balancer listener, a target group "
    "attached to a self-healing Auto Scaling group whose launch template has user data, and routes from its subnets "
    "for every on-prem network to an attached transit or virtual private gateway.",
    validate_path_complete,
    remediation_steps="Build the path with arcblueprint.platform.onprem.OnPremAccess (ProxyFleet, OnPremRouting).",
)

POLICIES = [PATH_COMPLETE]
