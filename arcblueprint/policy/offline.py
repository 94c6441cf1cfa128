"""Run the pack's policies on a synthesized stack, without the Pulumi CLI.

The same policy objects the pack hands to ``PolicyPack`` are called with pulumi_policy's own
argument classes (``ResourceValidationArgs``, ``StackValidationArgs``, ``PolicyResource``,
``PolicyResourceOptions``), built from the graph the mock runtime recorded, with the config
:func:`~arcblueprint.policy.config.pack_config_for` produces. Differences from the engine:

* resource policies see the inputs the SDK sent (``GraphResource.inputs``); the engine passes
  the provider-checked inputs, which may add defaults. Stack policies see outputs merged with
  inputs, as the engine passes each resource's state.
* ``provider`` is ``None`` and ``stack_tags`` empty (no Pulumi Cloud stack tags offline).
* a waived violation is recorded (``PolicyReport.waived``) instead of dropped, through the
  reporter's ``waived`` hook (see :mod:`arcblueprint.policy.base`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from inspect import isawaitable
from typing import TYPE_CHECKING, Any

from pulumi_policy import (
    Policy,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.policy import _NotApplicableError

if TYPE_CHECKING:
    from arcblueprint.preview.harness import GraphResource, SynthesizedStack

__all__ = ["PolicyReport", "Violation", "evaluate"]


@dataclass(frozen=True)
class Violation:
    """One violation: which policy, which resource (URN; empty for the whole stack), what, how enforced."""

    policy: str
    urn: str
    message: str
    level: str
    reason: str = ""

    def line(self) -> str:
        text = f"[{self.level}] {self.policy} {self.urn or '(stack)'}: {self.message}"
        return f"{text} (waived: {self.reason})" if self.reason else text


@dataclass
class PolicyReport:
    """What the policies found: mandatory violations fail the preview, advisory ones are listed."""

    mandatory: list[Violation] = field(default_factory=list)
    advisory: list[Violation] = field(default_factory=list)
    waived: list[Violation] = field(default_factory=list)
    #: Waivers in the config that matched no violation: ``(policy, resource, reason)``.
    unused_waivers: list[tuple[str, str, str]] = field(default_factory=list)
    not_applicable: dict[str, str] = field(default_factory=dict)
    evaluated: list[str] = field(default_factory=list)

    def summary_lines(self) -> list[str]:
        """One line per violation (mandatory, then advisory), then one per waiver with its reason."""
        lines = [v.line() for v in (*self.mandatory, *self.advisory, *self.waived)]
        lines += [f"[waiver unused] {policy} {resource}: nothing to waive (reason given: {reason})"
                  for policy, resource, reason in self.unused_waivers]
        return lines

    def as_json(self) -> dict[str, Any]:
        return {
            "mandatory": [asdict(v) for v in self.mandatory],
            "advisory": [asdict(v) for v in self.advisory],
            "waived": [asdict(v) for v in self.waived],
            "unusedWaivers": [{"policy": p, "resource": r, "reason": why} for p, r, why in self.unused_waivers],
            "notApplicable": dict(self.not_applicable),
            "evaluated": list(self.evaluated),
        }


class _Reporter:
    """``report_violation`` for one policy; its ``waived`` hook receives violations a waiver silenced."""

    def __init__(self, report: PolicyReport, policy: str, level: str, default_urn: str | None) -> None:
        self._report, self._policy, self._level, self._default_urn = report, policy, level, default_urn
        self.waived_names: set[str] = set()

    def __call__(self, message: str, urn: str | None = None) -> None:
        # Like the engine: a resource policy's violation is always about the resource being validated.
        target = self._default_urn or urn or ""
        violations = self._report.mandatory if self._level == "mandatory" else self._report.advisory
        violations.append(Violation(self._policy, target, message, self._level))

    def waived(self, message: str, urn: str | None, reason: str) -> None:
        target = self._default_urn or urn or ""
        self.waived_names.add(target.rsplit("::", 1)[-1])
        self._report.waived.append(Violation(self._policy, target, message, "waived", reason))


def _options(resource: GraphResource) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=resource.protect, ignore_changes=[], delete_before_replace=None, aliases=list(resource.aliases),
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0), additional_secret_outputs=[], parent=resource.parent,
    )


def stack_resources(graph: SynthesizedStack) -> list[PolicyResource]:
    """The graph as ``PolicyResource`` objects with parents and (property) dependencies linked, as the engine does."""
    by_urn: dict[str, PolicyResource] = {}
    for r in graph.resources:
        by_urn[r.urn] = PolicyResource(r.type, {**r.outputs, **r.inputs}, r.urn, r.name, _options(r), None, None,
                                       [], {})
    for r in graph.resources:
        resource = by_urn[r.urn]
        resource.parent = by_urn.get(r.parent) if r.parent else None
        resource.dependencies = [by_urn[u] for u in r.dependencies if u in by_urn]
        resource.property_dependencies = {k: [by_urn[u] for u in urns if u in by_urn]
                                          for k, urns in r.property_dependencies.items()}
    return list(by_urn.values())


def _run(policy: Policy, args: Any, reporter: _Reporter, report: PolicyReport) -> None:
    try:
        result = policy.validate(args, reporter)  # type: ignore[attr-defined]
        if isawaitable(result):  # pragma: no cover - the pack's policies are synchronous
            import asyncio

            asyncio.run(result)  # type: ignore[arg-type]
    except _NotApplicableError as error:
        report.not_applicable[policy.name] = error.reason or ""


def evaluate(graph: SynthesizedStack, *, policies: Sequence[Policy] | None = None,
             config: Mapping[str, Mapping[str, Any]] | None = None) -> PolicyReport:
    """Evaluate ``policies`` (default: the whole pack) on ``graph`` with ``config`` (default: the stack's)."""
    from arcblueprint.policy.config import pack_config_for
    from arcblueprint.policy.pack import all_policies

    policies = list(policies) if policies is not None else all_policies()
    config = config if config is not None else pack_config_for(graph.config)
    report = PolicyReport()
    used: dict[str, set[str]] = {}
    resources = stack_resources(graph)
    for policy in policies:
        entry = dict(config.get(policy.name) or {})
        level = str(entry.pop("enforcementLevel", None) or
                    (policy.enforcement_level.value if policy.enforcement_level else "advisory"))
        if level == "disabled":
            continue
        level = "mandatory" if level == "remediate" else level
        report.evaluated.append(policy.name)
        used[policy.name] = set()
        if isinstance(policy, ResourceValidationPolicy):
            for r in graph.resources:
                args = ResourceValidationArgs(r.type, r.inputs, r.urn, r.name, _options(r), None, entry, {})
                reporter = _Reporter(report, policy.name, level, r.urn)
                _run(policy, args, reporter, report)
                used[policy.name] |= reporter.waived_names
        elif isinstance(policy, StackValidationPolicy):
            reporter = _Reporter(report, policy.name, level, None)
            _run(policy, StackValidationArgs(resources, entry, {}), reporter, report)
            used[policy.name] |= reporter.waived_names
        for waiver in entry.get("waivers") or ():
            if waiver.get("resource") not in used[policy.name]:
                report.unused_waivers.append((policy.name, str(waiver.get("resource")), str(waiver.get("reason"))))
    return report
