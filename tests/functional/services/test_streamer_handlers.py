"""Streamer handlers: the Firehose transformation returns valid response records without sensitive data;
the stream consumer reports exactly the poison records."""

from __future__ import annotations

import base64
import copy
import json
import sys
from pathlib import Path

import pytest

from arcblueprint.services.testing import load_handler as _load_handler

HANDLERS = Path(__file__).resolve().parents[3] / "arcblueprint" / "services" / "streamer" / "handlers"
STREAM = "arcbp-dev-lake-orders"
OTHER = "arcbp-dev-lake-payments"
RULES = {
    STREAM: {
        "domain": "orders",
        "remove": ["customer.email", "card"],
        "mask": ["customer.name"],
        "timestampField": "occurredAt",
        "unroutable": True,
    },
    OTHER: {"domain": "payments", "remove": ["card"], "mask": [], "timestampField": None, "unroutable": False},
}


def load(folder: str, unique: str):
    return _load_handler(HANDLERS / folder, unique)


@pytest.fixture
def transform(monkeypatch):
    monkeypatch.setenv("DELIVERY_STREAMS", json.dumps(RULES))
    monkeypatch.setenv("DOMAIN_FIELD", "domain")
    return load("transform", "streamer_transform")


def logs(transform, capsys, call):
    """The JSON log lines ``call()`` writes (powertools keeps one handler per service: point it at capsys)."""
    transform.logger.registered_handler.stream = sys.stdout
    capsys.readouterr()
    result = call()
    return result, [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def firehose_event(load_event, documents: list, stream: str = STREAM) -> dict:
    event = copy.deepcopy(load_event("kinesisFirehoseKinesisEvent.json"))
    template = event["records"][0]
    event["deliveryStreamArn"] = f"arn:aws:firehose:eu-west-1:111111111111:deliverystream/{stream}"
    records = []
    for i, document in enumerate(documents):
        record = copy.deepcopy(template)
        raw = document if isinstance(document, bytes) else json.dumps(document).encode()
        record.update(recordId=f"r{i}", data=base64.b64encode(raw).decode())
        records.append(record)
    event["records"] = records
    return event


def test_transformation_output_is_valid_firehose_records_without_sensitive_fields(
    lambda_context, transform, load_event
):
    documents = [
        {
            "domain": "orders",
            "id": "o-1",
            "occurredAt": "2026-03-09T23:59:59+01:00",
            "card": {"number": "4111"},
            "customer": {"email": "a@example.com", "name": "Ada", "tier": "gold"},
        },
        {"domain": "payments", "id": "p-1"},
        b"not json at all",
        {"domain": "orders", "id": "o-2", "occurredAt": 1773100800},
        {"domain": "orders", "id": "o-3", "occurredAt": "last tuesday"},
        ["a", "list"],
        {"domain": "orders", "id": "o-4"},
    ]
    event = firehose_event(load_event, documents)
    response = transform.lambda_handler(
        event, lambda_context("arcbp-dev-lake-transform", remaining_time_in_millis=60_000)
    )
    records = response["records"]
    assert [r["recordId"] for r in records] == [r["recordId"] for r in event["records"]]
    assert [r["result"] for r in records] == [
        "Ok",
        "Dropped",
        "ProcessingFailed",
        "Ok",
        "ProcessingFailed",
        "ProcessingFailed",
        "Ok",
    ]
    for sent, record in zip(event["records"], records, strict=True):
        assert set(record) <= {"recordId", "result", "data", "metadata"}
        decoded = base64.b64decode(record["data"], validate=True)
        if record["result"] != "Ok":
            assert record["data"] == sent["data"]  # Firehose keeps the original in the error output
            continue
        assert decoded.endswith(b"\n") and decoded.count(b"\n") == 1
        assert set(record["metadata"]["partitionKeys"]) == {"year", "month", "day"}
    first = json.loads(base64.b64decode(records[0]["data"]))
    assert first == {
        "domain": "orders",
        "id": "o-1",
        "occurredAt": "2026-03-09T23:59:59+01:00",
        "customer": {"name": "*****", "tier": "gold"},
    }
    assert b"4111" not in base64.b64decode(records[0]["data"]) and b"example.com" not in base64.b64decode(
        records[0]["data"]
    )
    assert records[0]["metadata"]["partitionKeys"] == {"year": "2026", "month": "03", "day": "09"}  # UTC date
    assert records[3]["metadata"]["partitionKeys"] == {"year": "2026", "month": "03", "day": "10"}
    arrival = event["records"][6]["approximateArrivalTimestamp"]
    from datetime import UTC, datetime

    day = datetime.fromtimestamp(arrival / 1000, tz=UTC)
    assert records[6]["metadata"]["partitionKeys"]["day"] == f"{day.day:02d}"


def test_unknown_delivery_stream_fails_the_invocation(lambda_context, transform, load_event):
    event = firehose_event(load_event, [{"domain": "orders"}])
    event["deliveryStreamArn"] = "arn:aws:firehose:eu-west-1:111111111111:deliverystream/someone-else"
    with pytest.raises(transform.UnknownDeliveryStreamError, match="someone-else"):
        transform.lambda_handler(event, lambda_context("arcbp-dev-lake-transform", remaining_time_in_millis=60_000))


UNROUTABLE = [
    {"id": "no-domain"},
    {"domain": 5, "id": "typed"},
    {"domain": {"name": "orders"}},
    {"domain": None},
    {"domain": "refunds", "id": "unknown-domain"},
    b"\xff\xfe not utf-8",
    b"[1, 2]",
    b"{truncated",
]


def test_unroutable_records_fail_in_exactly_one_stream_and_are_dropped_by_the_others(
    lambda_context, transform, load_event
):
    """Every Firehose sees every record: the owner of unroutable records fails them (errors/ once), the rest drop."""
    documents = [{"domain": "orders", "id": "o"}, {"domain": "payments", "id": "p"}, *UNROUTABLE]
    results = {}
    for stream in (STREAM, OTHER):
        results[stream] = [
            r["result"]
            for r in transform.lambda_handler(
                firehose_event(load_event, documents, stream),
                lambda_context("arcbp-dev-lake-transform", remaining_time_in_millis=60_000),
            )["records"]
        ]
    assert results[STREAM] == ["Ok", "Dropped", *["ProcessingFailed"] * len(UNROUTABLE)]
    assert results[OTHER] == ["Dropped", "Ok", *["Dropped"] * len(UNROUTABLE)]
    for i in range(len(documents)):  # each record delivered (Ok) or failed exactly once across the streams
        outcomes = [results[stream][i] for stream in (STREAM, OTHER)]
        assert sorted(outcomes) in (["Dropped", "Ok"], ["Dropped", "ProcessingFailed"])


def test_a_100k_deep_record_fails_alone_and_its_batch_is_delivered(lambda_context, transform, load_event, capsys):
    deep = b"[" * 100_000 + b"]" * 100_000
    nested = {"domain": "orders", "id": "deep"}
    cursor = nested
    for _ in range(200):  # parseable, but deeper than masking inspects
        cursor["x"] = {}
        cursor = cursor["x"]
    documents = [
        {"domain": "orders", "id": "a"},
        deep,
        json.dumps(nested).encode(),
        {"domain": "orders", "id": "b", "card": {"cvc": "123"}, "note": "paid 4111 1111 1111 1111"},
    ]
    response, logged = logs(
        transform,
        capsys,
        lambda: transform.lambda_handler(
            firehose_event(load_event, documents),
            lambda_context("arcbp-dev-lake-transform", remaining_time_in_millis=60_000),
        ),
    )
    records = response["records"]
    assert [r["result"] for r in records] == ["Ok", "ProcessingFailed", "ProcessingFailed", "Ok"]
    last = json.loads(base64.b64decode(records[3]["data"]))
    assert "card" not in last and last["note"] == "paid *****"  # removed by config, masked by shape
    reasons = {d["record_id"]: d["reason"] for d in logged if d.get("message") == "Record failed"}
    assert reasons == {"r1": "data is nested deeper than 64 levels", "r2": "data is nested deeper than 64 levels"}


def test_failure_reasons_never_carry_record_content(lambda_context, transform, load_event, capsys):
    documents = [{"domain": "orders", "occurredAt": "4111 1111 1111 1111"}, {"domain": "4111111111111111"}]
    response, logged = logs(
        transform,
        capsys,
        lambda: transform.lambda_handler(
            firehose_event(load_event, documents),
            lambda_context("arcbp-dev-lake-transform", remaining_time_in_millis=60_000),
        ),
    )
    assert [r["result"] for r in response["records"]] == ["ProcessingFailed", "ProcessingFailed"]
    assert [d["message"] for d in logged if "message" in d] == ["Record failed", "Record failed"]
    assert "4111" not in json.dumps(logged)


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


def test_stream_consumer_stops_at_the_first_bad_record_and_a_replay_is_a_no_op(lambda_context, load_event, monkeypatch):
    """Lambda retries a shard from the lowest failed sequence number: nothing after it is handled now
    (it would be handled twice), and a replayed record is not handled again."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
        monkeypatch.setenv("IDEMPOTENCY_TABLE", "lake-consumer-idempotency")
        boto3.client("dynamodb", region_name="eu-west-1").create_table(
            TableName="lake-consumer-idempotency",
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        )
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
        context = lambda_context("arcbp-dev-lake-consumer", remaining_time_in_millis=60_000)
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


def test_a_direct_put_stream_keeps_its_domain_and_fails_everything_else(lambda_context, monkeypatch, load_event):
    """An event domain's Firehose is written by its rule only: no other stream sees what reaches it by mistake,
    so it fails (keeps under errors/) what is not its own, and the Kinesis-reading streams treat a record of
    an event domain as unroutable."""
    events = "arcbp-dev-lake-order-events"
    rules = {
        **RULES,
        events: {"domain": "order-events", "remove": [], "mask": [], "timestampField": None, "direct": True},
    }
    rules[STREAM] = {**rules[STREAM], "direct": False}
    monkeypatch.setenv("DELIVERY_STREAMS", json.dumps(rules))
    monkeypatch.setenv("DOMAIN_FIELD", "domain")
    transform = load("transform", "streamer_transform_direct")
    event = {
        "domain": "order-events",
        "eventbridge": {"id": "e-1", "time": "2026-03-09T10:00:00Z"},
        "detail": {"id": "o-1"},
    }
    documents = [event, {"domain": "orders", "id": "o-1"}, {"id": "no-domain"}]
    out = transform.lambda_handler(firehose_event(load_event, documents, events), lambda_context())["records"]
    assert [r["result"] for r in out] == ["Ok", "ProcessingFailed", "ProcessingFailed"]
    assert json.loads(base64.b64decode(out[0]["data"]))["eventId"] == "e-1"
    on_stream = transform.lambda_handler(firehose_event(load_event, documents, STREAM), lambda_context())["records"]
    # The first stream domain fails the event domain's record (no reader of the stream claims it), once.
    assert [r["result"] for r in on_stream] == ["ProcessingFailed", "Ok", "ProcessingFailed"]
    assert transform.KNOWN_DOMAINS == {"orders", "payments"}
