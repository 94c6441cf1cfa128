"""The floor of a preview: the SDK's own cost of registering the same resources under the same mocks.

Given a synthesized graph, :func:`floor_program` returns a program that imports only ``pulumi``
and ``pulumi_aws`` and registers, with the same parents, the same number of resources of the same
types with the same inputs, as plain ``pulumi.CustomResource``/``ComponentResource`` objects. It
is what any Pulumi program declaring that graph must pay; the blueprint's own logic (config,
validation, planning, naming, policy documents) is the difference.
"""

from __future__ import annotations

from collections.abc import Callable
import pulumi
import pulumi_aws  # noqa: F401 - part of the floor: every AWS program imports it

from arcblueprint.preview.harness import SynthesizedStack


def floor_program(graph: SynthesizedStack) -> Callable[[], None]:
    resources = list(graph.resources)

    def program() -> None:
        made: dict[str, pulumi.Resource] = {}
        for resource in resources:
            opts = pulumi.ResourceOptions(parent=made.get(resource.parent or ""), protect=resource.protect)
            if resource.custom:
                made[resource.urn] = pulumi.CustomResource(resource.type, resource.name, dict(resource.inputs), opts)
            else:
                component = pulumi.ComponentResource(resource.type, resource.name, None, opts)
                made[resource.urn] = component
        for key, value in graph.outputs.items():
            pulumi.export(key, value)

    return program
