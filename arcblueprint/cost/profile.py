"""A stack's cost profile: the fixed monthly cost while idle, per piece, and each service's cost per million requests.

Built from the synthesized graph (what ``pulumi up`` would create) and the shipped price table;
rendered as text or JSON, and compared between two stacks (``blueprint cost --compare``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from arcblueprint.cost.paths import Workload, request_paths
from arcblueprint.cost.prices import HOURS_PER_MONTH, load_prices
from arcblueprint.cost.rules import USAGE_ONLY, idle_lines

if TYPE_CHECKING:
    from arcblueprint.cost.paths import PathCost
    from arcblueprint.cost.prices import PriceTable
    from arcblueprint.cost.rules import IdleLine
    from arcblueprint.preview.harness import SynthesizedStack

__all__ = ["CostProfile", "Piece", "cost_profile", "diff_lines", "render"]

ALARM_PRICE = "cloudwatch_alarm_metric_month"


@dataclass(frozen=True, kw_only=True)
class Piece:
    """What one service, or one piece of the shared platform, costs while idle."""

    name: str
    kind: str  # "service" or "platform"
    lines: tuple[IdleLine, ...]

    @property
    def monthly(self) -> float:
        return sum(line.monthly for line in self.lines)


@dataclass(frozen=True, kw_only=True)
class CostProfile:
    stack: str
    region: str
    prices: PriceTable
    pieces: tuple[Piece, ...]
    paths: tuple[PathCost, ...]
    workload: Workload
    #: Usage-billed resource types the stack has (nothing while idle), and types no rule prices.
    usage_only: tuple[str, ...] = field(default_factory=tuple)
    unpriced: tuple[str, ...] = field(default_factory=tuple)

    @property
    def idle_monthly(self) -> float:
        return sum(piece.monthly for piece in self.pieces)

    def piece(self, name: str) -> Piece | None:
        return next((p for p in self.pieces if p.name == name), None)

    @property
    def unconfirmed_prices(self) -> list[str]:
        used = {line.price.name for p in self.pieces for line in p.lines}
        used |= {step.price.name for path in self.paths for step in path.steps}
        return sorted(name for name in used if self.prices[name].unconfirmed)

    def as_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "region": self.region,
            "currency": self.prices.currency,
            "pricesChecked": self.prices.checked,
            "hoursPerMonth": HOURS_PER_MONTH,
            "idle": {
                "monthly": round(self.idle_monthly, 2),
                "pieces": [
                    {
                        "name": p.name,
                        "kind": p.kind,
                        "monthly": round(p.monthly, 2),
                        "lines": [line.as_json() for line in p.lines],
                    }
                    for p in self.pieces
                ],
            },
            "perMillionRequests": [path.as_json() for path in self.paths],
            "assumptions": self.workload.as_json(),
            "usageOnly": list(self.usage_only),
            "notPriced": list(self.unpriced),
            "unconfirmedPrices": self.unconfirmed_prices,
        }


def cost_profile(
    graph: SynthesizedStack, *, prices: PriceTable | None = None, workload: Workload | None = None
) -> CostProfile:
    """Price ``graph`` (its region's table unless ``prices`` is given)."""
    prices = prices or load_prices(graph.config.region)
    workload = workload or Workload()
    lines, unpriced = idle_lines(graph.resources, prices)
    services = set(graph.config.services)
    grouped: dict[str, list[IdleLine]] = defaultdict(list)
    for line in lines:
        grouped[line.piece].append(line)
    pieces = sorted(
        (
            Piece(name=name, kind="service" if name in services else "platform", lines=tuple(group))
            for name, group in grouped.items()
        ),
        key=lambda p: (p.kind != "platform", -p.monthly, p.name),
    )
    priced_types = {r.type for r in graph.resources if any(line.resource == r.name for line in lines)}
    usage_only = sorted(
        USAGE_ONLY[t] for t in {r.type for r in graph.resources} if t in USAGE_ONLY and t not in priced_types
    )
    return CostProfile(
        stack=graph.stack,
        region=graph.config.region,
        prices=prices,
        pieces=tuple(pieces),
        paths=tuple(request_paths(graph, prices, workload)),
        workload=workload,
        usage_only=tuple(usage_only),
        unpriced=tuple(unpriced),
    )


# --- text ---------------------------------------------------------------------------------------------


def _usd(value: float) -> str:
    return f"${value:,.2f}"


def _mark(confirmed: str) -> str:
    return "*" if confirmed == "no" else " "


def render(profile: CostProfile, *, detail: bool = True) -> list[str]:
    """The profile as text: idle cost per piece (with its lines), then cost per million requests per service."""
    out = [
        f"Stack '{profile.stack}' ({profile.region}): fixed cost while idle {_usd(profile.idle_monthly)} a month "
        f"(list prices in {profile.prices.currency}, {HOURS_PER_MONTH} h, no free tier; table checked "
        f"{profile.prices.checked}).",
        "",
        "Idle, per piece (platform first):",
    ]
    width = max((len(p.name) for p in profile.pieces), default=8)
    for piece in profile.pieces:
        out.append(f"  {piece.name.ljust(width)}  {piece.kind:<8}  {_usd(piece.monthly):>10}")
        if detail:
            alarms = [line for line in piece.lines if line.price.name == ALARM_PRICE]
            for line in sorted((x for x in piece.lines if x not in alarms), key=lambda line: -line.monthly):
                out.append(
                    f"  {'':{width}}    {_mark(line.price.confirmed)} {_usd(line.monthly):>9}  {line.resource}: "
                    f"{line.item} ({line.quantity:,.4g} {line.price.unit} x ${line.price.usd:g})"
                )
            if alarms:  # one line for all of a piece's alarms (the JSON keeps one per alarm)
                metrics = sum(line.quantity for line in alarms)
                price = alarms[0].price
                out.append(
                    f"  {'':{width}}    {_mark(price.confirmed)} {_usd(sum(x.monthly for x in alarms)):>9}  "
                    f"{len(alarms)} CloudWatch alarms ({metrics:g} {price.unit} x ${price.usd:g})"
                )
    out += ["", "Per 1M requests of each service's main path:"]
    for path in profile.paths:
        out.append(f"  {path.service:<{width}}  {_usd(path.per_million):>10}  {path.path}")
        if detail:
            for step in path.steps:
                out.append(f"  {'':{width}}    {_mark(step.price.confirmed)} {_usd(step.usd * 1e6):>9}  {step.what}")
    w = profile.workload
    out += [
        "",
        f"Assumed per request: {w.duration_ms:g} ms billed per invocation (blueprint tune measures it), "
        f"{w.item_kb:g} KB items, {w.payload_kb:g} KB messages, {w.transform_batch} records per transform batch.",
        "No charge while idle: " + "; ".join(profile.usage_only) + ".",
    ]
    if profile.unpriced:
        out.append("NOT PRICED (no rule for these types; their cost is missing above): " + ", ".join(profile.unpriced))
    if profile.unconfirmed_prices:
        out.append(
            f"* priced with {len(profile.unconfirmed_prices)} entries of arcblueprint/cost/prices.toml not yet "
            "confirmed against the AWS pricing page: " + ", ".join(profile.unconfirmed_prices)
        )
    return out


def diff_lines(left: CostProfile, right: CostProfile) -> list[str]:
    """What changes from ``left`` to ``right``: idle total, each piece and line that differs, each service's path."""
    change = right.idle_monthly - left.idle_monthly
    out = [
        f"Idle {_usd(left.idle_monthly)} ({left.stack}) -> {_usd(right.idle_monthly)} ({right.stack}): "
        f"{'+' if change >= 0 else '-'}{_usd(abs(change))} a month",
        "",
        "Idle, per piece and resource (only what differs):",
    ]
    names = sorted({p.name for p in left.pieces} | {p.name for p in right.pieces})
    for name in names:
        a, b = left.piece(name), right.piece(name)
        a_lines = {(line.resource, line.price.name): line for line in (a.lines if a else ())}
        b_lines = {(line.resource, line.price.name): line for line in (b.lines if b else ())}
        changed = []
        for key in sorted(a_lines.keys() | b_lines.keys()):
            la, lb = a_lines.get(key), b_lines.get(key)
            ma, mb = (la.monthly if la else 0.0), (lb.monthly if lb else 0.0)
            if abs(ma - mb) >= 0.005:
                what = line.item if (line := lb or la) else ""
                changed.append(f"      {_usd(ma):>9} -> {_usd(mb):>9}  {key[0]}: {what}")
        if changed:
            pa, pb = (a.monthly if a else 0.0), (b.monthly if b else 0.0)
            out.append(
                f"  {name:<14} {_usd(pa):>10} -> {_usd(pb):>10}  ({'+' if pb >= pa else '-'}{_usd(abs(pb - pa))})"
            )
            out += changed
    out += ["", "Per 1M requests (main path):"]
    paths_a = {p.service: p for p in left.paths}
    paths_b = {p.service: p for p in right.paths}
    for service in sorted(paths_a.keys() | paths_b.keys()):
        path_a, path_b = paths_a.get(service), paths_b.get(service)
        va, vb = (path_a.per_million if path_a else 0.0), (path_b.per_million if path_b else 0.0)
        marker = "" if abs(va - vb) < 0.005 else f"  ({'+' if vb >= va else '-'}{_usd(abs(vb - va))})"
        out.append(f"  {service:<14} {_usd(va):>10} -> {_usd(vb):>10}{marker}")
    return out
