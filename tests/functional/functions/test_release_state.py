"""Release settings per service and state per function, as the functions declare them (mock runtime)."""

from __future__ import annotations

import pytest

from arcblueprint.config import read_stack_file
from arcblueprint.preview.harness import REPO_ROOT

FN = "arcblueprint:functions:ServerlessFunction"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_released_function_is_one_the_config_knows(synthesized, stack):
    """``releases.functions.<key>`` is validated against the functions the config declares: they must match."""
    graph = synthesized(stack)
    releases = graph.outputs["releases"]
    hooks = {key for key, info in releases.items() if info["functionName"].startswith("CodeDeployHook_")}
    assert set(releases) - hooks == set(graph.config.function_names())
    assert all(
        info["service"] == graph.config.function_names()[key] for key, info in releases.items() if key not in hooks
    )


@pytest.fixture(scope="module")
def fan(run_component, service_program, stack_values):
    """prod's fan service switched to blue-green; billing with release state, audit without."""
    services = read_stack_file(REPO_ROOT, "prod")["arcblueprint:services"]
    fan = {k: v for k, v in services["fan"].items() if k != "pattern"}
    fan["release"] = {"strategy": "blue-green"}
    values = stack_values(
        "prod",
        {
            "arcblueprint:services": {**services, "fan": {"pattern": "big-fan", **fan}},
            "arcblueprint:releases": {
                "strategy": "canary",
                "functions": {"fan-billing": {"previousVersion": 41, "liveVersion": 44}},
            },
        },
    )
    spec = {k: v for k, v in fan.items() if k != "subscribe"}
    return run_component(service_program("fan", "big-fan", spec), stack="prod", values=values)


def test_the_service_release_replaces_the_stack_strategy(fan):
    functions = {r.name: r for r in fan.by_type(FN)}
    assert set(functions) == {"fan-billing", "fan-audit", "fan-search-index"}
    assert not fan.by_type("arcblueprint:functions:CodeDeployRelease")  # the stack's canary is not theirs
    tags = {f.name: f.inputs["tags"]["release-strategy"] for f in fan.by_type("aws:lambda/function:Function")}
    assert set(tags.values()) == {"blue-green"}


def test_each_function_keeps_its_own_previous_version(fan):
    aliases = {a.name: a.inputs for a in fan.by_type("aws:lambda/alias:Alias")}
    # The mock publishes version 1, not newer than the 44 live served: nothing was published, 41 stays.
    assert aliases["fan-billing-alias-previous"]["functionVersion"] == "41"
    assert aliases["fan-billing-alias-live"]["functionVersion"] == "1"
    # Audit has no state of its own: no previous alias, and certainly not billing's version.
    assert "fan-audit-alias-previous" not in aliases
