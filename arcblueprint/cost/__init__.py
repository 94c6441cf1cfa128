"""What a stack costs: idle per month and per million requests, from a shipped, region-keyed price table."""

from arcblueprint.cost.paths import PathCost, Workload, lambda_invocation_usd
from arcblueprint.cost.prices import HOURS_PER_MONTH, Price, PriceTable, UnknownPriceError, load_prices
from arcblueprint.cost.profile import CostProfile, cost_profile, diff_lines, render

__all__ = [
    "HOURS_PER_MONTH",
    "CostProfile",
    "PathCost",
    "Price",
    "PriceTable",
    "UnknownPriceError",
    "Workload",
    "cost_profile",
    "diff_lines",
    "lambda_invocation_usd",
    "load_prices",
    "render",
]
