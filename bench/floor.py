"""The floor of a preview: the SDK's own cost of registering the same resources under the same mocks.

Given a synthesized graph, :func:`floor_program` returns a program that imports only ``pulumi``
and ``pulumi_aws`` and registers, with the same parents, the same resources of the same types
(the same ``pulumi_aws`` classes) with the same inputs, and nothing else: no config parsing, no
validation, no planning, no naming, no policy documents. It is what any Pulumi program declaring
that graph must pay; the blueprint's own logic is the difference. :func:`fidelity` checks that the
floor really registered the same inputs.
"""

from __future__ import annotations

import importlib
import keyword
import re
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws  # noqa: F401 - part of the floor: every AWS program imports it

if TYPE_CHECKING:
    from collections.abc import Callable

    from arcblueprint.preview.harness import SynthesizedStack

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def resource_class(type_token: str) -> type[pulumi.CustomResource]:
    """``aws:lambda/function:Function`` -> ``pulumi_aws.lambda_.Function``."""
    _, module_path, class_name = type_token.split(":")
    module = module_path.split("/")[0]
    if keyword.iskeyword(module):
        module += "_"
    return getattr(importlib.import_module(f"pulumi_aws.{module}"), class_name)  # type: ignore[no-any-return]


def floor_program(graph: SynthesizedStack) -> Callable[[], None]:
    resources = list(graph.resources)
    classes = {r.type: resource_class(r.type) for r in resources if r.custom and r.type.startswith("aws:")}

    def program() -> None:
        made: dict[str, pulumi.Resource] = {}
        for resource in resources:
            opts = pulumi.ResourceOptions(parent=made.get(resource.parent or ""), protect=resource.protect)
            if resource.type in classes:
                arguments = {_CAMEL.sub("_", key).lower(): _replayable(value) for key, value in resource.inputs.items()}
                made[resource.urn] = classes[resource.type](resource.name, opts=opts, **arguments)
            elif resource.custom:
                made[resource.urn] = pulumi.CustomResource(resource.type, resource.name, dict(resource.inputs), opts)
            else:
                made[resource.urn] = pulumi.ComponentResource(resource.type, resource.name, None, opts)
        for key, value in graph.outputs.items():
            pulumi.export(key, value)

    return program


def _replayable(value: object) -> object:
    """The graph records a function's code by content hash (``{"assetArchive": {name: {"fileAsset": hash}}}``), which
    the SDK refuses as ``code``; the floor registers an archive of the same names instead (one small asset each),
    so those inputs count as different in :func:`fidelity`."""
    if isinstance(value, dict) and set(value) == {"assetArchive"} and isinstance(value["assetArchive"], dict):
        files = value["assetArchive"]
        return pulumi.AssetArchive({name: pulumi.StringAsset(str(held)) for name, held in files.items()})
    return value


def fidelity(graph: SynthesizedStack, floor: SynthesizedStack) -> float:
    """Share of resources the floor registered with exactly the same URN and inputs."""
    mine = {r.urn: r.inputs for r in graph.resources}
    same = sum(1 for r in floor.resources if mine.get(r.urn) == r.inputs)
    return same / max(len(graph.resources), 1)
