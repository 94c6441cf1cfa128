"""Shared fixtures: sample events, and one synthesized graph per (stack, mode) for the whole run.

Pulumi's mock runtime is process-global, so programs are synthesized through the one harness
(`arcblueprint.preview.harness`) and cached: tests that read the same graph share it.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import pickle
import sys
import types
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import settings

from arcblueprint.preview.harness import REPO_ROOT, SynthesizedStack, synthesize

if TYPE_CHECKING:
    from pathlib import Path

# The default run (and CI) is derandomized: the same generated examples every time, so a red run
# is reproducible. HYPOTHESIS_PROFILE=explore draws new examples on each run to look for more.
# 40 examples a property in the default run (tests that need more say so); explore draws 200.
settings.register_profile("default", deadline=None, derandomize=True, print_blob=True, max_examples=40)
settings.register_profile("explore", deadline=None, print_blob=True, max_examples=200)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def _share_botocore_models() -> None:
    """Parse each botocore model file once per test process, not once per session.

    moto starts every ``mock_aws()`` with a fresh default boto3 session, and each session's loader parses
    the endpoint and service JSON again (~0.15 s per client; a handler test creates several). The parsed
    models are read-only data botocore wraps in its own objects, so every session can share them.
    """
    import botocore.loaders

    loader = botocore.loaders.Loader
    parsed: dict[tuple[Any, ...], Any] = {}

    def shared(method: Any) -> Any:
        @functools.wraps(method)
        def load(self: Any, *args: Any, **kwargs: Any) -> Any:
            key = (
                method.__name__,
                tuple(self.search_paths),
                tuple(self.extras_types),
                args,
                tuple(sorted(kwargs.items())),
            )
            if key not in parsed:
                parsed[key] = method(self, *args, **kwargs)
            return parsed[key]

        return load

    loader.load_service_model = shared(loader.load_service_model)  # type: ignore[method-assign]
    loader.load_data_with_path = shared(loader.load_data_with_path)  # type: ignore[method-assign]


_share_botocore_models()

#: Real AWS sample events (copied byte for byte from shared/events; see tests/events/SOURCES.md).
EVENTS_DIRS = [REPO_ROOT / "tests" / "events"]


@functools.cache
def _synthesized(stack: str, preview: bool, shared: Path | None) -> SynthesizedStack:
    return synthesize(stack, preview=preview) if shared is None else _shared_across_workers(shared, stack, preview)


class _GraphPickler(pickle.Pickler):
    """Pickles a graph, whose config keeps read-only mappings (``MappingProxyType``, which pickle cannot store)."""

    def persistent_id(self, obj: object) -> object:
        return ("mappingproxy", dict(obj)) if isinstance(obj, types.MappingProxyType) else None


class _GraphUnpickler(pickle.Unpickler):
    def persistent_load(self, pid: Any) -> object:
        _, mapping = pid
        return types.MappingProxyType(mapping)


def _shared_across_workers(folder: Path, stack: str, preview: bool) -> SynthesizedStack:
    """Under xdist, the first worker to need a graph synthesizes it and pickles it into the run's shared
    temporary folder; the others wait for it and load it (~0.1 s instead of a full synthesis each). The graph
    is plain data, and the program writes no files and leaves nothing in the process that a test reads back."""
    graph_file = folder / f"graph-{stack}-{'preview' if preview else 'up'}.pickle"
    with (folder / f"{graph_file.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, even if this worker dies
        if graph_file.exists():
            with graph_file.open("rb") as stored:  # written by this run's other worker
                return _GraphUnpickler(stored).load()
        graph = synthesize(stack, preview=preview)
        partial = graph_file.with_suffix(".partial")
        with partial.open("wb") as out:
            _GraphPickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump(graph)
        partial.replace(graph_file)
        return graph


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory):
    """``synthesized("prod")`` -> the prod graph (preview mode), built once per test run (shared by xdist workers)."""
    # Under xdist, each worker's base temp folder is inside the run's (which pytest cleans up, as usual).
    shared = tmp_path_factory.getbasetemp().parent if os.environ.get("PYTEST_XDIST_WORKER") else None

    def get(stack: str, *, preview: bool = True) -> SynthesizedStack:
        return _synthesized(stack, preview, shared)

    return get


@pytest.fixture(scope="session")
def load_event():
    """``load_event("sqsEvent.json")`` -> a real AWS sample event as a dict."""

    def load(name: str) -> dict[str, Any]:
        for folder in EVENTS_DIRS:
            path = folder / name
            if path.exists():
                return json.loads(path.read_text())
        raise FileNotFoundError(f"sample event {name} not found in {EVENTS_DIRS}")

    return load


@pytest.fixture(scope="session")
def lambda_context():
    """``lambda_context("arcbp-dev-fan-billing", remaining_time_in_millis=60_000)`` -> the context object Lambda
    passes a handler (:class:`arcblueprint.services.testing.LambdaContext`, the one class every test uses), its
    ARN naming the function's ``live`` alias. A session-scoped factory, so hypothesis tests can use it too."""
    from arcblueprint.services.testing import LambdaContext

    def make(function_name: str = "arcbp-dev-test", **attributes: Any) -> LambdaContext:
        arn = f"arn:aws:lambda:eu-west-1:111111111111:function:{function_name}:live"
        return LambdaContext(**{"function_name": function_name, "invoked_function_arn": arn, **attributes})

    return make


@pytest.fixture(autouse=True)
def _aws_test_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Handler code under test never reaches a real AWS account."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "arcblueprint-tests")


@pytest.fixture(autouse=True)
def _no_metrics_left_from_other_tests() -> None:
    """Powertools' Metrics keep their buffer in class attributes shared by every instance in the process:
    a handler that raised before flushing would leave its metrics to the next test's flush (as in Lambda,
    where each execution environment is one process, but tests share one)."""
    module = sys.modules.get("aws_lambda_powertools.metrics.metrics")
    if module is not None:
        for shared in (module.Metrics._metrics, module.Metrics._dimensions, module.Metrics._metadata):
            shared.clear()


def repo_path(*parts: str) -> Path:
    return REPO_ROOT.joinpath(*parts)


@pytest.fixture(scope="session")
def stack_values():
    """``stack_values("dev", **overrides)`` -> the engine config map of a shipped stack file.

    Overrides use namespaced keys with YAML values: ``{"arcblueprint:network": {...}}``.
    """
    from arcblueprint.config import engine_config, read_stack_file

    def get(stack: str, overrides: dict[str, Any] | None = None) -> dict[str, str]:
        values = read_stack_file(REPO_ROOT, stack)
        values.update(overrides or {})
        return engine_config(values)

    return get


@pytest.fixture(scope="session")
def run_component():
    """``run_component(program, stack="dev")`` -> the graph a small program declares under the mocks.

    ``program(context)`` receives the stack's :class:`StackContext` and declares resources.
    """
    from arcblueprint.config import stack_config
    from arcblueprint.platform.context import StackContext
    from arcblueprint.preview.harness import run_program

    def run(
        program, stack: str = "dev", *, values: dict[str, str] | None = None, preview: bool = True
    ) -> SynthesizedStack:
        from arcblueprint.config import engine_config, read_stack_file

        values = values or engine_config(read_stack_file(REPO_ROOT, stack))
        config = stack_config(values, stack)
        return run_program(lambda: program(StackContext(stack=config)), values, stack, preview=preview, config=config)

    return run
