"""The text views of a graph, on small hand-built graphs."""

from __future__ import annotations

import json

from arcblueprint.config import load
from arcblueprint.preview import render
from arcblueprint.preview.harness import REPO_ROOT, GraphResource, SynthesizedStack

CONFIG = load(REPO_ROOT, "dev")


def _urn(stack: str, chain: str, name: str) -> str:
    return f"urn:pulumi:{stack}::arcblueprint::{chain}::{name}"


def _graph(stack: str, *, retention: int = 14, extra: bool = False) -> SynthesizedStack:
    comp = GraphResource(
        urn=_urn(stack, "arcblueprint:x:Logs", "logs"),
        type="arcblueprint:x:Logs",
        name="logs",
        parent=None,
        custom=False,
        inputs={},
    )
    key = GraphResource(
        urn=_urn(stack, "arcblueprint:x:Logs$aws:kms/key:Key", "logs-key"),
        type="aws:kms/key:Key",
        name="logs-key",
        parent=comp.urn,
        custom=True,
        inputs={"enableKeyRotation": True},
        protect=stack == "prod",
    )
    group = GraphResource(
        urn=_urn(stack, "arcblueprint:x:Logs$aws:cloudwatch/logGroup:LogGroup", "logs-group"),
        type="aws:cloudwatch/logGroup:LogGroup",
        name="logs-group",
        parent=comp.urn,
        custom=True,
        inputs={"retentionInDays": retention, "policy": json.dumps({"a": 1})},
        dependencies=[key.urn],
    )
    resources = [comp, key, group]
    if extra:
        resources.append(
            GraphResource(
                urn=_urn(stack, "aws:sqs/queue:Queue", "q"),
                type="aws:sqs/queue:Queue",
                name="q",
                parent=None,
                custom=True,
                inputs={},
            )
        )
    return SynthesizedStack(
        project="arcblueprint",
        stack=stack,
        preview=True,
        config=CONFIG,
        resources=resources,
        outputs={"bucket": "b", "ids": ["x"]},
    )


def test_tree_nests_children_under_their_component_and_marks_protection():
    lines = render.tree(_graph("prod")).splitlines()
    assert lines[0] == "arcblueprint-prod (pulumi:pulumi:Stack)"
    assert lines[1].startswith("└─ logs (arcblueprint:x:Logs)")
    assert lines[2].startswith("   ├─ logs-key") and lines[2].endswith("[protected]")
    assert lines[3].startswith("   └─ logs-group") and "[protected]" not in lines[3]


def test_counts_and_outputs():
    graph = _graph("dev", extra=True)
    assert dict(render.resource_counts(graph)) == {
        "arcblueprint:x:Logs": 1,
        "aws:kms/key:Key": 1,
        "aws:cloudwatch/logGroup:LogGroup": 1,
        "aws:sqs/queue:Queue": 1,
    }
    assert "(3 cloud resources, 1 components)" in render.counts_text(graph)
    assert render.outputs_text(graph).splitlines() == ["bucket  b", 'ids     ["x"]']


def test_mermaid_and_dot_draw_components_as_clusters_and_dependencies_as_edges():
    graph = _graph("dev")
    mmd = render.mermaid(graph)
    assert mmd.startswith("flowchart LR") and 'subgraph r0["logs' in mmd and "r2 --> r1" in mmd
    assert mmd.count("subgraph") == 1 and mmd.count("end") == 1
    dot = render.dot(graph)
    assert "subgraph cluster_r0" in dot and "r2 -> r1;" in dot and dot.rstrip().endswith("}")


def test_diff_reports_changed_inputs_protection_and_one_sided_resources():
    lines = render.diff_stacks(_graph("dev", retention=14), _graph("prod", retention=365, extra=True))
    text = "\n".join(lines)
    assert "logs-group (aws:cloudwatch/logGroup:LogGroup):\n    retentionInDays: 14 -> 365" in text
    assert "    (protect): False -> True" in text
    assert "q (aws:sqs/queue:Queue): only in prod" in text
    assert "policy" not in text  # equal JSON documents are compared by content, not reported


def test_diff_of_identical_stacks_is_empty():
    assert render.diff_stacks(_graph("dev"), _graph("dev")) == []
