"""The on-prem path is complete: from each PrivateLink endpoint of an in-stack service to the gateway to on-prem.

A deploy succeeds with any link of this chain missing, and the path then carries nothing: an
endpoint service whose load balancer has no listener, a target group with no targets (or fixed
instances nothing replaces), instances that boot without a proxy (nothing listens on the proxy
port: every target is unhealthy), a proxy subnet without a route to on-prem, or a route to a gateway
that is not attached to the VPC (AWS refuses it, or it blackholes). For every interface endpoint
whose endpoint service is declared in the stack, the rule walks:

endpoint -> endpoint service (a principal allowed; no acceptance nothing in the stack gives) ->
network load balancer (internal: a fixed address per subnet that nothing else can take first, or
8 free addresses per subnet when it is created; a listener on the port of every proxy URL that
names the endpoint) -> listener forwarding to a target group -> target group attached to an Auto
Scaling group that replaces unhealthy instances (ELB health check, on the traffic port) ->
security groups that let the load balancer's traffic and health checks out of its group and into
the proxies' -> launch template whose user data installs and starts squid, on the target group's
port, admitting the load balancer's addresses, at an explicit version with an instance refresh ->
what the first boot needs: for ``dnf install``, an S3 gateway endpoint on the subnets' route tables
with HTTPS egress to it, all created before the group; for host names squid lets through, Route
53 Resolver rules associated with the VPC -> the route tables of the group's subnets: every network
the proxies may send to (their security groups' CIDR egress) routed to a transit gateway attached
to the VPC in each of the group's zones, or to a virtual private gateway attached to the VPC, and
created after the attachment, and open in the security groups on every port squid lets through.

What squid lets through is read from the ``squid.conf`` the launch template's user data embeds
(:func:`arcblueprint.planning.proxy_config.parse_squid_config`): what the instances enforce.
Whether functions reach the endpoint, and whether the proxies let their URLs through, is
``vpc-function-reaches-its-apis``' part.

Props are read through :func:`~arcblueprint.policy.base.known`, so the rule runs in the first
``pulumi preview`` of a new stack too: a value computed at deploy time there (a launch template
version, user data rendered from new resources, a gateway id, a route's destination) leaves that
link to be judged at ``pulumi up`` instead of failing it or the whole policy.
"""

from __future__ import annotations

import ipaddress
import math
import re
from typing import TYPE_CHECKING

from arcblueprint.planning.proxy_config import installs_squid
from arcblueprint.policy.base import UNKNOWN, is_mapping, known, known_list, number, stack_policy, truthy
from arcblueprint.policy.graph import StackGraph
from arcblueprint.policy.wiring._network import (
    ENDPOINT,
    ROUTE,
    ROUTE_TABLE,
    SECURITY_GROUP,
    SUBNET,
    VPC,
    SecurityGroups,
    Traffic,
    covers,
    route_tables_of,
    subnet_cidr,
)
from arcblueprint.policy.wiring._proxy import (
    ENDPOINT_SERVICE,
    GROUP,
    LAUNCH_TEMPLATE,
    LOAD_BALANCER,
    RECORD,
    TARGET_ATTACHMENT,
    auto_scaling_groups,
    fixed_addresses,
    forwarded,
    proxy_addresses,
    proxy_rules,
    user_data,
)

if TYPE_CHECKING:
    from pulumi_policy import PolicyResource, StackValidationArgs

    from arcblueprint.planning.proxy_config import ProxyRules
    from arcblueprint.policy.base import ReportViolation

__all__ = ["PATH_COMPLETE", "POLICIES"]

TGW_ATTACHMENT = "aws:ec2transitgateway/vpcAttachment:VpcAttachment"
VGW_ATTACHMENT = "aws:ec2/vpnGatewayAttachment:VpnGatewayAttachment"
ACCEPTER = "aws:ec2/vpcEndpointConnectionAccepter:VpcEndpointConnectionAccepter"
ALLOWED_PRINCIPAL = "aws:ec2/vpcEndpointServiceAllowedPrinciple:VpcEndpointServiceAllowedPrinciple"
RESOLVER_ASSOCIATION = "aws:route53/resolverRuleAssociation:ResolverRuleAssociation"
ZONE = "aws:route53/zone:Zone"
FUNCTION = "aws:lambda/function:Function"
INSTANCE = "aws:ec2/instance:Instance"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"

HTTPS = 443
#: An internal NLB whose addresses AWS picks needs this many free in each subnet when it is created.
NLB_FREE_ADDRESSES = 8
#: AWS keeps the first four addresses of every subnet and the last one.
_RESERVED_AT_START = 4
_PACKAGES = re.compile(r"^\s*(?:sudo\s+)?(?:dnf|yum)\s+(?:-\S+\s+)*install\b", re.MULTILINE)


def _names(resources: list[PolicyResource]) -> str:
    return ", ".join(f"'{r.name}'" for r in resources)


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

    def service(self, service: PolicyResource, endpoints: list[PolicyResource]) -> None:
        balancers = self.graph.refs(service, "networkLoadBalancerArns", LOAD_BALANCER)
        if not balancers:
            self.fail(service, f"Endpoint service '{service.name}' fronts no network load balancer of the stack.")
        self._admission(service, endpoints)
        for balancer in balancers:
            self.load_balancer(balancer, endpoints)

    def _admission(self, service: PolicyResource, endpoints: list[PolicyResource]) -> None:
        """The endpoints may connect: a principal is allowed, and a required acceptance is given in the stack."""
        graph = self.graph
        principals = known_list(service.props, "allowedPrincipals")
        granted = graph.referrers(service, ALLOWED_PRINCIPAL, prop="vpcEndpointServiceId")
        if principals is not UNKNOWN and not principals and not granted:
            self.fail(
                service,
                f"Endpoint service '{service.name}' allows no principal: an endpoint service is available to no "
                "service consumer until principals are allowed (PrivateLink guide, 'Manage permissions'), so "
                f"endpoint(s) {_names(endpoints)} cannot connect. Set allowedPrincipals to the consuming account "
                "(arn:aws:iam::<account>:root).",
            )
        required = known(service.props, "acceptanceRequired")
        if required is UNKNOWN or not truthy(required):
            return
        pending = [e for e in endpoints if not graph.referrers(e, ACCEPTER, prop="vpcEndpointId")]
        if pending:
            self.fail(
                service,
                f"Endpoint service '{service.name}' requires acceptance and nothing in the stack accepts endpoint(s) "
                f"{_names(pending)}: they stay pendingAcceptance until the service's owner accepts them. Set "
                "acceptanceRequired to false (allowedPrincipals names who may connect) or declare a "
                "VpcEndpointConnectionAccepter for each.",
            )

    def load_balancer(self, balancer: PolicyResource, endpoints: list[PolicyResource]) -> None:
        graph = self.graph
        pairs = forwarded(graph, balancer)
        if not pairs:
            self.fail(
                balancer,
                f"Load balancer '{balancer.name}' has no listener forwarding to a target group: "
                "add one on the proxy port.",
            )
        self._addresses(balancer)
        self._client_ports(balancer, [listener for listener, _ in pairs], endpoints)
        served = {z for s in self._subnets(balancer) if isinstance(z := known(s.props, "availabilityZoneId"), str)}
        for _, target_group in pairs:
            self.target_group(target_group, served, balancer)

    def _subnets(self, balancer: PolicyResource) -> list[PolicyResource]:
        return self.graph.refs(balancer, "subnets", SUBNET) + self.graph.refs(balancer, "subnetMappings", SUBNET)

    def _client_ports(
        self, balancer: PolicyResource, listeners: list[PolicyResource], endpoints: list[PolicyResource]
    ) -> None:
        """Functions reach the load balancer on the port of their proxy URL: a listener must be on it."""
        graph = self.graph
        ports = {number(known(listener.props, "port")) for listener in listeners}
        if not listeners or None in ports:
            return
        hosts = {
            name.rstrip(".")
            for endpoint in endpoints
            for record in graph.referrers(endpoint, RECORD, prop="aliases")
            if isinstance(name := known(record.props, "name"), str)
        }
        for function in graph.of_type(FUNCTION):
            proxies = proxy_addresses(function)
            if proxies is UNKNOWN:
                continue  # a proxy URL computed at deploy time: judged at `pulumi up`
            for host, port in sorted(proxies):
                if host in hosts and port not in ports:
                    shown = ", ".join(str(int(p)) for p in sorted(p for p in ports if p is not None))
                    self.fail(
                        listeners[0],
                        f"Load balancer '{balancer.name}' listens on port {shown}, but function '{function.name}' "
                        f"sends its requests to the proxy at {host}:{port} (its HTTP(S)_PROXY): the endpoint "
                        f"forwards port {port} to a port nothing listens on, so every connection is refused. Put "
                        "the listener on the proxy URL's port (onPrem.proxyPort sets both).",
                    )

    def _addresses(self, balancer: PolicyResource) -> None:
        """An internal load balancer either has a fixed address per subnet, taken before anything else takes one
        there, or subnets that keep the 8 free addresses AWS needs to pick its own."""
        if not truthy(known(balancer.props, "internal")):
            return
        subnets = self._subnets(balancer)
        addresses = fixed_addresses(balancer)
        if addresses is UNKNOWN:
            return
        if addresses is None:
            self._free_addresses(balancer, subnets)
            return
        for address in addresses:
            homes = [s for s in subnets if covers([subnet_cidr(s) or ""], [f"{address}/32"])]
            network = ipaddress.IPv4Network(subnet_cidr(homes[0])) if homes else None
            if network is None:
                if all(subnet_cidr(s) for s in subnets):
                    self.fail(
                        balancer,
                        f"Load balancer '{balancer.name}' maps private address {address}, which lies in none of "
                        "its subnets: CreateLoadBalancer refuses it. Use an address of the subnet it is mapped to.",
                    )
                continue
            offset = int(ipaddress.IPv4Address(address)) - int(network.network_address)
            if not _RESERVED_AT_START <= offset < network.num_addresses - 1:
                self.fail(
                    balancer,
                    f"Load balancer '{balancer.name}' maps private address {address}, one AWS reserves in "
                    f"{network} (the first four and the last): use the subnet's first usable address "
                    f"({network.network_address + _RESERVED_AT_START}) or another free one.",
                )
        for consumer in self._address_consumers(subnets):
            if not self.graph.waits_for(consumer, balancer):
                self.fail(
                    consumer,
                    f"'{consumer.name}' takes addresses AWS picks in the subnets where load balancer "
                    f"'{balancer.name}' has its fixed addresses ({', '.join(addresses)}) and is not created after "
                    "it: on the first deploy AWS may give one of those addresses away and the load balancer cannot "
                    "be created. Make it depend on the load balancer.",
                )

    def _address_consumers(self, subnets: list[PolicyResource]) -> list[PolicyResource]:
        """Resources that take addresses AWS picks in ``subnets``: interface endpoints, attachments, instances."""
        graph = self.graph
        found: dict[str, PolicyResource] = {}
        for subnet in subnets:
            for resource in (
                graph.referrers(subnet, ENDPOINT, prop="subnetIds")
                + graph.referrers(subnet, TGW_ATTACHMENT, prop="subnetIds")
                + graph.referrers(subnet, GROUP, prop="vpcZoneIdentifiers")
                + graph.referrers(subnet, INSTANCE, prop="subnetId")
            ):
                if resource.resource_type != ENDPOINT or known(resource.props, "vpcEndpointType") == "Interface":
                    found.setdefault(resource.urn, resource)
        return list(found.values())

    def _free_addresses(self, balancer: PolicyResource, subnets: list[PolicyResource]) -> None:
        graph = self.graph
        for subnet in subnets:
            cidr = subnet_cidr(subnet)
            if cidr is None:
                continue
            usable = ipaddress.IPv4Network(cidr).num_addresses - 5
            taken = 0
            for consumer in self._address_consumers([subnet]):
                if graph.waits_for(consumer, balancer):
                    continue  # created after the load balancer: not yet holding an address then
                if consumer.resource_type == GROUP:
                    capacity = number(known(consumer.props, "desiredCapacity")) or number(
                        known(consumer.props, "minSize")
                    )
                    zones = max(1, len(graph.refs(consumer, "vpcZoneIdentifiers", SUBNET)))
                    taken += math.ceil((capacity or 0) / zones)
                else:
                    taken += 1
            if usable - taken < NLB_FREE_ADDRESSES:
                self.fail(
                    balancer,
                    f"Internal load balancer '{balancer.name}' lets AWS pick its address in subnet '{subnet.name}' "
                    f"({cidr}, {usable} usable), which needs at least {NLB_FREE_ADDRESSES} free addresses when it is "
                    f"created (ELB guide), but {taken} are taken by resources created alongside it (interface "
                    "endpoints, attachments, instances): CreateLoadBalancer fails with InvalidSubnet ('Not enough "
                    "IP space available'). Give each subnet mapping a privateIpv4Address (the planner's "
                    "VpcPlan.load_balancer_addresses).",
                )

    # --- targets -------------------------------------------------------------------------------------

    def target_group(self, target_group: PolicyResource, served: set[str], balancer: PolicyResource) -> None:
        graph = self.graph
        groups = auto_scaling_groups(graph, target_group)
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
            self.auto_scaling_group(group, served, balancer, target_group)

    def _ports(self, target_group: PolicyResource) -> list[int]:
        """The ports the load balancer opens to targets: the traffic port, and a health check port of its own."""
        traffic = number(known(target_group.props, "port"))
        check = known(target_group.props, "healthCheck")
        health = number(known(check, "port")) if is_mapping(check) and known(check, "port") != "traffic-port" else None
        return sorted({int(p) for p in (traffic, health) if p is not None})

    def auto_scaling_group(
        self, group: PolicyResource, served: set[str], balancer: PolicyResource, target_group: PolicyResource
    ) -> None:
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
            self.launch_template(template, target_group, balancer)
        subnets = graph.refs(group, "vpcZoneIdentifiers", SUBNET)
        zones = {z for s in subnets if isinstance(z := known(s.props, "availabilityZoneId"), str)}
        if served and zones - served:
            self.fail(
                group,
                f"Auto Scaling group '{group.name}' runs proxies in zones the load balancer does not "
                f"serve ({', '.join(sorted(zones - served))}): they never receive traffic.",
            )
        self._load_balancer_reaches_proxies(balancer, target_group, templates, subnets)
        self.routes(group, subnets, templates)
        self._packages(group, subnets, templates)
        self._host_names(subnets, templates)

    def _proxy_groups(self, templates: list[PolicyResource]) -> list[PolicyResource]:
        graph = self.graph
        found = [g for t in templates for g in graph.refs(t, "vpcSecurityGroupIds", SECURITY_GROUP)]
        found += [g for t in templates for g in graph.refs(t, "networkInterfaces", SECURITY_GROUP)]
        return list({g.urn: g for g in found}.values())

    def _balancer_sources(self, balancer: PolicyResource) -> tuple[str | None, ...]:
        """The addresses the load balancer's traffic to targets comes from: its fixed ones, else its subnets."""
        addresses = fixed_addresses(balancer)
        if isinstance(addresses, list):
            return tuple(f"{a}/32" for a in addresses)
        return tuple(subnet_cidr(s) for s in self._subnets(balancer))

    def _load_balancer_reaches_proxies(
        self,
        balancer: PolicyResource,
        target_group: PolicyResource,
        templates: list[PolicyResource],
        subnets: list[PolicyResource],
    ) -> None:
        """Traffic and health checks leave through the load balancer's groups and enter through the proxies'."""
        graph = self.graph
        proxy_groups = self._proxy_groups(templates)
        balancer_groups = graph.refs(balancer, "securityGroups", SECURITY_GROUP)
        sources = self._balancer_sources(balancer)
        if not proxy_groups:
            return
        source = Traffic(frozenset(g.urn for g in balancer_groups), sources)
        proxies = Traffic(frozenset(g.urn for g in proxy_groups), tuple(subnet_cidr(s) for s in subnets))
        for port in self._ports(target_group):
            if (balancer_groups or all(sources)) and not self.security_groups.admits(source, proxies, port):
                self.fail(
                    proxy_groups[0],
                    f"Security group '{proxy_groups[0].name}' of the proxies admits nothing on port {port} from "
                    f"load balancer '{balancer.name}' (its security group, or its addresses "
                    f"{', '.join(str(s) for s in sources)}): every request and health check is dropped and every "
                    f"target stays unhealthy. Allow port {port} in from the load balancer's security group.",
                )
            if balancer_groups and not self.security_groups.sends(source, proxies, port):
                self.fail(
                    balancer_groups[0],
                    f"Security group '{balancer_groups[0].name}' of load balancer '{balancer.name}' lets nothing out "
                    f"to the proxies on port {port}: a Network Load Balancer's traffic and health checks follow its "
                    "security groups' outbound rules (ELB guide), so every target stays unhealthy. Allow port "
                    f"{port} out to the proxies' security group.",
                )

    def launch_template(self, template: PolicyResource, target_group: PolicyResource, balancer: PolicyResource) -> None:
        script = user_data(template)
        if script is UNKNOWN:
            return
        if not script.strip():
            self.fail(
                template,
                f"Launch template '{template.name}' has no user data: its instances boot without a "
                "proxy, nothing listens on the proxy port and every target stays unhealthy. Install "
                "and configure the proxy in userData.",
            )
            return
        if not installs_squid(script):
            self.fail(
                template,
                f"Launch template '{template.name}' boots instances whose user data does not install and start "
                "squid ('dnf install ... squid' and 'systemctl enable --now squid'): nothing listens on the proxy "
                "port and every target stays unhealthy. Boot them with "
                "arcblueprint.planning.proxy_config.render_user_data.",
            )
        rules = proxy_rules(template)
        if not rules:
            return
        port = number(known(target_group.props, "port"))
        if rules.port is not None and port is not None and rules.port != int(port):
            self.fail(
                template,
                f"Launch template '{template.name}' starts squid on port {rules.port}, but target group "
                f"'{target_group.name}' forwards to port {int(port)}: nothing listens there and every target stays "
                "unhealthy. Use one port for both (onPrem.proxyPort).",
            )
        preserved = known(target_group.props, "preserveClientIp")
        sources = self._balancer_sources(balancer)
        if preserved is not UNKNOWN and not truthy(preserved) and all(sources):
            if not covers(rules.clients, sources):
                self.fail(
                    template,
                    f"Launch template '{template.name}' starts squid admitting clients {', '.join(rules.clients)}, "
                    f"but load balancer '{balancer.name}' reaches the proxies from {', '.join(map(str, sources))} "
                    "(client IP preservation off): squid refuses every request. Admit the load balancer's "
                    "addresses (SquidConfig.for_stack with VpcPlan.load_balancer_addresses).",
                )

    # --- routes to on-prem ---------------------------------------------------------------------------

    def _on_prem_networks(self, templates: list[PolicyResource]) -> set[str]:
        groups = {g.urn for g in self._proxy_groups(templates)}
        return {
            cidr
            for rule in self.security_groups.rules
            if rule.egress and rule.group in groups
            for cidr in rule.cidrs
            if cidr not in ("0.0.0.0/0", "::/0")
        }

    def _rules(self, templates: list[PolicyResource]) -> list[ProxyRules]:
        """What the proxies' squid enforces, for each template whose user data holds a generated config."""
        return [r for t in templates if (r := proxy_rules(t)) and r is not UNKNOWN]

    def routes(self, group: PolicyResource, subnets: list[PolicyResource], templates: list[PolicyResource]) -> None:
        graph = self.graph
        networks = self._on_prem_networks(templates)
        if templates and not networks:
            self.fail(
                group,
                f"Auto Scaling group '{group.name}' runs proxies whose security groups allow no on-prem "
                "network out: add egress to the on-prem CIDRs on the destination ports.",
            )
        elif networks:
            self._destination_ports(templates, networks)
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

    def _destination_ports(self, templates: list[PolicyResource], networks: set[str]) -> None:
        """Every port squid lets requests through to is open towards every on-prem network (its own and the egress')."""
        rules = self._rules(templates)
        groups = self._proxy_groups(templates)
        if not rules or not groups:
            return
        wanted = networks | {n for r in rules for n in r.networks}
        for port in sorted({p for r in rules for p in r.ports}):
            egress = list(self.security_groups.matching(True, {g.urn for g in groups}, port))
            for network in sorted(wanted):
                if not any(covers(rule.cidrs, [network]) for rule in egress):
                    self.fail(
                        groups[0],
                        f"Security group '{groups[0].name}' of the proxies lets nothing out to on-prem {network} on "
                        f"port {port}, a port squid lets requests through to (onPrem.destinationPorts): those "
                        f"requests time out. Allow port {port} out to {network}.",
                    )

    # --- what the first boot needs -------------------------------------------------------------------

    def _packages(self, group: PolicyResource, subnets: list[PolicyResource], templates: list[PolicyResource]) -> None:
        """User data that installs packages reaches the Amazon Linux repository (S3): a gateway endpoint on the
        subnets' route tables, HTTPS out to its prefix list, all there before the group boots an instance."""
        graph = self.graph
        scripts = [script for t in templates if isinstance(script := user_data(t), str)]
        if not any(_PACKAGES.search(script) for script in scripts):
            return
        vpcs = {v.urn for s in subnets for v in graph.refs(s, "vpcId", VPC)}
        tables = route_tables_of(graph, subnets)
        if not tables or not all(tables.values()) or self._through_nat(tables, templates):
            return  # a subnet without a table of the stack is reported by the routes' check
        gateways = [
            e
            for e in graph.of_type(ENDPOINT)
            if known(e.props, "vpcEndpointType") == "Gateway"
            and isinstance(name := known(e.props, "serviceName"), str)
            and name.endswith(".s3")
            and {v.urn for v in graph.refs(e, "vpcId", VPC)} & vpcs
        ]
        if not gateways:
            self.fail(
                group,
                f"Auto Scaling group '{group.name}' boots proxies whose user data installs packages with dnf from "
                "the Amazon Linux repository (in S3), but their VPC has no S3 gateway endpoint nor a route to a "
                "NAT gateway: dnf fails, squid never starts and every instance is replaced in a loop. Declare an "
                "S3 gateway endpoint on the proxy subnets' route tables.",
            )
            return
        routed = {t.urn for e in gateways for t in graph.refs(e, "routeTableIds", ROUTE_TABLE)}
        for subnet in subnets:
            if not tables[subnet.urn] & routed:
                self.fail(
                    gateways[0],
                    f"S3 gateway endpoint '{gateways[0].name}' is on no route table of proxy subnet '{subnet.name}': "
                    "dnf there cannot reach the Amazon Linux repository and squid never starts. Add the subnet's "
                    "route table to routeTableIds.",
                )
        groups = {g.urn for g in self._proxy_groups(templates)}
        open_to = [
            e
            for e in gateways
            if any(
                e.urn in r.prefix_lists or covers(r.cidrs, ["0.0.0.0/0"])
                for r in self.security_groups.matching(True, groups, HTTPS)
            )
        ]
        proxy_groups = self._proxy_groups(templates)
        if proxy_groups and not open_to:
            self.fail(
                proxy_groups[0],
                f"Security group '{proxy_groups[0].name}' of the proxies lets no HTTPS out to S3 gateway endpoint "
                f"'{gateways[0].name}' (its prefix list): dnf cannot reach the Amazon Linux repository and squid "
                "never starts. Allow port 443 out to the endpoint's prefix list.",
            )
        rules = [
            r
            for r in graph.of_type(EGRESS_RULE, SG_RULE)
            if {g.urn for g in graph.refs(r, "securityGroupId", SECURITY_GROUP)} & groups
            and {e.urn for e in graph.refs(r, "prefixListId", ENDPOINT) + graph.refs(r, "prefixListIds", ENDPOINT)}
            & {e.urn for e in open_to}
        ]
        associations = [a for s in subnets for a in graph.referrers(s, ASSOCIATION, prop="subnetId")]
        needed = [*(open_to or gateways[:1]), *rules, *associations]
        missing = [r for r in needed if not graph.waits_for(group, r)]
        if missing:
            self.fail(
                group,
                f"Auto Scaling group '{group.name}' does not wait for {_names(missing)}: the first boot's dnf "
                "install can run before the proxies have a path to the Amazon Linux repository, fail, and leave "
                "the instance to be replaced after the grace period. Make the group depend on them.",
            )

    def _through_nat(self, tables: dict[str, set[str]], templates: list[PolicyResource]) -> bool:
        """Every subnet routes the internet to a NAT gateway and the proxies may send HTTPS anywhere."""
        graph = self.graph
        to_nat = {
            t.urn
            for route in graph.of_type(ROUTE)
            if known(route.props, "destinationCidrBlock") == "0.0.0.0/0" and graph.refs(route, "natGatewayId")
            for t in graph.refs(route, "routeTableId", ROUTE_TABLE)
        }
        groups = {g.urn for g in self._proxy_groups(templates)}
        return all(t & to_nat for t in tables.values()) and any(
            covers(r.cidrs, ["0.0.0.0/0"]) for r in self.security_groups.matching(True, groups, HTTPS)
        )

    def _host_names(self, subnets: list[PolicyResource], templates: list[PolicyResource]) -> None:
        """Host names squid lets through resolve in the proxy VPC: through forwarding rules or a private zone."""
        graph = self.graph
        domains = sorted({d for r in self._rules(templates) for d in r.domains})
        vpcs = list({v.urn: v for s in subnets for v in graph.refs(s, "vpcId", VPC)}.values())
        if not domains or not vpcs:
            return
        urns = {v.urn for v in vpcs}
        if any({v.urn for v in graph.refs(a, "vpcId", VPC)} & urns for a in graph.of_type(RESOLVER_ASSOCIATION)):
            return
        zones = [
            name.rstrip(".")
            for z in graph.of_type(ZONE)
            if {v.urn for v in graph.refs(z, "vpcs", VPC)} & urns and isinstance(name := known(z.props, "name"), str)
        ]
        unresolved = [
            d for d in domains if not any(d.lstrip(".") == z or d.lstrip(".").endswith(f".{z}") for z in zones)
        ]
        if unresolved:
            self.fail(
                vpcs[0],
                f"Proxy VPC '{vpcs[0].name}' has no Route 53 Resolver rule association, but squid lets requests "
                f"through to host names ({', '.join(unresolved)}): the VPC's resolver answers its own names and "
                "looks up the rest in public DNS, so the proxies cannot resolve on-prem names and fail every "
                "request to them. Associate the network team's forwarding rules (onPrem.resolverRuleIds).",
            )

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
    endpoints: dict[str, list[PolicyResource]] = {}
    services: dict[str, PolicyResource] = {}
    for endpoint in graph.of_type(ENDPOINT):
        if known(endpoint.props, "vpcEndpointType") != "Interface":
            continue
        for service in graph.refs(endpoint, "serviceName", ENDPOINT_SERVICE):
            services.setdefault(service.urn, service)
            endpoints.setdefault(service.urn, []).append(endpoint)
    for urn, service in services.items():
        chain.service(service, endpoints[urn])


PATH_COMPLETE = stack_policy(
    "onprem-path-complete",
    "Behind every PrivateLink endpoint of an in-stack endpoint service: an allowed principal and no pending "
    "acceptance; a load balancer with addresses it can get, listening on the port clients use and forwarding to a "
    "target group attached to a self-healing Auto Scaling group; security groups open between them both ways; a "
    "launch template that installs and starts squid on that port for the load balancer's addresses; packages and "
    "names the first boot needs; and routes and egress from its subnets for every on-prem network and port to an "
    "attached transit or virtual private gateway.",
    validate_path_complete,
    remediation_steps="Build the path with arcblueprint.platform.onprem.OnPremAccess (ProxyFleet, OnPremRouting).",
)

POLICIES = [PATH_COMPLETE]
