"""Build CrossGuard args by hand and run one policy on them (for policy tests and component tests).

Uses pulumi_policy's own classes, so a policy sees exactly the objects the engine would build.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import (
    Policy,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.policy import _NotApplicableError

__all__ = ["Recorder", "options", "resource", "run_resource", "run_stack", "urn_of"]


def urn_of(resource_type: str, name: str, stack: str = "test") -> str:
    return f"urn:pulumi:{stack}::arcblueprint::{resource_type}::{name}"


def options(*, protect: bool = False) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)


class Recorder:
    """A ``report_violation`` that keeps messages (and, via ``waived``, what a waiver silenced)."""

    def __init__(self) -> None:
        self.violations: list[tuple[str | None, str]] = []
        self.waived_violations: list[tuple[str | None, str, str]] = []

    def __call__(self, message: str, urn: str | None = None) -> None:
        self.violations.append((urn, message))

    def waived(self, message: str, urn: str | None, reason: str) -> None:
        self.waived_violations.append((urn, message, reason))

    @property
    def messages(self) -> list[str]:
        return [m for _, m in self.violations]


def run_resource(policy: Policy, resource_type: str, props: Mapping[str, Any], *, name: str = "subject",
                 protect: bool = False, config: Mapping[str, Any] | None = None) -> Recorder:
    """Validate one resource with ``policy``; the recorder holds what it reported."""
    args = ResourceValidationArgs(resource_type, dict(props), urn_of(resource_type, name), name,
                                  options(protect=protect), None, dict(config or {}), {})
    recorder = Recorder()
    try:
        policy.validate(args, recorder)  # type: ignore[attr-defined]
    except _NotApplicableError:
        pass
    return recorder


def resource(resource_type: str, name: str, props: Mapping[str, Any], *, protect: bool = False,
             depends: Mapping[str, Sequence[PolicyResource]] | None = None) -> PolicyResource:
    """A stack resource; ``depends`` maps a prop to the resources it was computed from."""
    return PolicyResource(resource_type, dict(props), urn_of(resource_type, name), name, options(protect=protect),
                          None, None, [r for rs in (depends or {}).values() for r in rs],
                          {k: list(v) for k, v in (depends or {}).items()})


def run_stack(policy: Policy, resources: Sequence[PolicyResource],
              config: Mapping[str, Any] | None = None) -> Recorder:
    """Validate a stack of hand-built resources with ``policy``; not-applicable reports nothing."""
    recorder = Recorder()
    try:
        policy.validate(StackValidationArgs(list(resources), dict(config or {}), {}), recorder)  # type: ignore[attr-defined]
    except _NotApplicableError:
        pass
    return recorder
