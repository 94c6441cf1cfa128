"""Big Fan under the mock runtime: API -> SNS direct integration with a publish-only role, KMS topic,
per-consumer queues with filter policies, subscription DLQs, queue policies, consumers."""

from __future__ import annotations

import json

import pytest

SPEC = {
    "consumers": {
        "billing": {
            "filterPolicy": {"eventType": [{"prefix": "order."}], "amount": [{"numeric": [">=", 100]}]},
            "maximumConcurrency": 4,
        },
        "audit": {
            "rawMessageDelivery": False,
            "filterPolicyScope": "MessageBody",
            "filterPolicy": {"detail": {"kind": [{"anything-but": ["heartbeat"]}]}},
        },
        "search-index": {},
    },
    "attributeHeaders": {"eventType": "X-Event-Type", "tenant": "X-Tenant"},
}


@pytest.fixture(scope="module", params=["dev", "prod"])
def graph(request, run_component, service_program):
    return run_component(service_program("fan", "big-fan", SPEC), stack=request.param, preview=False)


def test_api_publishes_to_sns_directly_with_a_publish_only_role(graph):
    assert not [f for f in graph.by_type("aws:lambda/function:Function") if "api" in f.name]
    [integration] = graph.by_type("aws:apigateway/integration:Integration")
    [topic] = graph.by_type("aws:sns/topic:Topic")
    assert integration.inputs["type"] == "AWS" and integration.inputs["uri"].endswith(":sns:action/Publish")
    template = integration.inputs["requestTemplates"]["application/json"]
    assert template.startswith("Action=Publish&TopicArn=$util.urlEncode('" + topic.outputs["arn"] + "')")
    assert "Name=tenant" in template and "$input.params('X-Tenant')" in template and "\n" not in template
    [role] = [r for r in graph.by_type("aws:iam/role:Role") if r.name == "fan-api-role"]
    assert integration.inputs["credentials"] == role.outputs["arn"]
    [policy] = [p for p in graph.by_type("aws:iam/rolePolicy:RolePolicy") if p.name == "fan-api-publish"]
    statements = json.loads(policy.inputs["policy"])["Statement"]
    assert statements[0] == {
        "Sid": "PublishToTheTopic",
        "Effect": "Allow",
        "Action": "sns:Publish",
        "Resource": topic.outputs["arn"],
    }
    assert statements[1]["Action"] == ["kms:GenerateDataKey", "kms:Decrypt"]
    [method] = graph.by_type("aws:apigateway/method:Method")
    assert method.inputs["authorization"] == "AWS_IAM" and method.inputs["requestValidatorId"]


def test_topic_is_encrypted(graph):
    [topic] = graph.by_type("aws:sns/topic:Topic")
    assert topic.inputs["kmsMasterKeyId"].startswith("arn:aws:kms:")


def test_each_consumer_has_a_filtered_subscription_with_its_own_dlqs(graph):
    subscriptions = {s.name: s for s in graph.by_type("aws:sns/topicSubscription:TopicSubscription")}
    assert set(subscriptions) == {"fan-billing-subscription", "fan-audit-subscription", "fan-search-index-subscription"}
    queues = {q.name: q for q in graph.by_type("aws:sqs/queue:Queue")}
    billing = subscriptions["fan-billing-subscription"].inputs
    assert json.loads(billing["filterPolicy"]) == SPEC["consumers"]["billing"]["filterPolicy"]
    assert billing["filterPolicyScope"] == "MessageAttributes" and billing["rawMessageDelivery"] is True
    assert billing["endpoint"] == queues["fan-billing-queue"].outputs["arn"]
    assert json.loads(billing["redrivePolicy"]) == {
        "deadLetterTargetArn": queues["fan-billing-undelivered"].outputs["arn"]
    }
    audit = subscriptions["fan-audit-subscription"].inputs
    assert audit["filterPolicyScope"] == "MessageBody" and audit["rawMessageDelivery"] is False
    assert "filterPolicy" not in subscriptions["fan-search-index-subscription"].inputs
    for consumer in ("billing", "audit", "search-index"):
        source, dlq = queues[f"fan-{consumer}-queue"].inputs, queues[f"fan-{consumer}-dlq"]
        assert json.loads(source["redrivePolicy"])["deadLetterTargetArn"] == dlq.outputs["arn"]
        # A dead-lettered message keeps its first enqueue time: the DLQ must keep it longer than the queue did.
        assert dlq.inputs["messageRetentionSeconds"] == 14 * 86400 > source["messageRetentionSeconds"]
    alarms = {a.name: a.inputs for a in graph.by_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert {"fan-billing-dlq-alarm", "fan-billing-undelivered-alarm"} <= set(alarms)
    topic = f"arn:aws:sns:{graph.config.region}:{graph.config.account_id}:{graph.config.naming_prefix}-alarms"
    assert all(a["alarmActions"] == a["okActions"] == [topic] for a in alarms.values())


def test_only_the_topic_may_send_to_consumer_queues(graph):
    [topic] = graph.by_type("aws:sns/topic:Topic")
    queues = {q.outputs["url"]: q for q in graph.by_type("aws:sqs/queue:Queue")}
    for policy in graph.by_type("aws:sqs/queuePolicy:QueuePolicy"):
        queue = queues[policy.inputs["queueUrl"]]
        statements = json.loads(policy.inputs["policy"])["Statement"]
        allows = [s for s in statements if s["Effect"] == "Allow"]
        if queue.name.endswith(("-queue", "-undelivered")):
            assert allows == [
                {
                    "Sid": "OnlyTheTopicSends",
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue.outputs["arn"],
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic.outputs["arn"]}},
                }
            ]
        else:
            assert allows == []


def test_consumers_report_partial_failures_and_read_claim_checks(graph):
    mappings = {m.name: m for m in graph.by_type("aws:lambda/eventSourceMapping:EventSourceMapping")}
    assert len(mappings) == 3
    assert mappings["fan-billing-queue"].inputs["scalingConfig"] == {"maximumConcurrency": 4}
    assert all(m.inputs["functionResponseTypes"] == ["ReportBatchItemFailures"] for m in mappings.values())
    [bucket] = graph.by_type("aws:s3/bucket:Bucket")
    functions = [f for f in graph.by_type("aws:lambda/function:Function")]
    assert len(functions) == 3
    for function in functions:
        assert function.inputs["environment"]["variables"]["PAYLOAD_BUCKET"] == bucket.outputs["bucket"]
    # Each consumer knows how its subscription delivers: only a non-raw body is an SNS envelope.
    raw = {
        f.name.removeprefix("fan-").removesuffix("-function"): f.inputs["environment"]["variables"][
            "RAW_MESSAGE_DELIVERY"
        ]
        for f in functions
    }
    subscriptions = {
        s.name.removeprefix("fan-").removesuffix("-subscription"): s.inputs["rawMessageDelivery"]
        for s in graph.by_type("aws:sns/topicSubscription:TopicSubscription")
    }
    assert raw == {"billing": "true", "audit": "false", "search-index": "true"}
    assert {name: value == "true" for name, value in raw.items()} == subscriptions
    [lifecycle] = graph.by_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    assert lifecycle.inputs["rules"][0]["expiration"] == {"days": 14}


def test_the_publish_stage_waits_for_the_account_role_setting_and_has_no_usage_plan(graph):
    [account] = graph.by_type("aws:apigateway/account:Account")
    logging = [
        *graph.by_type("aws:apigateway/stage:Stage"),
        *graph.by_type("aws:apigateway/methodSettings:MethodSettings"),
    ]
    assert logging and all(account.urn in r.dependencies for r in logging)
    assert graph.by_type("aws:apigateway/usagePlan:UsagePlan") == []  # publishers sign with IAM; stage throttles
