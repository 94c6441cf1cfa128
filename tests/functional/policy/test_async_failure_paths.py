"""Every function the stack invokes asynchronously keeps its failed events (``lambda-async-failure-destination``).

The rule finds asynchronous callers in the graph (Lambda permissions of EventBridge, SNS, S3...,
rule targets, SNS subscriptions, Scheduler schedules, bucket notifications, log subscriptions), not
in a tag, and wants an event invoke config for the alias they invoke, with bounded retries and
event age and an SQS on-failure queue. Tested on the shipped prod graph: each control removed from
it is reported on the function, naming what is missing.
"""

from __future__ import annotations

import dataclasses

import pytest

from arcblueprint.policy.testing import mutated, violations_of

POLICY = "lambda-async-failure-destination"
EIC = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"


def _without(graph, *names):
    return dataclasses.replace(graph, resources=[r for r in graph.resources if r.name not in names])


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_shipped_stacks_give_every_async_function_a_failure_path(synthesized, stack):
    # (as a first preview sees them too: tests/functional/policy/test_first_preview.py runs the whole pack)
    assert violations_of(synthesized(stack), POLICY) == []


def test_prod_covers_the_rule_targets_and_the_schedule(synthesized):
    """The ops functions behind rules (alarms, audit) and behind the schedule (jobs) all have one."""
    graph = synthesized("prod")
    configs = {r.name: r for r in graph.by_type(EIC)}
    assert {"ops-alarms-async", "ops-audit-async", "ops-jobs-async"} <= set(configs)
    jobs = configs["ops-jobs-async"]
    assert jobs.inputs["qualifier"] == "live" and jobs.inputs["destinationConfig"]["onFailure"]["destination"]
    assert (jobs.inputs["maximumRetryAttempts"], jobs.inputs["maximumEventAgeInSeconds"]) == (2.0, 3600.0)


@pytest.mark.parametrize(
    ("removed", "function", "caller"),
    [
        ("ops-jobs-async", "ops-jobs-function", "EventBridge Scheduler schedule: 'ops-job-cleanup'"),
        ("ops-alarms-async", "ops-alarms-function", "events.amazonaws.com: 'ops-alarms-events-alarm-changes'"),
        ("ops-audit-async", "ops-audit-function", "events.amazonaws.com: 'ops-audit-events-hooks-audit'"),
    ],
)
def test_an_async_function_without_its_config_is_reported(synthesized, removed, function, caller):
    [violation] = violations_of(_without(synthesized("prod"), removed), POLICY)
    assert violation.urn.endswith(f"::{function}")
    assert "is invoked asynchronously" in violation.message and caller in violation.message
    assert "SQS on-failure destination" in violation.message


def _unset(*props):
    def change(config):
        for prop in props:
            config.inputs.pop(prop, None)
            config.outputs.pop(prop, None)
            config.property_dependencies.pop(prop, None)

    return change


@pytest.mark.parametrize(
    ("props", "missing"),
    [
        (("destinationConfig",), "on-failure destination"),
        (("maximumRetryAttempts",), "maximumRetryAttempts"),
        (("maximumEventAgeInSeconds",), "maximumEventAgeInSeconds"),
    ],
)
def test_a_config_missing_a_control_is_reported(synthesized, props, missing):
    [violation] = violations_of(mutated(synthesized("prod"), "ops-jobs-async", _unset(*props)), POLICY)
    assert violation.urn.endswith("::ops-jobs-async") and missing in violation.message


def test_a_topic_as_failure_destination_is_not_a_queue(synthesized):
    def to_topic(config):
        topic = "arn:aws:sns:eu-west-1:222222222222:arcbp-prod-alarms"
        config.inputs["destinationConfig"] = {"onFailure": {"destination": topic}}
        config.outputs.pop("destinationConfig", None)
        config.property_dependencies["destinationConfig"] = []

    [violation] = violations_of(mutated(synthesized("prod"), "ops-jobs-async", to_topic), POLICY)
    assert "an SQS queue as on-failure destination" in violation.message


def test_a_config_on_another_qualifier_does_not_cover_the_alias(synthesized):
    """Lambda applies the config of the qualifier invoked: one on $LATEST leaves the alias uncovered."""

    def on_latest(config):
        config.inputs["qualifier"] = "$LATEST"
        config.outputs.pop("qualifier", None)
        config.property_dependencies["qualifier"] = []

    found = violations_of(mutated(synthesized("prod"), "ops-jobs-async", on_latest), POLICY)
    assert [v.urn.rsplit("::", 1)[1] for v in found] == ["ops-jobs-function"]
    assert "for 'live'" in found[0].message


def test_a_rule_target_alone_shows_the_async_call(synthesized):
    """Without the permission (say, granted outside the stack) the rule target still shows the call."""
    graph = _without(synthesized("prod"), "ops-alarms-async", "ops-alarms-events-alarm-changes")
    [violation] = violations_of(graph, POLICY)
    assert "an EventBridge rule target: 'ops-alarm-changes-target'" in violation.message
