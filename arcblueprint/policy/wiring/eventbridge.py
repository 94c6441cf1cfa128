"""EventBridge: no schema discoverer on a bus encrypted with a customer managed key.

EventBridge documents that schema discovery is not supported on such a bus: ``CreateDiscoverer``
returns an error for it (and ``UpdateEventBus`` refuses to add a customer managed key to a bus
with discovery on). The platform bus is always encrypted with the platform key, so a discoverer
on it fails the deploy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from arcblueprint.policy.base import stack_policy
from arcblueprint.policy.graph import StackGraph
from arcblueprint.policy.wiring._props import UNKNOWN, known

if TYPE_CHECKING:
    from pulumi_policy import PolicyResource, StackValidationArgs

    from arcblueprint.policy.base import ReportViolation

__all__ = ["NO_DISCOVERER_ON_CMK_BUS", "POLICIES"]

DISCOVERER = "aws:schemas/discoverer:Discoverer"
EVENT_BUS = "aws:cloudwatch/eventBus:EventBus"


def _buses(graph: StackGraph, discoverer: PolicyResource) -> list[PolicyResource]:
    """The buses of the stack the discoverer's ``sourceArn`` names (by dependency, else by ARN)."""
    found = graph.refs(discoverer, "sourceArn", EVENT_BUS)
    if found:
        return found
    arn = known(discoverer.props, "sourceArn")
    if not isinstance(arn, str) or ":event-bus/" not in arn:
        return []
    name = arn.rsplit(":event-bus/", 1)[1]
    return [b for b in graph.of_type(EVENT_BUS) if arn == known(b.props, "arn") or name == known(b.props, "name")]


def _customer_key(graph: StackGraph, bus: PolicyResource) -> str | None:
    """How the bus names its customer managed key, or ``None`` when it uses an AWS owned key."""
    keys = graph.refs(bus, "kmsKeyIdentifier")
    if keys:
        return f"key '{keys[0].name}'"
    value = known(bus.props, "kmsKeyIdentifier")
    if value is UNKNOWN:
        return "a key computed at deploy time"
    # EventBridge encrypts with an AWS owned key or a customer managed one; any identifier is the latter.
    return f"key {value}" if isinstance(value, str) and value else None


def validate_no_discoverer_on_cmk_bus(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """No schema discoverer's source is a bus of the stack that has a ``kmsKeyIdentifier``."""
    graph = StackGraph(args.resources)
    for discoverer in graph.of_type(DISCOVERER):
        for bus in _buses(graph, discoverer):
            key = _customer_key(graph, bus)
            if key is not None:
                report_violation(
                    f"Schema discoverer '{discoverer.name}' discovers events on bus '{bus.name}', which is "
                    f"encrypted with customer managed {key}; EventBridge rejects CreateDiscoverer on such a bus. "
                    "Remove the discoverer and publish the events' schemas to a schema registry instead.",
                    discoverer.urn,
                )


NO_DISCOVERER_ON_CMK_BUS = stack_policy(
    "eventbridge-no-discoverer-on-cmk-bus",
    "No EventBridge schema discoverer on an event bus encrypted with a customer managed KMS key.",
    validate_no_discoverer_on_cmk_bus,
    remediation_steps="Drop the discoverer (eventBus.enableSchemaDiscovery is refused for the platform bus) and "
    "publish explicit schemas to a registry.",
)

POLICIES = [NO_DISCOVERER_ON_CMK_BUS]
