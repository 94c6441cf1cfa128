"""Release plans: every strategy reaches 100% within CodeDeploy's limits; bad settings fail in one line."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arcblueprint.config.model import ReleaseSpec
from arcblueprint.config.schema import ConfigError, parse
from arcblueprint.planning.releases import (
    MAX_INTERVAL_MINUTES,
    PREDEFINED_CONFIGS,
    alias_weights,
    appspec,
    deployment_config_name,
    live_version,
    needs_deployment,
    plan_release,
    schedule,
)

STRATEGIES = ("all-at-once", "blue-green", "canary", "linear", "weighted-canary")
CANARY_CONFIGS = sorted(n for n in PREDEFINED_CONFIGS if n.startswith("Canary")) + ["AllAtOnce", "custom"]
LINEAR_CONFIGS = sorted(n for n in PREDEFINED_CONFIGS if n.startswith("Linear")) + ["AllAtOnce", "custom"]


@st.composite
def weighted_steps(draw) -> tuple[int, ...]:
    inner = draw(st.lists(st.integers(1, 99), unique=True, max_size=6))
    return (*sorted(inner), 100)


@st.composite
def release_specs(draw) -> ReleaseSpec:
    strategy = draw(st.sampled_from(STRATEGIES))
    configs = LINEAR_CONFIGS if strategy == "linear" else CANARY_CONFIGS
    return ReleaseSpec(
        strategy=strategy,
        deployment_config=draw(st.sampled_from(configs)),
        custom_percent=draw(st.integers(1, 99)),
        custom_interval_minutes=draw(st.integers(1, MAX_INTERVAL_MINUTES)),
        weighted_steps=draw(weighted_steps()),
        previous_version=draw(st.none() | st.integers(1, 10**6)),
        canary_weight_percent=draw(st.integers(0, 100)),
        extra_aliases=tuple(draw(st.lists(st.sampled_from(["debug", "blue", "green", "qa"]), unique=True, max_size=3))),
    )


def _check_steps(steps) -> None:
    percents = [s.percent for s in steps]
    assert percents[-1] == 100, percents
    assert all(1 <= p <= 100 for p in percents)
    assert percents == sorted(set(percents)), f"traffic must only grow: {percents}"
    minutes = [s.at_minute for s in steps if s.at_minute is not None]
    assert minutes == sorted(minutes)
    gaps = [b - a for a, b in zip(minutes, minutes[1:], strict=False)]
    assert all(1 <= gap <= MAX_INTERVAL_MINUTES for gap in gaps), gaps


@given(release_specs())
def test_every_plan_reaches_100_percent_within_codedeploy_limits(spec: ReleaseSpec) -> None:
    plan = plan_release(spec)
    _check_steps(plan.steps)
    assert plan.uses_codedeploy == (spec.strategy in ("canary", "linear"))
    if plan.custom is not None:
        assert 1 <= plan.custom.percent <= 99
        assert 1 <= plan.custom.interval_minutes <= MAX_INTERVAL_MINUTES
        assert plan.custom.type == ("TimeBasedCanary" if spec.strategy == "canary" else "TimeBasedLinear")


@given(st.sampled_from(["canary", "linear"]), st.integers(1, 99), st.integers(1, MAX_INTERVAL_MINUTES))
def test_custom_schedules_shift_the_declared_percentage_each_interval(kind, percent, interval) -> None:
    steps = schedule(kind, percent, interval)
    _check_steps(steps)
    assert steps[0].percent == percent and steps[0].at_minute == 0
    if kind == "canary":
        assert [s.percent for s in steps] == [percent, 100] and steps[1].at_minute == interval
    else:
        increments = [b.percent - a.percent for a, b in zip(steps, steps[1:], strict=False)]
        assert all(0 < inc <= percent for inc in increments)
        assert len(steps) == -(-100 // percent)


def test_predefined_configs_map_to_codedeploy_names() -> None:
    plan = plan_release(ReleaseSpec(strategy="linear", deployment_config="Linear10PercentEvery3Minutes"))
    assert deployment_config_name(plan, "unused") == "CodeDeployDefault.LambdaLinear10PercentEvery3Minutes"
    assert [s.percent for s in plan.steps] == list(range(10, 101, 10))
    assert plan.steps[-1].at_minute == 27
    assert len(PREDEFINED_CONFIGS) == 9
    custom = plan_release(
        ReleaseSpec(strategy="canary", deployment_config="custom", custom_percent=25, custom_interval_minutes=45)
    )
    assert deployment_config_name(custom, "arcbp-dev-orders-canary") == "arcbp-dev-orders-canary"
    assert deployment_config_name(plan_release(ReleaseSpec(strategy="all-at-once")), "x") is None


@pytest.mark.parametrize(
    ("spec", "key", "fragment"),
    [
        (
            {"strategy": "linear", "deploymentConfig": "Canary10Percent5Minutes"},
            "releases.deploymentConfig",
            "strategy linear takes",
        ),
        (
            {"strategy": "canary", "deploymentConfig": "Canary5Percent1Minute"},
            "releases.deploymentConfig",
            "must be custom",
        ),
        ({"strategy": "canary", "extraAliases": ["live"]}, "releases.extraAliases[0]", "not live"),
        ({"strategy": "canary", "extraAliases": ["123"]}, "releases.extraAliases[0]", "not only digits"),
        ({"strategy": "canary", "extraAliases": ["debug", "debug"]}, "releases.extraAliases", "repeat"),
    ],
)
def test_invalid_release_settings_fail_with_one_line(spec, key, fragment) -> None:
    with pytest.raises(ConfigError) as caught:
        plan_release(parse(ReleaseSpec, spec, "releases"))
    assert caught.value.key == key
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("spec", "key"),
    [
        ({"customPercent": 0}, "releases.customPercent"),
        ({"customPercent": 100}, "releases.customPercent"),
        ({"customIntervalMinutes": 2881}, "releases.customIntervalMinutes"),
        ({"strategy": "rolling"}, "releases.strategy"),
        ({"p99DurationAlarmMs": 5}, "releases.p99DurationAlarmMs"),
    ],
)
def test_config_ranges_are_checked_when_parsed(spec, key) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(ReleaseSpec, spec, "releases")
    assert caught.value.key == key


def test_schedule_rejects_out_of_range_custom_values() -> None:
    with pytest.raises(ConfigError, match="from 1 to 99"):
        schedule("linear", 0, 5)
    with pytest.raises(ConfigError, match="2880"):
        schedule("canary", 10, 2881)


def test_blue_green_rollback_points_live_at_the_previous_version() -> None:
    release = ReleaseSpec(strategy="blue-green", previous_version=7)
    assert live_version(plan_release(release), "8") == "8"

    @dataclasses.dataclass(frozen=True)
    class WithRollback:  # the key the lead's ReleaseSpec is asked to add (see docs/releases.md)
        strategy: str = "blue-green"
        deployment_config: str = "Canary10Percent5Minutes"
        custom_percent: int = 10
        custom_interval_minutes: int = 5
        weighted_steps: tuple[int, ...] = (10, 50, 100)
        previous_version: int | None = 7
        canary_weight_percent: int = 0
        extra_aliases: tuple[str, ...] = ()
        rollback: bool = True

    assert live_version(plan_release(WithRollback()), "8") == "7"  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="previousVersion"):
        plan_release(WithRollback(previous_version=None))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="blue-green setting"):
        plan_release(WithRollback(strategy="canary"))  # type: ignore[arg-type]


@given(st.integers(0, 100), st.integers(1, 50), st.integers(1, 50))
def test_weighted_canary_gives_the_previous_version_the_rest(weight, previous, new) -> None:
    plan = plan_release(
        ReleaseSpec(strategy="weighted-canary", previous_version=previous, canary_weight_percent=weight)
    )
    weights = alias_weights(plan, str(new))
    live = live_version(plan, str(new))
    assert live == (str(previous) if weight == 0 else str(new))
    if weight in (0, 100) or previous == new:
        assert weights is None
    else:
        assert weights == {str(previous): pytest.approx(1 - weight / 100)}
        assert 0 < weights[str(previous)] <= 1
    assert alias_weights(plan_release(ReleaseSpec(strategy="weighted-canary")), "3") is None


@given(st.integers(1, 10**6), st.integers(1, 10**6))
def test_appspec_shifts_the_alias_between_published_versions(current, target) -> None:
    spec = appspec(
        "arcbp-prod-orders-api", "live", str(current), str(target), {"BeforeAllowTraffic": "CodeDeployHook_pre:live"}
    )
    json.dumps(spec)
    (resource,) = spec["Resources"]
    props = next(iter(resource.values()))["Properties"]
    assert props == {
        "Name": "arcbp-prod-orders-api",
        "Alias": "live",
        "CurrentVersion": str(current),
        "TargetVersion": str(target),
    }
    assert spec["Hooks"] == [{"BeforeAllowTraffic": "CodeDeployHook_pre:live"}]
    assert needs_deployment(str(current), str(target)) == (current != target)


@pytest.mark.parametrize("bad", ["$LATEST", "0", "", "v2"])
def test_latest_is_never_a_release_target(bad) -> None:
    with pytest.raises(ValueError, match="LATEST"):
        appspec("fn", "live", "1", bad)
    with pytest.raises(ValueError):
        live_version(plan_release(ReleaseSpec(strategy="all-at-once")), bad)


def test_appspec_rejects_unknown_hook_events() -> None:
    with pytest.raises(ValueError, match="BeforeAllowTraffic"):
        appspec("fn", "live", "1", "2", {"BeforeInstall": "x"})
