"""Release state per function and rollback per function/service: the driver against an in-memory engine."""

from __future__ import annotations

import pytest

from arcblueprint.config import stack_config
from arcblueprint.deploy.errors import ExitCode
from arcblueprint.deploy.release_state import derive_release_state, function_key, live_version_in_output

from .test_deploy_driver import COMMIT, FakeEngine, Report  # the same fake engine


def entry(service: str, strategy: str, target: str, previous: str | None = None, **extra) -> dict:
    return {
        "service": service,
        "functionName": f"arcbp-prod-{service}-fn",
        "alias": "live",
        "targetVersion": target,
        "strategy": strategy,
        "previousVersion": previous,
        "rollback": False,
        "canaryWeightPercent": 0,
        **extra,
    }


@pytest.fixture
def prod(stack_values):
    def make(releases: dict | None = None):
        overrides = {"arcblueprint:releases": releases} if releases else None
        return stack_config(stack_values("prod", overrides), "prod")

    return make


def test_live_version_from_the_output_follows_what_pulumi_moved():
    assert live_version_in_output(entry("fan", "blue-green", "7", "5")) == 7
    assert live_version_in_output(entry("fan", "blue-green", "7", "5", rollback=True)) == 5
    assert live_version_in_output(entry("fan", "weighted-canary", "7", "5")) == 5  # weight 0: live is 5
    assert live_version_in_output(entry("fan", "weighted-canary", "7", "5", canaryWeightPercent=50)) == 7
    assert live_version_in_output(entry("fan", "all-at-once", "$LATEST")) is None


def test_each_function_gets_its_own_versions(prod):
    releases = {
        "fan-billing": entry("fan", "canary", "12", "11", functionName="arcbp-prod-fan-billing"),
        "fan-audit": entry("fan", "canary", "3"),
        "orders-api": entry("orders", "canary", "40", "38"),
        "gone-fn": entry("gone", "canary", "9", "8"),  # a function the stack no longer declares
    }
    # CodeDeploy rolled billing back to 11 after the last update: Lambda, not the output, says what live serves.
    live = {"arcbp-prod-fan-billing": "11"}
    state = derive_release_state(releases, prod(), live_version_of=live.get)
    assert state == {
        "fan-audit": {"liveVersion": 3},
        "fan-billing": {"liveVersion": 11},
        "orders-api": {"liveVersion": 40, "previousVersion": 38},
    }


def test_a_pinned_function_and_a_skipped_one_get_nothing(prod):
    releases = {"fan-billing": entry("fan", "canary", "12", "11"), "orders-api": entry("orders", "canary", "4", "3")}
    pinned = prod({"strategy": "canary", "functions": {"fan-billing": {"previousVersion": 9}}})
    assert derive_release_state(releases, pinned) == {"orders-api": {"liveVersion": 4, "previousVersion": 3}}
    assert derive_release_state(releases, prod(), skip=["orders-api"]) == {
        "fan-billing": {"liveVersion": 12, "previousVersion": 11}
    }


@pytest.fixture
def driver_for(stack_values):
    from arcblueprint.deploy.driver import Driver

    def make(engine: FakeEngine, *, releases: dict | None = None, account: str | None = None, rollbacks=None):
        import io

        def load(stack):
            overrides = {"arcblueprint:releases": releases} if releases else None
            return stack_config(stack_values(stack, overrides), stack)

        driver = Driver(
            engine,
            load_config=load,
            offline_gate=lambda stack: Report(),
            commit=COMMIT,
            stream=io.StringIO(),
            firing_alarms=lambda names, region: [],
            sleep=lambda s: None,
            interactive=False,
            caller_account=(lambda region: account) if account else None,
            live_version=lambda region, name: None,
            run_rollbacks=rollbacks,
        )
        return driver

    return make


def test_deploy_passes_the_release_state_for_that_run_only(driver_for):
    last = {"fan-billing": entry("fan", "blue-green", "12", "11"), "fan-audit": entry("fan", "blue-green", "3")}
    engine = FakeEngine(stack_outputs={"dev": {"releases": last}})
    summary = driver_for(engine).deploy("dev")
    assert summary.exit_code == ExitCode.OK, summary.message
    assert engine.run_config["dev"] == {
        "aws:allowedAccountIds": ["111111111111"],
        "arcblueprint:releases": {
            "functions": {"fan-audit": {"liveVersion": 3}, "fan-billing": {"liveVersion": 12, "previousVersion": 11}}
        },
    }
    assert engine.config_sets == []  # nothing written to the stack file
    assert summary.as_json()["releaseState"]["fan-billing"] == {"liveVersion": 12, "previousVersion": 11}


def test_credentials_of_another_account_stop_before_the_engine(driver_for):
    engine = FakeEngine()
    summary = driver_for(engine, account="999999999999").deploy("dev")
    assert summary.exit_code == ExitCode.ENVIRONMENT and "preview dev" not in engine.calls
    assert "999999999999" in summary.message and "111111111111" in summary.message
    assert driver_for(FakeEngine(), account="111111111111").deploy("dev").exit_code == ExitCode.OK


@pytest.mark.parametrize("operation", ["plan", "refresh", "promote", "rollback"])
def test_every_operation_checks_the_account_first(driver_for, operation):
    engine = FakeEngine(stack_outputs={"dev": {"releases": {"fan-audit": entry("fan", "blue-green", "3", "2")}}})
    driver = driver_for(engine, account="999999999999", releases={"strategy": "weighted-canary"})
    summary = getattr(driver, operation)("dev")
    assert summary.exit_code == ExitCode.ENVIRONMENT, summary.message
    assert not [c for c in engine.calls if c.split()[0] in ("preview", "up")]


def test_rollback_of_one_blue_green_function_pins_its_way_back(driver_for):
    last = {"fan-billing": entry("fan", "blue-green", "12", "11"), "fan-audit": entry("fan", "blue-green", "3", "2")}
    engine = FakeEngine(stack_outputs={"prod": {"releases": last}})
    summary = driver_for(engine).rollback("prod", function="fan-billing")
    assert summary.exit_code == ExitCode.OK, summary.message
    assert engine.config_sets == [
        (function_key("fan-billing", "previousVersion"), "11"),
        (function_key("fan-billing", "rollback"), "true"),
    ]
    assert function_key("fan-billing", "rollback") == 'arcblueprint:releases.functions["fan-billing"].rollback'
    assert engine.calls.count("up prod") == 1
    # The others keep their own release state; billing's comes from the stack file now.
    assert engine.run_config["prod"]["arcblueprint:releases"]["functions"] == {
        "fan-audit": {"liveVersion": 3, "previousVersion": 2}
    }
    assert summary.rollbacks == [
        {"function": "fan-billing", "strategy": "blue-green", "how": "live -> previous alias", "to": "11"}
    ]


def test_rollback_of_a_service_goes_back_by_each_functions_strategy(driver_for):
    last = {
        "orders-api": entry("orders", "canary", "40", "38"),
        "orders-outbox-publisher": entry("orders", "weighted-canary", "9", "8", canaryWeightPercent=50),
        "fan-audit": entry("fan", "all-at-once", "3"),
    }
    engine = FakeEngine(stack_outputs={"prod": {"releases": last}})
    started = []

    def rollbacks(stack, config, releases):
        started.append(sorted(releases))
        return [{"function": name, "status": "Succeeded"} for name in releases]

    summary = driver_for(engine, rollbacks=rollbacks).rollback("prod", service="orders")
    assert summary.exit_code == ExitCode.OK, summary.message
    assert engine.config_sets == [(function_key("orders-outbox-publisher", "canaryWeightPercent"), "0")]
    assert started == [["orders-api"]] and summary.deployments == [{"function": "orders-api", "status": "Succeeded"}]
    assert {r["function"] for r in summary.rollbacks} == {"orders-api", "orders-outbox-publisher"}


@pytest.mark.parametrize(
    ("selection", "says"),
    [
        ({"function": "fan-audit"}, "released all-at-once"),
        ({"function": "fan-biling"}, "did you mean 'fan-billing'"),
        ({"service": "nope"}, "services: fan"),
        ({"function": "fan-billing", "service": "orders"}, "not a function of --service orders"),
        ({"function": "fan-first"}, "no previous version on record"),
    ],
)
def test_a_rollback_that_cannot_happen_is_a_config_error_before_any_change(driver_for, selection, says):
    last = {
        "fan-audit": entry("fan", "all-at-once", "3"),
        "fan-billing": entry("fan", "blue-green", "12", "11"),
        "fan-first": entry("fan", "blue-green", "1"),
    }
    engine = FakeEngine(stack_outputs={"prod": {"releases": last}})
    summary = driver_for(engine).rollback("prod", **selection)
    assert summary.exit_code == ExitCode.CONFIG and says in summary.message, summary.message
    assert engine.config_sets == [] and "up prod" not in engine.calls
