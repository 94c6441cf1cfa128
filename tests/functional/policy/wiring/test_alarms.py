"""alarm-has-actions: every alarm notifies the platform topic on ALARM and OK, and CloudWatch can publish there."""

from __future__ import annotations

import json

import pytest
from pulumi_policy import PolicyResource
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from arcblueprint.policy.testing import mutated, options, run_stack, urn_of, violations_of
from arcblueprint.policy.wiring.alarms import ALARM_HAS_ACTIONS

POLICY = "alarm-has-actions"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "aws:sns/topic:Topic"
CLOUDWATCH_KEY_GRANT = "CloudWatchAlarmsPublishToEncryptedTopics"


def _alarm_count(graph) -> int:
    return len(graph.by_type(ALARM))


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_shipped_stacks_route_every_alarm_to_the_platform_topic(synthesized, stack):
    graph = synthesized(stack)
    assert violations_of(graph, POLICY) == []
    [topic] = [t for t in graph.by_type(TOPIC) if t.name == "alarms-topic"]
    alarms = graph.by_type(ALARM)
    assert alarms
    for alarm in alarms:
        assert alarm.inputs["alarmActions"] == alarm.inputs["okActions"] == [topic.outputs["arn"]], alarm.name
        assert alarm.property_dependencies["alarmActions"] == [topic.urn]
    # CodeDeploy and the CI driver still read the same alarms.
    names = {a.inputs["name"] for a in alarms}
    assert {n for release in graph.outputs["releases"].values() for n in release["alarmNames"]} <= names


def _drop(resource, *props):
    for prop in props:
        resource.inputs.pop(prop, None)
        resource.outputs.pop(prop, None)
        resource.property_dependencies.pop(prop, None)


def test_an_alarm_without_actions_is_reported_with_the_fix(synthesized):
    broken = mutated(
        synthesized("prod"), "hooks-buffer-dlq-alarm", lambda alarm: _drop(alarm, "alarmActions", "okActions")
    )
    violations = violations_of(broken, POLICY)
    assert {v.urn.rsplit("::", 1)[1] for v in violations} == {"hooks-buffer-dlq-alarm"}
    assert sorted(v.message.split(" has no ")[1].split(",")[0] for v in violations) == ["alarmActions", "okActions"]
    assert all("platform notification topic" in v.message and v.level == "mandatory" for v in violations)


def test_an_alarm_notifying_a_topic_outside_the_stack_is_reported(synthesized):
    elsewhere = "arn:aws:sns:eu-west-1:999999999999:somebody-elses-topic"

    def elsewhere_only(alarm):
        _drop(alarm, "alarmActions")
        alarm.inputs["alarmActions"] = [elsewhere]

    [violation] = violations_of(mutated(synthesized("dev"), "orders-api-alarm-errors", elsewhere_only), POLICY)
    assert violation.urn.endswith("::orders-api-alarm-errors")
    assert elsewhere in violation.message and "none is an SNS topic of this stack" in violation.message


def test_a_key_policy_without_the_cloudwatch_grant_is_reported_on_the_key(synthesized):
    graph = synthesized("prod")

    def without_grant(key):
        policy = json.loads(key.inputs["policy"])
        policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") != CLOUDWATCH_KEY_GRANT]
        key.inputs["policy"] = key.outputs["policy"] = json.dumps(policy)

    [violation] = violations_of(mutated(graph, "platform-key", without_grant), POLICY)
    assert violation.urn.endswith("::platform-key")
    assert f"which {_alarm_count(graph)} alarms notify" in violation.message
    assert "does not allow cloudwatch.amazonaws.com kms:Decrypt, kms:GenerateDataKey*" in violation.message
    assert "KMS AccessDenied" in violation.message


def test_a_key_policy_denying_cloudwatch_is_reported(synthesized):
    def org_only(key):
        policy = json.loads(key.inputs["policy"])
        policy["Statement"].append(
            {
                "Sid": "OnlyOurOrganization",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "kms:*",
                "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}},
            }
        )
        key.inputs["policy"] = key.outputs["policy"] = json.dumps(policy)

    [violation] = violations_of(mutated(synthesized("prod"), "platform-key", org_only), POLICY)
    assert violation.urn.endswith("::platform-key") and "OnlyOurOrganization" in violation.message


def test_a_topic_on_the_aws_managed_sns_key_is_reported_on_the_topic(synthesized):
    def aws_managed_key(topic):
        _drop(topic, "kmsMasterKeyId")
        topic.inputs["kmsMasterKeyId"] = "alias/aws/sns"

    [violation] = violations_of(mutated(synthesized("dev"), "alarms-topic", aws_managed_key), POLICY)
    assert violation.urn.endswith("::alarms-topic")
    assert "AWS managed key alias/aws/sns" in violation.message and "customer managed key" in violation.message


@pytest.mark.parametrize(
    ("statements", "problem"),
    [
        (lambda allow, deny: [deny], "does not allow cloudwatch.amazonaws.com sns:Publish"),
        (
            lambda allow, deny: [
                {**allow, "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:events:*:*:rule/*"}}},
                deny,
            ],
            "does not allow cloudwatch.amazonaws.com sns:Publish",
        ),
        (
            lambda allow, deny: [
                allow,
                deny,
                {
                    "Sid": "NobodyOutsideTheOrg",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "sns:Publish",
                    "Resource": "*",
                    "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}},
                },
            ],
            "denies cloudwatch.amazonaws.com sns:Publish in NobodyOutsideTheOrg",
        ),
    ],
)
def test_a_topic_policy_that_stops_cloudwatch_is_reported_on_the_topic(synthesized, statements, problem):
    def rewritten(policy):
        document = json.loads(policy.inputs["policy"])
        allow, deny = document["Statement"]
        document["Statement"] = statements(allow, deny)
        policy.inputs["policy"] = json.dumps(document)

    [violation] = violations_of(mutated(synthesized("prod"), "alarms-topic-policy", rewritten), POLICY)
    assert violation.urn.endswith("::alarms-topic")
    assert "'alarms-topic-policy'" in violation.message and problem in violation.message
    assert "aws:SourceAccount" in violation.message


def test_unknown_values_in_a_real_preview_do_not_stop_the_rule():
    """In ``pulumi preview`` the key policy and the action ARNs may be unknown: the rule judges the rest."""

    def unknown_aware(type_token, name, props, depends=None):
        return PolicyResource(
            type_token,
            unknown_checking_proxy(props),
            urn_of(type_token, name),
            name,
            options(),
            None,
            None,
            [r for rs in (depends or {}).values() for r in rs],
            dict(depends or {}),
        )

    key = unknown_aware("aws:kms/key:Key", "key", {"policy": UNKNOWN_STRING_VALUE})
    topic = unknown_aware(TOPIC, "topic", {"kmsMasterKeyId": UNKNOWN_STRING_VALUE}, {"kmsMasterKeyId": [key]})
    wired = unknown_aware(
        ALARM,
        "wired",
        {"alarmActions": [UNKNOWN_STRING_VALUE], "okActions": [UNKNOWN_STRING_VALUE]},
        {"alarmActions": [topic], "okActions": [topic]},
    )
    silent = unknown_aware(ALARM, "silent", {"actionsEnabled": True})
    recorder = run_stack(ALARM_HAS_ACTIONS, [key, topic, wired, silent])
    assert {urn.rsplit("::", 1)[1] for urn, _ in recorder.violations} == {"silent"}
    assert len(recorder.violations) == 2


def test_dev_cannot_weaken_the_rule():
    from arcblueprint.config import load
    from arcblueprint.policy.config import pack_config_for
    from arcblueprint.preview.harness import REPO_ROOT

    assert pack_config_for(load(REPO_ROOT, "dev"))[POLICY]["enforcementLevel"] == "mandatory"


def _cloudwatch_grant_condition(condition):
    def change(key):
        policy = json.loads(key.inputs["policy"])
        for statement in policy["Statement"]:
            if statement.get("Sid") == CLOUDWATCH_KEY_GRANT:
                statement["Condition"] = condition
        key.inputs["policy"] = key.outputs["policy"] = json.dumps(policy)

    return change


@pytest.mark.parametrize(
    ("condition", "reported"),
    [
        (
            {
                "StringEquals": {"aws:SourceAccount": "222222222222"},
                "ArnLike": {"aws:SourceArn": "arn:aws:cloudwatch:eu-west-1:222222222222:alarm:*"},
            },
            False,
        ),
        ({"StringEquals": {"aws:SourceAccount": "999999999999"}}, True),  # another account's alarms only
        ({"ArnLike": {"aws:SourceArn": "arn:aws:events:eu-west-1:222222222222:rule/*"}}, True),  # not an alarm
        ({"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}, True),  # not in a service's request
        ({"StringEquals": {"kms:ViaService": "sqs.eu-west-1.amazonaws.com"}}, True),
    ],
)
def test_the_key_grant_counts_only_under_conditions_an_alarm_meets(synthesized, condition, reported):
    broken = mutated(synthesized("prod"), "platform-key", _cloudwatch_grant_condition(condition))
    violations = violations_of(broken, POLICY)
    assert [v.urn.rsplit("::", 1)[1] for v in violations] == (["platform-key"] if reported else [])
    if reported:
        assert "under conditions an alarm's request meets" in violations[0].message
