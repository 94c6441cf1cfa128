"""Release safety (prod only): gradual strategy tag and a rollback alarm for every 'live' function."""

from __future__ import annotations

from arcblueprint.policy import release
from arcblueprint.policy.testing import resource, run_stack

FUNCTION = "aws:lambda/function:Function"
ALIAS = "aws:lambda/alias:Alias"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def stack(strategy="canary", alarm_dimensions=None, alias_name="live"):
    function = resource(FUNCTION, "orders", {"name": "arcbp-prod-orders", "tags": {"release-strategy": strategy}})
    alias = resource(
        ALIAS,
        "orders-live",
        {"name": alias_name, "functionName": "arcbp-prod-orders"},
        depends={"functionName": [function]},
    )
    alarm = resource(
        ALARM,
        "orders-errors",
        {
            "metricName": "Errors",
            "namespace": "AWS/Lambda",
            "dimensions": alarm_dimensions
            or {"FunctionName": "arcbp-prod-orders", "Resource": "arcbp-prod-orders:live"},
        },
    )
    return function, [function, alias, alarm]


def test_canary_with_alarm_passes_in_prod():
    _, resources = stack()
    assert run_stack(release.RELEASE_SAFETY, resources, {"environment": "prod"}).violations == []


def test_all_at_once_is_caught_with_the_function_urn():
    function, resources = stack(strategy="all-at-once")
    found = run_stack(release.RELEASE_SAFETY, resources, {"environment": "prod"})
    assert [urn for urn, _ in found.violations] == [function.urn] and "all-at-once" in found.messages[0]


def test_missing_alarm_is_caught():
    function, resources = stack(alarm_dimensions={"FunctionName": "someone-else"})
    found = run_stack(release.RELEASE_SAFETY, resources, {"environment": "prod"})
    assert len(found.violations) == 1 and "alarm" in found.messages[0]


def test_metric_math_alarm_counts():
    function, resources = stack(alarm_dimensions={"FunctionName": "x"})
    math_alarm = resource(
        ALARM,
        "orders-error-rate",
        {
            "metricQueries": [
                {"id": "e", "metric": {"metricName": "Errors", "dimensions": {"FunctionName": "arcbp-prod-orders"}}}
            ]
        },
    )
    assert run_stack(release.RELEASE_SAFETY, [*resources, math_alarm], {"environment": "prod"}).violations == []


def test_not_enforced_outside_prod_and_ignores_other_aliases():
    _, resources = stack(strategy="all-at-once", alarm_dimensions={"FunctionName": "x"})
    assert run_stack(release.RELEASE_SAFETY, resources, {"environment": "dev"}).violations == []
    _, debug_only = stack(strategy="all-at-once", alias_name="debug")
    assert run_stack(release.RELEASE_SAFETY, debug_only, {"environment": "prod"}).violations == []


def test_without_config_the_rule_applies_as_in_prod():
    _, resources = stack(strategy="all-at-once")
    assert run_stack(release.RELEASE_SAFETY, resources).violations
