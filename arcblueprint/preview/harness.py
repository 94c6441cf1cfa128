"""Run the real stack program in-process under Pulumi's mock runtime and keep the graph it declares.

This is the one harness behind ``blueprint preview``/``graph``/``diff``, the policy gate and the
tests. It starts the program the way the Pulumi CLI does (``runpy`` on the program directory,
which puts that directory first on ``sys.path``; config passed as engine strings), with a mock
monitor that records what ``pulumi up`` would send the engine: type, name, parent, inputs,
resource options (protect, retain on delete, aliases) and dependencies.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import runpy
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.stack import wait_for_rpcs
from pulumi.runtime.sync_await import _sync_await

from arcblueprint.config import PROJECT, ConfigError, StackConfig, engine_config, read_stack_file, stack_config
from arcblueprint.config.loader import stack_file
from arcblueprint.preview.mocks import AwsMocks
from arcblueprint.preview.snapshot import canonical_order, plain

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

__all__ = ["REPO_ROOT", "GraphResource", "SynthesizedStack", "run_program", "synthesize", "synthesize_values"]

#: The project directory (where Pulumi.yaml is); the package is installed from it in editable mode.
REPO_ROOT = Path(__file__).resolve().parents[2]
PROGRAM_DIR = REPO_ROOT / "stacks"

# The mock runtime is process-global: one program run at a time.
_RUN_LOCK = threading.Lock()


@dataclass
class GraphResource:
    """One resource as the engine would see it."""

    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    inputs: dict[str, Any]
    outputs: dict[str, Any] = field(default_factory=dict)
    protect: bool = False
    retain_on_delete: bool = False
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    provider: str | None = None
    #: The id the provider gave the resource (``None`` for components).
    id: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "custom": self.custom,
            "protect": self.protect,
            "retainOnDelete": self.retain_on_delete,
            "dependencies": self.dependencies,
            "inputs": self.inputs,
        }


@dataclass
class SynthesizedStack:
    """Everything one program run declared, plus its stack outputs."""

    project: str
    stack: str
    preview: bool
    config: StackConfig
    resources: list[GraphResource]
    outputs: dict[str, Any]

    def by_type(self, type_token: str) -> list[GraphResource]:
        return [r for r in self.resources if r.type == type_token]

    def by_urn(self) -> dict[str, GraphResource]:
        return {r.urn: r for r in self.resources}

    def children(self, urn: str) -> list[GraphResource]:
        return [r for r in self.resources if r.parent == urn]

    def as_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "stack": self.stack,
            "preview": self.preview,
            "resources": [r.as_json() for r in self.resources],
            "outputs": self.outputs,
        }


class _RecordingMonitor(MockMonitor):
    """A mock monitor that also keeps the options and dependencies of each registration."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.graph: list[GraphResource] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - the engine's RPC name
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        inputs = rpc.deserialize_properties(request.object)
        registration = self.resources.get(response.urn)
        self.graph.append(
            GraphResource(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent or None,
                custom=bool(request.custom),
                inputs=_plain(inputs),
                outputs=_plain(dict(registration.state)) if registration else {},
                protect=bool(request.protect),
                retain_on_delete=bool(request.retainOnDelete),
                dependencies=list(request.dependencies),
                property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
                aliases=[a.spec.name or a.urn for a in request.aliasSpecs]
                if request.aliasSpecs
                else list(request.aliasURNs),
                provider=request.provider or None,
                id=(response.id or None) if request.custom else None,
            )
        )
        return response


def _plain(value: Any) -> Any:
    """Strip the SDK's wrappers (secrets, unknowns; assets by content hash) so the graph serializes as JSON."""
    return plain(value)


def synthesize(
    stack: str, *, preview: bool = True, project_dir: Path = REPO_ROOT, overrides: Mapping[str, Any] | None = None
) -> SynthesizedStack:
    """Run the program for ``Pulumi.<stack>.yaml`` (optionally with some keys overridden)."""
    values = read_stack_file(project_dir, stack)
    values.update(overrides or {})
    source = stack_file(project_dir, stack).name
    # Validate the YAML values with their YAML types first: the CLI stringifies everything, so a
    # boolean typed where a name belongs would otherwise pass as the text "false".
    stack_config(values, stack, source=source)
    return synthesize_values(engine_config(values), stack, preview=preview, source=source)


def synthesize_values(
    values: Mapping[str, str],
    stack: str,
    *,
    preview: bool = True,
    source: str | None = None,
    program_dir: Path = PROGRAM_DIR,
) -> SynthesizedStack:
    """Run the program with engine config ``values``; config errors surface before any resource."""
    config = stack_config(values, stack, source=source)
    return run_program(
        lambda: runpy.run_path(str(program_dir), run_name="__main__"),
        values,
        stack,
        preview=preview,
        config=config,
        root_directory=project_root(program_dir),
    )


def project_root(program_dir: Path) -> Path:
    """The folder of ``Pulumi.yaml`` above (or at) ``program_dir``, as the CLI finds the project."""
    for folder in (program_dir, *program_dir.parents):
        if (folder / "Pulumi.yaml").is_file():
            return folder
    return REPO_ROOT


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a program registers resources.

    A run allocates many long-lived objects (outputs, futures, resource states); with the collector
    on, its full collections get longer as the graph grows and make the preview superlinear in
    the number of resources. The collector resumes after the run and frees the run's cycles then.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _cancel_leftover_tasks() -> None:
    """Cancel what a failed program left on the event loop (registrations, outputs still resolving)."""
    loop = asyncio.get_event_loop()
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    # The runtime keeps the output tasks it still has to await (failed ones included) across runs.
    with runtime_settings.SETTINGS.lock:
        runtime_settings.SETTINGS.outputs.clear()
    runtime_settings.SETTINGS.rpc_manager.clear()


def _config_error_in(error: BaseException) -> ConfigError | None:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, ConfigError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def run_program(
    program: Callable[[], object],
    values: Mapping[str, str],
    stack: str,
    *,
    preview: bool = True,
    config: StackConfig | None = None,
    root_directory: Path = REPO_ROOT,
) -> SynthesizedStack:
    """Run ``program`` (any callable that declares resources) under the mocks with ``values`` as config.

    Component tests use this with a small program of their own; the stack program goes through
    :func:`synthesize_values`. ``pulumi.export`` calls become the returned ``outputs``. ``root_directory``
    is the project folder the CLI reports (``pulumi.get_root_directory()``): ``codeDir`` is relative to it.
    """
    config = config or stack_config(values, stack)
    mocks = AwsMocks(region=config.region, account_id=config.account_id, project=PROJECT, stack=stack)
    monitor = _RecordingMonitor(mocks)
    with _RUN_LOCK, _collector_paused():
        runtime_settings.ROOT.set(None)  # a fresh root Stack resource per run
        pulumi.runtime.set_all_config(dict(values))
        pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor)
        runtime_settings.SETTINGS.root_directory = str(root_directory)  # what the CLI passes the program
        try:
            program()
            _sync_await(wait_for_rpcs())
        except Exception as error:
            _cancel_leftover_tasks()  # or they run, and fail, inside the next program run
            # A config check that needs a provider answer (the region's zones) fails inside an
            # Output; the SDK wraps it in one ValueError per resource and input. Show the config error.
            cause = _config_error_in(error)
            if cause is None:
                raise
            raise (cause if cause.stack else cause.in_stack(stack, cause.source)) from None
        root = runtime_settings.get_root_resource()
        outputs = {
            key: _sync_await(pulumi.Output.from_input(value).future())
            for key, value in getattr(root, "outputs", {}).items()
        }
        _sync_await(wait_for_rpcs())
    return SynthesizedStack(
        project=PROJECT,
        stack=stack,
        preview=preview,
        config=config,
        resources=canonical_order(monitor.graph),
        outputs=_plain(outputs),
    )
