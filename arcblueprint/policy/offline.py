"""Run the pack's policies on a synthesized stack, without the Pulumi CLI.

The same policy objects the pack hands to ``PolicyPack`` are called with pulumi_policy's own
argument classes (``ResourceValidationArgs``, ``StackValidationArgs``, ``PolicyResource``,
``PolicyResourceOptions``), built from the graph the mock runtime recorded, with the config
:func:`~arcblueprint.policy.config.pack_config_for` produces. Differences from the engine:

* resource policies see the inputs the SDK sent (``GraphResource.inputs``); the engine passes
  the provider-checked inputs, which may add defaults. Stack policies see outputs merged with
  inputs, as the engine passes each resource's state.
* ``provider`` is ``None`` and ``stack_tags`` empty (no Pulumi Cloud stack tags offline).

What is the same: props reach a policy the way the engine's analyzer builds them
(``pulumi_policy/policy.py``, ``Analyze`` and ``AnalyzeStack``): numbers as floats (protobuf
``Struct`` values), wrapped by ``pulumi_policy.proxy.unknown_checking_proxy``, so a dict is a
``Mapping`` and not a ``dict``, a list a ``Sequence`` and not a ``list``, and reading an unknown
value raises ``UnknownValueError``. The engine turns that error into an advisory "can't run
policy during preview" note and skips the policy (for a stack policy: the whole policy); this
module records it in :attr:`PolicyReport.skipped`.

``evaluate(graph, first_preview=True)`` models the first ``pulumi preview`` of a new stack:
every output of a resource that was not one of its inputs (ids, ARNs, URLs) is unknown, and so
is every input computed from an unknown value (followed through property dependencies), so the
tests can show which policies such a preview could not judge.
* a waived violation is recorded (``PolicyReport.waived``) instead of dropped, through the
  reporter's ``waived`` hook (see :mod:`arcblueprint.policy.base`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from inspect import iscoroutine
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
from pulumi_policy.proxy import (
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
    unknown_checking_proxy,
)

if TYPE_CHECKING:
    from arcblueprint.preview.harness import GraphResource, SynthesizedStack

__all__ = [
    "PolicyReport",
    "Skipped",
    "Violation",
    "engine_props",
    "evaluate",
    "first_preview_state",
    "new_in_first_preview",
    "stack_resources",
]


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


@dataclass(frozen=True)
class Skipped:
    """A policy the engine could not run (it read a value unknown during preview), as its advisory note says."""

    policy: str
    urn: str
    message: str

    def line(self) -> str:
        return f"[not judged] {self.policy} {self.urn or '(stack)'}: {self.message}"


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
    #: Policies skipped because they read a value unknown during preview (the engine's advisory note).
    skipped: list[Skipped] = field(default_factory=list)

    def summary_lines(self) -> list[str]:
        """One line per violation (mandatory, then advisory), then one per waiver with its reason."""
        lines = [v.line() for v in (*self.mandatory, *self.advisory, *self.waived)]
        lines += [
            f"[waiver unused] {policy} {resource}: nothing to waive (reason given: {reason})"
            for policy, resource, reason in self.unused_waivers
        ]
        return lines + [s.line() for s in self.skipped]

    def as_json(self) -> dict[str, Any]:
        return {
            "mandatory": [asdict(v) for v in self.mandatory],
            "advisory": [asdict(v) for v in self.advisory],
            "waived": [asdict(v) for v in self.waived],
            "unusedWaivers": [{"policy": p, "resource": r, "reason": why} for p, r, why in self.unused_waivers],
            "notApplicable": dict(self.not_applicable),
            "evaluated": list(self.evaluated),
            "skipped": [asdict(s) for s in self.skipped],
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
        protect=resource.protect,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=list(resource.aliases),
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=resource.parent,
    )


def _engine_value(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return float(value)  # a protobuf Struct holds every number as a double
    if isinstance(value, Mapping):
        return {str(k): _engine_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_engine_value(v) for v in value]
    return value


def engine_props(props: Mapping[str, Any]) -> Mapping[str, Any]:
    """``props`` as the engine's analyzer hands them to a policy: floats, behind the unknown-checking proxy."""
    return unknown_checking_proxy(_engine_value(props))


# --- the first preview of a new stack ------------------------------------------------------------


#: A sentinel of the right kind for each value an unknown replaces (the engine's ``Unknown*`` values).
def _sentinel(value: Any) -> str:
    if isinstance(value, bool):
        return UNKNOWN_BOOLEAN_VALUE
    if isinstance(value, int | float):
        return UNKNOWN_NUMBER_VALUE
    if isinstance(value, Mapping):
        return UNKNOWN_OBJECT_VALUE
    if isinstance(value, list | tuple):
        return UNKNOWN_ARRAY_VALUE
    return UNKNOWN_STRING_VALUE


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


#: Shorter unknown values (a version ``1``) make a string unknown only when equal to it, not when inside it.
_MIN_EMBEDDED = 5


def _blank(value: Any, unknown: frozenset[str]) -> Any:
    """``value`` with every string computed from an ``unknown`` value replaced by the engine's sentinel."""
    if isinstance(value, Mapping):
        return {k: _blank(v, unknown) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_blank(v, unknown) for v in value]
    if isinstance(value, str) and (value in unknown or any(len(u) >= _MIN_EMBEDDED and u in value for u in unknown)):
        return UNKNOWN_STRING_VALUE
    return value


def _autonamed(resource_type: str) -> bool:
    """Whether the provider fills in ``name`` when it checks the inputs (so it is known in preview)."""
    from arcblueprint.preview.schema_check import input_properties

    return "name" in (input_properties(resource_type) or {})


def _state(resource: GraphResource) -> dict[str, Any]:
    """A resource's outputs as the engine keeps them: the provider's state, ``id`` included."""
    return {**resource.outputs, "id": resource.id} if resource.id else dict(resource.outputs)


def first_preview_state(graph: SynthesizedStack) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Per URN, ``(inputs, state)`` as the first ``pulumi preview`` of a new stack would pass them.

    Nothing exists yet, so each output the program did not give as an input (ids, ARNs, URLs, a
    function's version) is unknown. An input computed from an unknown value is unknown too: the
    property dependencies say which resources an input was computed from, and a string of the
    input that contains (or is) one of their unknown values is replaced. Resources are visited in
    registration order, which puts every resource after the ones its inputs wait for, so an
    unknown input passes on to what is computed from it. ``name`` stays known where the resource
    type has a ``name`` input: the provider generates it (autonaming) when it checks the inputs.
    """
    unknown_values: dict[str, frozenset[str]] = {}
    state: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for r in graph.resources:
        inputs: dict[str, Any] = {}
        became_unknown: set[str] = set()
        for key, value in r.inputs.items():
            sources = (r.property_dependencies or {}).get(key) or ()
            unknown = frozenset().union(*(unknown_values.get(u, frozenset()) for u in sources))
            inputs[key] = _blank(value, unknown) if unknown else value
            if inputs[key] != value:
                became_unknown |= {
                    old
                    for old, new in zip(_strings(value), _strings(inputs[key]), strict=True)
                    if new == UNKNOWN_STRING_VALUE
                }
        computed = {
            key: value
            for key, value in _state(r).items()
            if key not in r.inputs and not (key == "name" and _autonamed(r.type))
        }
        # An output equal to a known value (a function's id is its name) may be what a dependent used.
        still_known = set(_strings(inputs)) | set(_strings({k: v for k, v in _state(r).items() if k not in computed}))
        unknown_values[r.urn] = frozenset(became_unknown | (set(_strings(computed)) - still_known))
        outputs = {**_state(r), **{key: _sentinel(value) for key, value in computed.items()}}
        state[r.urn] = (inputs, {**outputs, **inputs})
    return state


def stack_resources(graph: SynthesizedStack, *, first_preview: bool = False) -> list[PolicyResource]:
    """The graph as ``PolicyResource`` objects with parents and (property) dependencies linked, as the engine does.

    Each resource's props are its outputs merged with its inputs, through :func:`engine_props`;
    with ``first_preview``, as :func:`first_preview_state` leaves them.
    """
    return _linked(graph, first_preview_state(graph) if first_preview else None)


def _linked(
    graph: SynthesizedStack,
    preview: Mapping[str, tuple[dict[str, Any], dict[str, Any]]] | None,
) -> list[PolicyResource]:
    by_urn: dict[str, PolicyResource] = {}
    for r in graph.resources:
        props = preview[r.urn][1] if preview is not None else {**_state(r), **r.inputs}
        by_urn[r.urn] = PolicyResource(r.type, engine_props(props), r.urn, r.name, _options(r), None, None, [], {})
    for r in graph.resources:
        resource = by_urn[r.urn]
        resource.parent = by_urn.get(r.parent) if r.parent else None
        resource.dependencies = [by_urn[u] for u in r.dependencies if u in by_urn]
        resource.property_dependencies = {
            k: [by_urn[u] for u in urns if u in by_urn] for k, urns in r.property_dependencies.items()
        }
    return list(by_urn.values())


def _run(
    policy: ResourceValidationPolicy | StackValidationPolicy,
    args: Any,
    reporter: _Reporter,
    report: PolicyReport,
    urn: str = "",
) -> None:
    try:
        result = policy.validate(args, reporter)
        if iscoroutine(result):  # pragma: no cover - the pack's policies are synchronous
            import asyncio

            asyncio.run(result)
    except UnknownValueError as error:
        # What the analyzer does: an advisory "can't run policy ... during preview" note, no verdict.
        report.skipped.append(Skipped(policy.name, urn, error.message))
    except _NotApplicableError as error:
        report.not_applicable[policy.name] = error.reason or ""


def evaluate(
    graph: SynthesizedStack,
    *,
    policies: Sequence[Policy] | None = None,
    config: Mapping[str, Mapping[str, Any]] | None = None,
    first_preview: bool = False,
) -> PolicyReport:
    """Evaluate ``policies`` (default: the whole pack) on ``graph`` with ``config`` (default: the stack's).

    ``first_preview`` evaluates the graph as the first ``pulumi preview`` of a new stack sees it
    (see :func:`first_preview_state`); policies that read an unknown value land in ``skipped``.
    """
    from arcblueprint.policy.config import pack_config_for
    from arcblueprint.policy.pack import all_policies

    policies = list(policies) if policies is not None else all_policies()
    config = config if config is not None else pack_config_for(graph.config)
    report = PolicyReport()
    used: dict[str, set[str]] = {}
    preview = first_preview_state(graph) if first_preview else None
    resources = _linked(graph, preview)
    # Built once per resource: the engine builds the same proxy afresh per policy, and no policy writes to it.
    inputs = {r.urn: engine_props(preview[r.urn][0] if preview is not None else r.inputs) for r in graph.resources}
    options = {r.urn: _options(r) for r in graph.resources}
    for policy in policies:
        entry = dict(config.get(policy.name) or {})
        level = str(
            entry.pop("enforcementLevel", None)
            or (policy.enforcement_level.value if policy.enforcement_level else "advisory")
        )
        if level == "disabled":
            continue
        level = "mandatory" if level == "remediate" else level
        report.evaluated.append(policy.name)
        used[policy.name] = set()
        if isinstance(policy, ResourceValidationPolicy):
            for r in graph.resources:
                args = ResourceValidationArgs(r.type, inputs[r.urn], r.urn, r.name, options[r.urn], None, entry, {})
                reporter = _Reporter(report, policy.name, level, r.urn)
                _run(policy, args, reporter, report, r.urn)
                used[policy.name] |= reporter.waived_names
        elif isinstance(policy, StackValidationPolicy):
            reporter = _Reporter(report, policy.name, level, None)
            _run(policy, StackValidationArgs(resources, entry, {}), reporter, report)
            used[policy.name] |= reporter.waived_names
        for waiver in entry.get("waivers") or ():
            if waiver.get("resource") not in used[policy.name]:
                report.unused_waivers.append((policy.name, str(waiver.get("resource")), str(waiver.get("reason"))))
    return report


def new_in_first_preview(known: PolicyReport, first: PolicyReport) -> list[Violation]:
    """Mandatory violations the first-preview evaluation reports that the evaluation with known values does not.

    Such a violation is one the engine's first preview of a new stack would report (and fail on):
    a rule that misreads a value that is unknown there.
    """
    seen = {(v.policy, v.urn, v.message) for v in known.mandatory}
    return [v for v in first.mandatory if (v.policy, v.urn, v.message) not in seen]
