"""The pure half of power tuning: read Lambda's invocation reports, summarize each memory setting, price it, choose.

Nothing here calls AWS: ``arcblueprint.deploy.tune`` invokes the function and hands the log
tails to :func:`parse_report`. A memory setting whose invocations failed (an error, or memory
used up) is never chosen, whatever its price.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from arcblueprint.cost.paths import lambda_invocation_usd

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from arcblueprint.cost.prices import PriceTable

__all__ = [
    "STRATEGIES",
    "Invocation",
    "Measurement",
    "TuningError",
    "chart",
    "choose",
    "parse_report",
    "percentile",
    "table",
]

Strategy = Literal["cost", "speed", "balanced"]
STRATEGIES: tuple[Strategy, ...] = ("cost", "speed", "balanced")
#: Power tuning's own default: equal weight to the cheapest and the fastest (AWS Lambda Power Tuning).
BALANCED_WEIGHT = 0.5


class TuningError(ValueError):
    """No report in a log tail, or no memory setting that ran without failing."""


@dataclass(frozen=True, kw_only=True)
class Invocation:
    """What Lambda reported for one invocation (its ``REPORT`` line)."""

    duration_ms: float
    billed_ms: float
    memory_mib: int
    max_memory_used_mib: int
    #: Set on a cold start (the first invocation of each new version).
    init_ms: float | None = None
    #: ``FunctionError`` of the invoke response (``Unhandled``), if the function failed.
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None or self.max_memory_used_mib >= self.memory_mib


_TEXT = {
    "duration_ms": re.compile(r"\bDuration: ([0-9.]+) ms"),
    "billed_ms": re.compile(r"Billed Duration: ([0-9.]+) ms"),
    "memory_mib": re.compile(r"Memory Size: ([0-9]+) MB"),
    "max_memory_used_mib": re.compile(r"Max Memory Used: ([0-9]+) MB"),
    "init_ms": re.compile(r"Init Duration: ([0-9.]+) ms"),
}
#: ``platform.report`` metrics with ``logFormat: JSON`` (Lambda telemetry schema, ``ReportMetrics``).
_JSON = {
    "duration_ms": "durationMs",
    "billed_ms": "billedDurationMs",
    "memory_mib": "memorySizeMB",
    "max_memory_used_mib": "maxMemoryUsedMB",
    "init_ms": "initDurationMs",
}


def parse_report(log_tail: str, *, error: str | None = None) -> Invocation:
    """The last invocation report in a log tail (``LogType=Tail``: the last 4 KB), text or JSON format."""
    for raw in reversed(log_tail.splitlines()):
        line = raw.strip()
        if line.startswith("{"):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("type") == "platform.report":
                metrics = (record.get("record") or {}).get("metrics") or {}
                values = {k: metrics.get(v) for k, v in _JSON.items()}
                if None not in (values["duration_ms"], values["billed_ms"], values["memory_mib"]):
                    return _invocation(values, error)
        elif line.startswith("REPORT "):
            values = {k: (float(m.group(1)) if (m := p.search(line)) else None) for k, p in _TEXT.items()}
            if None not in (values["duration_ms"], values["billed_ms"], values["memory_mib"]):
                return _invocation(values, error)
    raise TuningError("no REPORT line in the invocation's log tail (was LogType=Tail set?)")


def _invocation(values: dict[str, Any], error: str | None) -> Invocation:
    return Invocation(
        duration_ms=float(values["duration_ms"]),
        billed_ms=float(values["billed_ms"]),
        memory_mib=int(values["memory_mib"]),
        max_memory_used_mib=int(values["max_memory_used_mib"] or 0),
        init_ms=float(values["init_ms"]) if values["init_ms"] is not None else None,
        error=error,
    )


def percentile(values: Sequence[float], percent: float) -> float:
    """The nearest-rank percentile (``percent`` in 0-100] of a non-empty sample."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True, kw_only=True)
class Measurement:
    """Every invocation at one memory setting; statistics are over warm invocations (cold ones reported apart)."""

    memory_mib: int
    invocations: tuple[Invocation, ...]
    architecture: str = "arm64"
    cold_starts: tuple[float, ...] = field(default=(), init=False)

    def __post_init__(self) -> None:
        if not self.invocations:
            raise TuningError(f"{self.memory_mib} MB: no invocation was measured")
        object.__setattr__(self, "cold_starts", tuple(i.init_ms for i in self.invocations if i.init_ms is not None))

    @property
    def warm(self) -> tuple[Invocation, ...]:
        """Invocations without init; all of them if every one was a cold start."""
        warm = tuple(i for i in self.invocations if i.init_ms is None)
        return warm or self.invocations

    @property
    def failures(self) -> int:
        return sum(1 for i in self.invocations if i.failed)

    @property
    def usable(self) -> bool:
        return self.failures == 0

    @property
    def median_ms(self) -> float:
        return statistics.median(i.duration_ms for i in self.warm)

    @property
    def p95_ms(self) -> float:
        return percentile([i.duration_ms for i in self.warm], 95)

    @property
    def mean_billed_ms(self) -> float:
        return statistics.fmean(i.billed_ms for i in self.warm)

    @property
    def max_memory_used_mib(self) -> int:
        return max(i.max_memory_used_mib for i in self.invocations)

    def cost(self, prices: PriceTable) -> float:
        """USD per (warm) invocation: request plus GB-seconds at the mean billed duration."""
        return lambda_invocation_usd(self.memory_mib, self.mean_billed_ms, self.architecture, prices)


def _score(strategy: Strategy, m: Measurement, prices: PriceTable, peers: Sequence[Measurement]) -> tuple[float, ...]:
    cost, speed = m.cost(prices), m.median_ms
    if strategy == "cost":
        return (cost, speed, m.memory_mib)
    if strategy == "speed":
        return (speed, cost, m.memory_mib)
    # balanced: each normalized by the worst of the usable settings, so neither unit dominates.
    worst_cost = max(p.cost(prices) for p in peers)
    worst_speed = max(p.median_ms for p in peers)
    score = BALANCED_WEIGHT * cost / worst_cost + (1 - BALANCED_WEIGHT) * speed / worst_speed
    return (score, cost, m.memory_mib)


def choose(measurements: Iterable[Measurement], strategy: Strategy, prices: PriceTable) -> Measurement:
    """The best usable setting: cheapest (``cost``), fastest median (``speed``) or both weighed (``balanced``).

    Ties go to the faster, then the cheaper, then the smaller setting.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, not {strategy!r}")
    usable = [m for m in measurements if m.usable]
    if not usable:
        raise TuningError("every memory setting failed (an error or its memory used up): nothing to choose")
    return min(usable, key=lambda m: _score(strategy, m, prices, usable))


# --- output -------------------------------------------------------------------------------------------


def table(measurements: Sequence[Measurement], prices: PriceTable, chosen: Measurement | None = None) -> list[str]:
    """One row per memory setting: durations, memory used, cold start, USD per invocation and per 1M."""
    rows = [
        "  memory   median     p95  billed(mean)  max used  cold init   $/invocation   $/1M invocations  failures",
    ]
    for m in sorted(measurements, key=lambda x: x.memory_mib):
        cold = f"{statistics.fmean(m.cold_starts):7.0f} ms" if m.cold_starts else "       -  "
        mark = " <- chosen" if chosen is not None and m.memory_mib == chosen.memory_mib else ""
        rows.append(
            f"  {m.memory_mib:>5} MB {m.median_ms:6.0f} ms {m.p95_ms:5.0f} ms {m.mean_billed_ms:8.1f} ms "
            f"{m.max_memory_used_mib:6d} MB  {cold}  {m.cost(prices):13.10f}  {m.cost(prices) * 1e6:16.2f}  "
            f"{m.failures:>8}{mark}"
        )
    return rows


def chart(measurements: Sequence[Measurement], prices: PriceTable, width: int = 30) -> list[str]:
    """Two bars per memory setting: median duration (#) and cost per invocation (=), each scaled to its maximum."""
    ordered = sorted(measurements, key=lambda x: x.memory_mib)
    top_ms = max(m.median_ms for m in ordered) or 1.0
    top_cost = max(m.cost(prices) for m in ordered) or 1.0
    rows = ["  memory   median duration (#)  /  cost per invocation (=)"]
    for m in ordered:
        bar_ms = "#" * max(1, round(width * m.median_ms / top_ms))
        bar_cost = "=" * max(1, round(width * m.cost(prices) / top_cost))
        rows.append(f"  {m.memory_mib:>5} MB |{bar_ms:<{width}}| {m.median_ms:.0f} ms")
        rows.append(f"           |{bar_cost:<{width}}| ${m.cost(prices) * 1e6:.2f} per 1M")
    return rows
