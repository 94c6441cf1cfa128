"""Streamer handlers: the Firehose transformation returns valid response records without sensitive data;
the stream consumer reports exactly the poison records."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path

import pytest

from arcblueprint.services.testing import LambdaContext, load_handler as _load_handler

HANDLERS = Path(__file__).resolve().parents[3] / "arcblueprint" / "services" / "streamer" / "handlers"
STREAM = "arcbp-dev-lake-orders"
RULES = {STREAM: {"domain": "orders", "remove": ["customer.email", "card"], "mask": ["customer.name"],
                  "timestampField": "occurredAt"}}




def load(folder: str, unique: str):
    return _load_handler(HANDLERS / folder, unique)


@pytest.fixture
def transform(monkeypatch):
    monkeypatch.setenv("DELIVERY_STREAMS", json.dumps(RULES))
    monkeypatch.setenv("DOMAIN_FIELD", "domain")
    return load("transform", "streamer_transform")


def firehose_event(load_event, documents: list) -> dict:
    event = copy.deepcopy(load_event("kinesisFirehoseKinesisEvent.json"))
    template = event["records"][0]
    event["deliveryStreamArn"] = f"arn:aws:firehose:eu-west-1:111111111111:deliverystream/{STREAM}"
    records = []
    for i, document in enumerate(documents):
        record = copy.deepcopy(template)
        raw = document if isinstance(document, bytes) else json.dumps(document).encode()
        record.update(recordId=f"r{i}", data=base64.b64encode(raw).decode())
        records.append(record)
    event["records"] = records
    return event


def test_transformation_output_is_valid_firehose_records_without_sensitive_fields(transform, load_event):
    documents = [
        {"domain": "orders", "id": "o-1", "occurredAt": "2026-03-09T23:59:59+01:00", "card": {"number": "4111"},
         "customer": {"email": "a@example.com", "name": "Ada", "tier": "gold"}},
        {"domain": "payments", "id": "p-1"},
        b"not json at all",
        {"domain": "orders", "id": "o-2", "occurredAt": 1773100800},
        {"domain": "orders", "id": "o-3", "occurredAt": "last tuesday"},
        ["a", "list"],
        {"domain": "orders", "id": "o-4"},
    ]
    event = firehose_event(load_event, documents)
    response = transform.lambda_handler(event, LambdaContext(function_name="arcbp-dev-lake-transform", remaining_time_in_millis=60_000))
    records = response["records"]
    assert [r["recordId"] for r in records] == [r["recordId"] for r in event["records"]]
    assert [r["result"] for r in records] == ["Ok", "Dropped", "ProcessingFailed", "Ok", "ProcessingFailed",
                                              "ProcessingFailed", "Ok"]
    for sent, record in zip(event["records"], records, strict=True):
        assert set(record) <= {"recordId", "result", "data", "metadata"}
        decoded = base64.b64decode(record["data"], validate=True)
        if record["result"] != "Ok":
            assert record["data"] == sent["data"]  # Firehose keeps the original in the error output
            continue
        assert decoded.endswith(b"\n") and decoded.count(b"\n") == 1
        assert set(record["metadata"]["partitionKeys"]) == {"year", "month", "day"}
    first = json.loads(base64.b64decode(records[0]["data"]))
    assert first == {"domain": "orders", "id": "o-1", "occurredAt": "2026-03-09T23:59:59+01:00",
                     "customer": {"name": "*****", "tier": "gold"}}
    assert b"4111" not in base64.b64decode(records[0]["data"]) and b"example.com" not in base64.b64decode(records[0]["data"])
    assert records[0]["metadata"]["partitionKeys"] == {"year": "2026", "month": "03", "day": "09"}  # UTC date
    assert records[3]["metadata"]["partitionKeys"] == {"year": "2026", "month": "03", "day": "10"}
    arrival = event["records"][6]["approximateArrivalTimestamp"]
    from datetime import UTC, datetime

    day = datetime.fromtimestamp(arrival / 1000, tz=UTC)
    assert records[6]["metadata"]["partitionKeys"]["day"] == f"{day.day:02d}"


def test_unknown_delivery_stream_fails_the_invocation(transform, load_event):
    event = firehose_event(load_event, [{"domain": "orders"}])
    event["deliveryStreamArn"] = "arn:aws:firehose:eu-west-1:111111111111:deliverystream/someone-else"
    with pytest.raises(RuntimeError, match="someone-else"):
        transform.lambda_handler(event, LambdaContext(function_name="arcbp-dev-lake-transform", remaining_time_in_millis=60_000))


def test_masking_ships_once_in_each_zip_that_uses_it():
    """masking.py lives once (handler_lib) and sits at the zip root of both functions that import it."""
    import io
    import zipfile

    from arcblueprint.platform.functions.packaging import package_zip

    services = HANDLERS.parents[1]
    for folder in (HANDLERS / "transform", services / "call_me_maybe" / "handlers" / "receiver"):
        names = zipfile.ZipFile(io.BytesIO(package_zip(folder))).namelist()
        assert "masking.py" in names and "app.py" in names and "shared.txt" not in names
    assert not list(services.glob("*/handlers/*/masking.py"))


def test_stream_consumer_stops_at_the_first_bad_record_and_a_replay_is_a_no_op(load_event, monkeypatch):
    """Lambda retries a shard from the lowest failed sequence number: nothing after it is handled now
    (it would be handled twice), and a replayed record is not handled again."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
        monkeypatch.setenv("IDEMPOTENCY_TABLE", "lake-consumer-idempotency")
        boto3.client("dynamodb", region_name="eu-west-1").create_table(
            TableName="lake-consumer-idempotency", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
        consumer = load("consumer", "streamer_consumer")
        seen = []
        monkeypatch.setattr(consumer, "handle", lambda document: seen.append(document["id"]))
        template = load_event("kinesisStreamEvent.json")["Records"][0]
        records = []
        bodies = [{"domain": "orders", "id": 1}, "garbage", {"id": 2}, {"domain": "orders", "id": 3}]
        for i, body in enumerate(bodies):
            record = copy.deepcopy(template)
            raw = body if isinstance(body, str) else json.dumps(body)
            record["kinesis"]["data"] = base64.b64encode(raw.encode()).decode()
            record["kinesis"]["sequenceNumber"] = f"4960{i:040d}"
            record["eventID"] = f"shardId-000000000006:4960{i:040d}"
            records.append(record)
        context = LambdaContext(function_name="arcbp-dev-lake-consumer", remaining_time_in_millis=60_000)
        response = consumer.lambda_handler({"Records": records}, context)
        assert response["batchItemFailures"] == [{"itemIdentifier": records[1]["kinesis"]["sequenceNumber"]}]
        assert seen == [1]
        # The whole batch again (the invocation timed out after the first record): 1 is not handled twice.
        assert consumer.lambda_handler({"Records": records}, context) == response
        # The retry from the checkpoint starts with the bad record: the invocation fails, so Lambda bisects it.
        with pytest.raises(consumer.StreamBatchError):
            consumer.lambda_handler({"Records": records[1:]}, context)
        assert consumer.lambda_handler({"Records": records[3:]}, context) == {"batchItemFailures": []}
        assert seen == [1, 3]
