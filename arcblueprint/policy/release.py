"""Release safety: in production every aliased function is released gradually and can roll back."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from arcblueprint.policy.base import (
    ALIAS,
    UNKNOWN,
    function_base_name,
    functions_behind,
    is_mapping,
    known,
    known_dig,
    known_list,
    resources_of,
    stack_policy,
    tags_of,
)

if TYPE_CHECKING:
    from pulumi_policy import PolicyResource, StackValidationArgs

    from arcblueprint.policy.base import ReportViolation

__all__ = ["GRADUAL_STRATEGIES", "POLICIES", "RELEASE_SAFETY"]

METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
#: Strategies that shift traffic gradually and can roll back on an alarm (not ``all-at-once``).
GRADUAL_STRATEGIES = ("canary", "linear", "blue-green", "weighted-canary")


def _alarmed_function_names(args: StackValidationArgs) -> set[str]:
    """Function names that at least one alarm watches (plain metric or metric-math query)."""
    names: set[str] = set()
    for alarm in resources_of(args, METRIC_ALARM):
        queries = known_list(alarm.props, "metricQueries")
        dimension_sets = [known(alarm.props, "dimensions")]
        dimension_sets += (
            [known_dig(query, "metric", "dimensions") for query in queries] if queries is not UNKNOWN else []
        )
        for dimensions in dimension_sets:
            if is_mapping(dimensions):
                for key in ("FunctionName", "Resource"):
                    name = function_base_name(known(dimensions, key))
                    if name:
                        names.add(name)
    return names


def _function_name(function: PolicyResource) -> Any:
    name = known(function.props, "name")
    return name if isinstance(name, str) and name else function_base_name(known(function.props, "arn"))


def validate_release_safety(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Every function behind a ``live`` alias is tagged with a gradual ``release-strategy`` and watched by
    at least one CloudWatch alarm that CodeDeploy (or the CI driver) can roll back on."""
    config = args.get_config()
    if config.get("environment", "prod") != "prod":
        args.not_applicable("release safety is enforced in prod only")
    allowed = tuple(config.get("strategies") or GRADUAL_STRATEGIES)
    alarmed = _alarmed_function_names(args)
    seen: set[str] = set()
    for alias in resources_of(args, ALIAS):
        if known(alias.props, "name") != "live":
            continue
        for function in functions_behind(alias, "functionName", args.resources):
            if function.urn in seen:
                continue
            seen.add(function.urn)
            strategy = tags_of(function.props).get("release-strategy")
            if strategy is not UNKNOWN and strategy not in allowed:
                report_violation(
                    f"Lambda function '{function.name}' is released through alias 'live' with "
                    f"release-strategy {strategy!r}; tag it with one of {', '.join(allowed)}.",
                    function.urn,
                )
            if _function_name(function) not in alarmed:
                report_violation(
                    f"Lambda function '{function.name}' has no CloudWatch alarm to roll a release "
                    "back on; alarm on its errors (dimension FunctionName).",
                    function.urn,
                )


RELEASE_SAFETY = stack_policy(
    "release-safety",
    "In prod, aliased functions use a canary, linear or blue-green release with at least one rollback alarm.",
    validate_release_safety,
    parameters={
        "environment": {"type": "string", "description": "the stack's environment; enforced in prod only"},
        "strategies": {"type": "array", "items": {"type": "string"}, "default": list(GRADUAL_STRATEGIES)},
    },
)

POLICIES = [RELEASE_SAFETY]
