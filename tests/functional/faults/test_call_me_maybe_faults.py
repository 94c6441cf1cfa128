"""The webhook consumer under injected faults (moto): each webhook reaches the bus once, or its DLQ.

Downstream calls fail at a seeded rate (throttles and connection errors): ``PutEvents`` on the bus,
the status write, and every call of the idempotency store. The event source redelivers as AWS does
(``harness.py``). Effects are the bus entries AWS accepted. Run with ``-s`` to see the numbers.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
from moto import mock_aws

from arcblueprint.services.testing import load_handler
from tests.strategies.faults import (
    Faults,
    SimulatedQueue,
    Tally,
    body_key,
    count_effects,
    expire_in_progress,
    kinesis_records,
    poll_queue,
    run_stream,
)

if TYPE_CHECKING:
    from collections import Counter

HANDLERS = Path(__file__).resolve().parents[3] / "arcblueprint" / "services" / "call_me_maybe" / "handlers"
REGION = "eu-west-1"
IDEMPOTENCY, STATUS, BUS = "hooks-idempotency", "hooks-status", "platform"
#: The spec's defaults: maxReceiveCount 5 (SQS), maximumRetryAttempts 3 (Kinesis).
MAX_RECEIVE_COUNT, MAXIMUM_RETRY_ATTEMPTS = 5, 3


@pytest.fixture
def aws(monkeypatch):
    with mock_aws():
        monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
        monkeypatch.setenv("RETRY_BASE_DELAY_MS", "0")  # no real sleep between in-place retries
        ddb = boto3.client("dynamodb", region_name=REGION)
        for table, key in ((IDEMPOTENCY, "id"), (STATUS, "webhookId")):
            ddb.create_table(
                TableName=table,
                BillingMode="PAY_PER_REQUEST",
                KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
            )
        boto3.client("events", region_name=REGION).create_event_bus(Name=BUS)
        for key, value in {
            "IDEMPOTENCY_TABLE": IDEMPOTENCY,
            "STATUS_TABLE": STATUS,
            "EVENT_BUS_NAME": BUS,
            "POWERTOOLS_SERVICE_NAME": "hooks",
            "EVENT_SOURCE": "arcblueprint.hooks",
            "BUFFER": "sqs",
        }.items():
            monkeypatch.setenv(key, value)
        yield {"ddb": ddb}


def envelope(key: str) -> str:
    return json.dumps({"webhookId": key, "receivedAt": 1, "payload": {"key": key}})


def consumer_under_faults(faults: Faults, scope: str, effects: Counter[str]):
    """The consumer with faults on its downstream calls; its accepted bus entries counted in ``effects``."""
    module = load_handler(HANDLERS / "consumer", f"cmm_faults_{time.monotonic_ns()}")
    count_effects(module.publisher.client, "PutEvents", effects, lambda entry: json.loads(entry["Detail"])["webhookId"])
    if scope == "status-write":
        faults.attach(module.dynamodb, "UpdateItem")
    else:
        faults.attach(module.publisher.client, "PutEvents")
        faults.attach(module.dynamodb, "UpdateItem")
        faults.attach(module.persistence_layer.client)
    return module


#: (what fails, share of calls, chance that a call starts an outage of its operation, seed)
SQS_CASES = [("status-write", 0.2, 0.0, 1), ("mixed", 0.4, 0.03, 3)]


@pytest.mark.parametrize(("scope", "rate", "outage_rate", "seed"), SQS_CASES)
def test_sqs_buffer_delivers_each_webhook_once_or_dead_letters_it(
    lambda_context, aws, load_event, scope, rate, outage_rate, seed
):
    faults = Faults(seed=seed, rate=rate, outage_rate=outage_rate)
    keys, poison = [f"wh-{i}" for i in range(30)], ["poison-0", "[]"]
    sent = keys + keys[::6] + poison  # the sender delivers every sixth webhook twice
    outages = f" + outages {outage_rate:.0%}" if outage_rate else ""
    tally = Tally(f"webhook consumer, sqs, {scope} faults {rate:.0%}{outages}", sent=sent, poison=set(poison))
    consumer = consumer_under_faults(faults, scope, tally.effects)
    queue = SimulatedQueue(max_receive_count=MAX_RECEIVE_COUNT)
    for key in sent:
        queue.send(key if key in poison else envelope(key))
    tally.invocations = poll_queue(
        queue,
        lambda event: consumer.lambda_handler(event, lambda_context("arcbp-dev-hooks-consumer")),
        load_event("sqsEvent.json")["Records"][0],
        after_failure=lambda: expire_in_progress(aws["ddb"], IDEMPOTENCY),
    )
    tally.dead.update(body_key(m.body, "webhookId") or m.body for m in queue.dead)
    tally.faults = faults.summary
    print("\n" + tally.report())
    assert faults.failed, "no fault was injected"
    tally.assert_exactly_once()


@pytest.mark.parametrize(("rate", "outage_rate", "seed"), [(0.2, 0.03, 4), (0.4, 0.0, 5)])
def test_kinesis_buffer_delivers_each_webhook_once_or_gives_it_up(
    lambda_context, aws, load_event, monkeypatch, rate, outage_rate, seed
):
    monkeypatch.setenv("BUFFER", "kinesis")
    kinesis = boto3.client("kinesis", region_name=REGION)
    kinesis.create_stream(StreamName="hooks-stream", ShardCount=1)
    faults = Faults(seed=seed, rate=rate, outage_rate=outage_rate)
    keys, poison = [f"wh-{i}" for i in range(30)], ["poison-0", "poison-1"]
    sent = keys[:10] + poison[:1] + keys[10:] + poison[1:] + keys[::6]
    outages = f" + outages {outage_rate:.0%}" if outage_rate else ""
    tally = Tally(f"webhook consumer, kinesis, mixed faults {rate:.0%}{outages}", sent=sent, poison=set(poison))
    consumer = consumer_under_faults(faults, "mixed", tally.effects)
    for key in sent:
        kinesis.put_record(
            StreamName="hooks-stream", PartitionKey=key, Data=(key if key in poison else envelope(key)).encode()
        )
    records = kinesis_records(kinesis, "hooks-stream", load_event("kinesisStreamEvent.json")["Records"][0])
    run = run_stream(
        records,
        lambda event: consumer.lambda_handler(event, lambda_context("arcbp-dev-hooks-consumer")),
        batch_size=10,
        maximum_retry_attempts=MAXIMUM_RETRY_ATTEMPTS,
        after_failure=lambda: expire_in_progress(aws["ddb"], IDEMPOTENCY),
    )
    tally.invocations = run.invocations
    for record in run.discarded:
        text = base64.b64decode(record["kinesis"]["data"]).decode()
        tally.dead.update([body_key(text, "webhookId") or text])
    tally.faults = faults.summary
    print("\n" + tally.report())
    assert faults.failed, "no fault was injected"
    tally.assert_exactly_once()
