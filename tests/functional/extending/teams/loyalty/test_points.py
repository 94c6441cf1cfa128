"""The loyalty team's test of its handler: an order earns points once, a bad message fails alone (moto)."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from arcblueprint.services.testing import load_handler

POINTS = Path(__file__).parent / "points"
TABLE = "arcbp-dev-loyalty-idempotency"


@pytest.fixture
def app(monkeypatch):
    monkeypatch.setenv("IDEMPOTENCY_TABLE", TABLE)
    with mock_aws():
        boto3.client("dynamodb").create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield load_handler(POINTS, "loyalty_points_app")


def message(message_id: str, body: str, request_id: str | None = None) -> dict:
    attributes = {"messageId": {"stringValue": request_id, "dataType": "String"}} if request_id else {}
    return {
        "messageId": message_id,
        "receiptHandle": "AQEB",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": attributes,
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-1:111111111111:arcbp-dev-loyalty-points",
        "awsRegion": "eu-west-1",
    }


def test_an_order_earns_a_point_per_full_ten(app):
    assert app.points_for({"amount": 129.99}) == 12
    assert app.points_for({"amount": 9}) == 0
    for bad in ({}, {"amount": "12"}, {"amount": -1}, {"amount": True}, ["amount", 12]):
        with pytest.raises(app.InvalidOrderError):
            app.points_for(bad)


def test_a_redelivered_message_awards_nothing_twice(app):
    order = {"id": "o-1", "customer": "c-7", "amount": 125}
    assert app.award("req-1", order) == 12
    assert app.award("req-1", order) is None
    assert app.award("req-2", order) == 12
    items = app.table.scan()["Items"]
    assert sorted(i["id"] for i in items) == ["points#req-1", "points#req-2"]


def test_a_bad_message_fails_alone_and_the_request_id_is_the_key(lambda_context, app):
    event = {
        "Records": [
            message("sqs-1", json.dumps({"id": "o-1", "customer": "c-7", "amount": 40}), request_id="req-9"),
            message("sqs-2", "not json"),
            message("sqs-3", json.dumps({"id": "o-2", "amount": "lots"})),
        ]
    }
    response = app.lambda_handler(event, lambda_context())
    assert response == {"batchItemFailures": [{"itemIdentifier": "sqs-2"}, {"itemIdentifier": "sqs-3"}]}
    [item] = app.table.scan()["Items"]
    assert item["id"] == "points#req-9" and item["points"] == 4 and item["customer"] == "c-7"
    # SQS redelivers the whole message; the request id, not SQS's message id, keeps it from awarding twice.
    redelivered = {"Records": [message("sqs-4", event["Records"][0]["body"], request_id="req-9")]}
    assert app.lambda_handler(redelivered, lambda_context()) == {"batchItemFailures": []}
    assert len(app.table.scan()["Items"]) == 1
