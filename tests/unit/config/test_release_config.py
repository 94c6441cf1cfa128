"""Release settings per service and release state per function (pure config, no synthesis)."""

from __future__ import annotations

import pytest

from arcblueprint.config import ConfigError, read_stack_file, stack_config
from arcblueprint.planning.releases import plan_release, previous_version
from arcblueprint.preview.harness import REPO_ROOT


def config(stack: str = "prod", releases: dict | None = None, **services: dict):
    values = read_stack_file(REPO_ROOT, stack)
    if releases is not None:
        values["arcblueprint:releases"] = releases
    merged = dict(values["arcblueprint:services"])
    for name, changes in services.items():
        merged[name] = {**merged[name], **changes}
    values["arcblueprint:services"] = merged
    return stack_config(values, stack)


def error(stack: str = "prod", releases: dict | None = None, **services: dict) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        config(stack, releases, **services)
    assert "\n" not in str(caught.value)
    return caught.value


def test_a_service_overrides_the_stack_strategy_for_its_functions_only():
    prod = config(fan={"release": {"strategy": "blue-green"}})
    assert prod.release_for("fan", "fan-billing").strategy == "blue-green"
    assert prod.release_for("orders", "orders-api").strategy == "canary"
    # A new strategy does not inherit the stack's canary config, but keeps the stack's alarm thresholds.
    assert prod.release_for("fan", "fan-billing").deployment_config is None
    thresholds = config(
        releases={"strategy": "canary", "deploymentConfig": "Canary10Percent5Minutes", "errorAlarmThreshold": 5},
        fan={"release": {"strategy": "linear"}},
    )
    linear = thresholds.release_for("fan", "fan-audit")
    assert (linear.strategy, linear.deployment_config, linear.error_alarm_threshold) == ("linear", None, 5)
    assert plan_release(linear).deployment_config == "Linear10PercentEvery1Minute"


def test_a_service_keeping_the_strategy_changes_only_what_it_names():
    prod = config(orders={"release": {"deploymentConfig": "Canary10Percent30Minutes"}})
    orders = prod.release_for("orders", "orders-api")
    assert (orders.strategy, orders.deployment_config) == ("canary", "Canary10Percent30Minutes")


@pytest.mark.parametrize(
    ("release", "key", "says"),
    [
        ({"strategy": "linear", "deploymentConfig": "Canary10Percent5Minutes"}, "release.deploymentConfig", "canary"),
        ({"strategy": "yolo"}, "release.strategy", "must be one of"),
        ({"previousVersion": 3}, "release.previousVersion", "releases.functions.<function>"),
        ({"canaryWeightPercent": 10}, "release.canaryWeightPercent", "release state of one function"),
        ({"stratgy": "canary"}, "release.stratgy", "did you mean 'strategy'"),
        # Keeping the stack's canary strategy, a linear config does not fit it.
        ({"deploymentConfig": "Linear10PercentEvery1Minute"}, "release.deploymentConfig", "linear config"),
    ],
)
def test_a_bad_service_release_names_its_key(release, key, says):
    caught = error(fan={"release": release})
    assert caught.key == f"arcblueprint:services.fan.{key}" and says in str(caught)
    assert caught.stack == "prod"


def test_versions_are_kept_per_function():
    caught = error(releases={"strategy": "blue-green", "previousVersion": 41})
    assert caught.key == "arcblueprint:releases.previousVersion" and "per function" in str(caught)
    prod = config(
        releases={"strategy": "blue-green", "functions": {"fan-billing": {"previousVersion": 41, "liveVersion": 44}}}
    )
    assert prod.release_for("fan", "fan-billing").previous_version == 41
    assert prod.release_for("fan", "fan-audit").previous_version is None  # its own count, not billing's


def test_a_function_state_names_a_function_of_the_stack():
    caught = error(releases={"strategy": "blue-green", "functions": {"fan-biling": {"previousVersion": 3}}})
    assert caught.key == "arcblueprint:releases.functions.fan-biling" and "did you mean 'fan-billing'" in str(caught)


def test_a_rollback_needs_that_functions_previous_version():
    caught = error(releases={"strategy": "blue-green", "functions": {"fan-billing": {"rollback": True}}})
    assert caught.key == "arcblueprint:releases.functions.fan-billing.previousVersion"
    # A stack-wide rollback too: every blue-green function must know where to go back to.
    caught = error(releases={"strategy": "blue-green", "rollback": True})
    assert caught.key.startswith("arcblueprint:releases.functions.") and caught.key.endswith(".previousVersion")
    ok = config(
        releases={"strategy": "blue-green", "functions": {"fan-billing": {"rollback": True, "previousVersion": 7}}}
    )
    assert ok.release_for("fan", "fan-billing").rollback and not ok.release_for("fan", "fan-audit").rollback


def test_a_rollback_of_a_codedeploy_function_is_refused():
    caught = error(
        releases={"strategy": "canary", "functions": {"orders-api": {"rollback": True, "previousVersion": 3}}}
    )
    assert caught.key == "arcblueprint:releases.functions.orders-api.rollback" and "blue-green" in str(caught)


@pytest.mark.parametrize(
    ("previous", "live", "new", "expected"),
    [
        (None, None, "5", None),  # first release: nothing to go back to
        ("3", None, "5", "3"),  # pinned by hand
        ("3", "4", "5", "4"),  # a new version was published: what live served is the way back
        ("3", "5", "5", "3"),  # nothing published (the function is unchanged): the way back stays
        (None, "5", "5", "5"),  # first deploy by the driver, nothing published: live is all there is
        ("3", "3", "6", "3"),  # after a rollback live served 3: a fix goes out with 3 as the way back
    ],
)
def test_the_previous_version_depends_on_whether_the_update_published_one(previous, live, new, expected):
    from arcblueprint.config.model import ReleaseSpec

    spec = ReleaseSpec(
        strategy="blue-green",
        previous_version=None if previous is None else int(previous),
        live_version=None if live is None else int(live),
    )
    assert previous_version(plan_release(spec), new) == expected
