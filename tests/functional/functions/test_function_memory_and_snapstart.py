"""Per-function memory (``functions.memoryMibByFunction``, what ``blueprint tune`` writes) and the SnapStart flag."""

from __future__ import annotations

from pathlib import Path

import pytest

from arcblueprint.config import ConfigError
from arcblueprint.platform.functions import FunctionArgs, ServerlessFunction

HELLO = Path(__file__).parent / "fixtures" / "hello"


def test_a_tuned_memory_wins_over_the_service_and_the_stack(run_component, fake_platform, stack_values):
    values = stack_values(
        "dev", {"arcblueprint:functions": {"memoryMibByFunction": {"orders-api": 1769}, "memoryMib": 256}}
    )

    def program(context):
        platform = fake_platform(context)
        ServerlessFunction(
            "orders-api",
            FunctionArgs(platform=platform, service="orders", code_dir=HELLO, memory_mib=512, snap_start=True),
        )
        ServerlessFunction(
            "orders-worker", FunctionArgs(platform=platform, service="orders", code_dir=HELLO, memory_mib=512)
        )
        ServerlessFunction("orders-other", FunctionArgs(platform=platform, service="orders", code_dir=HELLO))

    graph = run_component(program, values=values)
    functions = {f.name: f.inputs for f in graph.by_type("aws:lambda/function:Function")}
    assert functions["orders-api-function"]["memorySize"] == 1769  # tuned
    assert functions["orders-worker-function"]["memorySize"] == 512  # the service's
    assert functions["orders-other-function"]["memorySize"] == 256  # the stack's
    assert functions["orders-api-function"]["snapStart"] == {"applyOn": "PublishedVersions"}
    assert "snapStart" not in functions["orders-worker-function"]
    assert all(f["publish"] is True for f in functions.values())  # SnapStart applies to published versions


def test_a_tuned_name_that_is_no_function_stops_the_program(run_component, stack_values):
    from arcblueprint.platform.build import build_platform

    values = stack_values("dev", {"arcblueprint:functions": {"memoryMibByFunction": {"ordres-api": 1024}}})
    with pytest.raises(Exception, match=r"memoryMibByFunction\.ordres-api = 1024 is invalid.*names no function"):
        run_component(lambda context: build_platform(context).finish(), values=values)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"orders-api": 64}, r"memoryMibByFunction\.orders-api = 64 is invalid.*128 to 10240"),
        ({"orders-api": 20000}, r"memoryMibByFunction\.orders-api = 20000 is invalid"),
        ({"Orders API": 512}, r"memoryMibByFunction\.Orders API .*logical name"),
        ({"orders-api": "big"}, r"memoryMibByFunction\.orders-api = 'big' is invalid.*whole number"),
    ],
)
def test_tuned_memory_entries_are_validated(entry, message):
    from arcblueprint.config import read_stack_file, stack_config
    from arcblueprint.preview.harness import REPO_ROOT

    values = read_stack_file(REPO_ROOT, "dev")
    values["arcblueprint:functions"] = {**values["arcblueprint:functions"], "memoryMibByFunction": entry}
    with pytest.raises(ConfigError, match=message):
        stack_config(values, "dev")
