"""The publishing library against moto: validated before PutEvents, counted when refused, batched by ten."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from aws_lambda_powertools import Metrics
from hypothesis import HealthCheck, given, settings
from moto import mock_aws

from arcblueprint.events import event_type
from arcblueprint.events.testing import details

LIB = Path(__file__).resolve().parents[3] / "arcblueprint" / "services" / "handler_lib"
REGION = "eu-west-1"
BUS = "arcbp-dev-bus"


@pytest.fixture(scope="module")
def library():
    """``domain_events`` and ``booking_events`` as a function's zip imports them (bare names)."""
    import importlib.util
    import sys

    modules = {}
    for name in ("domain_events", "booking_events"):
        spec = importlib.util.spec_from_file_location(f"h14_{name}", LIB / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        modules[name] = module
    return modules


@pytest.fixture
def bus():
    """A bus with one rule per source that copies every event to a queue, to read what was put."""
    with mock_aws():
        events = boto3.client("events", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        events.create_event_bus(Name=BUS)
        url = sqs.create_queue(QueueName="everything")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="all", EventBusName=BUS, EventPattern=json.dumps({"source": [{"prefix": ""}]}))
        events.put_targets(Rule="all", EventBusName=BUS, Targets=[{"Id": "q", "Arn": arn}])
        yield events, sqs, url


def received(sqs, url):
    messages = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        messages += [json.loads(m["Body"]) for m in batch]
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"]} for m in batch]
        )
    return messages


@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(detail=details(event_type("arcblueprint.orders", "OrderCreated")))
def test_every_detail_the_schema_allows_is_put_with_the_services_source(library, bus, detail):
    events, sqs, url = bus
    publisher = library["domain_events"].DomainEvents(source="arcblueprint.orders", bus_name=BUS, client=events)
    event_id = publisher.publish("OrderCreated", detail)
    [event] = received(sqs, url)
    assert event["id"] == event_id and event["source"] == "arcblueprint.orders"
    assert event["detail-type"] == "OrderCreated" and event["detail"] == detail


def test_an_invalid_event_is_refused_before_putevents_named_and_counted(library, bus):
    events, sqs, url = bus
    metrics = Metrics(namespace="h14-tests")
    metrics.clear_metrics()
    publisher = library["domain_events"].DomainEvents(
        source="arcblueprint.orders", bus_name=BUS, client=events, metrics=metrics
    )
    good = {
        "id": "o-1",
        "owner": "u-1",
        "name": "tea",
        "quantity": 2,
        "version": 1,
        "createdAt": "2026-01-31T10:00:00.000+00:00",
        "updatedAt": "2026-01-31T10:00:00.000+00:00",
    }
    with pytest.raises(library["domain_events"].InvalidEventError) as caught:
        # One bad event in a batch: nothing of the batch is put.
        publisher.publish_all([("OrderCreated", good), ("OrderCreated", {**good, "quantity": -1})])
    assert "arcblueprint.orders OrderCreated does not match its schema" in str(caught.value)
    assert "quantity" in str(caught.value)
    with pytest.raises(library["domain_events"].InvalidEventError, match="no schema for 'OrderShipped'"):
        publisher.publish("OrderShipped", good)
    assert received(sqs, url) == []
    assert metrics.serialize_metric_set()["DomainEventsRejected"] == [1.0, 1.0]
    metrics.clear_metrics()


def test_a_producer_publishes_only_what_its_own_schemas_describe(library, bus):
    events, sqs, url = bus
    # The hooks consumer cannot pass off an order event: its folder has no such schema (nor may its role put it).
    publisher = library["domain_events"].DomainEvents(source="arcblueprint.hooks", bus_name=BUS, client=events)
    with pytest.raises(library["domain_events"].InvalidEventError, match="arcblueprint.hooks has no schema"):
        publisher.publish("OrderCreated", {"id": "x"})
    with pytest.raises(ValueError, match="not a domain event source"):
        library["domain_events"].DomainEvents(source="orders", bus_name=BUS, client=events)
    assert received(sqs, url) == []


def test_many_events_go_ten_per_call_and_a_refusal_is_an_error(library, bus):
    events, sqs, url = bus
    publisher = library["domain_events"].DomainEvents(source="arcblueprint.hooks", bus_name=BUS, client=events)
    webhooks = [
        ("WebhookReceived", {"webhookId": f"w-{i}", "receivedAt": 1767225600 + i, "payload": {"n": i}})
        for i in range(23)
    ]
    ids = publisher.publish_all(webhooks)
    assert len(set(ids)) == 23 and sorted(e["detail"]["webhookId"] for e in received(sqs, url)) == sorted(
        f"w-{i}" for i in range(23)
    )

    class Refusing:
        def put_events(self, Entries):  # noqa: N803 - boto3's parameter name
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "AccessDeniedException"}] * len(Entries)}

    refusing = library["domain_events"].DomainEvents(source="arcblueprint.hooks", bus_name=BUS, client=Refusing())
    with pytest.raises(library["domain_events"].PublishError, match="AccessDeniedException"):
        refusing.publish(*webhooks[0])


def test_a_settled_booking_is_published_without_its_payment_token(library, bus):
    events, sqs, url = bus
    publisher = library["domain_events"].DomainEvents(source="arcblueprint.bookings", bus_name=BUS, client=events)
    booking = {
        "id": "u-1:key-1",
        "owner": "u-1",
        "flightId": "FR123",
        "seats": 2,
        "status": "PAID",
        "createdAt": "2026-01-31T10:00:00.000+00:00",
        "paymentToken": "tok_secret",
    }
    publish = library["booking_events"].publish_settlement
    assert publish(publisher, booking, "CONFIRMED") and publish(publisher, booking, "CANCELLED", reason="no seats")
    assert publish(publisher, booking, "RESERVED") is None  # not a settlement: nothing published
    confirmed, cancelled = received(sqs, url)
    assert (confirmed["detail-type"], cancelled["detail-type"]) == ("BookingConfirmed", "BookingCancelled")
    assert cancelled["detail"]["reason"] == "no seats" and "reason" not in confirmed["detail"]
    assert "tok_secret" not in json.dumps([confirmed, cancelled])
