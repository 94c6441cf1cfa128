"""PrivateLink: an interface endpoint may only sit in zones its endpoint service's load balancer serves.

``CreateVpcEndpoint`` fails with "The VPC endpoint service ... does not support the availability
zone of the subnet" for any subnet outside those zones. Zones are compared by id, the only name
that means the same physical zone in the consumer's and the provider's accounts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from arcblueprint.policy.base import known, stack_policy
from arcblueprint.policy.graph import StackGraph

if TYPE_CHECKING:
    from pulumi_policy import PolicyResource, StackValidationArgs

    from arcblueprint.policy.base import ReportViolation

__all__ = ["ENDPOINT_ZONES", "POLICIES"]

ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
ENDPOINT_SERVICE = "aws:ec2/vpcEndpointService:VpcEndpointService"
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
SUBNET = "aws:ec2/subnet:Subnet"


def _zone(subnet: PolicyResource) -> str | None:
    """The subnet's zone id (AWS fills it in from the name; offline the mocks do)."""
    value = known(subnet.props, "availabilityZoneId")  # unknown when AWS derives it from the name: not compared
    return value if isinstance(value, str) and value else None


def _load_balancer_subnets(graph: StackGraph, balancer: PolicyResource) -> list[PolicyResource]:
    return graph.refs(balancer, "subnets", SUBNET) + graph.refs(balancer, "subnetMappings", SUBNET)


def validate_endpoint_zones(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Each interface endpoint's subnets are in zones every load balancer of its service serves."""
    graph = StackGraph(args.resources)
    for endpoint in graph.of_type(ENDPOINT):
        if known(endpoint.props, "vpcEndpointType") != "Interface":
            continue
        placed: dict[str, Any] = {s.name: _zone(s) for s in graph.refs(endpoint, "subnetIds", SUBNET)}
        for service in graph.refs(endpoint, "serviceName", ENDPOINT_SERVICE):
            for balancer in graph.refs(service, "networkLoadBalancerArns", LOAD_BALANCER):
                served = {zone for s in _load_balancer_subnets(graph, balancer) if (zone := _zone(s))}
                if not served:
                    continue  # zones unknown (subnets outside the stack): nothing to compare
                outside = sorted(f"{name} ({zone})" for name, zone in placed.items() if zone and zone not in served)
                if outside:
                    report_violation(
                        f"Interface endpoint '{endpoint.name}' has subnets {', '.join(outside)} in zones that load "
                        f"balancer '{balancer.name}' of endpoint service '{service.name}' does not serve "
                        f"({', '.join(sorted(served))}); CreateVpcEndpoint rejects them. Place the endpoint only in "
                        "subnets whose zone id the load balancer's subnets also use.",
                        endpoint.urn,
                    )


ENDPOINT_ZONES = stack_policy(
    "privatelink-endpoint-azs",
    "Interface endpoints are placed only in availability zones (by id) that their endpoint service's "
    "load balancers serve.",
    validate_endpoint_zones,
    remediation_steps="Choose the endpoint's subnets from the zones both VPCs use (OnPremSpec.availability_zone_ids).",
)

POLICIES = [ENDPOINT_ZONES]
