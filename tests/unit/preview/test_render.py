"""The text views of a graph, on small hand-built graphs."""

from __future__ import annotations

import json

from arcblueprint.config import load
from arcblueprint.preview import diffing, graphs, render
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


def test_tree_nests_children_under_their_component_by_name_and_marks_protection():
    lines = render.tree(_graph("prod")).splitlines()
    assert lines[0] == "arcblueprint-prod (pulumi:pulumi:Stack)"
    assert lines[1].startswith("└─ logs (arcblueprint:x:Logs)")
    assert lines[2].startswith("   ├─ logs-group") and "[protected]" not in lines[2]
    assert lines[3].startswith("   └─ logs-key") and lines[3].endswith("[protected]")


def test_views_do_not_depend_on_registration_order():
    graph = _graph("dev", extra=True)
    shuffled = _graph("dev", extra=True)
    shuffled.resources.reverse()
    for view in (render.tree, graphs.mermaid, graphs.dot, graphs.component_mermaid):
        assert view(graph) == view(shuffled), view.__name__


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


def test_a_long_map_of_maps_prints_as_a_table_with_constant_columns_said_once():
    graph = _graph("dev")
    graph.outputs = {
        "releases": {
            f"svc-fn{i}": {"alias": "live", "functionName": f"prefix-svc-fn{i}-" + "x" * 40, "targetVersion": str(i)}
            for i in range(3)
        },
        "short": "s",
    }
    lines = render.outputs_text(graph).splitlines()
    assert max(len(line) for line in lines) < 120
    assert lines[0] == "releases (3):" and lines[1] == "  every row: alias live"
    header = lines[2].split()
    assert header == ["functionName", "targetVersion"]
    assert lines[3].split() == ["svc-fn0", "prefix-svc-fn0-" + "x" * 40, "0"]
    assert lines[-1].startswith("short")


def test_node_ids_come_from_the_urn_without_its_stack():
    dev, prod = _graph("dev"), _graph("prod")
    assert [graphs.node_id(r.urn) for r in dev.resources] == [graphs.node_id(r.urn) for r in prod.resources]
    assert len({graphs.node_id(r.urn) for r in dev.resources}) == len(dev.resources)


def test_mermaid_and_dot_draw_components_as_clusters_and_dependencies_as_edges():
    graph = _graph("dev")
    comp, key, group = graph.resources
    n = graphs.node_id
    mmd = graphs.mermaid(graph)
    assert mmd.startswith("flowchart LR") and f'subgraph {n(comp.urn)}["logs' in mmd
    assert f"{n(group.urn)} --> {n(key.urn)}" in mmd
    assert mmd.count("subgraph") == 1 and mmd.count("end") == 1
    dot = graphs.dot(graph)
    assert f"subgraph cluster_{n(comp.urn)}" in dot and f"{n(group.urn)} -> {n(key.urn)};" in dot


def test_a_resource_parented_by_a_plain_resource_is_drawn_with_its_name():
    graph = _graph("dev")
    group = graph.resources[2]
    filter_ = GraphResource(
        urn=group.urn.replace("aws:cloudwatch/logGroup:LogGroup::logs-group", "aws:cloudwatch/logGroup:LogGroup$x::f"),
        type="aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter",
        name="logs-group-to-sink",
        parent=group.urn,
        custom=True,
        inputs={},
    )
    graph.resources.append(filter_)
    mmd = graphs.mermaid(graph)
    assert f'{graphs.node_id(filter_.urn)}["logs-group-to-sink' in mmd
    assert f'subgraph g{graphs.node_id(group.urn)[1:]}["logs-group"]' in mmd  # its parent boxes it
    assert f'{graphs.node_id(group.urn)}["logs-group<br/>' in mmd  # and is still a node of its own
    assert "logs-group-to-sink" in graphs.dot(graph)


def test_by_component_folds_resources_onto_their_components():
    graph = _graph("dev", extra=True)
    other = GraphResource(
        urn=_urn("dev", "arcblueprint:x:Other", "other"),
        type="arcblueprint:x:Other",
        name="other",
        parent=None,
        custom=False,
        inputs={},
    )
    user = GraphResource(
        urn=_urn("dev", "arcblueprint:x:Other$aws:sqs/queue:Queue", "other-q"),
        type="aws:sqs/queue:Queue",
        name="other-q",
        parent=other.urn,
        custom=True,
        inputs={},
        dependencies=[graph.resources[1].urn],  # other-q needs logs-key
    )
    graph.resources += [other, user]
    folded = graphs.component_graph(graph)
    logs = graph.resources[0].urn
    assert folded.edges == [(other.urn, logs)]
    assert folded.owned[logs] == 2 and folded.owned[other.urn] == 1
    text = graphs.component_mermaid(graph)
    assert text.count(" --> ") == 1 and "aws:sqs/queue:Queue" not in text
    assert "Logs · 2 resources" in text


def _snapshot(graph):
    from arcblueprint.preview.snapshot import snapshot

    return snapshot(graph)


def test_diff_reports_changed_inputs_protection_and_one_sided_resources_with_a_summary():
    diff = diffing.diff_snapshots(
        _snapshot(_graph("dev", retention=14)),
        _snapshot(_graph("prod", retention=365, extra=True)),
        left_label="dev",
        right_label="prod",
    )
    text = diffing.diff_text(diff)
    lines = text.splitlines()
    assert lines[0] == "dev -> prod: 1 added, 0 removed, 2 changed resources; 0 outputs differ"
    assert "~ logs-group (aws:cloudwatch/logGroup:LogGroup) [logs]\n    retentionInDays: 14 -> 365" in text
    assert "~ logs-key (aws:kms/key:Key) [logs]\n    (protect): false -> true" in text
    assert "+ q (aws:sqs/queue:Queue) [(stack)]" in text
    assert "policy" not in text  # equal JSON documents are compared by content, not reported
    summary = [line.split() for line in lines if line.startswith("  logs ") or line.startswith("  (stack)")]
    assert ["logs", "aws:cloudwatch/logGroup:LogGroup", "0", "0", "1"] in summary
    assert ["(stack)", "aws:sqs/queue:Queue", "1", "0", "0"] in summary


def test_diff_replaces_what_differs_by_construction():
    dev, prod = _graph("dev"), _graph("prod")
    for graph, account, prefix in ((dev, "111111111111", "arcbp-dev"), (prod, "222222222222", "arcbp-prod")):
        key, group = graph.resources[1], graph.resources[2]
        key.id = f"{prefix}-key-{account[:4]}0000"  # generated: differs by construction
        key.outputs = {"arn": f"arn:aws:kms:eu-west-1:{account}:key/{account[:6]}-abcd"}
        group.inputs = {**group.inputs, "kmsKeyId": key.outputs["arn"], "name": f"{prefix}-logs"}
        group.dependencies = [key.urn]
    left, right = _snapshot(dev), _snapshot(prod)
    left["identity"] = {"accountId": "111111111111", "namingPrefix": "arcbp-dev", "region": "eu-west-1"}
    right["identity"] = {"accountId": "222222222222", "namingPrefix": "arcbp-prod", "region": "eu-west-1"}
    diff = diffing.diff_snapshots(left, right, left_label="dev", right_label="prod")
    assert [c.name for c in diff.changes] == ["logs-key"]  # only its protection: the ARN and name normalized
    assert diff.normalized[0] == "account 111111111111 and 222222222222 -> <account>"


def test_diff_of_identical_stacks_says_nothing_differs():
    diff = diffing.diff_snapshots(_snapshot(_graph("dev")), _snapshot(_graph("dev")), left_label="a", right_label="b")
    assert diff.changes == [] and diff.outputs == []
    assert diffing.diff_text(diff).splitlines()[-1] == "Nothing differs."


def test_a_map_only_one_side_has_is_one_line_and_json_in_strings_compares_by_content():
    left, right = _snapshot(_graph("dev")), _snapshot(_graph("dev"))
    right["outputs"]["releases"] = {"fn": {"alias": "live", "targetVersion": "2"}}
    group = right["resources"][2]
    group["inputs"]["policy"] = json.dumps({"a": 1, "b": [{"c": 1}]})  # same "a", one key more
    left["resources"][2]["inputs"]["policy"] = json.dumps({"a": 1, "b": [{"c": 0}]}, indent=4)
    diff = diffing.diff_snapshots(left, right, left_label="a", right_label="b")
    assert diff.outputs == ['releases: (unset) -> {"fn": {"alias": "live", "targetVersion": "2"}}']
    [change] = diff.changes
    assert change.details == ("policy.b[0].c: 0 -> 1",)
