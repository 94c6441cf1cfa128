"""Size a VPC from what must live in it (pure: no Pulumi here, so it is property-tested).

The ENI model
-------------
A VPC-attached Lambda function takes IP addresses from its subnets through elastic network
interfaces (ENIs). How many depends on which networking model Lambda uses:

``hyperplane`` (Lambda since September 2019, the only model AWS runs today)
    Lambda creates one Hyperplane ENI per unique *subnet + security-group combination* and
    shares it between every execution environment (and every function) that uses that same
    combination. One Hyperplane ENI supports about 65,000 connections/ports; Lambda adds ENIs
    to a combination only beyond that. So the addresses a subnet needs for Lambda are
    ``security_group_combinations * ceil(executions_in_this_az / 65,000)``: a handful, almost
    independent of concurrency. Sources: AWS Lambda Developer Guide, "Giving Lambda functions
    access to resources in an Amazon VPC" (https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html)
    and "Networking and security" (https://docs.aws.amazon.com/lambda/latest/dg/foundation-networking.html);
    AWS Compute Blog, "Announcing improved VPC networking for AWS Lambda functions" (2019).

``legacy`` (before Hyperplane; what the seeds' HSBC example, ARC307 2019, sized for)
    Each execution environment had its own ENI; AWS's formula was
    ``peak concurrent executions * (memory GB / 3 GB)`` ENIs. The planner uses the upper bound
    of that formula, one address per concurrent execution, spread over the AZs: the "large CIDR
    for VPC Lambdas" of the HSBC slide. Use it to compare with that sizing or for a
    conservative plan.

Every subnet loses 5 addresses to AWS (network, VPC router, DNS, future use, broadcast;
https://docs.aws.amazon.com/vpc/latest/userguide/subnet-sizing.html). A VPC is between a /28
and a /16, and so is every subnet.

The plan
--------
Per AZ, the private subnet holds the Lambda addresses plus ``other_addresses_per_az``
(interface endpoint ENIs, NAT, anything else), grown by ``headroom_percent``. Public and
isolated tiers (only when asked) get the same "other" share with headroom. Subnets are
powers of two, placed largest first so every one is aligned; the VPC is the smallest power
of two holding them all, and sits at the first aligned block of ``allowed_range`` that
overlaps none of ``on_prem_ranges`` (nor ``avoid``).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from arcblueprint.planning.errors import ConfigError
from arcblueprint.planning.proxy_config import PROXY_INSTANCE_ENDPOINTS

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from arcblueprint.config.model import NetworkSpec, OnPremSpec

__all__ = [
    "HYPERPLANE_CONNECTIONS_PER_ENI",
    "LARGEST_PREFIX",
    "RESERVED_ADDRESSES_AT_START",
    "RESERVED_ADDRESSES_PER_SUBNET",
    "SMALLEST_PREFIX",
    "CidrPlanError",
    "NetworkDemand",
    "ProxyVpcDemand",
    "VpcPlan",
    "first_usable_address",
    "lambda_addresses_per_az",
    "plan_onprem_vpc",
    "plan_vpc",
    "usable_addresses",
]

#: AWS reserves the first four addresses and the last one of every subnet.
RESERVED_ADDRESSES_PER_SUBNET = 5
#: Of those, the first four: the network address, the VPC router, the DNS server, one for future use.
RESERVED_ADDRESSES_AT_START = 4
#: The largest VPC (and subnet) AWS allows.
LARGEST_PREFIX = 16
#: The smallest VPC (and subnet) AWS allows.
SMALLEST_PREFIX = 28
#: Connections (ports) one Hyperplane ENI serves before Lambda adds another for the same combination.
HYPERPLANE_CONNECTIONS_PER_ENI = 65_000


class CidrPlanError(ConfigError):
    """The demand cannot be placed: too large for a /16, or no free block in the allowed range."""


@dataclass(frozen=True, kw_only=True)
class NetworkDemand:
    """What the VPC must hold. ``config_section`` names the config keys errors point at."""

    peak_concurrent_executions: int
    eni_model: Literal["hyperplane", "legacy"] = "hyperplane"
    security_group_combinations: int = 1
    availability_zones: int = 3
    headroom_percent: int = 100
    other_addresses_per_az: int = 16
    allowed_range: str = "10.0.0.0/8"
    on_prem_ranges: tuple[str, ...] = ()
    public_subnets: bool = False
    isolated_subnets: bool = False
    config_section: str = "network"

    def __post_init__(self) -> None:
        checks = {
            "peakConcurrentExecutions": self.peak_concurrent_executions >= 0,
            "securityGroupCombinations": self.security_group_combinations >= 1,
            "availabilityZones": self.availability_zones >= 1,
            "headroomPercent": self.headroom_percent >= 0,
            "otherAddressesPerAz": self.other_addresses_per_az >= 0,
        }
        for key, ok in checks.items():
            if not ok:
                value = getattr(self, _snake(key))
                raise CidrPlanError(f"{self.config_section}.{key}", value, "must not be negative or zero")
        if self.eni_model not in ("hyperplane", "legacy"):
            raise CidrPlanError(f"{self.config_section}.eniModel", self.eni_model, "must be hyperplane or legacy")

    @classmethod
    def from_spec(cls, spec: NetworkSpec) -> NetworkDemand:
        return cls(
            peak_concurrent_executions=spec.peak_concurrent_executions,
            eni_model=spec.eni_model,
            security_group_combinations=spec.security_group_combinations,
            availability_zones=spec.availability_zones,
            headroom_percent=spec.headroom_percent,
            other_addresses_per_az=spec.other_addresses_per_az,
            allowed_range=spec.allowed_range,
            on_prem_ranges=tuple(spec.on_prem_ranges),
            public_subnets=spec.public_subnets,
            isolated_subnets=spec.isolated_subnets,
        )


@dataclass(frozen=True, kw_only=True)
class VpcPlan:
    """A VPC CIDR and its subnets: index ``i`` of each tier is in the ``i``-th AZ."""

    cidr: str
    prefix_length: int
    availability_zones: int
    private_subnets: tuple[str, ...]
    public_subnets: tuple[str, ...] = ()
    isolated_subnets: tuple[str, ...] = ()
    #: Addresses each private subnet must hold (Lambda ENIs + other consumers, with headroom).
    addresses_needed_per_az: int = 0
    #: Of those, addresses Lambda's ENIs take at peak (before headroom).
    lambda_addresses_per_az: int = 0
    #: Addresses each public/isolated subnet must hold.
    tier_addresses_needed_per_az: int = 0
    eni_model: str = "hyperplane"
    #: Usable (not reserved) addresses of one private subnet.
    usable_private_addresses_per_az: int = field(default=0)
    #: The fixed private address of an internal load balancer in each private subnet (index ``i`` in subnet ``i``);
    #: :func:`plan_onprem_vpc` sets them, counted in its per-zone demand.
    load_balancer_addresses: tuple[str, ...] = ()

    @property
    def subnets(self) -> tuple[str, ...]:
        return self.private_subnets + self.public_subnets + self.isolated_subnets

    @property
    def private_prefix_length(self) -> int:
        return ipaddress.IPv4Network(self.private_subnets[0]).prefixlen


def usable_addresses(prefix_length: int) -> int:
    """Addresses of a subnet that instances and ENIs can use (AWS keeps 5)."""
    return 2 ** (32 - prefix_length) - RESERVED_ADDRESSES_PER_SUBNET


def first_usable_address(subnet: str) -> str:
    """The lowest address of ``subnet`` a resource may take: the one after AWS's four reserved ones."""
    return str(ipaddress.IPv4Network(subnet).network_address + RESERVED_ADDRESSES_AT_START)


def lambda_addresses_per_az(demand: NetworkDemand) -> int:
    """Addresses Lambda's ENIs take in one AZ's subnet at peak, under the demand's ENI model."""
    per_az_executions = math.ceil(demand.peak_concurrent_executions / demand.availability_zones)
    if demand.eni_model == "legacy":
        return per_az_executions
    if demand.peak_concurrent_executions == 0:
        return 0
    enis_per_combination = max(1, math.ceil(per_az_executions / HYPERPLANE_CONNECTIONS_PER_ENI))
    return demand.security_group_combinations * enis_per_combination


def _with_headroom(addresses: int, headroom_percent: int) -> int:
    # Integer arithmetic: no float rounding can make the plan one address short.
    return -(-addresses * (100 + headroom_percent) // 100)


def _subnet_prefix(addresses: int) -> int | None:
    """The largest prefix (smallest subnet) with ``addresses`` usable, or None above a /16."""
    for prefix in range(SMALLEST_PREFIX, LARGEST_PREFIX - 1, -1):
        if usable_addresses(prefix) >= addresses:
            return prefix
    return None


def plan_vpc(demand: NetworkDemand, *, avoid: Sequence[str] = ()) -> VpcPlan:
    """The smallest VPC that holds ``demand``, placed in its allowed range away from on-prem ranges.

    Raises
    ------
    CidrPlanError
        When a subnet or the VPC would need more than a /16, or no aligned free block of the
        VPC's size is left in ``allowed_range``.
    """
    section = demand.config_section
    lambda_addresses = lambda_addresses_per_az(demand)
    needed = _with_headroom(lambda_addresses + demand.other_addresses_per_az, demand.headroom_percent)
    tier_needed = _with_headroom(demand.other_addresses_per_az, demand.headroom_percent)
    private_prefix = _subnet_prefix(needed)
    if private_prefix is None:
        raise CidrPlanError(
            f"{section}.peakConcurrentExecutions",
            demand.peak_concurrent_executions,
            f"needs {needed} addresses per AZ ({demand.eni_model} ENIs + otherAddressesPerAz, "
            f"+{demand.headroom_percent}% headroom) but a subnet holds at most {usable_addresses(LARGEST_PREFIX)} "
            "(/16); lower the demand or headroomPercent, or add availabilityZones",
        )
    tier_prefix = _subnet_prefix(tier_needed)
    extra_tiers = int(demand.public_subnets) + int(demand.isolated_subnets)
    if tier_prefix is None and extra_tiers:
        raise CidrPlanError(
            f"{section}.otherAddressesPerAz",
            demand.other_addresses_per_az,
            f"needs {tier_needed} addresses per public/isolated subnet; a /16 holds fewer",
        )
    azs = demand.availability_zones
    sizes = [("private", private_prefix)] * azs
    if demand.public_subnets:
        sizes += [("public", tier_prefix)] * azs  # type: ignore[list-item]
    if demand.isolated_subnets:
        sizes += [("isolated", tier_prefix)] * azs  # type: ignore[list-item]
    total = sum(2 ** (32 - prefix) for _, prefix in sizes)
    vpc_prefix = min(SMALLEST_PREFIX, 32 - math.ceil(math.log2(total)))
    if vpc_prefix < LARGEST_PREFIX:
        raise CidrPlanError(
            f"{section}.peakConcurrentExecutions",
            demand.peak_concurrent_executions,
            f"{len(sizes)} subnets of {needed} addresses (and other tiers) need {total} addresses, more than a "
            "/16 VPC; lower the demand or headroomPercent, or drop public/isolated tiers",
        )
    vpc = _first_free_block(
        vpc_prefix, demand.allowed_range, (*demand.on_prem_ranges, *avoid), key=f"{section}.allowedRange"
    )
    tiers = _carve(vpc, sizes)
    return VpcPlan(
        cidr=str(vpc),
        prefix_length=vpc.prefixlen,
        availability_zones=azs,
        private_subnets=tuple(tiers["private"]),
        public_subnets=tuple(tiers.get("public", ())),
        isolated_subnets=tuple(tiers.get("isolated", ())),
        addresses_needed_per_az=needed,
        lambda_addresses_per_az=lambda_addresses,
        tier_addresses_needed_per_az=tier_needed if extra_tiers else 0,
        eni_model=demand.eni_model,
        usable_private_addresses_per_az=usable_addresses(private_prefix),
    )


@dataclass(frozen=True, kw_only=True)
class ProxyVpcDemand:
    """What each zone of the on-prem proxy VPC must hold (see :func:`plan_onprem_vpc`)."""

    #: The Auto Scaling group's maximum: the most proxies the VPC ever runs outside a refresh.
    max_proxies: int
    availability_zones: int = 2
    #: Interface endpoints the proxies need (one ENI each per zone).
    interface_endpoints: int = 4
    #: A transit gateway attachment takes one address in each zone's subnet; a VGW takes none.
    transit_gateway_attachment: bool = False
    allowed_range: str = "172.16.0.0/12"

    @classmethod
    def from_spec(cls, spec: OnPremSpec) -> ProxyVpcDemand:
        return cls(
            max_proxies=spec.proxies.max_size,
            availability_zones=spec.availability_zones,
            interface_endpoints=len(PROXY_INSTANCE_ENDPOINTS),
            transit_gateway_attachment=(spec.gateway_id or "").startswith("tgw-"),
            allowed_range=spec.allowed_range,
        )

    def addresses_per_az(self) -> int:
        """Proxies twice over (an instance refresh, or a health replacement under the group's instance
        maintenance policy, launches replacements before it stops the old ones: up to 200% of capacity),
        plus the load balancer node's fixed address, the endpoint ENIs and the attachment."""
        proxies = math.ceil(self.max_proxies / self.availability_zones)
        return 2 * proxies + 1 + self.interface_endpoints + int(self.transit_gateway_attachment)


def plan_onprem_vpc(demand: ProxyVpcDemand, *, avoid: Iterable[str] = ()) -> VpcPlan:
    """The small, routable VPC in front of on-prem, sized from the proxies and the ENIs beside them.

    One private subnet per zone holding :meth:`ProxyVpcDemand.addresses_per_az` usable addresses:
    with the shipped configs a ``/28`` per zone (11 usable), so a ``/27`` VPC for two zones.

    The load balancer's node in each zone gets a fixed address, the subnet's first usable one
    (``load_balancer_addresses``): an internal Network Load Balancer whose addresses AWS picks needs
    at least 8 free addresses in each subnet when it is created (ELB guide, "Update the Availability
    Zones for your Network Load Balancer"), which a ``/28`` shared with the endpoints, the attachment
    and the proxies does not keep. With an address given, it needs only that one.
    """
    if demand.max_proxies < 1:
        raise CidrPlanError("onPrem.proxies.maxSize", demand.max_proxies, "must be at least 1")
    needed = NetworkDemand(
        peak_concurrent_executions=0,
        availability_zones=demand.availability_zones,
        headroom_percent=0,
        other_addresses_per_az=demand.addresses_per_az(),
        allowed_range=demand.allowed_range,
        config_section="onPrem",
    )
    try:
        plan = plan_vpc(needed, avoid=tuple(avoid))
    except CidrPlanError as error:
        if error.key.endswith("peakConcurrentExecutions"):
            raise CidrPlanError("onPrem.proxies.maxSize", demand.max_proxies, error.allowed) from None
        raise
    return dataclasses.replace(
        plan, load_balancer_addresses=tuple(first_usable_address(s) for s in plan.private_subnets)
    )


def _first_free_block(prefix: int, allowed_range: str, avoid: Iterable[str], *, key: str) -> ipaddress.IPv4Network:
    allowed = ipaddress.IPv4Network(allowed_range)
    if allowed.prefixlen > prefix:
        raise CidrPlanError(key, allowed_range, f"is smaller than the /{prefix} the demand needs")
    taken = sorted((int(n.network_address), int(n.broadcast_address)) for n in map(ipaddress.IPv4Network, avoid))
    size = 2 ** (32 - prefix)
    start = int(allowed.network_address)
    end = int(allowed.broadcast_address)
    while start + size - 1 <= end:
        clash = next((last for first, last in taken if first <= start + size - 1 and last >= start), None)
        if clash is None:
            return ipaddress.IPv4Network((start, prefix))
        start = -(-(clash + 1) // size) * size  # the next aligned block after the clash
    raise CidrPlanError(
        key, allowed_range, f"has no free /{prefix} outside {', '.join(sorted(set(map(str, avoid)))) or 'nothing'}"
    )


def _carve(vpc: ipaddress.IPv4Network, sizes: list[tuple[str, int]]) -> dict[str, list[str]]:
    """Place subnets largest first: every offset is then a multiple of the current size (aligned)."""
    order = sorted(range(len(sizes)), key=lambda i: (sizes[i][1], i))
    placed: dict[int, str] = {}
    offset = int(vpc.network_address)
    for i in order:
        prefix = sizes[i][1]
        placed[i] = str(ipaddress.IPv4Network((offset, prefix)))
        offset += 2 ** (32 - prefix)
    tiers: dict[str, list[str]] = {}
    for i, (tier, _) in enumerate(sizes):
        tiers.setdefault(tier, []).append(placed[i])
    return tiers


def _snake(camel: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in camel)
