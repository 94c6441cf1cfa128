"""The weighted-alias canary's promotion as a small state machine (pure: no Pulumi, no AWS).

Each move is "set the weight in stack config, ``pulumi up``, bake, read the alarms". Weights only
move forward through the configured steps; any alarm sends the weight to 0 at once (the alias
serves only the previous version again); the promotion ends at 100 (promoted) or 0 (rolled back).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["PromotionResult", "promote", "remaining_steps", "rollback"]


@dataclass
class PromotionResult:
    status: Literal["promoted", "rolled-back", "unchanged"]
    #: Every weight that was applied, in order (a rollback appears as a final 0).
    applied: list[int] = field(default_factory=list)
    #: The alarms that caused a rollback.
    alarms: list[str] = field(default_factory=list)

    @property
    def final_weight(self) -> int | None:
        return self.applied[-1] if self.applied else None


def remaining_steps(steps: Sequence[int], current: int) -> list[int]:
    """The configured steps still ahead of ``current`` (steps rise strictly and end at 100)."""
    if not steps or steps[-1] != 100 or any(b <= a for a, b in zip(steps, steps[1:], strict=False)):
        raise ValueError(f"weighted steps must rise strictly and end at 100, got {list(steps)}")
    return [step for step in steps if step > current]


def promote(
    steps: Sequence[int],
    current: int,
    *,
    apply: Callable[[int], None],
    firing_alarms: Callable[[], list[str]],
    bake: Callable[[int], None],
    max_steps: int | None = None,
) -> PromotionResult:
    """Move the canary weight forward step by step, rolling back to 0 on the first alarm.

    ``apply(weight)`` changes config and runs the update, ``bake(weight)`` waits while traffic
    flows, ``firing_alarms()`` lists the rollback alarms in ALARM state. Alarms are read before the
    first move too: a canary that is already failing is rolled back, never pushed further.
    ``max_steps`` limits how many steps one run moves (one step per CI job, for example).
    """
    result = PromotionResult(status="unchanged")
    if current >= 100:
        return result  # already promoted
    ahead = remaining_steps(steps, current)
    if max_steps is not None:
        ahead = ahead[:max_steps]
    firing = firing_alarms() if current > 0 else []
    for weight in ahead:
        if firing:
            break
        apply(weight)
        result.applied.append(weight)
        bake(weight)
        firing = firing_alarms()
    if firing:
        apply(0)
        result.applied.append(0)
        result.status, result.alarms = "rolled-back", list(firing)
    elif result.applied and result.applied[-1] == 100:
        result.status = "promoted"
    return result


def rollback(apply: Callable[[int], None]) -> PromotionResult:
    """Send all traffic back to the previous version at once."""
    apply(0)
    return PromotionResult(status="rolled-back", applied=[0])
