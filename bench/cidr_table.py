"""Print the CIDR planner's output for 100, 1,000 and 10,000 concurrent VPC executions (docs/network.md).

    .venv/bin/python bench/cidr_table.py

Uses the ``network`` config defaults (3 AZs, +100% headroom, 16 other addresses per AZ, one
security-group combination, allowed range 10.0.0.0/8) for both ENI models. Then the on-prem proxy
VPC of each shipped stack (``proxy_rows``).
"""

from __future__ import annotations

from arcblueprint.config.model import NetworkSpec
from arcblueprint.planning.cidr import (
    CidrPlanError,
    NetworkDemand,
    ProxyVpcDemand,
    plan_onprem_vpc,
    plan_vpc,
    usable_addresses,
)

LEVELS = (100, 1_000, 10_000)
MODELS = ("hyperplane", "legacy")


def rows() -> list[str]:
    defaults = NetworkSpec()
    lines = [
        "| peak concurrent executions | ENI model | Lambda addresses per AZ | needed per AZ (with headroom) "
        "| private subnet per AZ (usable) | VPC |",
        "| ---: | --- | ---: | ---: | --- | --- |",
    ]
    for model in MODELS:
        for peak in LEVELS:
            demand = NetworkDemand.from_spec(NetworkSpec(peak_concurrent_executions=peak, eni_model=model))
            try:
                plan = plan_vpc(demand)
            except CidrPlanError as error:
                lines.append(f"| {peak:,} | {model} | - | - | - | {error} |")
                continue
            prefix = plan.private_prefix_length
            lines.append(
                f"| {peak:,} | {model} | {plan.lambda_addresses_per_az:,} | {plan.addresses_needed_per_az:,} "
                f"| /{prefix} ({usable_addresses(prefix):,}) x {plan.availability_zones} | {plan.cidr} |"
            )
    lines.append("")
    lines.append(
        f"Defaults: {defaults.availability_zones} AZs, +{defaults.headroom_percent}% headroom, "
        f"{defaults.other_addresses_per_az} other addresses per AZ, "
        f"{defaults.security_group_combinations} security-group combination, range {defaults.allowed_range}."
    )
    return lines


def proxy_rows(stacks: tuple[str, ...] = ("dev", "prod")) -> list[str]:
    """The on-prem proxy VPC of each shipped stack: what each zone holds and the plan."""
    from arcblueprint.config import load
    from arcblueprint.preview.harness import REPO_ROOT

    lines = [
        "| stack | proxies (min/desired/max) | zones | per zone: proxies x2 (refresh) + NLB + endpoint ENIs "
        "+ TGW attachment | subnet per zone (usable) | proxy VPC | NLB addresses (fixed) |",
        "| --- | --- | ---: | --- | --- | --- | --- |",
    ]
    for stack in stacks:
        config = load(REPO_ROOT, stack)
        spec = config.on_prem
        demand = ProxyVpcDemand.from_spec(spec)
        app = plan_vpc(NetworkDemand.from_spec(config.network))
        plan = plan_onprem_vpc(demand, avoid=(app.cidr, *config.network.on_prem_ranges))
        per_zone = -(-demand.max_proxies // demand.availability_zones)
        prefix = plan.private_prefix_length
        lines.append(
            f"| {stack} | {spec.proxies.min_size}/{spec.proxies.desired_capacity}/{spec.proxies.max_size} "
            f"| {demand.availability_zones} | 2x{per_zone} + 1 + {demand.interface_endpoints} + "
            f"{int(demand.transit_gateway_attachment)} = {demand.addresses_per_az()} "
            f"| /{prefix} ({usable_addresses(prefix)}) x {plan.availability_zones} | {plan.cidr} "
            f"| {', '.join(plan.load_balancer_addresses)} |"
        )
    return lines


if __name__ == "__main__":
    print("\n".join(rows()))
    print()
    print("\n".join(proxy_rows()))
