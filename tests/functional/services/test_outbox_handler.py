"""The orders outbox against moto: table changes become validated events, once each, and bad ones fail alone."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from boto3.dynamodb.types import TypeSerializer
from moto import mock_aws

from arcblueprint.services.testing import load_handler

HANDLER = Path(__file__).resolve().parents[3] / "arcblueprint" / "services" / "comfortable_rest" / "handlers" / "outbox"
REGION = "eu-west-1"
BUS = "arcbp-dev-bus"
_serialize = TypeSerializer().serialize


def image(item):
    return {k: _serialize(v) for k, v in item.items()}


def record(name, new, old=None, sequence="1"):
    change = {
        "Keys": {"id": {"S": new["id"]}},
        "NewImage": image(new),
        "SequenceNumber": sequence,
        "SizeBytes": 100,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if old is not None:
        change["OldImage"] = image(old)
    return {
        "eventID": f"e-{sequence}",
        "eventName": name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": change,
        "eventSourceARN": f"arn:aws:dynamodb:{REGION}:111111111111:table/arcbp-dev-orders-orders/stream/x",
    }


ITEM = {
    "id": "o-1",
    "owner": "user-1",
    "name": "tea",
    "quantity": 2,
    "version": 1,
    "createdAt": "2026-01-31T10:00:00.000+00:00",
    "updatedAt": "2026-01-31T10:00:00.000+00:00",
}


@pytest.fixture
def outbox(monkeypatch):
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(
            TableName="orders-outbox-idempotency",
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        )
        events = boto3.client("events", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        events.create_event_bus(Name=BUS)
        url = sqs.create_queue(QueueName="orders-events")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="orders", EventBusName=BUS, EventPattern=json.dumps({"source": ["arcblueprint.orders"]}))
        events.put_targets(Rule="orders", EventBusName=BUS, Targets=[{"Id": "q", "Arn": arn}])
        for key, value in {
            "EVENT_BUS_NAME": BUS,
            "EVENT_SOURCE": "arcblueprint.orders",
            "OUTBOX_EVENTS": json.dumps({"INSERT": "OrderCreated", "MODIFY": "OrderUpdated"}),
            "IDEMPOTENCY_TABLE": "orders-outbox-idempotency",
        }.items():
            monkeypatch.setenv(key, value)
        module = load_handler(HANDLER, f"outbox_{id(monkeypatch)}")

        def published():
            found = []
            while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
                found += [json.loads(m["Body"]) for m in batch]
                for m in batch:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            return found

        yield module, published


def test_inserts_and_updates_become_created_and_updated_events_with_the_item(lambda_context, outbox):
    module, published = outbox
    updated = {**ITEM, "quantity": 3, "version": 2, "updatedAt": "2026-01-31T11:00:00.000+00:00"}
    response = module.lambda_handler(
        {"Records": [record("INSERT", ITEM), record("MODIFY", updated, ITEM, "2")]}, lambda_context()
    )
    assert response == {"batchItemFailures": []}
    created, update = published()
    assert (created["detail-type"], created["detail"]) == ("OrderCreated", ITEM)
    assert update["detail-type"] == "OrderUpdated"
    assert update["detail"] == {**updated, "previousVersion": 1} and isinstance(update["detail"]["quantity"], int)


def test_a_change_is_published_once_however_often_the_stream_delivers_it(lambda_context, outbox):
    module, published = outbox
    batch = {"Records": [record("INSERT", ITEM)]}
    module.lambda_handler(batch, lambda_context())
    module.lambda_handler(batch, lambda_context())  # a retried batch, or a replayed shard
    assert [e["detail"]["id"] for e in published()] == ["o-1"]


def test_a_change_that_breaks_the_contract_fails_alone_and_nothing_else_is_lost(lambda_context, outbox):
    module, published = outbox
    bad = {**ITEM, "id": "o-2", "quantity": -5}
    response = module.lambda_handler(
        {"Records": [record("INSERT", bad, sequence="7"), record("INSERT", {**ITEM, "id": "o-3"}, sequence="8")]},
        lambda_context(),
    )
    # The bad record is reported (Lambda retries it alone, then describes it in the on-failure queue).
    assert response == {"batchItemFailures": [{"itemIdentifier": "7"}]}
    assert [e["detail"]["id"] for e in published()] == ["o-3"]


def test_a_write_that_is_not_a_new_version_and_deletions_publish_nothing(lambda_context, outbox):
    module, published = outbox
    same_version = {**ITEM, "name": "backfilled"}
    removal = record("INSERT", ITEM)
    removal["eventName"] = "REMOVE"
    module.lambda_handler({"Records": [record("MODIFY", same_version, ITEM), removal]}, lambda_context())
    assert published() == []
