"""snapstart-supported: SnapStart only where AWS accepts it (runtime, EFS, ephemeral storage, provisioned
concurrency)."""

from __future__ import annotations

import copy

import pytest

from arcblueprint.policy.testing import mutated, violations_of
from arcblueprint.policy.wiring.snapstart import snapstart_runtime_supported

POLICY = "snapstart-supported"
#: The synchronous functions prod turns SnapStart on for (Pulumi.prod.yaml: orders, bookings, facade, hooks).
PROD_SNAPSTART = {
    "orders-api-function",
    "bookings-bookings-function",
    "facade-notifications-function",
    "facade-router-function",
    "hooks-receiver-function",
}


def _snapstart_functions(graph) -> set[str]:
    return {
        r.name
        for r in graph.by_type("aws:lambda/function:Function")
        if (r.inputs.get("snapStart") or {}).get("applyOn") == "PublishedVersions"
    }


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_shipped_stacks_use_snapstart_only_where_aws_accepts_it(synthesized, stack):
    graph = synthesized(stack)
    assert violations_of(graph, POLICY) == []
    assert _snapstart_functions(graph) == (PROD_SNAPSTART if stack == "prod" else set())


def test_prod_turns_it_on_for_the_synchronous_functions_only(synthesized):
    graph = synthesized("prod")
    on = [r for r in graph.by_type("aws:lambda/function:Function") if r.name in PROD_SNAPSTART]
    assert {r.inputs["runtime"] for r in on} <= {"python3.12", "python3.13"}
    # Queue, stream and saga consumers are asynchronous: their cold starts hold no caller, so no snapshot cost.
    assert "hooks-consumer-function" not in _snapstart_functions(graph)
    assert "bookings-saga-steps-function" not in _snapstart_functions(graph)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda f: f.inputs.update(runtime="python3.11"), "runtime python3.11 has no SnapStart"),
        (lambda f: f.inputs.update(runtime="nodejs22.x"), "runtime nodejs22.x has no SnapStart"),
        (
            lambda f: f.inputs.update(fileSystemConfig={"arn": "arn:aws:efs:x", "localMountPath": "/mnt"}),
            "mounts Amazon EFS",
        ),
        (lambda f: f.inputs.update(ephemeralStorage={"size": 1024.0}), "ephemeral storage is 1024 MB"),
        (lambda f: f.inputs.update(packageType="Image"), "container image"),
    ],
)
def test_a_snapstart_function_aws_rejects_is_reported(synthesized, change, fragment):
    broken = mutated(synthesized("prod"), "orders-api-function", change)
    [violation] = violations_of(broken, POLICY)
    assert violation.urn.endswith("::orders-api-function") and violation.level == "mandatory"
    assert fragment in violation.message and "Turn snapStart off" in violation.message


def test_provisioned_concurrency_on_a_snapstart_function_is_reported(synthesized):
    prod = synthesized("prod")
    function = next(r for r in prod.resources if r.name == "orders-api-function")
    alias = next(r for r in prod.resources if r.name == "orders-api-alias-live")
    config = copy.deepcopy(alias)
    config.type = "aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig"
    config.name = "orders-api-provisioned"
    config.urn = alias.urn.replace("aws:lambda/alias:Alias", config.type)
    config.urn = config.urn.replace("::orders-api-alias-live", "::orders-api-provisioned")
    config.inputs = {"functionName": function.inputs["name"], "qualifier": "live", "provisionedConcurrentExecutions": 5}
    config.outputs = {}
    config.property_dependencies = {"functionName": [function.urn]}
    broken = mutated(prod, "orders-api-function", lambda f: None)
    broken.resources.append(config)
    [violation] = violations_of(broken, POLICY)
    assert violation.urn.endswith("::orders-api-provisioned")
    assert "does not support SnapStart with provisioned concurrency" in violation.message

    # The same config on a function without SnapStart is fine.
    def snapstart_off(function):
        function.inputs.pop("snapStart")
        function.outputs.pop("snapStart", None)  # offline a policy sees outputs too

    fine = mutated(broken, "orders-api-function", snapstart_off)
    assert violations_of(fine, POLICY) == []


def test_dev_cannot_weaken_the_rule():
    from arcblueprint.config import load
    from arcblueprint.policy.config import pack_config_for
    from arcblueprint.preview.harness import REPO_ROOT

    assert pack_config_for(load(REPO_ROOT, "dev"))[POLICY]["enforcementLevel"] == "mandatory"


@pytest.mark.parametrize(
    ("runtime", "supported"),
    [
        ("python3.12", True),
        ("python3.13", True),
        ("python3.14", True),
        ("python3.11", False),
        ("java11", True),
        ("java8.al2", False),
        ("dotnet8", True),
        ("dotnet6", False),
        ("nodejs22.x", False),
        ("provided.al2023", False),
    ],
)
def test_runtimes_with_snapstart(runtime, supported):
    assert snapstart_runtime_supported(runtime) is supported
