"""The alarm notification topic under the mock runtime: encrypted with a key CloudWatch may use, a policy
that admits this account's alarms only, one subscription per configured endpoint with a DLQ."""

from __future__ import annotations

import json

import pytest

from arcblueprint.config.schema import ConfigError
from arcblueprint.platform.encryption import EncryptionKey, EncryptionKeyArgs
from arcblueprint.platform.notifications import AlarmNotifications, AlarmNotificationsArgs

EMAILS = ["oncall@example.com", "platform@example.com"]
HOOKS = ["https://alerts.example.com/sns/prod"]


def program(context) -> None:
    key = EncryptionKey("platform", EncryptionKeyArgs(context=context))
    AlarmNotifications("alarms", AlarmNotificationsArgs(context=context, kms_key_arn=key.arn))


def notifications(emails, hooks):
    return {"arcblueprint:notifications": {"emails": list(emails), "httpsEndpoints": list(hooks)}}


@pytest.fixture(scope="module")
def graph(run_component, stack_values):
    return run_component(program, "prod", values=stack_values("prod", notifications(EMAILS, HOOKS)), preview=False)


def _one(graph, type_token):
    [resource] = graph.by_type(type_token)
    return resource


def test_the_topic_is_encrypted_with_a_key_cloudwatch_may_use(graph):
    key, topic = _one(graph, "aws:kms/key:Key"), _one(graph, "aws:sns/topic:Topic")
    assert topic.inputs["kmsMasterKeyId"] == key.outputs["arn"]
    assert topic.protect, "replacing the topic would drop every confirmed subscription"
    [grant] = [
        s
        for s in json.loads(key.inputs["policy"])["Statement"]
        if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert grant["Effect"] == "Allow" and sorted(grant["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]


def test_the_topic_policy_admits_this_accounts_alarms_and_refuses_plain_http(graph):
    topic, policy = _one(graph, "aws:sns/topic:Topic"), _one(graph, "aws:sns/topicPolicy:TopicPolicy")
    assert policy.inputs["arn"] == topic.outputs["arn"]
    allow, deny = json.loads(policy.inputs["policy"])["Statement"]
    assert allow["Resource"] == deny["Resource"] == topic.outputs["arn"]  # written from the name, known in preview
    assert (allow["Effect"], allow["Principal"], allow["Action"]) == (
        "Allow",
        {"Service": "cloudwatch.amazonaws.com"},
        "sns:Publish",
    )
    assert allow["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "222222222222"},
        "ArnLike": {"aws:SourceArn": "arn:aws:cloudwatch:eu-west-1:222222222222:alarm:*"},
    }
    assert (deny["Effect"], deny["Principal"], deny["Condition"]) == (
        "Deny",
        "*",
        {"Bool": {"aws:SecureTransport": "false"}},
    )
    # Every topic action, not just Publish: subscribing or changing the topic over HTTP is refused too.
    assert {"sns:Publish", "sns:Subscribe", "sns:SetTopicAttributes", "sns:AddPermission"} <= set(deny["Action"])


def test_each_endpoint_is_subscribed_with_the_dead_letter_queue(graph):
    topic, dlq = _one(graph, "aws:sns/topic:Topic"), _one(graph, "aws:sqs/queue:Queue")
    subscriptions = graph.by_type("aws:sns/topicSubscription:TopicSubscription")
    assert sorted((s.inputs["protocol"], s.inputs["endpoint"]) for s in subscriptions) == sorted(
        [("email", e) for e in EMAILS] + [("https", h) for h in HOOKS]
    )
    for subscription in subscriptions:
        assert subscription.inputs["topic"] == topic.outputs["arn"]
        assert json.loads(subscription.inputs["redrivePolicy"]) == {"deadLetterTargetArn": dlq.outputs["arn"]}
    assert dlq.inputs["messageRetentionSeconds"] == 14 * 86400 and dlq.inputs["kmsMasterKeyId"]
    assert json.loads(dlq.inputs["redriveAllowPolicy"]) == {"redrivePermission": "denyAll"}
    statements = json.loads(_one(graph, "aws:sqs/queuePolicy:QueuePolicy").inputs["policy"])["Statement"]
    [send] = [s for s in statements if s["Effect"] == "Allow"]
    assert send["Condition"] == {"ArnEquals": {"aws:SourceArn": topic.outputs["arn"]}}
    assert send["Resource"] == dlq.outputs["arn"]


def test_undelivered_notifications_raise_an_alarm_that_notifies_the_topic(graph):
    topic, dlq = _one(graph, "aws:sns/topic:Topic"), _one(graph, "aws:sqs/queue:Queue")
    alarm = _one(graph, "aws:cloudwatch/metricAlarm:MetricAlarm")
    assert alarm.inputs["dimensions"] == {"QueueName": dlq.outputs["name"]}
    assert alarm.inputs["alarmActions"] == alarm.inputs["okActions"] == [topic.outputs["arn"]]


def test_reordering_endpoints_replaces_no_subscription(run_component, stack_values, graph):
    reordered = run_component(
        program, "prod", preview=False, values=stack_values("prod", notifications(reversed(EMAILS), HOOKS))
    )

    def urns(g):
        return sorted(s.urn for s in g.by_type("aws:sns/topicSubscription:TopicSubscription"))

    assert urns(reordered) == urns(graph)


def test_a_stack_without_subscribers_is_a_one_line_config_error(run_component, stack_values):
    with pytest.raises(
        ConfigError,
        match=r"^notifications is invalid.*: must list at least one of emails, "
        r"httpsEndpoints: every alarm notifies this topic",
    ):
        run_component(program, "dev", values=stack_values("dev", notifications([], [])))
