"""The network as the correctness rules see it: security group rules, placements, route tables (shared).

Whether a packet can go from A to B on a TCP port takes both sides: an egress rule of A's groups
naming B's group (or covering B's addresses) and an ingress rule of B's groups naming A's group
(or covering A's addresses). Rules come from every resource type that declares them; the peers
are read from the engine's property dependencies, so the answer holds in ``pulumi preview`` too.

Props are read through :func:`~arcblueprint.policy.base.known`: behind the engine's proxy an inline
rule is a ``Mapping`` (not a ``dict``), and a value computed at deploy time (a CIDR from a new
resource) is :data:`~arcblueprint.policy.base.UNKNOWN`, which no rule here compares as an address.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from arcblueprint.policy.base import UNKNOWN, is_mapping, known, known_list, number, truthy

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from pulumi_policy import PolicyResource

    from arcblueprint.policy.graph import StackGraph

__all__ = [
    "ASSOCIATION",
    "ENDPOINT",
    "ROUTE",
    "ROUTE_TABLE",
    "SECURITY_GROUP",
    "SUBNET",
    "VPC",
    "Placement",
    "SecurityGroups",
    "SecurityRule",
    "Traffic",
    "covers",
    "placement_of",
    "route_tables_of",
    "security_group_rules",
    "subnet_cidr",
]

VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
ROUTE = "aws:ec2/route:Route"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"


@dataclass(frozen=True)
class SecurityRule:
    """One security group rule: what it lets through, and to (egress) or from (ingress) whom."""

    group: str
    egress: bool
    protocol: str
    from_port: float | None
    to_port: float | None
    groups: frozenset[str] = frozenset()
    cidrs: tuple[str, ...] = ()
    prefix_lists: frozenset[str] = frozenset()

    def carries(self, port: int) -> bool:
        """Whether TCP traffic to ``port`` matches the rule's protocol and port range."""
        if self.protocol in ("-1", "all"):
            return True
        if self.protocol not in ("tcp", "6"):
            return False
        low, high = self.from_port, self.to_port
        return low is not None and high is not None and low <= port <= high


def _protocol(value: Any) -> str:
    return str(value).lower() if value is not None else ""


def _cidrs(values: Any) -> tuple[str, ...]:
    """The literal CIDRs of a prop; an unknown one (computed at deploy time) is no CIDR the rule can compare."""
    items = values if values is not UNKNOWN else []
    return tuple(c for c in items if isinstance(c, str))


def security_group_rules(graph: StackGraph) -> list[SecurityRule]:
    """Every rule of every security group in the stack, whichever resource type declares it."""
    rules: list[SecurityRule] = []
    for resource in graph.of_type(EGRESS_RULE, INGRESS_RULE):
        group = graph.ref(resource, "securityGroupId", SECURITY_GROUP)
        if group is None:
            continue
        p = resource.props
        rules.append(
            SecurityRule(
                group.urn,
                resource.resource_type == EGRESS_RULE,
                _protocol(known(p, "ipProtocol")),
                number(known(p, "fromPort")),
                number(known(p, "toPort")),
                frozenset(g.urn for g in graph.refs(resource, "referencedSecurityGroupId", SECURITY_GROUP)),
                _cidrs([known(p, "cidrIpv4")]),
                frozenset(e.urn for e in graph.refs(resource, "prefixListId", ENDPOINT)),
            )
        )
    for resource in graph.of_type(SG_RULE):
        group = graph.ref(resource, "securityGroupId", SECURITY_GROUP)
        if group is None:
            continue
        p = resource.props
        peers = {g.urn for g in graph.refs(resource, "sourceSecurityGroupId", SECURITY_GROUP)}
        if truthy(known(p, "self")):
            peers.add(group.urn)
        rules.append(
            SecurityRule(
                group.urn,
                known(p, "type") == "egress",
                _protocol(known(p, "protocol")),
                number(known(p, "fromPort")),
                number(known(p, "toPort")),
                frozenset(peers),
                _cidrs(known_list(p, "cidrBlocks")),
                frozenset(e.urn for e in graph.refs(resource, "prefixListIds", ENDPOINT)),
            )
        )
    for group in graph.of_type(SECURITY_GROUP):
        for direction in ("ingress", "egress"):
            # Inline rules: the engine records the referenced groups per property, not per rule.
            referenced = frozenset(g.urn for g in graph.refs(group, direction, SECURITY_GROUP))
            lists = frozenset(e.urn for e in graph.refs(group, direction, ENDPOINT))
            inline_rules = known_list(group.props, direction)
            for inline in inline_rules if inline_rules is not UNKNOWN else ():
                if not is_mapping(inline):
                    continue
                # Group ids and prefix list ids are unknown until their groups and endpoints exist: set all the same.
                peers = set(referenced if known_list(inline, "securityGroups") else ())
                if truthy(known(inline, "self")):
                    peers.add(group.urn)
                rules.append(
                    SecurityRule(
                        group.urn,
                        direction == "egress",
                        _protocol(known(inline, "protocol")),
                        number(known(inline, "fromPort")),
                        number(known(inline, "toPort")),
                        frozenset(peers),
                        _cidrs(known_list(inline, "cidrBlocks")),
                        lists if known_list(inline, "prefixListIds") else frozenset(),
                    )
                )
    return rules


def covers(cidrs: Iterable[str], targets: Iterable[str | None]) -> bool:
    """Whether every target CIDR lies inside one of ``cidrs`` (an unknown target is not covered)."""
    try:
        networks = [ipaddress.ip_network(c, strict=False) for c in cidrs]
        wanted = [ipaddress.ip_network(t, strict=False) if t else None for t in targets]
    except ValueError:
        return False
    return bool(wanted) and all(w is not None and any(_within(w, n) for n in networks) for w in wanted)


def _within(
    inner: ipaddress.IPv4Network | ipaddress.IPv6Network, outer: ipaddress.IPv4Network | ipaddress.IPv6Network
) -> bool:
    """``inner.subnet_of(outer)`` for networks of one IP version (an IPv4 network never lies in an IPv6 one)."""
    if isinstance(inner, ipaddress.IPv4Network) and isinstance(outer, ipaddress.IPv4Network):
        return inner.subnet_of(outer)
    if isinstance(inner, ipaddress.IPv6Network) and isinstance(outer, ipaddress.IPv6Network):
        return inner.subnet_of(outer)
    return False


def subnet_cidr(subnet: PolicyResource) -> str | None:
    """The subnet's CIDR, ``None`` if not set or computed at deploy time (then it covers nothing)."""
    value = known(subnet.props, "cidrBlock")
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class Traffic:
    """One side of a flow: security groups (urns) and the addresses they sit in (subnet CIDRs)."""

    groups: frozenset[str]
    cidrs: tuple[str | None, ...]


class SecurityGroups:
    """The stack's security group rules, asked whether TCP on a port flows between two sides."""

    def __init__(self, graph: StackGraph) -> None:
        self.rules = security_group_rules(graph)

    def matching(self, egress: bool, groups: Iterable[str], port: int) -> Iterator[SecurityRule]:
        wanted = set(groups)
        return (r for r in self.rules if r.egress == egress and r.group in wanted and r.carries(port))

    def sends(self, source: Traffic, target: Traffic, port: int) -> bool:
        """An egress rule of the source's groups lets ``port`` out to the target."""
        return any(
            r.groups & target.groups or covers(r.cidrs, target.cidrs) for r in self.matching(True, source.groups, port)
        )

    def admits(self, source: Traffic, target: Traffic, port: int) -> bool:
        """An ingress rule of the target's groups lets ``port`` in from the source."""
        return any(
            r.groups & source.groups or covers(r.cidrs, source.cidrs) for r in self.matching(False, target.groups, port)
        )


@dataclass
class Placement:
    """Where a VPC function sits: its VPC(s), subnets, security groups and the route tables of those subnets."""

    vpcs: set[str]
    subnets: list[PolicyResource]
    groups: set[str]
    #: Subnet urn -> route tables associated with it (empty: the VPC's main table, not in the stack).
    route_tables: dict[str, set[str]] = field(default_factory=dict)

    @property
    def traffic(self) -> Traffic:
        return Traffic(frozenset(self.groups), tuple(subnet_cidr(s) for s in self.subnets))


def route_tables_of(graph: StackGraph, subnets: Iterable[PolicyResource]) -> dict[str, set[str]]:
    """Subnet urn -> the route tables associated with it in the stack."""
    return {
        s.urn: {
            t.urn
            for a in graph.referrers(s, ASSOCIATION, prop="subnetId")
            for t in graph.refs(a, "routeTableId", ROUTE_TABLE)
        }
        for s in subnets
    }


def placement_of(graph: StackGraph, function: PolicyResource) -> Placement | None:
    """The function's placement, or ``None`` when its subnets or groups are outside the stack."""
    subnets = graph.refs(function, "vpcConfig", SUBNET)
    groups = {g.urn for g in graph.refs(function, "vpcConfig", SECURITY_GROUP)}
    if not subnets or not groups:
        return None
    vpcs = {v.urn for s in subnets for v in graph.refs(s, "vpcId", VPC)}
    return Placement(vpcs, subnets, groups, route_tables_of(graph, subnets))
