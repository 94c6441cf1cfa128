"""onprem-path-complete: the shipped path is whole; each link broken back in the real graph is reported."""

from __future__ import annotations

import dataclasses

import pytest

from arcblueprint.policy.testing import mutated, violations_of

POLICY = "onprem-path-complete"


def _without(graph, *names):
    assert all(any(r.name == n for r in graph.resources) for n in names)
    return dataclasses.replace(graph, resources=[r for r in graph.resources if r.name not in names])


def _set(prop, value):
    def change(resource):
        resource.inputs[prop] = value
        if prop in resource.outputs:
            resource.outputs[prop] = value

    return change


def _one(violations, name):
    [violation] = violations
    assert violation.urn.endswith(f"::{name}"), violation.urn
    assert violation.level == "mandatory" and "carries nothing until this is fixed" in violation.message
    return violation.message


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_shipped_paths_are_complete_and_really_walked(synthesized, stack):
    graph = synthesized(stack)
    assert violations_of(graph, POLICY) == []
    # Not vacuous: dev routes through a VGW, prod through a TGW; both must reach the routes' check.
    broken = _without(graph, "onprem-routes-0-0")
    assert "has no route for on-prem 172.16.0.0/12" in _one(violations_of(broken, POLICY), "onprem-rt-0")


def test_a_launch_template_without_user_data_is_reported(synthesized):
    message = _one(
        violations_of(mutated(synthesized("prod"), "onprem-proxy-lt", _set("userData", None)), POLICY),
        "onprem-proxy-lt",
    )
    assert "has no user data" in message and "nothing listens on the proxy port" in message


def test_fixed_instances_or_no_targets_are_reported_on_the_target_group(synthesized):
    prod = synthesized("prod")
    detached = mutated(prod, "onprem-proxy-asg", lambda g: g.property_dependencies.pop("targetGroupArns"))
    message = _one(violations_of(detached, POLICY), "onprem-proxies")
    assert "has no targets" in message and "targetGroupArns" in message


def test_a_group_that_does_not_heal_or_roll_is_reported(synthesized):
    prod = synthesized("prod")
    message = _one(
        violations_of(mutated(prod, "onprem-proxy-asg", _set("healthCheckType", "EC2")), POLICY), "onprem-proxy-asg"
    )
    assert "Set healthCheckType to ELB" in message

    def latest(group):
        group.inputs["launchTemplate"] = {**group.inputs["launchTemplate"], "version": "$Latest"}

    message = _one(violations_of(mutated(prod, "onprem-proxy-asg", latest), POLICY), "onprem-proxy-asg")
    assert "$Latest/$Default start no refresh" in message


def test_a_load_balancer_without_a_listener_is_reported(synthesized):
    message = _one(violations_of(_without(synthesized("prod"), "onprem-listener"), POLICY), "onprem-nlb")
    assert "no listener forwarding to a target group" in message


def test_a_health_check_on_another_port_is_reported(synthesized):
    def elsewhere(target_group):
        target_group.inputs["healthCheck"] = {**target_group.inputs["healthCheck"], "port": "22"}

    message = _one(violations_of(mutated(synthesized("prod"), "onprem-proxies", elsewhere), POLICY), "onprem-proxies")
    assert "checks health on port 22" in message


def test_a_transit_gateway_route_needs_the_attachment_first(synthesized):
    prod = synthesized("prod")
    unattached = _without(prod, "onprem-routes-tgw-attachment")
    violations = violations_of(unattached, POLICY)
    assert {v.urn.rsplit("::", 1)[-1] for v in violations} == {"onprem-routes-0-0", "onprem-routes-1-0"}
    assert all(
        "no VPC attachment to this VPC" in v.message and "InvalidTransitGatewayID.NotFound" in v.message
        for v in violations
    )
    racing = mutated(prod, "onprem-routes-0-0", lambda r: r.dependencies.clear())
    assert "not created after the transit gateway attachment" in _one(
        violations_of(racing, POLICY), "onprem-routes-0-0"
    )


def test_a_route_to_something_else_than_the_gateway_is_reported(synthesized):
    def to_an_internet_gateway(route):
        for props in (route.inputs, route.outputs):
            props.pop("transitGatewayId", None)
            props["gatewayId"] = "igw-0123456789abcdef0"

    message = _one(
        violations_of(mutated(synthesized("prod"), "onprem-routes-1-0", to_an_internet_gateway), POLICY),
        "onprem-routes-1-0",
    )
    assert "not to a transit gateway or virtual private gateway" in message and "igw-" in message


def test_a_virtual_private_gateway_must_be_attached(synthesized):
    violations = violations_of(_without(synthesized("dev"), "onprem-routes-vgw-attachment"), POLICY)
    assert violations and all(
        "is not attached to this VPC" in v.message and v.level == "mandatory" for v in violations
    )  # dev enforces advisory, but correctness rules stay mandatory


def test_proxies_in_zones_the_load_balancer_does_not_serve_are_reported(synthesized):
    prod = synthesized("prod")
    app_subnet = next(r for r in prod.resources if r.name == "network-private-2")

    def into_an_app_zone(group):
        group.property_dependencies["vpcZoneIdentifiers"] = [
            *group.property_dependencies["vpcZoneIdentifiers"],
            app_subnet.urn,
        ]

    violations = violations_of(mutated(prod, "onprem-proxy-asg", into_an_app_zone), POLICY)
    by_resource = {v.urn.rsplit("::", 1)[-1]: v.message for v in violations}
    assert set(by_resource) == {"onprem-proxy-asg", "network-private-rt-2"}
    assert "zones the load balancer does not serve" in by_resource["onprem-proxy-asg"]
    # That subnet's table does not lead on-prem either: both links are named.
    assert "has no route for on-prem 172.16.0.0/12" in by_resource["network-private-rt-2"]
