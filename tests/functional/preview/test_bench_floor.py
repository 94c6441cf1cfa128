"""bench/run.py's preview baseline stays runnable: the floor program replays a shipped graph under the mocks."""

from __future__ import annotations

import sys

import pytest

from arcblueprint.preview.harness import REPO_ROOT, run_program


@pytest.fixture(scope="module")
def floor():
    sys.path.insert(0, str(REPO_ROOT / "bench"))
    try:
        import floor as module  # bench/ is a folder of scripts, not a package
    finally:
        sys.path.remove(str(REPO_ROOT / "bench"))
    return module


def test_the_floor_registers_the_same_resources_with_the_same_inputs(floor, synthesized, stack_values):
    stack = "dev"  # the smaller graph: the floor replays every resource type the same way in both stacks
    graph = synthesized(stack)
    replayed = run_program(floor.floor_program(graph), stack_values(stack), stack, config=graph.config)
    assert sorted(r.urn for r in replayed.resources) == sorted(r.urn for r in graph.resources)
    # Only function code differs (the graph holds its content hash; the floor replays an archive of the names).
    assert floor.fidelity(graph, replayed) >= 0.95
