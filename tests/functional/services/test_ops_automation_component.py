"""The operations automation component under the mock runtime, on the stand-in platform."""

from __future__ import annotations

import json

import pytest

from arcblueprint.config import ConfigError

SPEC = {
    "jobs": {
        "cleanup": {"schedule": "cron(0 4 * * ? *)", "flexibleWindowMinutes": 20, "retentionDays": 10},
        "weekly": {"schedule": "rate(7 days)", "retentionDays": 60},
    },
    "alarmResponder": {"notifyStates": ["ALARM", "OK"]},
    "subscribe": [
        {"source": "arcblueprint.hooks", "detailType": "WebhookReceived"},
        {"source": "arcblueprint.bookings", "detailType": ["BookingCancelled"], "target": "workflow"},
    ],
}


@pytest.fixture(scope="module")
def graph(run_component, service_program):
    return run_component(service_program("ops", "ops-automation", SPEC, with_bus=True), stack="dev", preview=False)


def test_jobs_alarms_and_subscriptions_become_schedules_and_rules(graph):
    schedules = {s.inputs["name"]: s for s in graph.by_type("aws:scheduler/schedule:Schedule")}
    assert set(schedules) == {"arcbp-dev-ops-cleanup", "arcbp-dev-ops-weekly"}
    cleanup = schedules["arcbp-dev-ops-cleanup"]
    assert cleanup.inputs["scheduleExpression"] == "cron(0 4 * * ? *)"
    assert cleanup.inputs["flexibleTimeWindow"] == {"mode": "FLEXIBLE", "maximumWindowInMinutes": 20}
    assert json.loads(cleanup.inputs["target"]["input"]) == {"action": "cleanup", "job": "cleanup", "retentionDays": 10}
    rules = {r.inputs["name"]: r for r in graph.by_type("aws:cloudwatch/eventRule:EventRule")}
    assert set(rules) == {"arcbp-dev-ops-alarm-changes", "arcbp-dev-ops-hooks-audit", "arcbp-dev-ops-bookings-workflow"}
    # Alarm state changes reach only the default bus; domain events are on the platform bus.
    assert rules["arcbp-dev-ops-alarm-changes"].inputs.get("eventBusName") is None
    assert json.loads(rules["arcbp-dev-ops-alarm-changes"].inputs["eventPattern"])["detail"] == {
        "alarmName": [{"prefix": "arcbp-dev-"}]
    }
    assert rules["arcbp-dev-ops-hooks-audit"].inputs["eventBusName"] == "arcbp-dev-bus"
    assert json.loads(rules["arcbp-dev-ops-bookings-workflow"].inputs["eventPattern"]) == {
        "source": ["arcblueprint.bookings"],
        "detail-type": ["BookingCancelled"],
    }
    # Lambda targets are invokable by EventBridge from their rule, on the live alias.
    permissions = [
        p for p in graph.by_type("aws:lambda/permission:Permission") if p.inputs["principal"] == "events.amazonaws.com"
    ]
    assert {p.name for p in permissions} == {"ops-alarms-events-alarm-changes", "ops-audit-events-hooks-audit"}
    assert all(p.inputs["qualifier"] == "live" for p in permissions)
    functions = {f.name: f.inputs["environment"]["variables"] for f in graph.by_type("aws:lambda/function:Function")}
    assert functions["ops-alarms-function"]["NOTIFY_STATES"] == "ALARM,OK"


def test_subscriptions_without_a_bus_are_a_one_line_config_error(run_component, service_program):
    with pytest.raises(ConfigError) as caught:
        run_component(
            service_program(
                "ops", "ops-automation", {"subscribe": SPEC["subscribe"], "alarmResponder": None}, with_bus=False
            ),
            stack="dev",
        )
    assert caught.value.key == "services.ops.subscribe" and "needs the platform's event bus" in str(caught.value)


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"jobs": {"cleanup": {"schedule": "every day"}}}, "services.ops.jobs.cleanup.schedule"),
        ({"jobs": {"cleanup": {"flexibleWindowMinutes": 0}}}, "services.ops.jobs.cleanup.flexibleWindowMinutes"),
        ({"jobs": {"Cleanup": {}}}, "services.ops.jobs.Cleanup"),
        ({"alarmResponder": {"notifyStates": ["FIRING"]}}, "services.ops.alarmResponder.notifyStates[0]"),
        ({"subscribe": [{"source": "arcblueprint.hooks", "target": "pager"}]}, "services.ops.subscribe[0].target"),
        ({"triggersDisabled": "yes"}, "services.ops.triggersDisabled"),
    ],
)
def test_bad_config_names_the_key(data, key):
    from arcblueprint.config.model import ServiceSpec

    with pytest.raises(ConfigError) as caught:
        ServiceSpec.parse_config({"pattern": "ops-automation", **data}, "services.ops")
    assert caught.value.key == key and "\n" not in str(caught.value)
