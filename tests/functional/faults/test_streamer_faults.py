"""The streamer's Kinesis consumer under injected faults (moto): each record's effect happens once, or the
record is given up to the on-failure destination.

Lambda retries a shard from the lowest failed sequence number and bisects on a function error
(``harness.run_stream``). The consumer's business effect publishes one event per record; that call
and every call of the idempotency store fail at a seeded rate. Run with ``-s`` to see the numbers.
"""

from __future__ import annotations

import base64
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from arcblueprint.services.testing import load_handler
from tests.strategies.faults import (
    Faults,
    Tally,
    body_key,
    count_effects,
    expire_in_progress,
    kinesis_records,
    run_stream,
)

HANDLERS = Path(__file__).resolve().parents[3] / "arcblueprint" / "services" / "streamer" / "handlers"
REGION = "eu-west-1"
IDEMPOTENCY, STREAM = "lake-consumer-idempotency", "arcbp-dev-lake"
MAXIMUM_RETRY_ATTEMPTS = 3  # the spec's default


@pytest.fixture
def aws(monkeypatch):
    with mock_aws():
        monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
        monkeypatch.setenv("RETRY_BASE_DELAY_MS", "0")  # no real sleep between in-place retries
        ddb = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(
            TableName=IDEMPOTENCY,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        )
        kinesis = boto3.client("kinesis", region_name=REGION)
        kinesis.create_stream(StreamName=STREAM, ShardCount=1)
        variables = {"IDEMPOTENCY_TABLE": IDEMPOTENCY, "DOMAIN_FIELD": "domain", "CONSUMER_DOMAINS": "orders"}
        for key, value in variables.items():
            monkeypatch.setenv(key, value)
        yield {"ddb": ddb, "kinesis": kinesis}


#: (records, share of failing calls, seed): 1% as in the review that found the replays, and 40%.
CASES = [(60, 0.01, 21), (30, 0.4, 23)]


@pytest.mark.parametrize(("records", "rate", "seed"), CASES)
def test_each_record_takes_effect_once_or_is_given_up(
    lambda_context, aws, load_event, monkeypatch, records, rate, seed
):
    faults = Faults(seed=seed, rate=rate)
    consumer = load_handler(HANDLERS / "consumer", f"streamer_faults_{time.monotonic_ns()}")
    effects: Counter[str] = Counter()
    downstream = boto3.client("events", region_name=REGION)
    count_effects(downstream, "PutEvents", effects, lambda entry: json.loads(entry["Detail"])["id"])

    def handle(document: dict[str, Any]) -> None:  # this consumer's business effect: one call downstream
        response = downstream.put_events(
            Entries=[{"Source": "lake", "DetailType": "OrderSeen", "Detail": json.dumps({"id": document["id"]})}]
        )
        if response["FailedEntryCount"]:
            raise RuntimeError("downstream rejected the event")

    monkeypatch.setattr(consumer, "handle", handle)
    faults.attach(downstream, "PutEvents")
    if hasattr(consumer, "persistence_layer"):
        faults.attach(consumer.persistence_layer.client)

    keys = [f"o-{i}" for i in range(records)]
    poison = ["garbage-0", "garbage-1"]
    sent = keys[: records // 3] + poison[:1] + keys[records // 3 :] + poison[1:]
    for key in sent:
        data = key if key in poison else json.dumps({"domain": "orders", "id": key})
        aws["kinesis"].put_record(StreamName=STREAM, PartitionKey=key, Data=data.encode())
    stream = kinesis_records(aws["kinesis"], STREAM, load_event("kinesisStreamEvent.json")["Records"][0])

    tally = Tally(f"streamer kinesis consumer, faults {rate:.0%}", sent=sent, poison=set(poison), effects=effects)
    run = run_stream(
        stream,
        lambda event: consumer.lambda_handler(event, lambda_context("arcbp-dev-lake-consumer")),
        batch_size=20,
        maximum_retry_attempts=MAXIMUM_RETRY_ATTEMPTS,
        after_failure=lambda: expire_in_progress(aws["ddb"], IDEMPOTENCY),
    )
    tally.invocations = run.invocations
    for record in run.discarded:
        text = base64.b64decode(record["kinesis"]["data"]).decode()
        tally.dead.update([body_key(text, "id") or text])
    tally.faults = faults.summary
    print("\n" + tally.report())
    tally.assert_exactly_once()
