"""The Big Fan consumer under injected faults (moto): each message's effect happens once, or it is dead-lettered.

Messages are published with the real publisher (small, compressed and claim-checked in S3) and
arrive raw, as SNS delivers them to a raw subscription. The consumer's business effect publishes
one event per message; that call, the claim-check ``GetObject`` and every call of the idempotency
store fail at a seeded rate. Run with ``-s`` to see the numbers.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from arcblueprint.services.big_fan.publisher import publish
from arcblueprint.services.testing import load_handler
from tests.strategies.faults import Faults, SimulatedQueue, Tally, count_effects, expire_in_progress, poll_queue

HANDLERS = Path(__file__).resolve().parents[3] / "arcblueprint" / "services" / "big_fan" / "handlers"
REGION = "eu-west-1"
BUCKET, IDEMPOTENCY = "arcbp-dev-fan-payloads", "fan-idempotency"
THRESHOLD_BYTES = 4096
MAX_RECEIVE_COUNT = 3  # the spec's default for a consumer


class RawSubscription:
    """What SNS hands a raw-delivery SQS subscription: the published body, its attributes as SQS attributes."""

    def __init__(self, queue: SimulatedQueue) -> None:
        self.queue = queue

    def publish(self, *, TopicArn: str, Message: str, MessageAttributes: dict[str, Any]) -> None:  # noqa: N803
        self.queue.send(
            Message,
            {
                name: {"stringValue": a["StringValue"], "dataType": a["DataType"]}
                for name, a in MessageAttributes.items()
            },
        )


@pytest.fixture
def aws(monkeypatch):
    with mock_aws():
        monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
        monkeypatch.setenv("RETRY_BASE_DELAY_MS", "0")  # no real sleep between in-place retries
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        ddb = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(
            TableName=IDEMPOTENCY,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        )
        for key, value in {
            "IDEMPOTENCY_TABLE": IDEMPOTENCY,
            "PAYLOAD_BUCKET": BUCKET,
            "CONSUMER_NAME": "billing",
            "RAW_MESSAGE_DELIVERY": "true",
        }.items():
            monkeypatch.setenv(key, value)
        yield {"s3": s3, "ddb": ddb}


@pytest.mark.parametrize(("rate", "outage_rate", "seed"), [(0.2, 0.0, 11), (0.4, 0.03, 12)])
def test_each_message_takes_effect_once_or_is_dead_lettered(
    lambda_context, aws, load_event, monkeypatch, rate, outage_rate, seed
):
    faults = Faults(seed=seed, rate=rate, outage_rate=outage_rate)
    consumer = load_handler(HANDLERS / "consumer", f"fan_faults_{time.monotonic_ns()}")
    effects: Counter[str] = Counter()
    downstream = boto3.client("events", region_name=REGION)
    count_effects(downstream, "PutEvents", effects, lambda entry: json.loads(entry["Detail"])["messageId"])

    def handle(message: dict[str, Any]) -> None:  # this consumer's business effect: one call downstream
        response = downstream.put_events(
            Entries=[
                {
                    "Source": "billing",
                    "DetailType": "OrderBilled",
                    "Detail": json.dumps({"messageId": message["messageId"]}),
                }
            ]
        )
        if response["FailedEntryCount"]:
            raise RuntimeError("downstream rejected the event")

    monkeypatch.setattr(consumer, "handle", handle)
    faults.attach(downstream, "PutEvents")
    faults.attach(consumer.s3, "GetObject")
    faults.attach(consumer.persistence_layer.client)

    queue = SimulatedQueue(max_receive_count=MAX_RECEIVE_COUNT)
    subscription = RawSubscription(queue)
    rng = random.Random(seed)
    sent = []
    for i in range(30):
        body: dict[str, Any] = {"kind": "order", "id": i}
        if i % 10 == 3:  # compressible: gzip inline
            body["lines"] = ["the same order line"] * 400
        if i % 10 == 7:  # incompressible: claim-checked in S3
            body["blob"] = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(8000))
        sent.append(
            publish(
                sns=subscription,
                topic_arn="arn:aws:sns:eu-west-1:111111111111:fan",
                message=body,
                attributes={"eventType": "order.created", "amount": 100},
                threshold_bytes=THRESHOLD_BYTES,
                s3=aws["s3"],
                bucket=BUCKET,
            )
        )
    for message in list(queue.visible)[::6]:  # an SNS retry: the same message (same messageId) again
        queue.send(message.body, message.attributes)
        sent.append(message.attributes["messageId"]["stringValue"])
    poison = ["p-0", "p-1"]
    for key in poison:
        queue.send("{truncated", {"messageId": {"stringValue": key, "dataType": "String"}})
    sent += poison

    outages = f" + outages {outage_rate:.0%}" if outage_rate else ""
    tally = Tally(
        f"big fan consumer, raw, mixed faults {rate:.0%}{outages}", sent=sent, poison=set(poison), effects=effects
    )
    tally.invocations = poll_queue(
        queue,
        lambda event: consumer.lambda_handler(event, lambda_context("arcbp-dev-fan-billing")),
        load_event("sqsEvent.json")["Records"][0],
        after_failure=lambda: expire_in_progress(aws["ddb"], IDEMPOTENCY),
    )
    tally.dead.update(m.attributes["messageId"]["stringValue"] for m in queue.dead)
    tally.faults = faults.summary
    print("\n" + tally.report())
    assert faults.failed, "no fault was injected"
    tally.assert_exactly_once()
