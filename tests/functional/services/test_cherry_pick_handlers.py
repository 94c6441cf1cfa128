"""Cherry-pick handlers against moto (DynamoDB, Step Functions) with a real AppSync direct-resolver event."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from arcblueprint.services.cherry_pick.saga import build_saga
from arcblueprint.services.testing import load_handler as _load_handler
from tests.strategies.moto_tables import booking_saga

HANDLERS = Path(__file__).resolve().parents[3] / "arcblueprint/services/cherry_pick/handlers"
SUB = "192879fc-a240-4bf1-ab5a-d6a00f3063f9"  # the caller in the sample event


def _load(folder: str, name: str):
    return _load_handler(HANDLERS / folder, name)


@pytest.fixture
def aws_env(monkeypatch):
    monkeypatch.setenv("TABLE_NAME", "bookings")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "bookings")
    with mock_aws():
        machine_arn = booking_saga("123456789012")
        monkeypatch.setenv("STATE_MACHINE_ARN", machine_arn)
        yield machine_arn


@pytest.fixture
def resolver(lambda_context, aws_env, load_event, capsys):
    module = _load("bookings", "cherry_pick_bookings_app_under_test")
    template = load_event("appSyncDirectResolver.json")

    def call(arguments, field="createBooking", identity=None):
        event = copy.deepcopy(template)
        event["arguments"] = arguments
        event["info"].update(parentTypeName="Mutation", fieldName=field)
        if identity is not None:
            event["identity"] = identity
        elif field == "confirmBooking":
            event["identity"] = BACKEND
        capsys.readouterr()
        module.logger.logger_handler.stream = sys.stdout  # powertools keeps one logger per service per process
        try:
            result, error = (
                module.lambda_handler(event, lambda_context("arcbp-dev-bookings-bookings")),
                None,
            )
        except module.BookingError as raised:
            result, error = None, raised
        out = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
        return result, error, out

    yield call
    sys.modules.pop("cherry_pick_bookings_app_under_test", None)


def _metric(out, name):
    return sum(sum(d[name]) if isinstance(d[name], list) else d[name] for d in out if name in d and "_aws" in d)


INPUT = {"idempotencyKey": "req-1", "flightId": "FL-123", "seats": 2, "paymentToken": "tok_abc"}
#: An IAM-signed backend (AppSync's IAM identity): the only caller confirmBooking accepts.
BACKEND = {
    "accountId": "111111111111",
    "cognitoIdentityPoolId": None,
    "cognitoIdentityId": None,
    "sourceIp": ["10.0.0.1"],
    "username": "AROAEXAMPLE:settler",
    "userArn": "arn:aws:sts::111111111111:assumed-role/booking-settler/settler",
}


def _set_status(booking_id: str, status: str) -> None:
    boto3.resource("dynamodb").Table("bookings").update_item(
        Key={"id": booking_id},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": status},
    )


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


def test_confirm_settles_a_paid_booking_once_and_never_reopens_it(resolver):
    booking = resolver({"input": INPUT})[0]
    _set_status(booking["id"], "PAID")  # what the saga's steps do
    confirmed, error, out = resolver({"id": booking["id"], "status": "CONFIRMED"}, field="confirmBooking")
    assert error is None and confirmed["status"] == "CONFIRMED" and confirmed["seats"] == 2
    assert _metric(out, "BookingsConfirmed") == 1
    again, error, _ = resolver({"id": booking["id"], "status": "CONFIRMED"}, field="confirmBooking")
    assert error is None and again["status"] == "CONFIRMED"  # a retried call gets the same answer
    _, error, _ = resolver({"id": booking["id"], "status": "CANCELLED"}, field="confirmBooking")
    assert type(error).__name__ == "ConflictError"
    stored = boto3.resource("dynamodb").Table("bookings").get_item(Key={"id": booking["id"]})["Item"]
    assert stored["status"] == "CONFIRMED"


@pytest.mark.parametrize(
    ("booking_id", "status", "expected"),
    [
        ("nobody:missing", "CONFIRMED", "NotFoundError"),
        (None, "PENDING", "ValidationError"),
        (None, "LOST", "ValidationError"),
        (None, "PAID", "ValidationError"),
        (None, "RESERVED", "ValidationError"),
    ],
)
def test_confirm_rejects_unknown_bookings_and_statuses(resolver, booking_id, status, expected):
    booking = resolver({"input": INPUT})[0]
    _, error, _ = resolver({"id": booking_id or booking["id"], "status": status}, field="confirmBooking")
    assert type(error).__name__ == expected


def test_when_the_saga_cannot_start_the_booking_is_removed(resolver, monkeypatch):
    boto3.client("stepfunctions").delete_state_machine(
        stateMachineArn=sys.modules["cherry_pick_bookings_app_under_test"].STATE_MACHINE_ARN
    )
    _, error, out = resolver({"input": INPUT})
    assert type(error).__name__ == "UnavailableError" and _metric(out, "DownstreamErrors") == 1
    assert boto3.client("dynamodb").scan(TableName="bookings")["Count"] == 0


@pytest.fixture
def steps(aws_env):
    module = _load("saga_steps", "cherry_pick_steps_app_under_test")
    boto3.resource("dynamodb").Table("bookings").put_item(Item={"id": "b-1", "status": "PENDING"})
    yield module
    sys.modules.pop("cherry_pick_steps_app_under_test", None)


EXECUTION = {
    "execution": "arn:aws:states:eu-west-1:123456789012:execution:booking-saga:abc",
    "startedAt": "2026-01-01T00:00:00.000Z",
}


def _step(lambda_context, steps, action, execution=EXECUTION, booking_id="b-1"):
    return steps.lambda_handler(
        {"booking": {"id": booking_id}, "action": action, **execution}, lambda_context("arcbp-dev-bookings-saga-steps")
    )


def _status() -> str:
    return boto3.resource("dynamodb").Table("bookings").get_item(Key={"id": "b-1"})["Item"]["status"]


def test_forward_steps_then_compensations_end_cancelled(lambda_context, steps):
    event = {"booking": {"id": "b-1"}}
    for action, status in (
        ("reserve_flight", "RESERVED"),
        ("reserve_flight", "RESERVED"),  # retried: idempotent
        ("collect_payment", "PAID"),
        ("refund_payment", "RESERVED"),
        ("cancel_reservation", "CANCELLED"),
    ):
        assert (
            steps.lambda_handler(
                {**event, **EXECUTION, "action": action}, lambda_context("arcbp-dev-bookings-saga-steps")
            )["status"]
            == status
        )
        assert _status() == status


def test_an_out_of_order_step_fails_so_the_saga_compensates(lambda_context, steps):
    with pytest.raises(steps.StepFailedError):
        _step(lambda_context, steps, "confirm_booking")
    assert _status() == "PENDING"


def test_a_store_failure_is_retryable(lambda_context, steps):
    boto3.client("dynamodb").delete_table(TableName="bookings")
    with pytest.raises(steps.StepRetryableError):
        _step(lambda_context, steps, "reserve_flight")
    assert (
        "StepRetryableError"
        in build_saga("arn:aws:lambda:eu-west-1:1:function:f")["States"]["ReserveFlight"]["Retry"][0]["ErrorEquals"]
    )


# --- starting the saga under faults -------------------------------------------------------------


class FlakyStates:
    """The moto Step Functions client, failing ``start_execution`` as told: ``before`` the request reaches
    the service (nothing starts) or ``after`` it (the execution starts, the answer is lost)."""

    def __init__(self, failures):
        self.client = boto3.client("stepfunctions")
        self.failures = list(failures)
        self.calls = 0

    def start_execution(self, **kwargs):
        self.calls += 1
        failure = self.failures.pop(0) if self.failures else None
        if failure is None:
            return self.client.start_execution(**kwargs)
        when, error = failure
        if when == "after":
            self.client.start_execution(**kwargs)
        raise error


def _endpoint_down():
    from botocore.exceptions import EndpointConnectionError

    return EndpointConnectionError(endpoint_url="https://states.eu-west-1.amazonaws.com/")


def _answer_lost():
    from botocore.exceptions import ReadTimeoutError

    return ReadTimeoutError(endpoint_url="https://states.eu-west-1.amazonaws.com/")


def _throttled():
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "StartExecution")


def _executions(machine):
    return boto3.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"]


def _stored(booking_id):
    return boto3.resource("dynamodb").Table("bookings").get_item(Key={"id": booking_id}).get("Item")


@pytest.mark.parametrize(
    ("failure", "kept"),
    [
        (("before", _endpoint_down()), False),  # never reached the service: removed, the retry starts over
        (("before", _throttled()), False),  # the service refused: removed
        (("before", _answer_lost()), True),  # unknown (nothing started): kept PENDING for the retry to start
        (("after", _answer_lost()), True),  # unknown (it started): kept; the retry finds it running
    ],
)
def test_a_failed_saga_start_is_unavailable_and_the_retry_starts_exactly_one_saga(
    resolver, aws_env, monkeypatch, failure, kept
):
    module = sys.modules["cherry_pick_bookings_app_under_test"]
    states = FlakyStates([failure])
    monkeypatch.setattr(module, "sfn", states)
    _, error, out = resolver({"input": INPUT})
    assert type(error).__name__ == "UnavailableError" and "idempotencyKey" in str(error)
    assert "amazonaws" not in str(error) and "Error" not in str(error)
    booking_id = f"{SUB}:req-1"
    stored = _stored(booking_id)
    assert (stored is not None) is kept and (stored is None or "executionArn" not in stored)
    again, error, _ = resolver({"input": INPUT})  # the client retries with the same idempotencyKey
    assert error is None and again["id"] == booking_id and again["status"] == "PENDING"
    assert len(_executions(aws_env)) == 1
    assert _stored(booking_id)["executionArn"] == _executions(aws_env)[0]["executionArn"]
    resolver({"input": INPUT})  # later retries only read it
    assert len(_executions(aws_env)) == 1 and states.calls == 2


def test_a_lost_execution_record_is_repaired_by_the_retry_without_a_second_saga(resolver, aws_env, monkeypatch):
    module = sys.modules["cherry_pick_bookings_app_under_test"]
    real_update = module.table.update_item
    failures = [True]

    def update_item(**kwargs):
        if failures and failures.pop():
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "UpdateItem")
        return real_update(**kwargs)

    monkeypatch.setattr(module.table, "update_item", update_item)
    first, error, _ = resolver({"input": INPUT})
    assert error is None and "executionArn" not in _stored(first["id"])  # started, not recorded
    resolver({"input": INPUT})
    assert len(_executions(aws_env)) == 1 and "executionArn" in _stored(first["id"])


def test_errors_never_show_the_sdk_message_or_an_exception_class(resolver, monkeypatch):
    module = sys.modules["cherry_pick_bookings_app_under_test"]

    class Broken:
        def __getattr__(self, name):
            raise KeyError("boom: internal detail")

    monkeypatch.setattr(module, "table", Broken())
    _, error, out = resolver({"input": INPUT})
    assert type(error).__name__ == "InternalError" and str(error) == "Internal error"
    assert any(d.get("message") == "Unexpected error" for d in out)


# --- confirmBooking: IAM backends settle, they never skip the saga -------------------------------


def test_only_an_iam_backend_may_confirm(resolver, load_event):
    booking = resolver({"input": INPUT})[0]
    _set_status(booking["id"], "PAID")
    for identity in (
        load_event("appSyncDirectResolver.json")["identity"],  # a user pool user
        {**BACKEND, "cognitoIdentityId": "eu-west-1:guest", "cognitoIdentityPoolId": "eu-west-1:pool"},
        {"sourceIp": ["1.1.1.1"]},
    ):
        _, error, _ = resolver({"id": booking["id"], "status": "CONFIRMED"}, field="confirmBooking", identity=identity)
        assert type(error).__name__ == "UnauthorizedError"
    assert _stored(booking["id"])["status"] == "PAID"


def test_confirm_follows_the_status_table(resolver):
    booking = resolver({"input": INPUT})[0]
    for current, status, outcome in [
        ("PENDING", "CONFIRMED", "ConflictError"),  # would skip reserve and payment
        ("RESERVED", "CONFIRMED", "ConflictError"),  # would skip payment
        ("PAID", "CONFIRMED", None),
        ("PENDING", "CANCELLED", None),
        ("RESERVED", "CANCELLED", None),
        ("PAID", "CANCELLED", "ConflictError"),  # holds a payment: the saga refunds it first
        ("CANCELLED", "CONFIRMED", "ConflictError"),
    ]:
        _set_status(booking["id"], current)
        _, error, _ = resolver({"id": booking["id"], "status": status}, field="confirmBooking")
        assert (type(error).__name__ if error else None) == outcome, (current, status)
        assert _stored(booking["id"])["status"] == (current if outcome else status)


# --- saga steps: the status table, network errors, duplicate executions --------------------------


def test_the_status_table_forbids_moves_outside_the_saga():
    from arcblueprint.services.cherry_pick.booking_status import ALLOWED_MOVES

    for forbidden in [
        ("CANCELLED", "PAID"),
        ("CANCELLED", "RESERVED"),
        ("PENDING", "PAID"),
        ("PENDING", "CONFIRMED"),
        ("RESERVED", "CONFIRMED"),
        ("CONFIRMED", "CANCELLED"),
        ("PAID", "CANCELLED"),
    ]:
        assert forbidden not in ALLOWED_MOVES


def test_no_step_moves_a_booking_out_of_the_table(lambda_context, steps):
    for status, action in [
        ("CANCELLED", "collect_payment"),
        ("CANCELLED", "refund_payment"),
        ("CANCELLED", "cancel_booking"),
        ("PENDING", "collect_payment"),
        ("PENDING", "cancel_booking"),
        ("CANCELLED", "reserve_flight"),
    ]:
        _set_status("b-1", status)
        try:
            assert _step(lambda_context, steps, action)["changed"] is False  # a compensation with nothing to undo
        except steps.StepFailedError:
            pass
        assert _stored("b-1")["status"] == status, (status, action)


def test_network_errors_in_a_step_are_retryable(lambda_context, steps, monkeypatch):
    from botocore.exceptions import EndpointConnectionError

    def unreachable(**kwargs):
        raise EndpointConnectionError(endpoint_url="https://dynamodb.eu-west-1.amazonaws.com/")

    monkeypatch.setattr(steps.table, "update_item", unreachable)
    with pytest.raises(steps.StepRetryableError):
        _step(lambda_context, steps, "reserve_flight")


def test_a_second_execution_of_the_same_booking_changes_nothing(lambda_context, steps):
    """EXPRESS workflows do not deduplicate by name: a duplicate's steps stop, its compensations are no-ops."""
    other = {"execution": EXECUTION["execution"], "startedAt": "2026-01-01T00:00:05.000Z"}
    assert _step(lambda_context, steps, "reserve_flight")["status"] == "RESERVED"
    with pytest.raises(steps.SagaNotOwnerError):
        _step(lambda_context, steps, "reserve_flight", execution=other)
    with pytest.raises(steps.SagaNotOwnerError):
        _step(lambda_context, steps, "collect_payment", execution=other)
    assert _step(lambda_context, steps, "cancel_reservation", execution=other)["changed"] is False
    assert _stored("b-1")["status"] == "RESERVED"
    assert _step(lambda_context, steps, "collect_payment")["status"] == "PAID"  # the owner carries on


def test_malformed_step_events_fail_the_step_without_touching_the_booking(lambda_context, steps):
    for event in [
        {},
        {"booking": "b-1", "action": "reserve_flight"},
        {"booking": {"id": "b-1"}, "action": "reserve_flight"},  # no execution
        {"booking": {"id": 5}, "action": "reserve_flight", **EXECUTION},
        {"booking": {"id": "b-1"}, "action": "format_disk", **EXECUTION},
    ]:
        with pytest.raises(steps.StepFailedError):
            steps.lambda_handler(event, lambda_context("arcbp-dev-bookings-saga-steps"))
    assert _stored("b-1")["status"] == "PENDING"


# --- settlement events on the bus -----------------------------------------------------------------


@pytest.fixture
def publishing_steps(aws_env, monkeypatch):
    """The steps with EVENT_SOURCE set (as the component sets it), a bus, and a queue every bookings event lands in."""
    monkeypatch.setenv("EVENT_SOURCE", "arcblueprint.bookings")
    monkeypatch.setenv("EVENT_BUS_NAME", "platform")
    events, sqs = boto3.client("events"), boto3.client("sqs")
    events.create_event_bus(Name="platform")
    queue = sqs.create_queue(QueueName="seen")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="all", EventBusName="platform", EventPattern=json.dumps({"source": ["arcblueprint.bookings"]}))
    events.put_targets(Rule="all", EventBusName="platform", Targets=[{"Id": "q", "Arn": queue_arn}])
    module = _load("saga_steps", "cherry_pick_publishing_steps")
    boto3.resource("dynamodb").Table("bookings").put_item(Item={"id": "b-1", "status": "PENDING"})

    def seen():
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]

    yield module, seen
    sys.modules.pop("cherry_pick_publishing_steps", None)


BOOKING = {"id": "b-1", "owner": "u-1", "flightId": "FL-1", "seats": 2, "paymentToken": "tok_secret"}


def test_a_confirmed_booking_is_published_once_settled_and_never_carries_the_payment_token(
    lambda_context, publishing_steps
):
    steps, seen = publishing_steps
    for action in ("reserve_flight", "collect_payment"):
        steps.lambda_handler(
            {"booking": BOOKING, "action": action, **EXECUTION}, lambda_context("arcbp-dev-bookings-saga-steps")
        )
    assert seen() == []  # reserving and paying settle nothing
    steps.lambda_handler(
        {"booking": BOOKING, "action": "confirm_booking", **EXECUTION}, lambda_context("arcbp-dev-bookings-saga-steps")
    )
    [event] = seen()
    assert (event["source"], event["detail-type"]) == ("arcblueprint.bookings", "BookingConfirmed")
    assert event["detail"]["bookingId"] == "b-1" and event["detail"]["status"] == "CONFIRMED"
    assert "tok_secret" not in json.dumps(event)


def test_a_publish_failure_is_retryable_and_leaves_the_booking_settled(lambda_context, publishing_steps, monkeypatch):
    steps, seen = publishing_steps
    for action in ("reserve_flight", "collect_payment"):
        steps.lambda_handler(
            {"booking": BOOKING, "action": action, **EXECUTION}, lambda_context("arcbp-dev-bookings-saga-steps")
        )
    boto3.client("events").delete_event_bus(Name="platform")  # PutEvents now fails
    with pytest.raises(steps.StepRetryableError, match="publishing the CONFIRMED event failed"):
        steps.lambda_handler(
            {"booking": BOOKING, "action": "confirm_booking", **EXECUTION},
            lambda_context("arcbp-dev-bookings-saga-steps"),
        )
    assert _status() == "CONFIRMED"  # a retry of the step publishes; compensation is never entered
