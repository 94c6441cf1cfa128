"""The event wiring of the synthesized stacks, under the mock runtime: routes, producers, schedules, kill switch."""

from __future__ import annotations

import json

import pytest

from arcblueprint.config import read_stack_file
from arcblueprint.preview import render
from arcblueprint.preview.harness import REPO_ROOT, synthesize

RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
SCHEDULE = "aws:scheduler/schedule:Schedule"
MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
#: The services whose kill switch the test turns on: rules to a stream and a consumer (lake), rules, an alarm
#: rule on the default bus and a schedule (ops), and the outbox's stream mapping (orders).
SWITCHED_OFF = ("lake", "ops", "orders")


def _pattern(rule):
    return json.loads(rule.inputs["eventPattern"])


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_rule_has_a_target_and_every_target_a_dlq_and_the_configured_retries(synthesized, stack):
    graph = synthesized(stack)
    spec = graph.config.event_bus
    by_urn = graph.by_urn()
    rules = graph.by_type(RULE)
    targets = graph.by_type(TARGET)
    assert len(rules) == len(targets) >= 6  # one target per rule, as declared by EventBus.add_rule
    for rule in rules:
        [target] = [t for t in targets if t.property_dependencies["rule"] == [rule.urn]]
        [dlq_urn] = target.property_dependencies["deadLetterConfig"]
        dlq = by_urn[dlq_urn]
        assert (
            dlq.type == "aws:sqs/queue:Queue"
            and dlq.inputs["kmsMasterKeyId"]
            and dlq.inputs["messageRetentionSeconds"] == 14 * 86400
        )
        assert target.inputs["retryPolicy"] == {
            "maximumRetryAttempts": spec.target_maximum_retry_attempts,
            "maximumEventAgeInSeconds": spec.target_maximum_event_age_seconds,
        }
        pattern = _pattern(rule)
        # Source matched exactly, one value; domain events only from the platform's namespace.
        [source] = pattern["source"]
        assert isinstance(source, str) and (source.startswith("arcblueprint.") or source == "aws.cloudwatch")
        if source == "aws.cloudwatch":  # the alarm responder, on the default bus where alarms are sent
            assert rule.inputs.get("eventBusName") is None
            assert pattern["detail"] == {"alarmName": [{"prefix": f"{graph.config.naming_prefix}-"}]}
        else:
            assert rule.inputs["eventBusName"] == graph.outputs["eventBusName"]
        assert rule.inputs["state"] == "ENABLED"
    # The stack output the replay command reads lists exactly the rules.
    assert sorted(graph.outputs["eventRules"].values()) == sorted(r.outputs["arn"] for r in rules)


def test_the_prod_routing_table_is_what_the_config_asks_for(synthesized):
    rows = {(r.source, r.detail_types, r.target.split(" (")[0]) for r in render.routes(synthesized("prod"))}
    assert rows == {
        # Each event domain of the lake has its own Direct PUT Firehose: no domain event is on the Kinesis stream.
        ("arcblueprint.orders", "(all)", "FirehoseDeliveryStream lake-order-events-delivery"),
        ("arcblueprint.bookings", "(all)", "FirehoseDeliveryStream lake-booking-events-delivery"),
        ("arcblueprint.hooks", "(all)", "FirehoseDeliveryStream lake-webhook-events-delivery"),
        ("arcblueprint.orders", "OrderCreated", "Queue fan-billing-queue"),
        ("arcblueprint.bookings", "BookingCancelled", "StateMachine ops-workflow"),
        ("arcblueprint.hooks", "WebhookReceived", "Alias ops-audit-alias-live"),
        ("aws.cloudwatch", "CloudWatch Alarm State Change", "Alias ops-alarms-alias-live"),
    }
    assert all(
        r.dead_letter.endswith("-dlq") and r.retries == "8 retries / 3600 s" for r in render.routes(synthesized("prod"))
    )


def test_the_bus_keeps_what_it_cannot_encrypt_in_its_own_alarmed_dead_letter_queue(synthesized):
    """AWS strongly recommends a bus DLQ with a customer managed key: an event the key fails is kept, not lost."""
    graph = synthesized("prod")
    by_urn = graph.by_urn()
    [bus] = graph.by_type("aws:cloudwatch/eventBus:EventBus")
    [key_urn] = bus.property_dependencies["kmsKeyIdentifier"]
    [dlq_urn] = bus.property_dependencies["deadLetterConfig"]
    dlq = by_urn[dlq_urn]
    assert bus.inputs["deadLetterConfig"]["arn"] == dlq.outputs["arn"]
    assert dlq.property_dependencies["kmsMasterKeyId"] == [key_urn]  # the bus's key, the platform key
    assert dlq.inputs["messageRetentionSeconds"] == 14 * 86400 and dlq.protect
    [policy] = [
        p for p in graph.by_type("aws:sqs/queuePolicy:QueuePolicy") if dlq.urn in p.property_dependencies["queueUrl"]
    ]
    [send] = [s for s in json.loads(policy.inputs["policy"])["Statement"] if s["Effect"] == "Allow"]
    assert send["Principal"] == {"Service": "events.amazonaws.com"} and send["Action"] == "sqs:SendMessage"
    bus_arn = bus.outputs["arn"]
    # Only this bus (and its rules) may send: the bus's own failures and nothing of another bus.
    assert send["Condition"] == {
        "ArnLike": {"aws:SourceArn": [bus_arn, bus_arn.replace(":event-bus/", ":rule/") + "/*"]}
    }
    [alarm] = [
        a
        for a in graph.by_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        if a.inputs["dimensions"].get("QueueName") == dlq.outputs["name"]
    ]
    assert alarm.inputs["threshold"] == 1 and alarm.inputs["alarmActions"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_producers_are_exactly_the_functions_that_publish(synthesized, stack):
    graph = synthesized(stack)
    roles = {r.outputs["arn"]: r.name for r in graph.by_type("aws:iam/role:Role")}
    [policy] = graph.by_type("aws:cloudwatch/eventBusPolicy:EventBusPolicy")
    allows = [s for s in json.loads(policy.inputs["policy"])["Statement"] if s["Effect"] == "Allow"]
    named = {
        roles[arn]: s["Condition"]["ForAllValues:StringEquals"]["events:source"]
        for s in allows
        for arn in s["Principal"]["AWS"]
    }
    assert named == {
        "orders-outbox-publisher-role": ["arcblueprint.orders"],
        "bookings-saga-steps-role": ["arcblueprint.bookings"],
        "hooks-consumer-role": ["arcblueprint.hooks"],
    }
    # Only these roles may put events at all (their own policy, limited to their source).
    putters = {
        p.name.removesuffix("-put-events")
        for p in graph.by_type("aws:iam/rolePolicy:RolePolicy")
        if "events:PutEvents" in p.inputs["policy"]
    }
    assert putters == {"orders-outbox-publisher", "bookings-saga-steps", "hooks-consumer"}
    functions = {f.name: f.inputs["environment"]["variables"] for f in graph.by_type("aws:lambda/function:Function")}
    assert functions["hooks-consumer-function"]["EVENT_SOURCE"] == "arcblueprint.hooks"
    assert functions["orders-outbox-publisher-function"]["EVENT_BUS_NAME"] == graph.outputs["eventBusName"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_schedule_invokes_its_job_through_the_scheduler_role_with_retries_and_a_dlq(synthesized, stack):
    graph = synthesized(stack)
    spec = graph.config.services["ops"]
    by_urn = graph.by_urn()
    schedules = graph.by_type(SCHEDULE)
    assert {s.inputs["name"] for s in schedules} == {f"{graph.config.naming_prefix}-ops-{j}" for j in spec.jobs}
    [group] = graph.by_type("aws:scheduler/scheduleGroup:ScheduleGroup")
    [alias] = [a for a in graph.by_type("aws:lambda/alias:Alias") if a.name == "ops-jobs-alias-live"]
    [role] = [r for r in graph.by_type("aws:iam/role:Role") if r.name == "ops-scheduler-role"]
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {
        "Service": "scheduler.amazonaws.com"
    }
    [role_policy] = [p for p in graph.by_type("aws:iam/rolePolicy:RolePolicy") if p.name == "ops-scheduler-policy"]
    allowed = {
        s["Action"]: s["Resource"]
        for s in json.loads(role_policy.inputs["policy"])["Statement"]
        if isinstance(s["Action"], str)
    }
    for schedule in schedules:
        job = spec.jobs[schedule.inputs["name"].rsplit("-ops-", 1)[1]]
        target = schedule.inputs["target"]
        assert target["arn"] == alias.outputs["arn"] and target["roleArn"] == role.outputs["arn"]
        [dlq_urn] = [u for u in schedule.property_dependencies["target"] if by_urn[u].type == "aws:sqs/queue:Queue"]
        dlq = by_urn[dlq_urn]
        assert target["deadLetterConfig"]["arn"] == dlq.outputs["arn"] and dlq.name == "ops-schedules-dlq"
        assert target["retryPolicy"] == {
            "maximumRetryAttempts": job.maximum_retry_attempts,
            "maximumEventAgeInSeconds": job.maximum_event_age_seconds,
        }
        assert schedule.inputs["flexibleTimeWindow"] == {
            "mode": "FLEXIBLE",
            "maximumWindowInMinutes": job.flexible_window_minutes,
        }
        assert schedule.inputs["groupName"] == group.inputs["name"] and schedule.inputs["state"] == "ENABLED"
        assert json.loads(target["input"])["action"] == job.action
        # The role may invoke exactly this alias and dead-letter exactly to this queue.
        assert allowed["lambda:InvokeFunction"] == target["arn"] and allowed["sqs:SendMessage"] == dlq.outputs["arn"]
    assert any(a.name == "ops-schedules-dlq-alarm" for a in graph.by_type("aws:cloudwatch/metricAlarm:MetricAlarm"))


def _service_of(resource, graph) -> str:
    """The service a resource belongs to: the top-level component it is declared under."""
    by_urn = graph.by_urn()
    current = resource
    while current.parent and current.parent in by_urn:
        current = by_urn[current.parent]
    return current.name


def _triggers(graph):
    """Logical name -> (service, on?) for every rule, schedule and event source mapping."""
    found = {}
    for resource in graph.by_type(RULE) + graph.by_type(SCHEDULE):
        found[resource.name] = (_service_of(resource, graph), resource.inputs.get("state", "ENABLED") == "ENABLED")
    for resource in graph.by_type(MAPPING):
        found[resource.name] = (_service_of(resource, graph), resource.inputs.get("enabled", True) is not False)
    return found


def _flat(resources):
    """Inputs as text, but a function's code archive (an object the mock runtime shows by its address)."""
    return {r.urn: json.dumps({k: v for k, v in r.inputs.items() if k != "code"}, sort_keys=True) for r in resources}


def test_the_kill_switch_turns_off_every_trigger_of_its_service_and_nothing_else(synthesized):
    baseline = synthesized("prod")  # the session's cached graph: one synthesis more, not two
    services = dict(read_stack_file(REPO_ROOT, "prod")["arcblueprint:services"])
    for name in SWITCHED_OFF:
        services[name] = {**services[name], "triggersDisabled": True}
    switched = synthesize("prod", overrides={"arcblueprint:services": services})
    before, after = _triggers(baseline), _triggers(switched)
    assert before.keys() == after.keys() and all(on for _, on in before.values())
    assert {name for name, (service, _) in before.items()} and {service for service, _ in before.values()} >= set(
        SWITCHED_OFF
    )
    for name, (service, on) in after.items():
        assert on == (service not in SWITCHED_OFF), (name, service)
    # Nothing but those switches changed: every other input of every resource is the same.
    before_inputs = _flat(baseline.resources)
    changed = {urn for urn, text in _flat(switched.resources).items() if before_inputs.get(urn) != text}
    trigger_urns = {r.urn for r in switched.resources if r.name in after and after[r.name][0] in SWITCHED_OFF}
    assert changed == trigger_urns
    kinds = {r.type for r in switched.resources if r.urn in changed}
    assert kinds == {RULE, SCHEDULE, MAPPING}
