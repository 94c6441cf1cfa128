"""Consumers tested on events drawn from the producers' schemas (hypothesis), in the shape each receives them.

The billing consumer's queue gets the event as EventBridge sends it; the lake gets it wrapped by its
route's input transformer; the operations audit gets it as the Lambda target's payload. Every event
the contract allows must be processed, not only a hand-written sample.
"""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from arcblueprint.events import catalog, event_type
from arcblueprint.events.testing import envelopes
from arcblueprint.services.streamer.component import domain_event_record
from arcblueprint.services.testing import load_handler

SERVICES = Path(__file__).resolve().parents[3] / "arcblueprint" / "services"
REGION = "eu-west-1"
EVENTS = sorted(catalog().values(), key=lambda e: (e.source, e.detail_type))
#: The lake's domain for each source, and its timestamp field (Pulumi.prod.yaml).
LAKE = {
    "arcblueprint.orders": ("order-events", "updatedAt"),
    "arcblueprint.bookings": ("booking-events", "occurredAt"),
    "arcblueprint.hooks": ("webhook-events", "receivedAt"),
}
RELAXED = settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])


def transformed(event: dict, domain: str) -> dict:
    """What EventBridge puts on the stream: the route's input template filled from the event."""
    transformer = domain_event_record("domain", domain)
    text = transformer.template
    for name, path in transformer.paths.items():
        value = event[path.removeprefix("$.")]
        text = text.replace(f"<{name}>", json.dumps(value) if not isinstance(value, str) else value)
    return json.loads(text)


@pytest.fixture
def aws(monkeypatch):
    with mock_aws():
        monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
        ddb = boto3.client("dynamodb", region_name=REGION)
        for table in ("fan-idempotency",):
            ddb.create_table(
                TableName=table,
                BillingMode="PAY_PER_REQUEST",
                KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            )
        ddb.create_table(
            TableName="ops-log",
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        )
        monkeypatch.setenv("IDEMPOTENCY_TABLE", "fan-idempotency")
        monkeypatch.setenv("CONSUMER_NAME", "billing")
        monkeypatch.setenv("OPS_TABLE", "ops-log")
        yield


@RELAXED
@given(event=envelopes(event_type("arcblueprint.orders", "OrderCreated")))
def test_the_billing_consumer_processes_every_order_created_the_contract_allows(lambda_context, aws, event):
    consumer = load_handler(SERVICES / "big_fan/handlers/consumer", "generated_billing")
    record = {
        "messageId": event["id"],
        "receiptHandle": "r",
        "body": json.dumps(event),
        "attributes": {},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:111111111111:fan-billing",
        "awsRegion": REGION,
    }
    response = consumer.lambda_handler({"Records": [record]}, lambda_context())
    assert response == {"batchItemFailures": []}
    assert consumer.to_message(record["body"], {})["payload"]["detail"] == event["detail"]


@RELAXED
@given(data=st.data())
def test_the_lake_turns_every_domain_event_into_a_row_of_its_domain(monkeypatch, data):
    event_kind = data.draw(st.sampled_from(EVENTS))
    event = data.draw(envelopes(event_kind))
    domain, timestamp_field = LAKE[event_kind.source]
    monkeypatch.setenv("DOMAIN_FIELD", "domain")
    # The transform knows the configured domains (others are unroutable): this one and a second one.
    monkeypatch.setenv(
        "DELIVERY_STREAMS", json.dumps({"lake-events": {"domain": domain}, "lake-payments": {"domain": "payments"}})
    )
    transform = load_handler(SERVICES / "streamer/handlers/transform", "generated_transform")
    record = {
        "recordId": "1",
        "approximateArrivalTimestamp": 1769853600000,
        "data": base64.b64encode(json.dumps(transformed(event, domain)).encode()).decode(),
    }
    rules = {"domain": domain, "remove": ["owner", "payload"], "mask": [], "timestampField": timestamp_field}
    out = transform.transform_record(record, rules)
    assert out["result"] == "Ok", out
    row = json.loads(base64.b64decode(out["data"]))
    kept = {k: v for k, v in event["detail"].items() if k not in ("owner", "payload")}
    assert {k: row[k] for k in kept} == kept
    assert (row["eventId"], row["eventType"], row["eventSource"]) == (
        event["id"],
        event["detail-type"],
        event["source"],
    )
    assert set(out["metadata"]["partitionKeys"]) == {"year", "month", "day"}
    other = transform.transform_record(record, {**rules, "domain": "payments"})
    assert other["result"] == "Dropped"


@RELAXED
@given(data=st.data())
def test_the_operations_audit_records_every_domain_event_once(lambda_context, aws, data):
    audit = load_handler(SERVICES / "ops_automation/handlers/audit", "generated_audit")
    event = data.draw(envelopes(data.draw(st.sampled_from(EVENTS))))
    event["id"] = str(uuid.uuid4())  # examples share the moto table; each event is new to it
    assert audit.lambda_handler(event, lambda_context())["recorded"] is True
    assert audit.lambda_handler(event, lambda_context())["recorded"] is False
