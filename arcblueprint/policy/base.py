"""What every policy in the pack shares: type filtering, waivers, and reading engine-shaped props.

A policy module defines plain ``validate_*`` functions with CrossGuard's signature
(``args``, ``report_violation``) and wraps them with :func:`resource_policy` or
:func:`stack_policy`. The wrappers add the two things every rule needs and no rule should
re-implement:

* resource policies only see the resource types they name;
* a waiver (this policy, this resource's logical name, a reason) from the policy's config
  silences the violation. The engine's ``report_violation`` is a plain function, so in
  ``pulumi preview`` a waived violation is simply not reported; the offline evaluator passes a
  reporter with a ``waived`` method, so ``blueprint preview`` can list what each waiver hid.

Props are read as the engine passes them: camelCase keys, numbers as floats, policy documents
as JSON strings (or objects), all behind ``pulumi_policy.proxy.unknown_checking_proxy``
(``pulumi_policy/policy.py``, ``Analyze``/``AnalyzeStack``): an object is a ``Mapping`` but not a
``dict``, an array a ``Sequence`` but not a ``list``, and reading a value that is unknown during
preview raises ``UnknownValueError``. Test shapes with :func:`is_mapping`/:func:`is_list`, never
``isinstance(x, dict)``; read a value that may be unknown with :func:`known`. An exception
escaping a stack policy makes the engine skip the whole policy with an advisory note, so a
stack rule reads every prop that may be computed from another resource through :func:`known`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeGuard, cast

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

if TYPE_CHECKING:
    from pulumi_policy import ReportViolation as EngineReportViolation

__all__ = [
    "UNKNOWN",
    "WAIVERS_SCHEMA",
    "ReportViolation",
    "as_list",
    "config_schema",
    "dig",
    "function_reference_is_qualified",
    "is_list",
    "is_mapping",
    "json_document",
    "known",
    "known_list",
    "linked",
    "logical_name",
    "resource_policy",
    "resources_of",
    "stack_policy",
    "tags_of",
    "truthy",
]


class ReportViolation(Protocol):
    """What a check is handed to report with: ``report_violation(message, urn=None)``.

    The engine's callback (``pulumi_policy/policy.py`` ``_create_report_violation``) and the offline reporters
    default ``urn`` (a resource check's violation is always about its resource); the SDK's alias
    ``Callable[[str, Optional[str]], None]`` says ``urn`` is required.
    """

    def __call__(self, message: str, urn: str | None = None) -> None: ...


ResourceCheck = Callable[[ResourceValidationArgs, ReportViolation], None]
StackCheck = Callable[[StackValidationArgs, ReportViolation], None]

#: Every policy accepts waivers in its config: ``[{"resource": "<logical name>", "reason": "..."}]``.
WAIVERS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "description": "Resources (by logical name) this policy does not apply to, each with a reviewed reason.",
    "items": {
        "type": "object",
        "properties": {"resource": {"type": "string"}, "reason": {"type": "string", "minLength": 10}},
        "required": ["resource", "reason"],
    },
    "default": [],
}


def config_schema(**properties: dict[str, Any]) -> PolicyConfigSchema:
    """A policy's config schema: its own parameters plus ``waivers``."""
    return PolicyConfigSchema(properties={**properties, "waivers": WAIVERS_SCHEMA})


def logical_name(urn: str) -> str:
    """The resource's logical name: the last ``::`` segment of its URN."""
    return urn.rsplit("::", 1)[-1]


def _waiver_reason(config: Mapping[str, Any] | None, name: str) -> str | None:
    for waiver in (config or {}).get("waivers") or ():
        if isinstance(waiver, Mapping) and waiver.get("resource") == name:
            return str(waiver.get("reason") or "")
    return None


def _diverting(report_violation: ReportViolation, reason: str) -> ReportViolation:
    """A reporter that hands a waived violation to ``report_violation.waived`` if it has one, else drops it."""
    hook = getattr(report_violation, "waived", None)

    def report(message: str, urn: str | None = None) -> None:
        if hook is not None:
            hook(message, urn, reason)

    return report


def resource_policy(
    name: str,
    description: str,
    validate: ResourceCheck,
    *,
    types: Iterable[str] | None,
    enforcement_level: EnforcementLevel = EnforcementLevel.MANDATORY,
    parameters: Mapping[str, dict[str, Any]] | None = None,
    remediation_steps: str | None = None,
) -> ResourceValidationPolicy:
    """Wrap a plain resource check as a CrossGuard policy that only sees ``types`` and honours waivers.

    ``types=None`` means every resource type (the tagging rule).
    """
    wanted = frozenset(types) if types is not None else None

    def guarded(args: ResourceValidationArgs, engine_report: EngineReportViolation) -> None:
        if wanted is not None and args.resource_type not in wanted:
            return
        # The engine's callback defaults urn (see ReportViolation); the SDK's alias does not say so.
        report_violation = cast("ReportViolation", engine_report)
        reason = _waiver_reason(args.get_config(), args.name)
        validate(args, report_violation if reason is None else _diverting(report_violation, reason))

    guarded.__name__ = guarded.__qualname__ = validate.__name__
    guarded.__doc__ = validate.__doc__
    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=guarded,
        enforcement_level=enforcement_level,
        config_schema=config_schema(**(parameters or {})),
        remediation_steps=remediation_steps,
    )


def stack_policy(
    name: str,
    description: str,
    validate: StackCheck,
    *,
    enforcement_level: EnforcementLevel = EnforcementLevel.MANDATORY,
    parameters: Mapping[str, dict[str, Any]] | None = None,
    remediation_steps: str | None = None,
) -> StackValidationPolicy:
    """Wrap a plain stack check as a CrossGuard policy whose per-resource violations honour waivers."""

    def guarded(args: StackValidationArgs, engine_report: EngineReportViolation) -> None:
        config = args.get_config()
        report_violation = cast("ReportViolation", engine_report)  # defaults urn, see ReportViolation

        def report(message: str, urn: str | None = None) -> None:
            reason = _waiver_reason(config, logical_name(urn)) if urn else None
            if reason is None:
                report_violation(message, urn)
            else:
                _diverting(report_violation, reason)(message, urn)

        validate(args, report)

    guarded.__name__ = guarded.__qualname__ = validate.__name__
    guarded.__doc__ = validate.__doc__
    return StackValidationPolicy(
        name=name,
        description=description,
        validate=guarded,
        enforcement_level=enforcement_level,
        config_schema=config_schema(**(parameters or {})),
        remediation_steps=remediation_steps,
    )


# --- reading props -------------------------------------------------------------------------------


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        return True  # a value computed at deploy time is set, even if it is not known yet


#: What :func:`known` answers for a value that is computed at deploy time.
UNKNOWN: Any = _Unknown()


def is_mapping(value: Any) -> TypeGuard[Mapping[str, Any]]:
    """An object prop (a ``dict`` offline, the engine's ``Mapping`` proxy in ``pulumi preview``)."""
    return isinstance(value, Mapping)


def is_list(value: Any) -> TypeGuard[Sequence[Any]]:
    """An array prop (a ``list`` offline, the engine's ``Sequence`` proxy in ``pulumi preview``)."""
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def known(props: Any, key: str) -> Any:
    """``props[key]``, ``None`` if not set (or ``props`` is no object), :data:`UNKNOWN` if computed at deploy time."""
    if not isinstance(props, Mapping):
        return None
    try:
        return props.get(key)
    except UnknownValueError:
        return UNKNOWN


def known_list(props: Any, key: str) -> list[Any] | Any:
    """``props[key]`` as a list (``[]`` if not set), or :data:`UNKNOWN` if it or an item is computed later."""
    value = known(props, key)
    if value is UNKNOWN:
        return UNKNOWN
    try:
        return as_list(value)
    except UnknownValueError:
        return UNKNOWN


def dig(value: Any, *path: str | int) -> Any:
    """``value[path[0]][path[1]]...``, or ``None`` as soon as a step is missing (raises on an unknown step)."""
    for step in path:
        if isinstance(step, int):
            if not is_list(value) or step >= len(value):
                return None
            value = value[step]
        else:
            if not isinstance(value, Mapping):
                return None
            value = value.get(step)
        if value is None:
            return None
    return value


def known_dig(value: Any, *path: str | int) -> Any:
    """:func:`dig`, but :data:`UNKNOWN` where a step is computed at deploy time."""
    try:
        return dig(value, *path)
    except UnknownValueError:
        return UNKNOWN


def truthy(value: Any) -> bool:
    """A boolean prop as AWS reads it (``True`` or the text ``"true"``)."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def number(value: Any) -> float | None:
    """A numeric prop (the engine passes floats; offline may pass ints or numeric strings)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def json_document(value: Any) -> Any:
    """A JSON-valued prop (policy documents, redrive policies) as Python data; ``None`` if unparsable."""
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return json.loads(value)
        except ValueError:
            return None
    return None


def tags_of(props: Mapping[str, Any]) -> dict[str, Any]:
    """The resource's tags, including provider default tags when the engine passes ``tagsAll``.

    A tag whose value is computed at deploy time maps to :data:`UNKNOWN` (it is set); a tag map
    that is unknown as a whole contributes nothing.
    """
    tags: dict[str, Any] = {}
    for key in ("tagsAll", "tags"):
        value = known(props, key)
        if isinstance(value, Mapping):
            for name in value:
                tag = known(value, name)
                if tag is not None:
                    tags[str(name)] = tag if tag is UNKNOWN else str(tag)
        elif is_list(value):  # Auto Scaling groups: [{key, value, propagateAtLaunch}]
            for index in range(len(value)):
                item = known_dig(value, index)
                name, tag = known(item, "key"), known(item, "value")
                if name is None or name is UNKNOWN or tag is None:
                    continue  # an entry (or its key) computed at deploy time names no tag we can check
                tags[str(name)] = tag if tag is UNKNOWN else str(tag)
    return tags


def as_list(value: Any) -> list[Any]:
    """An array prop as a ``list`` (``[]`` if not set, ``[value]`` for a single value); raises on an unknown item."""
    if value is None:
        return []
    if is_list(value):
        return [value[i] for i in range(len(value))]
    return [value]


# --- the stack graph -----------------------------------------------------------------------------


def resources_of(args: StackValidationArgs, *types: str) -> Iterator[PolicyResource]:
    wanted = set(types)
    return (r for r in args.resources if r.resource_type in wanted)


def linked(resource: PolicyResource, prop: str, *types: str) -> list[PolicyResource]:
    """Resources of ``types`` that ``resource``'s ``prop`` was computed from (its property dependencies).

    This is how the engine links resources (``functionName=alias.arn`` records the alias as a
    dependency of ``functionName``); it works in preview, when ARNs and ids are still unknown.
    """
    found = resource.property_dependencies.get(prop) or []
    return [r for r in found if not types or r.resource_type in types]


FUNCTION = "aws:lambda/function:Function"
ALIAS = "aws:lambda/alias:Alias"


def functions_behind(resource: PolicyResource, prop: str, everything: Sequence[PolicyResource]) -> list[PolicyResource]:
    """The Lambda functions ``resource.props[prop]`` refers to, directly or through an alias.

    Uses property dependencies first, then falls back to matching the referenced name or ARN
    (a function referenced by a literal string has no dependency); an unknown name or ARN
    (a new function's, in preview) matches nothing, and a rule judges the rest.
    """
    result: list[PolicyResource] = []
    for target in linked(resource, prop, FUNCTION, ALIAS):
        if target.resource_type == FUNCTION:
            result.append(target)
        else:
            result.extend(
                linked(target, "functionName", FUNCTION)
                or _functions_named(known(target.props, "functionName"), everything)
            )
    if result:
        return result
    return _functions_named(known(resource.props, prop), everything)


def function_base_name(reference: Any) -> str | None:
    """``my-fn`` from ``my-fn``, ``my-fn:live``, ``arn:aws:lambda:r:a:function:my-fn[:live]``."""
    if not isinstance(reference, str) or not reference:
        return None
    if ":function:" in reference:
        reference = reference.split(":function:", 1)[1]
    return reference.split(":", 1)[0]


def _functions_named(reference: Any, everything: Sequence[PolicyResource]) -> list[PolicyResource]:
    name = function_base_name(reference)
    if not name:
        return []
    return [
        r
        for r in everything
        if r.resource_type == FUNCTION and name in (known(r.props, "name"), function_base_name(known(r.props, "arn")))
    ]


def function_reference_is_qualified(reference: Any, qualifier: Any = None) -> bool:
    """Whether a function reference names an alias or version (never ``$LATEST``).

    ``reference`` is a name, a partial or full ARN, optionally ending in ``:<qualifier>``;
    ``qualifier`` is a separate qualifier input (Permission, EventInvokeConfig).
    """
    if isinstance(qualifier, str) and qualifier:
        return qualifier != "$LATEST"
    if not isinstance(reference, str) or not reference:
        return False
    tail = reference.split(":function:", 1)[1] if ":function:" in reference else reference
    parts = tail.split(":")
    return len(parts) >= 2 and bool(parts[1]) and parts[1] != "$LATEST"
