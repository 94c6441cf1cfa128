"""docs/extending.md's own component, run as written: the block in the doc is the code under test."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pulumi
import pytest

from arcblueprint.preview.harness import REPO_ROOT

DOC = REPO_ROOT / "docs" / "extending.md"
POINTS = Path(__file__).parent / "teams" / "loyalty" / "points"


def documented_module() -> types.ModuleType:
    """The ``python`` block that follows ``<!-- example: own-component -->`` in the doc, as a module."""
    match = re.search(r"<!-- example: own-component -->\n```python\n(.*?)\n```", DOC.read_text(), re.S)
    assert match, "docs/extending.md lost its own-component example"
    module = types.ModuleType("loyalty_order_points")
    sys.modules[module.__name__] = module  # dataclasses resolve string annotations through the module
    exec(compile(match.group(1), str(DOC), "exec"), module.__dict__)  # noqa: S102 - the doc's example is the test
    return module


@pytest.fixture(scope="module")
def declared(run_component, stack_values):
    """The component in the dev stack beside the real platform (no services: the platform is what it needs)."""
    from arcblueprint.platform import code_signing
    from arcblueprint.platform.build import build_platform
    from arcblueprint.platform.functions import component

    module = documented_module()
    packaged: list[tuple[Path, str | None]] = []
    original = component.code_archive

    def recording(code_dir, handler=None):
        packaged.append((Path(code_dir), handler))
        return original(code_dir, handler)

    def program(context):
        platform = build_platform(context)
        points = module.OrderPoints(
            "loyalty-ledger",
            module.OrderPointsArgs(
                platform=platform.platform, service="loyalty", code_dir=POINTS, maximum_concurrency=5
            ),
        )
        platform.finish()
        pulumi.export("queueUrl", points.queue.url)

    # Both places that package a function: the function itself, and code signing when the stack has it.
    component.code_archive = code_signing.code_archive = recording
    try:
        # waf: its per-service settings name the shipped services this test removes.
        values = stack_values("dev", {"arcblueprint:services": {}, "arcblueprint:waf": {}})
        graph = run_component(program, stack="dev", values=values)
    finally:
        component.code_archive = code_signing.code_archive = original
    return graph, packaged


def test_the_team_function_is_packaged_from_its_folder(declared):
    graph, packaged = declared
    assert packaged == [(POINTS, "app.lambda_handler")]
    [function] = [f for f in graph.by_type("aws:lambda/function:Function") if f.name.startswith("loyalty-")]
    assert function.name == "loyalty-ledger-award-function" and function.inputs["publish"] is True
    assert function.inputs["environment"]["variables"]["IDEMPOTENCY_TABLE"] == "arcbp-dev-loyalty-awards"


def test_the_queue_drives_the_live_alias_with_its_grants(declared):
    graph, _ = declared
    [mapping] = [m for m in graph.by_type("aws:lambda/eventSourceMapping:EventSourceMapping") if "loyalty" in m.name]
    aliases = {a.name: a for a in graph.by_type("aws:lambda/alias:Alias")}
    queues = {q.name: q for q in graph.by_type("aws:sqs/queue:Queue")}
    assert mapping.inputs["functionName"] == aliases["loyalty-ledger-award-alias-live"].outputs["arn"]
    assert mapping.inputs["eventSourceArn"] == queues["loyalty-ledger-orders-queue"].outputs["arn"]
    assert mapping.inputs["scalingConfig"] == {"maximumConcurrency": 5}
    assert "redrivePolicy" in queues["loyalty-ledger-orders-queue"].inputs
    [table] = [t for t in graph.by_type("aws:dynamodb/table:Table") if "loyalty" in t.name]
    policies = {p.name: p.inputs["policy"] for p in graph.by_type("aws:iam/rolePolicy:RolePolicy")}
    assert table.outputs["arn"] in policies["loyalty-ledger-award-table-read-write"]
    assert queues["loyalty-ledger-orders-queue"].outputs["arn"] in policies["loyalty-ledger-award-queue-consume"]


def test_the_blueprint_pack_has_nothing_to_say(declared):
    """Every rule of the pack passes the component: correctness (mandatory) and hardening (advisory in dev)."""
    from arcblueprint.policy.offline import evaluate

    graph, _ = declared
    report = evaluate(graph)
    assert {"lambda-no-latest-invocation", "sqs-redrive-policy", "alarm-has-actions"} <= set(report.evaluated)
    # Dev leaves resolver query logs off (prod-only hardening): the platform's own VPCs are told so, nothing else.
    advisory = [v for v in report.advisory if v.policy != "vpc-dns-queries-logged"]
    assert report.mandatory == [] and advisory == [], [v.line() for v in report.mandatory + report.advisory]
