"""Cherry-pick handlers against moto (DynamoDB, Step Functions) with a real AppSync direct-resolver event."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from arcblueprint.services.testing import LambdaContext, load_handler as _load_handler
from arcblueprint.services.cherry_pick.saga import build_saga

HANDLERS = Path(__file__).resolve().parents[3] / "arcblueprint/services/cherry_pick/handlers"
SUB = "192879fc-a240-4bf1-ab5a-d6a00f3063f9"  # the caller in the sample event




def _load(folder: str, name: str):
    return _load_handler(HANDLERS / folder, name)


@pytest.fixture
def aws_env(monkeypatch):
    monkeypatch.setenv("TABLE_NAME", "bookings")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "bookings")
    with mock_aws():
        boto3.client("dynamodb").create_table(
            TableName="bookings", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
        role = boto3.client("iam").create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        machine = boto3.client("stepfunctions").create_state_machine(
            name="booking-saga", roleArn=role,
            definition=json.dumps(build_saga("arn:aws:lambda:eu-west-1:123456789012:function:steps:live")))
        monkeypatch.setenv("STATE_MACHINE_ARN", machine["stateMachineArn"])
        yield machine["stateMachineArn"]


@pytest.fixture
def resolver(aws_env, load_event, capsys):
    module = _load("bookings", "cherry_pick_bookings_app_under_test")
    template = load_event("appSyncDirectResolver.json")

    def call(arguments, field="createBooking"):
        event = copy.deepcopy(template)
        event["arguments"] = arguments
        event["info"].update(parentTypeName="Mutation", fieldName=field)
        capsys.readouterr()
        module.logger.logger_handler.stream = sys.stdout  # powertools keeps one logger per service per process
        try:
            result, error = module.lambda_handler(event, LambdaContext(function_name="arcbp-dev-bookings-bookings")), None
        except module.BookingError as raised:
            result, error = None, raised
        out = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
        return result, error, out

    yield call
    sys.modules.pop("cherry_pick_bookings_app_under_test", None)


def _metric(out, name):
    return sum(sum(d[name]) if isinstance(d[name], list) else d[name] for d in out if name in d and "_aws" in d)


INPUT = {"idempotencyKey": "req-1", "flightId": "FL-123", "seats": 2, "paymentToken": "tok_abc"}


def test_create_booking_records_it_pending_and_starts_one_saga(resolver, aws_env):
    result, error, out = resolver({"input": INPUT})
    assert error is None and result["status"] == "PENDING" and result["id"] == f"{SUB}:req-1"
    assert "paymentToken" not in result
    stored = boto3.resource("dynamodb").Table("bookings").get_item(Key={"id": result["id"]})["Item"]
    assert stored["owner"] == SUB and "paymentToken" not in stored
    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=aws_env)["executions"]
    assert len(executions) == 1
    assert _metric(out, "BookingsStarted") == 1
    assert any(d.get("message") == "Booking saga started" for d in out)


def test_a_repeated_request_returns_the_same_booking_without_a_second_saga(resolver, aws_env):
    first = resolver({"input": INPUT})[0]
    again, error, _ = resolver({"input": INPUT})
    assert error is None and again["id"] == first["id"] and again["seats"] == 2
    assert len(boto3.client("stepfunctions").list_executions(stateMachineArn=aws_env)["executions"]) == 1


def test_reusing_a_key_for_another_booking_is_a_conflict(resolver):
    resolver({"input": INPUT})
    _, error, out = resolver({"input": {**INPUT, "seats": 3}})
    assert type(error).__name__ == "ConflictError" and _metric(out, "IdempotencyConflicts") == 1


@pytest.mark.parametrize("bad", [{"seats": 0}, {"seats": 10}, {"flightId": ""}, {"paymentToken": 7}])
def test_invalid_input_is_a_validation_error_and_writes_nothing(resolver, bad):
    _, error, _ = resolver({"input": {**INPUT, **bad}})
    assert type(error).__name__ == "ValidationError"
    assert boto3.client("dynamodb").scan(TableName="bookings")["Count"] == 0


def test_confirm_settles_an_open_booking_once_and_never_reopens_it(resolver):
    booking = resolver({"input": INPUT})[0]
    confirmed, error, out = resolver({"id": booking["id"], "status": "CONFIRMED"}, field="confirmBooking")
    assert error is None and confirmed["status"] == "CONFIRMED" and confirmed["seats"] == 2
    assert _metric(out, "BookingsConfirmed") == 1
    again, error, _ = resolver({"id": booking["id"], "status": "CONFIRMED"}, field="confirmBooking")
    assert error is None and again["status"] == "CONFIRMED"  # a retried call gets the same answer
    _, error, _ = resolver({"id": booking["id"], "status": "CANCELLED"}, field="confirmBooking")
    assert type(error).__name__ == "ConflictError"
    stored = boto3.resource("dynamodb").Table("bookings").get_item(Key={"id": booking["id"]})["Item"]
    assert stored["status"] == "CONFIRMED"


@pytest.mark.parametrize(("booking_id", "status", "expected"), [
    ("nobody:missing", "CONFIRMED", "NotFoundError"), (None, "PENDING", "ValidationError"),
    (None, "LOST", "ValidationError")])
def test_confirm_rejects_unknown_bookings_and_statuses(resolver, booking_id, status, expected):
    booking = resolver({"input": INPUT})[0]
    _, error, _ = resolver({"id": booking_id or booking["id"], "status": status}, field="confirmBooking")
    assert type(error).__name__ == expected


def test_when_the_saga_cannot_start_the_booking_is_removed(resolver, monkeypatch):
    boto3.client("stepfunctions").delete_state_machine(
        stateMachineArn=sys.modules["cherry_pick_bookings_app_under_test"].STATE_MACHINE_ARN)
    _, error, out = resolver({"input": INPUT})
    assert type(error).__name__ == "UnavailableError" and _metric(out, "DownstreamErrors") == 1
    assert boto3.client("dynamodb").scan(TableName="bookings")["Count"] == 0


@pytest.fixture
def steps(aws_env):
    module = _load("saga_steps", "cherry_pick_steps_app_under_test")
    boto3.resource("dynamodb").Table("bookings").put_item(Item={"id": "b-1", "status": "PENDING"})
    yield module
    sys.modules.pop("cherry_pick_steps_app_under_test", None)


def _status() -> str:
    return boto3.resource("dynamodb").Table("bookings").get_item(Key={"id": "b-1"})["Item"]["status"]


def test_forward_steps_then_compensations_end_cancelled(steps):
    event = {"booking": {"id": "b-1"}}
    for action, status in (("reserve_flight", "RESERVED"), ("reserve_flight", "RESERVED"),  # retried: idempotent
                           ("collect_payment", "PAID"), ("refund_payment", "RESERVED"),
                           ("cancel_reservation", "CANCELLED")):
        assert steps.lambda_handler({**event, "action": action}, LambdaContext(function_name="arcbp-dev-bookings-bookings"))["status"] == status
        assert _status() == status


def test_an_out_of_order_step_fails_so_the_saga_compensates(steps):
    with pytest.raises(steps.StepFailedError):
        steps.lambda_handler({"booking": {"id": "b-1"}, "action": "confirm_booking"}, LambdaContext(function_name="arcbp-dev-bookings-bookings"))
    assert _status() == "PENDING"


def test_a_store_failure_is_retryable(steps):
    boto3.client("dynamodb").delete_table(TableName="bookings")
    with pytest.raises(steps.StepRetryableError):
        steps.lambda_handler({"booking": {"id": "b-1"}, "action": "reserve_flight"}, LambdaContext(function_name="arcbp-dev-bookings-bookings"))
    assert "StepRetryableError" in build_saga("arn:aws:lambda:eu-west-1:1:function:f")["States"]["ReserveFlight"]["Retry"][0]["ErrorEquals"]
