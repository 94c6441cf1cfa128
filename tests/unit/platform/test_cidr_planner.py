"""Property tests of the VPC planner: placement, capacity, minimality, determinism, clear errors."""

from __future__ import annotations

import ipaddress
import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from arcblueprint.config.model import NetworkSpec
from arcblueprint.planning.cidr import (
    CidrPlanError,
    NetworkDemand,
    ProxyVpcDemand,
    plan_onprem_vpc,
    plan_vpc,
    usable_addresses,
)

EXAMPLES = 400  # x 6 properties: 2,400 examples in the default profile, well under a few seconds


@st.composite
def allowed_ranges(draw: st.DrawFn) -> str:
    prefix = draw(st.integers(min_value=8, max_value=24))
    base = draw(st.sampled_from(["10.0.0.0", "172.16.0.0", "192.168.0.0", "100.64.0.0"]))
    prefix = max(prefix, {"10.0.0.0": 8, "172.16.0.0": 12, "192.168.0.0": 16, "100.64.0.0": 10}[base])
    return str(ipaddress.IPv4Network(f"{base}/{prefix}"))


@st.composite
def on_prem_inside(draw: st.DrawFn, allowed: str) -> tuple[str, ...]:
    """A few on-prem ranges, some inside the allowed range so the planner has to step around them."""
    network = ipaddress.IPv4Network(allowed)
    ranges = []
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        prefix = draw(st.integers(min_value=network.prefixlen, max_value=min(network.prefixlen + 8, 28)))
        blocks = 2 ** (prefix - network.prefixlen)
        index = draw(st.integers(min_value=0, max_value=blocks - 1))
        start = int(network.network_address) + index * 2 ** (32 - prefix)
        ranges.append(str(ipaddress.IPv4Network((start, prefix))))
    return tuple(ranges)


@st.composite
def demands(draw: st.DrawFn) -> NetworkDemand:
    allowed = draw(allowed_ranges())
    return NetworkDemand(
        peak_concurrent_executions=draw(st.integers(min_value=0, max_value=200_000)),
        eni_model=draw(st.sampled_from(["hyperplane", "legacy"])),
        security_group_combinations=draw(st.integers(min_value=1, max_value=50)),
        availability_zones=draw(st.integers(min_value=2, max_value=6)),
        headroom_percent=draw(st.integers(min_value=0, max_value=1000)),
        other_addresses_per_az=draw(st.integers(min_value=0, max_value=5000)),
        allowed_range=allowed,
        on_prem_ranges=draw(on_prem_inside(allowed)),
        public_subnets=draw(st.booleans()),
        isolated_subnets=draw(st.booleans()),
    )


def plan_or_none(demand: NetworkDemand):
    try:
        return plan_vpc(demand)
    except CidrPlanError:
        return None


def nets(cidrs) -> list[ipaddress.IPv4Network]:
    return [ipaddress.IPv4Network(c) for c in cidrs]


@settings(max_examples=EXAMPLES)
@given(demands())
def test_subnets_are_aligned_inside_the_vpc_and_never_overlap(demand: NetworkDemand) -> None:
    plan = plan_or_none(demand)
    assume(plan is not None)
    vpc = ipaddress.IPv4Network(plan.cidr)  # strict parsing: aligned, no host bits
    assert 16 <= vpc.prefixlen <= 28
    assert vpc.subnet_of(ipaddress.IPv4Network(demand.allowed_range))
    assert not any(vpc.overlaps(other) for other in nets(demand.on_prem_ranges))
    subnets = nets(plan.subnets)
    assert all(s.subnet_of(vpc) and 16 <= s.prefixlen <= 28 for s in subnets)
    for i, a in enumerate(subnets):
        for b in subnets[i + 1 :]:
            assert not a.overlaps(b), (a, b)
    tiers = (plan.private_subnets, plan.public_subnets, plan.isolated_subnets)
    assert [len(t) for t in tiers] == [
        demand.availability_zones,
        demand.availability_zones * demand.public_subnets,
        demand.availability_zones * demand.isolated_subnets,
    ]


@settings(max_examples=EXAMPLES)
@given(demands())
def test_each_subnet_holds_its_share_with_reserved_addresses_subtracted(demand: NetworkDemand) -> None:
    plan = plan_or_none(demand)
    assume(plan is not None)
    per_az_executions = math.ceil(demand.peak_concurrent_executions / demand.availability_zones)
    # Lower bounds stated independently of the planner's own arithmetic.
    if demand.eni_model == "legacy":
        lambda_floor = per_az_executions  # one ENI per concurrent execution
    else:
        lambda_floor = demand.security_group_combinations if demand.peak_concurrent_executions else 0
    floor = (lambda_floor + demand.other_addresses_per_az) * (100 + demand.headroom_percent) / 100
    assert plan.addresses_needed_per_az >= floor
    for subnet in nets(plan.private_subnets):
        assert subnet.num_addresses - 5 >= plan.addresses_needed_per_az
    tier_floor = demand.other_addresses_per_az * (100 + demand.headroom_percent) / 100
    for subnet in nets(plan.public_subnets + plan.isolated_subnets):
        assert subnet.num_addresses - 5 >= tier_floor


@settings(max_examples=EXAMPLES)
@given(demands())
def test_the_chosen_prefixes_are_minimal(demand: NetworkDemand) -> None:
    plan = plan_or_none(demand)
    assume(plan is not None)
    private = ipaddress.IPv4Network(plan.private_subnets[0])
    if private.prefixlen < 28:  # one bit smaller would not hold the demand
        assert usable_addresses(private.prefixlen + 1) < plan.addresses_needed_per_az
    if plan.prefix_length < 28:  # a VPC one bit smaller could not hold every subnet
        assert sum(s.num_addresses for s in nets(plan.subnets)) > 2 ** (32 - plan.prefix_length - 1)


@settings(max_examples=EXAMPLES)
@given(demands())
def test_plans_are_deterministic(demand: NetworkDemand) -> None:
    first = plan_or_none(demand)
    again = plan_or_none(NetworkDemand(**{f: getattr(demand, f) for f in demand.__dataclass_fields__}))
    assert first == again


@settings(max_examples=EXAMPLES)
@given(demands())
def test_the_vpc_is_the_first_free_aligned_block(demand: NetworkDemand) -> None:
    plan = plan_or_none(demand)
    assume(plan is not None)
    allowed = ipaddress.IPv4Network(demand.allowed_range)
    on_prem = nets(demand.on_prem_ranges)
    earlier = ipaddress.IPv4Network(plan.cidr)
    # Every aligned block before the chosen one overlaps an on-prem range (check the nearest few).
    for _ in range(8):
        start = int(earlier.network_address) - earlier.num_addresses
        if start < int(allowed.network_address):
            break
        earlier = ipaddress.IPv4Network((start, earlier.prefixlen))
        assert any(earlier.overlaps(r) for r in on_prem), earlier


@settings(max_examples=EXAMPLES)
@given(demands())
def test_impossible_demands_raise_a_one_line_error_naming_the_key(demand: NetworkDemand) -> None:
    try:
        plan_vpc(demand)
    except CidrPlanError as error:
        message = str(error)
        assert "\n" not in message
        assert error.key in {"network.peakConcurrentExecutions", "network.allowedRange", "network.otherAddressesPerAz"}
        assert message.startswith(error.key)
        if error.key == "network.allowedRange":
            # Really no room: either the range is too small or every aligned block collides.
            needed = (
                int(message.rsplit("/", maxsplit=1)[-1].split(maxsplit=1)[0]) if "smaller than" in message else None
            )
            if needed is not None:
                assert ipaddress.IPv4Network(demand.allowed_range).prefixlen > needed


def test_a_demand_beyond_a_slash_16_is_refused() -> None:
    with pytest.raises(CidrPlanError, match=r"^network\.peakConcurrentExecutions = 400000 is invalid: .*/16"):
        plan_vpc(NetworkDemand(peak_concurrent_executions=400_000, eni_model="legacy"))


def test_an_allowed_range_fully_taken_by_on_prem_is_refused() -> None:
    with pytest.raises(CidrPlanError, match=r"^network\.allowedRange = '10\.0\.0\.0/16' is invalid: has no free"):
        plan_vpc(
            NetworkDemand(
                peak_concurrent_executions=10,
                allowed_range="10.0.0.0/16",
                on_prem_ranges=("10.0.0.0/17", "10.0.128.0/17"),
            )
        )


def test_on_prem_ranges_are_stepped_around() -> None:
    plan = plan_vpc(
        NetworkDemand(
            peak_concurrent_executions=1000, eni_model="legacy", on_prem_ranges=("10.0.0.0/16", "10.1.0.0/24")
        )
    )
    assert plan.cidr == "10.1.16.0/20"


def test_hyperplane_needs_far_fewer_addresses_than_legacy() -> None:
    common = {"peak_concurrent_executions": 10_000, "availability_zones": 3, "headroom_percent": 100}
    hyperplane = plan_vpc(NetworkDemand(eni_model="hyperplane", **common))
    legacy = plan_vpc(NetworkDemand(eni_model="legacy", **common))
    assert hyperplane.lambda_addresses_per_az == 1
    assert legacy.lambda_addresses_per_az == 3334
    assert hyperplane.prefix_length > legacy.prefix_length


def test_the_demand_comes_from_the_network_spec() -> None:
    spec = NetworkSpec(peak_concurrent_executions=3000, availability_zones=3, on_prem_ranges=("172.16.0.0/12",))
    demand = NetworkDemand.from_spec(spec)
    assert (demand.peak_concurrent_executions, demand.availability_zones, demand.on_prem_ranges) == (
        3000,
        3,
        ("172.16.0.0/12",),
    )
    assert demand.config_section == "network"


@settings(max_examples=200)
@given(st.integers(min_value=1, max_value=32), st.integers(1, 3), st.booleans())
def test_the_on_prem_vpc_is_small_and_holds_a_refresh_of_the_largest_fleet(proxies: int, zones: int, tgw: bool) -> None:
    app = plan_vpc(NetworkDemand(peak_concurrent_executions=1000, allowed_range="192.168.0.0/16"))
    demand = ProxyVpcDemand(
        max_proxies=proxies,
        availability_zones=zones,
        interface_endpoints=4,
        transit_gateway_attachment=tgw,
        allowed_range="192.168.0.0/16",
    )
    plan = plan_onprem_vpc(demand, avoid=(app.cidr,))
    assert not ipaddress.IPv4Network(plan.cidr).overlaps(ipaddress.IPv4Network(app.cidr))
    assert plan.prefix_length >= 24 and len(plan.private_subnets) == zones
    per_zone = -(-proxies // zones)
    for subnet in nets(plan.private_subnets):
        # Every zone: its proxies twice over (refresh at 200 %), one load balancer node, the endpoints, the attachment.
        assert subnet.num_addresses - 5 >= 2 * per_zone + 1 + 4 + int(tgw)
    # The load balancer's node in each zone has a fixed address there that AWS does not keep for itself
    # (network, router, DNS, future use, broadcast): an internal NLB given its addresses needs no 8 free ones.
    assert len(plan.load_balancer_addresses) == zones
    for subnet, address in zip(nets(plan.private_subnets), plan.load_balancer_addresses, strict=True):
        offset = int(ipaddress.IPv4Address(address)) - int(subnet.network_address)
        assert 4 <= offset < subnet.num_addresses - 1


@pytest.mark.parametrize(
    ("stack", "cidr", "subnets"), [("dev", "192.168.0.0/28", [28]), ("prod", "192.168.0.0/27", [28, 28])]
)
def test_the_shipped_proxy_vpcs_are_a_28_per_zone(stack: str, cidr: str, subnets: list[int]) -> None:
    from arcblueprint.config import load
    from arcblueprint.preview.harness import REPO_ROOT

    config = load(REPO_ROOT, stack)
    demand = ProxyVpcDemand.from_spec(config.on_prem)
    app = plan_vpc(NetworkDemand.from_spec(config.network))
    plan = plan_onprem_vpc(demand, avoid=(app.cidr, *config.network.on_prem_ranges))
    assert plan.cidr == cidr and [n.prefixlen for n in nets(plan.private_subnets)] == subnets
    # dev: one zone, 2 proxies at most, a VGW (no address); prod: two zones, 4 proxies, a TGW attachment; both
    # with 4 endpoint ENIs and the NLB node, and room for each zone's proxies twice over (instance refresh).
    assert demand.addresses_per_az() == {"dev": 2 * 2 + 1 + 4, "prod": 2 * 2 + 1 + 4 + 1}[stack]


def test_on_prem_errors_name_on_prem_keys() -> None:
    with pytest.raises(CidrPlanError, match=r"^onPrem\.allowedRange"):
        plan_onprem_vpc(ProxyVpcDemand(max_proxies=4, allowed_range="192.168.0.0/28"))
    with pytest.raises(CidrPlanError, match=r"^onPrem\.proxies\.maxSize"):
        plan_onprem_vpc(ProxyVpcDemand(max_proxies=0))
