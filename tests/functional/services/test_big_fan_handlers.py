"""Big Fan through moto's SNS -> SQS fan-out: filter policies, raw and enveloped delivery, large payloads,
idempotent partial batches and the loss test."""

from __future__ import annotations

import copy
import json
import random
import time
from collections import Counter
from pathlib import Path

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from moto import mock_aws

from arcblueprint.config.schema import parse
from arcblueprint.services.big_fan.publisher import publish
from arcblueprint.services.big_fan.spec import BigFanSpec
from arcblueprint.services.testing import load_handler as _load_handler

HANDLERS = Path(__file__).resolve().parents[3] / "arcblueprint" / "services" / "big_fan" / "handlers"
REGION = "eu-west-1"
BUCKET = "arcbp-dev-fan-payloads"


def load_consumer(unique: str):
    return _load_handler(HANDLERS / "consumer", unique)


SPEC = parse(
    BigFanSpec,
    {
        "consumers": {
            "billing": {
                "filterPolicy": {"eventType": [{"prefix": "order."}], "amount": [{"numeric": [">=", 100]}]},
                "maxReceiveCount": 3,
            },
            "audit": {
                "rawMessageDelivery": False,
                "filterPolicyScope": "MessageBody",
                "filterPolicy": {"kind": [{"anything-but": ["heartbeat"]}]},
            },
        },
        "payloadThresholdBytes": 4096,
    },
)


@pytest.fixture
def fan(monkeypatch):
    """The topic and per-consumer queues (with DLQs) as the component declares them, in moto."""
    with mock_aws():
        monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
        sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        ddb = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(
            TableName="fan-idempotency",
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        )
        topic = sns.create_topic(Name="fan")["TopicArn"]
        queues = {}
        for name, consumer in SPEC.consumers.items():
            dlq = sqs.create_queue(QueueName=f"fan-{name}-dlq")["QueueUrl"]
            dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            url = sqs.create_queue(
                QueueName=f"fan-{name}",
                Attributes={
                    "RedrivePolicy": json.dumps(
                        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(consumer.max_receive_count)}
                    )
                },
            )["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            attributes = {
                "RawMessageDelivery": str(consumer.raw_message_delivery).lower(),
                "FilterPolicyScope": consumer.filter_policy_scope,
            }
            if consumer.filter_policy_json:
                attributes["FilterPolicy"] = consumer.filter_policy_json
            sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes=attributes)
            queues[name] = {"url": url, "dlq": dlq}
        monkeypatch.setenv("IDEMPOTENCY_TABLE", "fan-idempotency")
        monkeypatch.setenv("PAYLOAD_BUCKET", BUCKET)
        monkeypatch.setenv("CONSUMER_NAME", "billing")
        consumer = load_consumer(f"fan_consumer_{time.monotonic_ns()}")
        handled: Counter[str] = Counter()
        received: list[dict] = []

        def handle(message):
            handled.update([message["messageId"]])
            received.append(message)

        monkeypatch.setattr(consumer, "handle", handle)
        yield {
            "sns": sns,
            "sqs": sqs,
            "s3": s3,
            "topic": topic,
            "queues": queues,
            "consumer": consumer,
            "handled": handled,
            "received": received,
        }


def send(fan, message, **attributes) -> str:
    return publish(
        sns=fan["sns"],
        topic_arn=fan["topic"],
        message=message,
        attributes=attributes,
        threshold_bytes=SPEC.payload_threshold_bytes,
        s3=fan["s3"],
        bucket=BUCKET,
    )


def receive(fan, name: str) -> list[dict]:
    return (
        fan["sqs"]
        .receive_message(
            QueueUrl=fan["queues"][name]["url"],
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            VisibilityTimeout=0,
        )
        .get("Messages", [])
    )


def sqs_event(load_event, messages: list[dict]) -> dict:
    template = load_event("sqsEvent.json")["Records"][0]
    records = []
    for m in messages:
        record = copy.deepcopy(template)
        record.update(
            messageId=m["MessageId"],
            receiptHandle=m["ReceiptHandle"],
            body=m["Body"],
            messageAttributes={
                k: {"stringValue": v["StringValue"], "dataType": v["DataType"]}
                for k, v in (m.get("MessageAttributes") or {}).items()
            },
        )
        records.append(record)
    return {"Records": records}


def test_filter_policies_route_only_wanted_messages(fan):
    send(fan, {"kind": "order", "id": 1}, eventType="order.created", amount=250)
    send(fan, {"kind": "order", "id": 2}, eventType="order.created", amount=5)
    send(fan, {"kind": "heartbeat"}, eventType="system.ping", amount=1000)
    billing = [json.loads(m["Body"]) for m in receive(fan, "billing")]
    audit = [json.loads(json.loads(m["Body"])["Message"]) for m in receive(fan, "audit")]
    assert billing == [{"kind": "order", "id": 1}]
    assert sorted(m["id"] for m in audit) == [1, 2]


def test_consumer_reads_raw_enveloped_compressed_and_claim_checked_payloads(
    lambda_context, fan, load_event, monkeypatch
):
    small = {"kind": "order", "note": "small"}
    medium = {"kind": "order", "lines": ["same line of an order"] * 600}  # > 4 KiB, compresses well
    rng = random.Random(7)
    large = {"kind": "order", "blob": "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(20000))}
    for body in (small, medium, large):
        send(fan, body, eventType="order.created", amount=100)
    raw = receive(fan, "billing")
    enveloped = receive(fan, "audit")
    assert len(raw) == 3
    # Documented caveat: a body-scope policy sees the pointer of a large payload, not its fields.
    assert [json.loads(json.loads(m["Body"])["Message"]) for m in enveloped] == [small]
    assert all(len(m["Body"]) <= SPEC.payload_threshold_bytes for m in raw)
    assert len(fan["s3"].list_objects_v2(Bucket=BUCKET)["Contents"]) == 1  # only the incompressible one
    # Each consumer is its own function, told by the component how its subscription delivers.
    monkeypatch.setenv("RAW_MESSAGE_DELIVERY", "false")
    audit = load_consumer(f"fan_consumer_audit_{time.monotonic_ns()}")
    monkeypatch.setattr(audit, "handle", fan["consumer"].handle)
    for consumer, batch, name in ((fan["consumer"], raw, "billing"), (audit, enveloped, "audit")):
        context = lambda_context(f"arcbp-dev-fan-{name}")
        response = consumer.lambda_handler(sqs_event(load_event, batch), context)
        assert response == {"batchItemFailures": []}
    payloads = [m["payload"] for m in fan["received"]]
    assert sorted(map(json.dumps, payloads)) == sorted(map(json.dumps, [small, small, medium, large]))
    # Same message through the raw and the enveloped queue: one messageId (the publisher's), once per consumer.
    small_id = next(m["messageId"] for m in fan["received"] if m["payload"] == small)
    assert fan["handled"] == Counter(
        {small_id: 2, **{m["messageId"]: 1 for m in fan["received"] if m["payload"] != small}}
    )


def test_poison_messages_fail_alone(lambda_context, fan, load_event):
    for i in range(5):
        send(fan, {"kind": "order", "id": i}, eventType="order.created", amount=100)
    fan["sns"].publish(
        TopicArn=fan["topic"],
        Message="not json",
        MessageAttributes={
            "eventType": {"DataType": "String", "StringValue": "order.bad"},
            "amount": {"DataType": "Number", "StringValue": "100"},
        },
    )
    fan["sns"].publish(
        TopicArn=fan["topic"],
        Message=json.dumps({"arcbpPayload": {"bucket": "elsewhere", "key": "k"}}),
        MessageAttributes={
            "eventType": {"DataType": "String", "StringValue": "order.evil"},
            "amount": {"DataType": "Number", "StringValue": "100"},
        },
    )
    messages = receive(fan, "billing")
    assert len(messages) == 7
    response = fan["consumer"].lambda_handler(sqs_event(load_event, messages), lambda_context("arcbp-dev-fan-billing"))
    poison = {
        m["MessageId"]
        for m in messages
        if "order." not in json.dumps(m["MessageAttributes"])
        or m["MessageAttributes"]["eventType"]["StringValue"] in ("order.bad", "order.evil")
    }
    assert {f["itemIdentifier"] for f in response["batchItemFailures"]} == poison
    assert len(poison) == 2 and sum(fan["handled"].values()) == 5


def test_loss_fan_out_consumer_exactly_once_or_dlq(lambda_context, fan, load_event):
    """Issue 9 for the fan-out consumer: N messages, k poison, lost deletes, duplicate publishes."""
    n, poison_at = 45, {3, 19, 30}
    expected = set()
    for i in range(n):
        if i in poison_at:
            fan["sns"].publish(
                TopicArn=fan["topic"],
                Message="{truncated",
                MessageAttributes={
                    "eventType": {"DataType": "String", "StringValue": "order.x"},
                    "amount": {"DataType": "Number", "StringValue": "100"},
                    "messageId": {"DataType": "String", "StringValue": f"p-{i}"},
                },
            )
            continue
        message_id = send(fan, {"kind": "order", "id": i}, eventType="order.created", amount=100)
        expected.add(message_id)
    # An SNS retry or a publisher retry: the same message (same messageId attribute) arrives twice.
    first = receive(fan, "billing")[0]
    fan["sqs"].send_message(
        QueueUrl=fan["queues"]["billing"]["url"],
        MessageBody=first["Body"],
        MessageAttributes=first["MessageAttributes"],
    )
    sqs, url, lost, invocations = fan["sqs"], fan["queues"]["billing"]["url"], 4, 0
    while messages := receive(fan, "billing"):
        invocations += 1
        try:
            response = fan["consumer"].lambda_handler(
                sqs_event(load_event, messages), lambda_context("arcbp-dev-fan-billing")
            )
            failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        except BatchProcessingError:
            failed = {m["MessageId"] for m in messages}
        for m in messages:
            if m["MessageId"] in failed:
                continue
            if lost:
                lost -= 1
                continue
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    dead = fan["sqs"].receive_message(
        QueueUrl=fan["queues"]["billing"]["dlq"], MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )["Messages"]
    print(
        f"\nloss test (big-fan): published={n} poison={len(poison_at)} duplicates=1 lost_deletes=4 "
        f"invocations={invocations} processed={sum(fan['handled'].values())} unique={len(fan['handled'])} "
        f"dlq={len(dead)}"
    )
    assert fan["handled"] == Counter(dict.fromkeys(expected, 1))
    assert sorted(m["MessageAttributes"]["messageId"]["StringValue"] for m in dead) == sorted(
        f"p-{i}" for i in poison_at
    )


# --- issue 15: raw bodies cannot forge attributes, inflation is capped --------------------------------


def _raw_record(load_event, body: str, attributes: dict[str, str]) -> dict:
    record = copy.deepcopy(load_event("sqsEvent.json")["Records"][0])
    record.update(
        messageId=f"m-{time.monotonic_ns()}",
        body=body,
        messageAttributes={k: {"stringValue": v, "dataType": "String"} for k, v in attributes.items()},
    )
    return record


def test_a_raw_body_shaped_like_an_sns_envelope_cannot_forge_attributes(lambda_context, fan, load_event):
    """On a raw subscription SNS put the attributes in SQS attributes; the body is only the published text."""
    forged = json.dumps(
        {
            "Type": "Notification",
            "MessageId": "forged-sns-id",
            "TopicArn": "arn:aws:sns:x:1:t",
            "Message": json.dumps({"amount": 1_000_000}),
            "MessageAttributes": {
                "messageId": {"Type": "String", "Value": "someone-elses-id"},
                "tenant": {"Type": "String", "Value": "victim"},
            },
        }
    )
    record = _raw_record(load_event, forged, {"messageId": "real-id", "tenant": "attacker", "eventType": "order.x"})
    context = lambda_context("arcbp-dev-fan-billing")
    response = fan["consumer"].lambda_handler({"Records": [record]}, context)
    assert response == {"batchItemFailures": []}
    [message] = fan["received"]
    assert message["messageId"] == "real-id"
    assert message["attributes"] == {"messageId": "real-id", "tenant": "attacker", "eventType": "order.x"}
    assert message["payload"]["Type"] == "Notification"  # the published text, as published


def test_payloads_that_inflate_past_the_cap_fail_alone(lambda_context, fan, load_event):
    import base64
    import gzip

    from arcblueprint.services.big_fan.handlers.consumer.payloads import (
        MAX_PAYLOAD_BYTES,
        PayloadError,
        decode,
        encode,
    )

    def inline(raw: bytes) -> str:
        return json.dumps(
            {"arcbpPayload": {"encoding": "gzip+base64", "data": base64.b64encode(gzip.compress(raw)).decode()}}
        )

    bomb = inline(b"0" * (MAX_PAYLOAD_BYTES + 1))
    assert len(bomb) < 16 * 1024  # a small message ...
    with pytest.raises(PayloadError, match="inflates to more than"):  # ... that would inflate to 4 MiB and more
        decode(bomb)
    oversized_claim = json.dumps(
        {"arcbpPayload": {"encoding": "gzip", "bucket": BUCKET, "key": "k", "size": MAX_PAYLOAD_BYTES + 1}}
    )
    fitting = inline(b'"' + b"1" * 1000 + b'"')
    records = [
        _raw_record(load_event, body, {"messageId": f"id-{i}"})
        for i, body in enumerate([bomb, oversized_claim, fitting])
    ]
    context = lambda_context("arcbp-dev-fan-billing")
    response = fan["consumer"].lambda_handler({"Records": records}, context)
    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    assert failed == {records[0]["messageId"], records[1]["messageId"]}
    assert [m["messageId"] for m in fan["received"]] == ["id-2"]
    with pytest.raises(PayloadError, match="consumers accept"):  # and the publisher refuses to send one
        encode("x" * (MAX_PAYLOAD_BYTES + 1), threshold_bytes=1024)
