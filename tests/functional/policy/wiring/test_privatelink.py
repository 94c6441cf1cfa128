"""privatelink-endpoint-azs: the on-prem endpoint sits only in zones the proxies' load balancer serves."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arcblueprint.config.schema import ConfigError
from arcblueprint.policy.testing import mutated, violations_of

POLICY = "privatelink-endpoint-azs"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_shipped_stacks_place_the_endpoint_in_served_zones(synthesized, stack):
    graph = synthesized(stack)
    assert violations_of(graph, POLICY) == []
    endpoint = next(r for r in graph.resources if r.name == "onprem-endpoint")
    subnets = {r.urn: r for r in graph.by_type("aws:ec2/subnet:Subnet")}
    placed = {subnets[u].inputs["availabilityZoneId"] for u in endpoint.property_dependencies["subnetIds"]}
    served = {r.inputs["availabilityZoneId"] for r in subnets.values() if r.name.startswith("onprem-subnet-")}
    assert placed and placed <= served


def test_prod_endpoint_in_every_app_zone_is_reported_with_the_fix(synthesized):
    graph = synthesized("prod")  # three application zones, two proxy zones
    app_subnets = [r.urn for r in graph.by_type("aws:ec2/subnet:Subnet") if r.name.startswith("network-private-")]
    assert len(app_subnets) == 3

    def into_every_app_zone(endpoint):
        endpoint.property_dependencies["subnetIds"] = app_subnets

    broken = mutated(graph, "onprem-endpoint", into_every_app_zone)
    [violation] = violations_of(broken, POLICY)
    assert violation.urn.endswith("::onprem-endpoint") and violation.level == "mandatory"
    assert "network-private-2" in violation.message and "CreateVpcEndpoint rejects" in violation.message


def test_dev_cannot_weaken_the_rule():
    from arcblueprint.config import load
    from arcblueprint.policy.config import pack_config_for
    from arcblueprint.preview.harness import REPO_ROOT

    dev = load(REPO_ROOT, "dev")
    assert dev.policy.enforcement == "advisory"
    assert pack_config_for(dev)[POLICY]["enforcementLevel"] == "mandatory"


ZONES = ["euw1-az1", "euw1-az2", "euw1-az3"]


@given(
    app=st.permutations(ZONES).flatmap(lambda z: st.integers(2, 3).map(lambda n: z[:n])),
    proxy=st.permutations(ZONES).flatmap(lambda z: st.integers(2, 3).map(lambda n: z[:n])),
    pin_proxy=st.booleans(),
)
def test_endpoint_zones_are_the_shared_zones_for_any_layout(app, proxy, pin_proxy):
    """Config picks the application subnets whose zone the proxy VPC also uses, or stops with one line."""
    from arcblueprint.config.model import NetworkSpec, OnPremSpec, ProxyCapacitySpec, StackConfig

    def config():
        return StackConfig(
            environment="prod",
            region="eu-west-1",
            account_id="222222222222",
            naming_prefix="arcbp-prod",
            tags={"owner": "o", "cost-center": "c"},
            network=NetworkSpec(
                availability_zones=len(app), availability_zone_ids=tuple(app), on_prem_ranges=("172.16.0.0/12",)
            ),
            on_prem=OnPremSpec(
                enabled=True,
                availability_zones=len(proxy),
                availability_zone_ids=tuple(proxy) if pin_proxy else (),
                proxies=ProxyCapacitySpec(min_size=3, desired_capacity=3, max_size=3),
                gateway_id="tgw-0a1b2c3d",
                destinations=("172.16.0.0/12",),
                allowed_range="192.168.0.0/16",
            ),
        )

    if not pin_proxy and len(proxy) > len(app):
        with pytest.raises(ConfigError, match=r"^onPrem\.availabilityZones = 3 .*must not exceed"):
            config()
        return
    expected = [i for i, zone in enumerate(app) if zone in (proxy if pin_proxy else app[: len(proxy)])]
    if not expected:  # pragma: no cover - two or more of three zones always meet
        with pytest.raises(ConfigError, match=r"^onPrem\.availabilityZoneIds = .* shares no zone"):
            config()
        return
    assert list(config().endpoint_zone_indexes()) == expected
