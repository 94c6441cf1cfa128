"""The stack as a graph: what each resource refers to, what refers to it, and what it waits for.

Correctness rules judge relationships (an endpoint's subnets against its service's load
balancer, a stage against the account setting it needs), so they walk the edges the engine
records rather than matching values: a property dependency (``subnetIds=[subnet.id]`` records
the subnet) is known in ``pulumi preview``, when ids and ARNs of new resources are not.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from arcblueprint.policy.base import UNKNOWN, known, known_list

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

    from pulumi_policy import PolicyResource

__all__ = ["ATTACHMENT", "MANAGED_POLICY", "ROLE_POLICY", "StackGraph", "role_policy_documents"]

ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
MANAGED_POLICY = "aws:iam/policy:Policy"


class StackGraph:
    """An index over the resources a stack policy receives."""

    def __init__(self, resources: Sequence[PolicyResource]) -> None:
        self.resources = list(resources)
        self._by_type: dict[str, list[PolicyResource]] = defaultdict(list)
        self._referrers: dict[str, list[tuple[str, PolicyResource]]] = defaultdict(list)
        for resource in self.resources:
            self._by_type[resource.resource_type].append(resource)
            for prop, targets in (resource.property_dependencies or {}).items():
                for target in targets:
                    self._referrers[target.urn].append((prop, resource))

    def of_type(self, *types: str) -> list[PolicyResource]:
        return [r for t in types for r in self._by_type.get(t, ())]

    def refs(self, resource: PolicyResource, prop: str, *types: str) -> list[PolicyResource]:
        """Resources of ``types`` (any type if none) that ``resource``'s ``prop`` was computed from."""
        found = (resource.property_dependencies or {}).get(prop) or []
        return _unique(r for r in found if not types or r.resource_type in types)

    def ref(self, resource: PolicyResource, prop: str, *types: str) -> PolicyResource | None:
        found = self.refs(resource, prop, *types)
        return found[0] if found else None

    def referrers(self, resource: PolicyResource, *types: str, prop: str | None = None) -> list[PolicyResource]:
        """Resources of ``types`` with a property (``prop`` if given) computed from ``resource``."""
        return _unique(
            r
            for p, r in self._referrers.get(resource.urn, ())
            if (prop is None or p == prop) and (not types or r.resource_type in types)
        )

    def waits_for(self, resource: PolicyResource, target: PolicyResource) -> bool:
        """Whether the engine creates ``target`` before ``resource`` (a direct or transitive dependency)."""
        seen: set[str] = set()
        pending = [resource]
        while pending:
            current = pending.pop()
            for dependency in _dependencies(current):
                if dependency.urn == target.urn:
                    return True
                if dependency.urn not in seen:
                    seen.add(dependency.urn)
                    pending.append(dependency)
        return False

    def children(self, resource: PolicyResource, *types: str) -> list[PolicyResource]:
        return [
            r
            for r in self.resources
            if r.parent is not None and r.parent.urn == resource.urn and (not types or r.resource_type in types)
        ]


def role_policy_documents(graph: StackGraph, role: PolicyResource) -> Iterator[tuple[PolicyResource, str, Any]]:
    """``(holder, property, document or UNKNOWN)`` for every identity policy of ``role`` the stack declares: its
    inline policies, its ``RolePolicy`` resources, and the managed policies its attachments name."""
    inline = known_list(role.props, "inlinePolicies")
    for item in inline if inline is not UNKNOWN else [UNKNOWN]:
        yield role, "inlinePolicies", known(item, "policy") if item is not UNKNOWN else UNKNOWN
    for policy in graph.referrers(role, ROLE_POLICY, prop="role"):
        yield policy, "policy", known(policy.props, "policy")
    for attachment in graph.referrers(role, ATTACHMENT, prop="role"):
        for managed in graph.refs(attachment, "policyArn", MANAGED_POLICY):
            yield managed, "policy", known(managed.props, "policy")


def _dependencies(resource: PolicyResource) -> Iterable[PolicyResource]:
    yield from resource.dependencies or ()
    for targets in (resource.property_dependencies or {}).values():
        yield from targets


def _unique(resources: Iterable[Any]) -> list[Any]:
    seen: dict[str, Any] = {}
    for resource in resources:
        seen.setdefault(resource.urn, resource)
    return list(seen.values())
