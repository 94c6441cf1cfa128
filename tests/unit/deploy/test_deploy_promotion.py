"""The weighted-canary promotion: weights only move forward, any alarm rolls back, it ends at 0 or 100."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arcblueprint.deploy.promotion import promote, remaining_steps, rollback


@st.composite
def step_lists(draw: st.DrawFn) -> list[int]:
    inner = draw(st.sets(st.integers(min_value=1, max_value=99), max_size=6))
    return sorted(inner) + [100]


def run(steps: list[int], current: int, alarm_after: int | None, max_steps: int | None = None):
    """Alarms start firing after ``alarm_after`` applied weights (None: never)."""
    applied: list[int] = []
    checks: list[int] = []

    def firing() -> list[str]:
        checks.append(len(applied))
        return ["errors-alarm"] if alarm_after is not None and len(applied) >= alarm_after else []

    result = promote(
        steps, current, apply=applied.append, firing_alarms=firing, bake=lambda w: None, max_steps=max_steps
    )
    return result, applied


@given(steps=step_lists(), data=st.data())
def test_weights_move_forward_only_and_end_at_0_or_100(steps, data):
    current = data.draw(st.sampled_from([0, *steps[:-1]]))
    alarm_after = data.draw(st.none() | st.integers(min_value=0, max_value=len(steps)))
    result, applied = run(steps, current, alarm_after)
    assert applied == result.applied
    forward = [w for w in applied if w != 0]
    assert forward == sorted(set(forward)) and all(w > current and w in steps for w in forward)
    assert result.final_weight in (0, 100)
    if result.status == "rolled-back":
        assert applied[-1] == 0 and 0 not in applied[:-1] and result.alarms == ["errors-alarm"]
    else:
        assert result.status == "promoted" and forward == [s for s in steps if s > current]


@given(steps=step_lists(), data=st.data())
def test_any_alarm_leads_to_rollback(steps, data):
    current = data.draw(st.sampled_from([0, *steps[:-1]]))
    ahead = [s for s in steps if s > current]
    alarm_after = data.draw(st.integers(min_value=1, max_value=len(ahead)))
    result, applied = run(steps, current, alarm_after)
    assert result.status == "rolled-back"
    assert applied == ahead[:alarm_after] + [0]


def test_a_canary_already_in_alarm_is_rolled_back_before_it_moves():
    result, applied = run([10, 50, 100], 10, alarm_after=0)
    assert applied == [0] and result.status == "rolled-back"


def test_a_new_canary_at_zero_does_not_read_alarms_first():
    result, applied = run([10, 50, 100], 0, alarm_after=None)
    assert applied == [10, 50, 100] and result.status == "promoted"


def test_max_steps_moves_one_step_per_run():
    result, applied = run([10, 50, 100], 10, alarm_after=None, max_steps=1)
    assert applied == [50] and result.status == "unchanged" and result.final_weight == 50


def test_promoted_canary_is_left_alone():
    result, applied = run([10, 50, 100], 100, alarm_after=0)
    assert applied == [] and result.status == "unchanged"


@pytest.mark.parametrize("steps", [[10, 50], [50, 10, 100], [], [10, 10, 100]])
def test_bad_steps_are_refused(steps):
    with pytest.raises(ValueError, match="rise strictly and end at 100"):
        remaining_steps(steps, 0)


def test_rollback_goes_to_zero_at_once():
    applied: list[int] = []
    assert rollback(applied.append).final_weight == 0 and applied == [0]
