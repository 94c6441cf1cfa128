"""eventbridge-no-discoverer-on-cmk-bus: no schema discoverer on the platform bus, which has a customer managed key."""

from __future__ import annotations

import dataclasses

import pytest

from arcblueprint.policy.testing import mutated, violations_of
from arcblueprint.preview.harness import GraphResource

POLICY = "eventbridge-no-discoverer-on-cmk-bus"
BUS = "aws:cloudwatch/eventBus:EventBus"
DISCOVERER = "aws:schemas/discoverer:Discoverer"


def with_discoverer(graph, *, by_dependency: bool = True):
    """The graph with the discoverer the event bus used to declare (``enableSchemaDiscovery: true`` in dev)."""
    [bus] = [r for r in graph.by_type(BUS) if r.name == "events-bus"]
    discoverer = GraphResource(
        urn=bus.urn.replace(f"{BUS}::events-bus", f"{DISCOVERER}::events-discoverer"),
        type=DISCOVERER,
        name="events-discoverer",
        parent=bus.parent,
        custom=True,
        inputs={"sourceArn": bus.outputs["arn"], "description": "Infers schemas of the events on the shared bus"},
        dependencies=[bus.urn] if by_dependency else [],
        property_dependencies={"sourceArn": [bus.urn]} if by_dependency else {},
    )
    return dataclasses.replace(graph, resources=[*graph.resources, discoverer])


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_shipped_stacks_have_no_discoverer_and_an_encrypted_bus(synthesized, stack):
    graph = synthesized(stack)
    assert violations_of(graph, POLICY) == []
    assert not graph.by_type(DISCOVERER)
    [bus] = graph.by_type(BUS)
    assert bus.property_dependencies["kmsKeyIdentifier"], "the bus uses the platform key"


@pytest.mark.parametrize("by_dependency", [True, False], ids=["dependency", "literal-arn"])
def test_the_dev_discoverer_on_the_cmk_bus_is_reported_with_the_fix(synthesized, by_dependency):
    [violation] = violations_of(with_discoverer(synthesized("dev"), by_dependency=by_dependency), POLICY)
    assert violation.urn.endswith("::events-discoverer") and violation.level == "mandatory"
    assert "bus 'events-bus'" in violation.message and "customer managed" in violation.message
    assert "rejects CreateDiscoverer" in violation.message and "schema registry" in violation.message


def test_a_discoverer_on_a_bus_with_an_aws_owned_key_passes(synthesized):
    def aws_owned_key(bus):
        for props in (bus.inputs, bus.outputs, bus.property_dependencies):
            props.pop("kmsKeyIdentifier", None)

    graph = mutated(with_discoverer(synthesized("dev")), "events-bus", aws_owned_key, resource_type=BUS)
    assert violations_of(graph, POLICY) == []
