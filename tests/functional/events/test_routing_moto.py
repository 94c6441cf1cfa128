"""End to end against moto's EventBridge: the prod graph's rules, fed by the real producer code.

The rules (names, patterns, input transformers) are taken from the synthesized prod graph and
declared on a moto bus. Moto delivers only to SQS, so each target gets a probe queue that records
what EventBridge would deliver to it (after the target's input transformer). Events are published
the way the producers publish them: the orders outbox handler on table stream records, the
settlement helper of the booking saga, and the publishing library for webhooks. What the config
says must happen (Pulumi.prod.yaml's ``subscribe`` entries) is written out below, by hand.
"""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeSerializer
from moto import mock_aws

from arcblueprint.services.testing import load_handler

REPO = Path(__file__).resolve().parents[3]
LIB = REPO / "arcblueprint" / "services" / "handler_lib"
REGION = "eu-west-1"
ACCOUNT = "222222222222"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"

ORDER = {
    "id": "o-1",
    "owner": "user-1",
    "name": "tea",
    "quantity": 2,
    "version": 1,
    "createdAt": "2026-01-31T10:00:00.000+00:00",
    "updatedAt": "2026-01-31T10:00:00.000+00:00",
}
BOOKING = {
    "id": "user-1:k-1",
    "owner": "user-1",
    "flightId": "FR123",
    "seats": 2,
    "status": "PAID",
    "createdAt": "2026-01-31T10:00:00.000+00:00",
    "paymentToken": "tok_secret",
}
WEBHOOK = {"webhookId": "w-1", "receivedAt": 1769853600, "payload": {"order": "o-1", "card": {"number": "****"}}}

#: (detail type, variant) -> the targets Pulumi.prod.yaml subscribes to it (by the target's logical name).
EXPECTED = {
    ("OrderCreated", "quantity 2"): {"lake-orders-order-events-target", "fan-orders-billing-target"},
    ("OrderCreated", "quantity 0"): {"lake-orders-order-events-target"},  # billing's filter: quantity > 0
    ("OrderUpdated", ""): {"lake-orders-order-events-target"},
    ("BookingConfirmed", ""): {"lake-bookings-booking-events-target"},
    ("BookingCancelled", ""): {"lake-bookings-booking-events-target", "ops-bookings-workflow-target"},
    ("WebhookReceived", ""): {"lake-hooks-webhook-events-target", "ops-hooks-audit-target"},
}


def _module(name: str):
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(f"routing_{name}", LIB / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def prod(synthesized):
    return synthesized("prod")


@pytest.fixture
def bus(prod, monkeypatch):
    """The prod bus in moto: every rule of the graph on it, a probe queue per target."""
    with mock_aws():
        monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
        events = boto3.client("events", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        bus_name = prod.outputs["eventBusName"]
        events.create_event_bus(Name=bus_name)
        rules = {r.urn: r for r in prod.by_type(RULE) if r.inputs.get("eventBusName") == bus_name}
        probes: dict[str, str] = {}
        for target in prod.by_type(TARGET):
            [rule_urn] = target.property_dependencies["rule"]
            if rule_urn not in rules:
                continue  # the alarm responder's rule is on the default bus (alarms are tested with its handler)
            rule = rules[rule_urn]
            events.put_rule(
                Name=rule.inputs["name"],
                EventBusName=bus_name,
                EventPattern=rule.inputs["eventPattern"],
                State=rule.inputs["state"],
            )
            url = sqs.create_queue(QueueName=target.name)["QueueUrl"]
            probe = {
                "Id": "probe",
                "Arn": sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"],
            }
            transformer = target.inputs.get("inputTransformer")
            if transformer:
                probe["InputTransformer"] = {
                    "InputPathsMap": transformer["inputPaths"],
                    "InputTemplate": transformer["inputTemplate"],
                }
            events.put_targets(Rule=rule.inputs["name"], EventBusName=bus_name, Targets=[probe])
            probes[target.name] = url
        ddb = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(
            TableName="outbox-idempotency",
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        )
        monkeypatch.setenv("EVENT_BUS_NAME", bus_name)
        yield events, sqs, probes


def delivered(sqs, probes) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for name, url in probes.items():
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            found.setdefault(name, []).extend(json.loads(m["Body"]) for m in batch)
            for m in batch:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return found


def publish_order_changes(lambda_context, monkeypatch, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Run the orders outbox handler (the producer of OrderCreated/OrderUpdated) on stream records."""
    monkeypatch.setenv("EVENT_SOURCE", "arcblueprint.orders")
    monkeypatch.setenv("OUTBOX_EVENTS", json.dumps({"INSERT": "OrderCreated", "MODIFY": "OrderUpdated"}))
    monkeypatch.setenv("IDEMPOTENCY_TABLE", "outbox-idempotency")
    handler = load_handler(REPO / "arcblueprint/services/comfortable_rest/handlers/outbox", f"outbox_{id(records)}")
    return handler.lambda_handler({"Records": records}, lambda_context())


def stream_record(name: str, new: dict[str, Any], old: dict[str, Any] | None = None, sequence: str = "1"):
    serialize = TypeSerializer().serialize
    change = {
        "NewImage": {k: serialize(v) for k, v in new.items()},
        "SequenceNumber": sequence,
        "Keys": {"id": {"S": new["id"]}},
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if old:
        change["OldImage"] = {k: serialize(v) for k, v in old.items()}
    return {"eventID": sequence, "eventName": name, "eventSource": "aws:dynamodb", "dynamodb": change}


def test_every_domain_event_reaches_exactly_its_subscribed_targets(lambda_context, bus, monkeypatch):
    events, sqs, probes = bus
    bus_name = events.list_event_buses(NamePrefix="arcbp-prod")["EventBuses"][0]["Name"]
    cases = {
        ("OrderCreated", "quantity 2"): lambda: publish_order_changes(
            lambda_context, monkeypatch, [stream_record("INSERT", ORDER)]
        ),
        ("OrderCreated", "quantity 0"): lambda: publish_order_changes(
            lambda_context, monkeypatch, [stream_record("INSERT", {**ORDER, "id": "o-2", "quantity": 0})]
        ),
        ("OrderUpdated", ""): lambda: publish_order_changes(
            lambda_context,
            monkeypatch,
            [stream_record("MODIFY", {**ORDER, "version": 2, "updatedAt": "2026-01-31T11:00:00.000+00:00"}, ORDER)],
        ),
    }
    domain_events, booking_events = _module("domain_events"), _module("booking_events")
    bookings = domain_events.DomainEvents(source="arcblueprint.bookings", bus_name=bus_name, client=events)
    hooks = domain_events.DomainEvents(source="arcblueprint.hooks", bus_name=bus_name, client=events)
    cases[("BookingConfirmed", "")] = lambda: booking_events.publish_settlement(bookings, BOOKING, "CONFIRMED")
    cases[("BookingCancelled", "")] = lambda: booking_events.publish_settlement(bookings, BOOKING, "CANCELLED")
    cases[("WebhookReceived", "")] = lambda: hooks.publish("WebhookReceived", WEBHOOK)
    assert set(cases) == set(EXPECTED)
    for case, publish in cases.items():
        result = publish()
        assert result and result != {"batchItemFailures": [{"itemIdentifier": "1"}]}, case
        arrived = delivered(sqs, probes)
        assert set(arrived) == EXPECTED[case], case  # exactly the subscribed targets, nowhere else
        assert all(len(messages) == 1 for messages in arrived.values()), case
        assert "tok_secret" not in json.dumps(arrived)


def test_the_lake_receives_rows_of_the_right_domain(lambda_context, bus, monkeypatch, prod):
    """Routed to its domain's Firehose as a record of that domain, an event becomes one flat row of its table."""
    events, sqs, probes = bus
    publish_order_changes(lambda_context, monkeypatch, [stream_record("INSERT", ORDER)])
    [record] = delivered(sqs, probes)["lake-orders-order-events-target"]
    assert record["domain"] == "order-events" and record["detail"] == ORDER
    assert record["eventbridge"]["source"] == "arcblueprint.orders"
    assert record["eventbridge"]["detailType"] == "OrderCreated"
    import base64

    [transform_fn] = [f for f in prod.by_type("aws:lambda/function:Function") if f.name == "lake-transform-function"]
    monkeypatch.setenv("DOMAIN_FIELD", "domain")
    monkeypatch.setenv("DELIVERY_STREAMS", transform_fn.inputs["environment"]["variables"]["DELIVERY_STREAMS"])
    transform = load_handler(REPO / "arcblueprint/services/streamer/handlers/transform", "routing_transform")
    data = base64.b64encode(json.dumps(record).encode()).decode()
    rules = transform.DELIVERY_STREAMS["arcbp-prod-lake-order-events"]
    out = transform.transform_record(
        {"recordId": "1", "data": data, "approximateArrivalTimestamp": 1769853600000}, rules
    )
    row = json.loads(base64.b64decode(out["data"]))
    assert out["result"] == "Ok" and out["metadata"]["partitionKeys"] == {"year": "2026", "month": "01", "day": "31"}
    assert {k: row[k] for k in ("id", "name", "quantity", "version", "eventType", "eventSource")} == {
        "id": "o-1",
        "name": "tea",
        "quantity": 2,
        "version": 1,
        "eventType": "OrderCreated",
        "eventSource": "arcblueprint.orders",
    }
    assert "owner" not in row  # removeFields of the domain
    assert rules["direct"] is True  # a Direct PUT stream: only this rule writes to it
    other = transform.transform_record(
        {"recordId": "2", "data": data, "approximateArrivalTimestamp": 0},
        transform.DELIVERY_STREAMS["arcbp-prod-lake-booking-events"],
    )
    # Another event domain's Direct PUT stream never sees it; if it did, it keeps it under errors/, not drops it.
    assert other["result"] == "ProcessingFailed"
    orders = transform.DELIVERY_STREAMS["arcbp-prod-lake-orders"]
    stream_fed = transform.transform_record(
        {"recordId": "3", "data": data, "approximateArrivalTimestamp": 0}, orders, fails_unroutable=orders["unroutable"]
    )
    # On the Kinesis stream an event domain is no stream domain: the first stream domain fails it, once.
    assert stream_fed["result"] == "ProcessingFailed"


def test_a_forged_or_lookalike_source_reaches_nothing(bus):
    events, sqs, probes = bus
    bus_name = events.list_event_buses(NamePrefix="arcbp-prod")["EventBuses"][0]["Name"]
    lookalikes = [
        "arcblueprint.order",
        "arcblueprint.orders.v2",
        "Arcblueprint.orders",
        "orders",
        "arcblueprint.ordersx",
        "aws.orders",
        "arcblueprint.hook",
        "arcblueprint.bookings-x",
    ]
    response = events.put_events(
        Entries=[
            {"EventBusName": bus_name, "Source": source, "DetailType": detail_type, "Detail": json.dumps(detail)}
            for source in lookalikes[:5]
            for detail_type, detail in [("OrderCreated", ORDER)]
        ]
    )
    assert response["FailedEntryCount"] == 0
    response = events.put_events(
        Entries=[
            {"EventBusName": bus_name, "Source": source, "DetailType": "WebhookReceived", "Detail": json.dumps(WEBHOOK)}
            for source in lookalikes[5:]
        ]
    )
    assert response["FailedEntryCount"] == 0
    assert delivered(sqs, probes) == {}  # rules match source exactly: no prefix, no case folding


def test_an_invalid_event_is_rejected_by_the_producer_counted_and_delivered_nowhere(
    lambda_context, bus, monkeypatch, capsys
):
    events, sqs, probes = bus
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "arcbp-prod/orders")
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    # A batch whose every record fails is failed as a whole: Lambda retries it, bisects, then sends it to the
    # outbox's on-failure queue.
    with pytest.raises(BatchProcessingError, match="quantity must be bigger than or equal to 0"):
        publish_order_changes(
            lambda_context, monkeypatch, [stream_record("INSERT", {**ORDER, "quantity": -1}, sequence="9")]
        )
    # The handler flushed its metrics (CloudWatch embedded metric format) on the way out: the refusal is counted.
    flushed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [m["DomainEventsRejected"] for m in flushed if "DomainEventsRejected" in m] == [[1.0]]
    assert delivered(sqs, probes) == {}


# -- the bus policy: who may put which source (evaluated as IAM does, on the synthesized document) -------------


def _matches(operator: str, actual: list[str] | str | None, expected: Any) -> bool:
    values = expected if isinstance(expected, list) else [expected]
    if operator == "Null":
        return (actual is None) == (str(values[0]).lower() == "true")
    if actual is None:
        return operator.startswith(("ArnNot", "StringNot")) or operator.startswith("ForAllValues")
    actuals = actual if isinstance(actual, list) else [actual]
    base = operator.rsplit(":", maxsplit=1)[-1]
    negated = "Not" in base
    test = (lambda a: any(fnmatch.fnmatchcase(a, v) for v in values)) if base.startswith(("Arn", "String")) else None
    assert test is not None, operator
    if operator.startswith("ForAllValues:"):
        return all(test(a) != negated for a in actuals)
    if operator.startswith("ForAnyValue:"):
        return any(test(a) != negated for a in actuals)
    return all(test(a) != negated for a in actuals)


def _decision(document: dict[str, Any], principal_arn: str | None, sources: list[str]) -> str:
    """Explicit deny, allow or implicit deny of PutEvents by ``principal_arn`` for ``sources``, per the bus policy."""
    context = {"aws:principalarn": principal_arn, "events:source": sources}
    allowed = False
    for statement in document["Statement"]:
        principal = statement["Principal"]
        if principal != "*" and principal_arn not in principal.get("AWS", []):
            continue
        if all(
            _matches(op, context.get(key.lower()), value)
            for op, tests in statement.get("Condition", {}).items()
            for key, value in tests.items()
        ):
            if statement["Effect"] == "Deny":
                return "denied"
            allowed = True
    return "allowed" if allowed else "not allowed by the bus"


def test_the_bus_policy_lets_each_producer_put_only_its_own_source(prod):
    [policy] = prod.by_type("aws:cloudwatch/eventBusPolicy:EventBusPolicy")
    document = json.loads(policy.inputs["policy"])
    roles = {f.name: f.outputs["arn"] for f in prod.by_type("aws:iam/role:Role")}
    outbox, saga, hooks = (
        roles["orders-outbox-publisher-role"],
        roles["bookings-saga-steps-role"],
        roles["hooks-consumer-role"],
    )
    assert _decision(document, outbox, ["arcblueprint.orders"]) == "allowed"
    assert _decision(document, saga, ["arcblueprint.bookings"]) == "allowed"
    assert _decision(document, hooks, ["arcblueprint.hooks"]) == "allowed"
    # A producer forging another service's source, or mixing one into a batch, is denied outright.
    assert _decision(document, hooks, ["arcblueprint.orders"]) == "denied"
    assert _decision(document, outbox, ["arcblueprint.orders", "arcblueprint.bookings"]) == "denied"
    # Any other role of the account (even one whose own policy allows PutEvents) is denied.
    assert _decision(document, roles["orders-api-role"], ["arcblueprint.orders"]) == "denied"
    assert _decision(document, f"arn:aws:iam::{ACCOUNT}:role/Admin", ["arcblueprint.orders"]) == "denied"
    # And each producer's own identity policy says the same.
    policies = {p.name: json.loads(p.inputs["policy"]) for p in prod.by_type("aws:iam/rolePolicy:RolePolicy")}
    [statement] = policies["hooks-consumer-put-events"]["Statement"][:1]
    assert statement["Condition"] == {"ForAllValues:StringEquals": {"events:source": ["arcblueprint.hooks"]}}
