"""What a reviewer reads: the preview, its JSON and the graphs are the same bytes on every run; the summary,
the by-service graph and the failure line say what they must."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from arcblueprint import cli
from arcblueprint.policy.testing import mutated
from arcblueprint.preview import graphs, render
from arcblueprint.preview.harness import REPO_ROOT, synthesize
from arcblueprint.preview.report import preview_report
from arcblueprint.preview.snapshot import snapshot
from arcblueprint.preview.summary import platform_rows, service_rows, summary_text


@pytest.fixture(scope="module")
def dev_report(synthesized):
    return preview_report(synthesized("dev"))


def _views(graph, report):
    return {
        "stdout": "\n".join(report.out),
        "stderr": "\n".join(report.err),
        "json": report.json_text(),
        "tree": render.tree(graph),
        "mermaid": graphs.mermaid(graph),
        "dot": graphs.dot(graph),
        "by-service": graphs.component_mermaid(graph),
        "snapshot": json.dumps(snapshot(graph), sort_keys=True),
    }


def test_two_runs_of_preview_json_and_graph_give_the_same_bytes(synthesized, dev_report):
    first = _views(synthesized("dev"), dev_report)
    again = synthesize("dev")  # a second program run: resources register in another order
    second = _views(again, preview_report(again))
    for view in first:
        assert first[view] == second[view], f"{view} differs between two runs"
    assert "object at 0x" not in first["json"] and "object at 0x" not in first["stdout"]
    code = next(r for r in again.resources if r.type == "aws:lambda/function:Function").inputs["code"]
    assert set(code) == {"assetArchive"} and all(
        str(v["fileAsset"]).startswith("sha256:") for v in code["assetArchive"].values()
    )


def test_the_console_script_prints_the_same_report_in_a_fresh_process(dev_report):
    script = Path(sys.executable).with_name("blueprint")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "arcblueprint.cli"]
    result = subprocess.run(
        [*command, "preview", "--stack", "dev"],
        cwd=REPO_ROOT,
        # Another hash seed than this process: set iteration order must not reach the output.
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONHASHSEED": "12345"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,  # the exit code is asserted
    )
    assert result.returncode == dev_report.code
    assert result.stdout == "\n".join(dev_report.out) + "\n"


def test_summary_has_one_line_per_service_and_the_platform_pieces(synthesized):
    graph = synthesized("prod")
    rows = {row.name: row for row in service_rows(graph)}
    assert set(rows) == set(graph.config.services)
    assert rows["orders"].pattern == "comfortable-rest" and rows["lake"].pattern == "streamer"
    assert rows["orders"].endpoints and all(e.startswith("https://") for e in rows["orders"].endpoints)
    assert all("sqs." not in e for row in rows.values() for e in row.endpoints)  # queue URLs are not endpoints
    # Each function of a service releases as the releases output says (prod: canary).
    functions = graph.outputs["releases"]
    assert sum(int(r.release.split("(")[1].split()[0]) for r in rows.values()) == len(functions)
    assert all(r.release.startswith("canary Canary10Percent5Minutes") for r in rows.values())
    pieces = {row.name for row in platform_rows(graph)}
    assert {"network", "events", "logging"} <= pieces and not pieces & set(rows)
    total = sum(r.resources for r in rows.values()) + sum(p.resources for p in platform_rows(graph))
    assert total == sum(1 for r in graph.resources if r.custom)
    text = summary_text(graph)
    assert len(text.splitlines()) < 25 and "blueprint preview --tree" in text


def test_preview_keeps_routes_first_preview_lines_and_the_tree_on_request(synthesized, dev_report):
    out = "\n".join(dev_report.out)
    assert "Services (7):" in out and "Event routes (" in out and "First preview of a new stack" in out
    assert "Governed exceptions (" in out and "(pulumi:pulumi:Stack)" not in out
    tree = "\n".join(preview_report(synthesized("dev"), tree=True).out)
    assert "arcblueprint-dev (pulumi:pulumi:Stack)" in tree and "Resources by type:" in tree
    assert "Event routes (" in tree and "First preview of a new stack" in tree
    lines = out.splitlines()
    releases = next(i for i, line in enumerate(lines) if line.startswith("releases ("))
    assert max(len(line) for line in lines[releases : releases + 20]) < 250


def test_a_failing_preview_lists_violations_on_stderr_and_ends_with_why(synthesized, monkeypatch, capsys):
    broken = mutated(synthesized("prod"), "platform-key", lambda key: setattr(key, "protect", False))
    monkeypatch.setattr(cli, "_synthesize", lambda stack, preview=True: broken)
    assert cli.main(["preview", "--stack", "prod"]) == cli.EXIT_POLICY
    captured = capsys.readouterr()
    assert "[mandatory] stateful-protected" not in captured.out
    assert "[mandatory] stateful-protected urn:pulumi:prod::" in captured.err
    last = captured.err.strip().splitlines()[-1]
    assert last.startswith("blueprint: preview of stack 'prod' FAILED: ") and "mandatory policy violation" in last
    assert captured.out.strip().splitlines()[-1].endswith("the preview FAILED (see standard error).")


def test_graph_by_service_fits_mermaid_limits_and_the_full_graph_draws_every_resource(synthesized):
    graph = synthesized("prod")
    by_service = graphs.component_mermaid(graph)
    assert by_service.count(" --> ") <= graphs.MERMAID_MAX_EDGES and len(by_service) <= graphs.MERMAID_MAX_TEXT
    components = [r for r in graph.resources if not r.custom]
    for component in components:
        assert by_service.count(f'{graphs.node_id(component.urn)}["') == 1, component.name
    edges = graphs.component_graph(graph).edges
    assert edges and all(a != b for a, b in edges) and len(set(edges)) == len(edges)
    full = graphs.mermaid(graph)
    for resource in graph.resources:
        assert f'{graphs.node_id(resource.urn)}["{resource.name}' in full or (
            f'subgraph {graphs.node_id(resource.urn)}["{resource.name}' in full
        ), resource.name
    # The README shows prod's service-level picture; it must be what the command draws now.
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert by_service.strip() in readme, (
        "README.md's service-level graph is stale: paste the output of "
        "'blueprint graph --stack prod --by-service' (out/prod.services.mmd) into its mermaid block"
    )
