"""onprem-path-complete: the shipped path is whole; each link broken back in the real graph is reported."""

from __future__ import annotations

import base64
import copy
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

    messages = _by_resource(violations_of(mutated(synthesized("prod"), "onprem-proxies", elsewhere), POLICY))
    [message] = messages.pop("onprem-proxies")
    assert "checks health on port 22" in message
    # Nor do the security groups let health checks through on that port, either way.
    assert set(messages) == {"onprem-proxy-sg", "onprem-nlb-sg"}
    assert all("on port 22" in m for found in messages.values() for m in found)


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
    by_resource = _by_resource(violations)
    assert set(by_resource) == {"onprem-proxy-asg", "network-private-rt-2"}
    assert any("zones the load balancer does not serve" in m for m in by_resource["onprem-proxy-asg"])
    # That subnet's table does not lead on-prem either: both links are named.
    assert any("has no route for on-prem 172.16.0.0/12" in m for m in by_resource["network-private-rt-2"])


# --- the review's gaps: each, turned back into the real prod (or dev) graph, is reported --------------------


def _edited(graph, changes):
    """One copy of ``graph`` with ``changes[name](resource)`` applied to each named resource."""
    copied = dataclasses.replace(graph, resources=copy.deepcopy(graph.resources))
    for name, change in changes.items():
        [target] = [r for r in copied.resources if r.name == name]
        change(target)
    return copied


def _named(graph, name):
    [found] = [r for r in graph.resources if r.name == name]
    return found


def _by_resource(violations):
    found = {}
    for v in violations:
        found.setdefault(v.urn.rsplit("::", 1)[-1], []).append(v.message)
    return found


def _user_data(graph):
    return base64.b64decode(_named(graph, "onprem-proxy-lt").inputs["userData"]).decode()


def _with_user_data(script):
    return _set("userData", base64.b64encode(script.encode()).decode())


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_an_internal_load_balancer_left_to_pick_addresses_in_the_shared_28s_is_reported(synthesized, stack):
    """The deploy failure the fixed addresses fix: subnets= in /28s whose ENIs are created alongside it."""
    graph = synthesized(stack)
    balancer = _named(graph, "onprem-nlb")
    subnets = balancer.property_dependencies["subnetMappings"]

    def pick_addresses(nlb):
        # Declared with subnets=: the provider computes the mappings (the mocks echo inputs as outputs: drop both).
        nlb.inputs.pop("subnetMappings")
        nlb.outputs.pop("subnetMappings", None)
        nlb.inputs["subnets"] = [f"subnet-{i}" for i in range(len(subnets))]
        nlb.property_dependencies["subnets"] = nlb.property_dependencies.pop("subnetMappings")

    def concurrent(resource):
        resource.dependencies.remove(balancer.urn)

    consumers = [
        r.name
        for r in graph.resources
        if balancer.urn in r.dependencies
        and set(r.property_dependencies.get("subnetIds", []) + r.property_dependencies.get("vpcZoneIdentifiers", []))
        & set(subnets)
    ]
    # As before the fix: squid admitted the whole proxy VPC, since the load balancer's addresses were not known.
    vpc = _named(graph, "onprem-vpc").inputs["cidrBlock"]
    clients = " ".join(f"{m['privateIpv4Address']}/32" for m in balancer.inputs["subnetMappings"])
    squid = _with_user_data(_user_data(graph).replace(f"acl clients src {clients}", f"acl clients src {vpc}"))
    before = {"onprem-nlb": pick_addresses, "onprem-proxy-lt": squid}
    broken = _edited(graph, {**before, **dict.fromkeys(consumers, concurrent)})
    messages = _by_resource(violations_of(broken, POLICY))
    assert set(messages) == {"onprem-nlb"}
    per_subnet = sorted(messages["onprem-nlb"])  # one per subnet: dev has one zone, prod two
    assert len(per_subnet) == len(subnets)
    for message, subnet in zip(per_subnet, ["192.168.0.0/28", "192.168.0.16/28"], strict=False):
        assert "needs at least 8 free addresses" in message and f"({subnet}, 11 usable)" in message
        assert "InvalidSubnet" in message and "privateIpv4Address" in message
    # Created before anything else takes an address there, the load balancer does find 8 free: not reported.
    assert violations_of(_edited(graph, before), POLICY) == []
    # And squid admitting only the fixed addresses AWS was never told to use refuses the load balancer.
    message = _one(violations_of(_edited(graph, {"onprem-nlb": pick_addresses}), POLICY), "onprem-proxy-lt")
    assert f"admitting clients {clients.replace(' ', ', ')}" in message


def test_a_fixed_address_must_be_taken_first_and_usable(synthesized):
    prod = synthesized("prod")
    balancer = _named(prod, "onprem-nlb").urn
    racing = mutated(prod, "onprem-proxy-logs-endpoint", lambda e: e.dependencies.remove(balancer))
    message = _one(violations_of(racing, POLICY), "onprem-proxy-logs-endpoint")
    assert "192.168.0.4, 192.168.0.20" in message and "Make it depend on the load balancer" in message

    def reserved(nlb):
        nlb.inputs["subnetMappings"][0]["privateIpv4Address"] = "192.168.0.2"  # the VPC's DNS server

    messages = _by_resource(violations_of(mutated(prod, "onprem-nlb", reserved), POLICY))
    [message] = messages.pop("onprem-nlb")
    assert "one AWS reserves in 192.168.0.0/28" in message and "(192.168.0.4)" in message
    [squid] = messages.pop("onprem-proxy-lt")  # nor does squid admit that address
    assert "192.168.0.2/32" in squid and not messages


def test_the_proxies_must_admit_the_load_balancer(synthesized):
    prod = synthesized("prod")
    message = _one(violations_of(_without(prod, "onprem-proxy-in-from-nlb"), POLICY), "onprem-proxy-sg")
    assert "admits nothing on port 3128 from load balancer 'onprem-nlb'" in message and "Allow port 3128 in" in message

    def by_address(cidr):
        def change(rule):
            rule.inputs.pop("referencedSecurityGroupId")
            rule.property_dependencies.pop("referencedSecurityGroupId")
            rule.inputs["cidrIpv4"] = cidr

        return change

    # The load balancer's addresses (or a range holding them) admit it as well as its group does.
    assert violations_of(mutated(prod, "onprem-proxy-in-from-nlb", by_address("192.168.0.0/27")), POLICY) == []
    elsewhere = mutated(prod, "onprem-proxy-in-from-nlb", by_address("192.168.0.16/28"))  # holds .20, not .4
    assert "admits nothing on port 3128" in _one(violations_of(elsewhere, POLICY), "onprem-proxy-sg")


def test_the_load_balancer_group_must_let_traffic_and_health_checks_out(synthesized):
    message = _one(violations_of(_without(synthesized("prod"), "onprem-nlb-to-proxies"), POLICY), "onprem-nlb-sg")
    assert "lets nothing out to the proxies on port 3128" in message and "outbound rules" in message


def test_every_destination_port_is_open_to_on_prem(synthesized):
    message = _one(violations_of(_without(synthesized("prod"), "onprem-proxy-out-0-8080"), POLICY), "onprem-proxy-sg")
    assert "lets nothing out to on-prem 172.16.0.0/12 on port 8080" in message
    assert "Allow port 8080 out to 172.16.0.0/12" in message


def test_packages_need_the_s3_gateway_its_routes_its_egress_and_the_group_to_wait(synthesized):
    prod = synthesized("prod")
    message = _one(violations_of(_without(prod, "onprem-proxy-s3-gateway"), POLICY), "onprem-proxy-asg")
    assert "installs packages with dnf" in message and "no S3 gateway endpoint" in message

    table_0 = _named(prod, "onprem-rt-0").urn

    def off_table_1(endpoint):
        endpoint.property_dependencies["routeTableIds"] = [table_0]

    message = _one(
        violations_of(mutated(prod, "onprem-proxy-s3-gateway", off_table_1), POLICY), "onprem-proxy-s3-gateway"
    )
    assert "on no route table of proxy subnet 'onprem-subnet-1'" in message

    message = _one(violations_of(_without(prod, "onprem-proxy-out-s3"), POLICY), "onprem-proxy-sg")
    assert "lets no HTTPS out to S3 gateway endpoint 'onprem-proxy-s3-gateway'" in message

    first = {_named(prod, n).urn for n in ("onprem-proxy-s3-gateway", "onprem-proxy-out-s3", "onprem-rta-1")}

    def racing(group):
        group.dependencies = [u for u in group.dependencies if u not in first]

    message = _one(violations_of(mutated(prod, "onprem-proxy-asg", racing), POLICY), "onprem-proxy-asg")
    assert "does not wait for 'onprem-proxy-s3-gateway', 'onprem-proxy-out-s3', 'onprem-rta-1'" in message
    assert "first boot's dnf install" in message


def test_user_data_must_install_and_start_squid_as_the_load_balancer_reaches_it(synthesized):
    prod = synthesized("prod")
    script = _user_data(prod)
    not_squid = mutated(prod, "onprem-proxy-lt", _with_user_data("#!/bin/bash\necho ready > /tmp/ready\n"))
    message = _one(violations_of(not_squid, POLICY), "onprem-proxy-lt")
    assert "does not install and start squid" in message
    never_started = script.replace("systemctl enable --now squid\n", "")
    message = _one(
        violations_of(mutated(prod, "onprem-proxy-lt", _with_user_data(never_started)), POLICY), "onprem-proxy-lt"
    )
    assert "does not install and start squid" in message
    elsewhere = script.replace("http_port 3128\n", "http_port 3129\n")
    message = _one(
        violations_of(mutated(prod, "onprem-proxy-lt", _with_user_data(elsewhere)), POLICY), "onprem-proxy-lt"
    )
    assert "starts squid on port 3129, but target group 'onprem-proxies' forwards to port 3128" in message
    strangers = script.replace("acl clients src 192.168.0.4/32 192.168.0.20/32", "acl clients src 10.0.0.0/24")
    message = _one(
        violations_of(mutated(prod, "onprem-proxy-lt", _with_user_data(strangers)), POLICY), "onprem-proxy-lt"
    )
    assert "admitting clients 10.0.0.0/24" in message and "192.168.0.4/32, 192.168.0.20/32" in message


def test_the_listener_must_be_on_the_port_clients_use(synthesized):
    prod = synthesized("prod")
    moved = mutated(prod, "onprem-listener", _set("port", 3129))
    message = _one(violations_of(moved, POLICY), "onprem-listener")
    assert "listens on port 3129, but function 'facade-router-function'" in message
    assert "proxy.arcbp-prod.internal:3128" in message
    # The function's own rule names the same break from the client's side.
    [unreachable] = violations_of(moved, "vpc-function-reaches-its-apis")
    assert unreachable.urn.endswith("::facade-router-function")
    assert "listens on 3129, not on port 3128 of the proxy URL" in unreachable.message


def test_endpoints_must_be_allowed_and_accepted(synthesized):
    prod = synthesized("prod")
    message = _one(
        violations_of(mutated(prod, "onprem-service", _set("acceptanceRequired", True)), POLICY), "onprem-service"
    )
    assert "stay pendingAcceptance" in message and "'onprem-endpoint'" in message
    message = _one(
        violations_of(mutated(prod, "onprem-service", _set("allowedPrincipals", [])), POLICY), "onprem-service"
    )
    assert "allows no principal" in message and "'onprem-endpoint' cannot connect" in message


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_host_names_need_the_resolver_rules(synthesized, stack):
    message = _one(violations_of(_without(synthesized(stack), "onprem-resolver-rule-0"), POLICY), "onprem-vpc")
    domain = {"dev": ".dev.corp.example.com", "prod": ".corp.example.com"}[stack]
    assert f"host names ({domain})" in message and "onPrem.resolverRuleIds" in message
