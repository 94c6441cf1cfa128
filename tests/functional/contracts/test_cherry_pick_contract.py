"""Contract: the booking resolver (AppSync direct Lambda) raises only its declared client errors, with clean
messages, for any event of AppSync's shape; and no sequence of saga-step calls, from any number of
executions, moves a booking outside the status table."""

from __future__ import annotations

import copy
from pathlib import Path

import boto3
import pytest
from hypothesis import event as note
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from arcblueprint.services.cherry_pick.booking_status import ALLOWED_MOVES, MOVES, STATUSES
from arcblueprint.services.testing import load_handler
from tests.strategies import contracts as cs
from tests.strategies.moto_tables import booking_saga

HANDLERS = Path(__file__).resolve().parents[3] / "arcblueprint/services/cherry_pick/handlers"
SAMPLE = cs.sample("appSyncDirectResolver.json")
SUB = SAMPLE["identity"]["sub"]
BACKEND = {
    "accountId": "111111111111",
    "cognitoIdentityPoolId": None,
    "cognitoIdentityId": None,
    "sourceIp": ["10.0.0.1"],
    "username": "AROAEXAMPLE:settler",
    "userArn": "arn:aws:sts::111111111111:assumed-role/booking-settler/settler",
}
CLIENT_ERRORS = {"ValidationError", "ConflictError", "NotFoundError", "UnauthorizedError"}
#: What the state machine sends a step (its Payload template, filled in as Step Functions does).
STEP_EVENT = {
    "action": "reserve_flight",
    "booking": {"id": "b-0", "status": "PENDING"},
    "execution": "arn:aws:states:eu-west-1:111111111111:execution:booking-saga:n",
    "startedAt": "t0",
}


@pytest.fixture(scope="module")
def aws():
    with pytest.MonkeyPatch.context() as patch, mock_aws():
        for key, value in {
            "TABLE_NAME": "bookings",
            "POWERTOOLS_SERVICE_NAME": "bookings",
            "POWERTOOLS_METRICS_NAMESPACE": "arcblueprint-tests",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }.items():
            patch.setenv(key, value)
        patch.setenv("STATE_MACHINE_ARN", booking_saga("111111111111"))
        table = boto3.resource("dynamodb").Table("bookings")
        for status in STATUSES:
            table.put_item(
                Item={
                    "id": f"{SUB}:k-{status}",
                    "owner": SUB,
                    "flightId": "FL-1",
                    "seats": 1,
                    "status": status,
                    "createdAt": "2026-01-01T00:00:00.000+00:00",
                }
            )
        yield {
            "table": table,
            "bookings": load_handler(HANDLERS / "bookings", "cherry_pick_bookings_contract"),
            "steps": load_handler(HANDLERS / "saga_steps", "cherry_pick_steps_contract"),
        }


inputs = st.fixed_dictionaries(
    {
        "idempotencyKey": st.sampled_from(["k-1", "k-2", "k-PENDING"]),
        "flightId": st.sampled_from(["FL-1", "FL-2"]),
        "seats": st.integers(0, 10),
        "paymentToken": st.sampled_from(["tok_1", "tok_2"]),
    }
)
create_arguments = cs.either(
    inputs.flatmap(cs.with_junk).map(lambda i: {"input": i}),
    st.dictionaries(st.sampled_from(["input", "id", "extra"]), cs.junk, max_size=2),
    first_in=4,
)
confirm_arguments = st.fixed_dictionaries(
    {
        "id": cs.either(st.sampled_from([f"{SUB}:k-{s}" for s in STATUSES] + ["nobody:x"]), cs.junk),
        "status": cs.either(st.sampled_from([*STATUSES, "LOST"]), cs.junk),
    }
)
GUEST = {**BACKEND, "cognitoIdentityId": "eu-west-1:guest"}  # an identity pool's end user, signed with IAM
#: Mostly callers the field accepts, then the others, then junk.
identities = {
    "createBooking": cs.either(st.sampled_from([SAMPLE["identity"], BACKEND]), cs.junk, first_in=4),
    "confirmBooking": cs.either(st.just(BACKEND), st.sampled_from([SAMPLE["identity"], GUEST, None, "x"]), first_in=4),
}


@cs.contract
@given(
    field=st.sampled_from(["createBooking", "confirmBooking"]),
    data=st.data(),
    mutation=cs.mutated(
        {"info": SAMPLE["info"], "request": SAMPLE["request"], "source": None, "prev": None, "stash": {}},
        protect=[("info", "fieldName"), ("info", "parentTypeName")],
    ),
)
def test_the_resolver_raises_only_its_client_errors_and_moves_only_by_the_table(
    lambda_context, aws, field, data, mutation
):
    module = aws["bookings"]
    arguments = data.draw(create_arguments if field == "createBooking" else confirm_arguments)
    identity = data.draw(identities[field])
    event = {**copy.deepcopy(SAMPLE), **mutation, "arguments": arguments, "identity": identity}
    event["info"] = {**event["info"], "parentTypeName": "Mutation", "fieldName": field}
    target = arguments.get("id") if field == "confirmBooking" and isinstance(arguments.get("id"), str) else None
    before = aws["table"].get_item(Key={"id": target}).get("Item") if target and len(target) < 1024 else None
    try:
        result = module.lambda_handler(event, lambda_context("arcbp-dev-bookings-bookings"))
    except module.BookingError as error:
        note(f"{field} -> {type(error).__name__}")
        assert type(error).__name__ in CLIENT_ERRORS, f"{type(error).__name__}: {error}"
        cs.assert_clean_message(str(error))
        result = None
    else:
        note(f"{field} -> ok")
        assert set(result) <= set(module.PUBLIC_FIELDS) and result["status"] in STATUSES
        if field == "createBooking" and result["status"] == "PENDING":
            assert "executionArn" in aws["table"].get_item(Key={"id": result["id"]})["Item"]
    if before is not None:
        after = aws["table"].get_item(Key={"id": target})["Item"]["status"]
        assert after == before["status"] or (before["status"], after) in ALLOWED_MOVES
        aws["table"].put_item(Item=before)  # the next example starts from the same statuses


calls = st.lists(
    st.tuples(st.sampled_from([*MOVES, "format_disk"]), st.sampled_from(["t0", "t1"])), min_size=1, max_size=5
)


@settings(parent=cs.contract, max_examples=60)  # each example is a few store calls: 60 keep it near 3 s
@given(calls=calls, start=st.sampled_from(STATUSES), junk_event=cs.mutated(STEP_EVENT, max_mutations=2))
def test_no_sequence_of_step_calls_moves_a_booking_outside_the_table(lambda_context, aws, calls, start, junk_event):
    module = aws["steps"]
    aws["table"].put_item(Item={"id": "b-0", "status": start})
    declared = (module.StepRetryableError, module.StepFailedError, module.SagaNotOwnerError)
    status = start
    for action, started in calls:  # two executions of the saga (t0, t1), interleaved
        try:
            result = module.apply(aws["table"], action, "b-0", f"{STEP_EVENT['execution']}@{started}")
        except declared:
            continue
        if result["changed"]:
            assert (status, result["status"]) in ALLOWED_MOVES, f"{action} moved {status} -> {result['status']}"
            status = result["status"]
    assert aws["table"].get_item(Key={"id": "b-0"})["Item"]["status"] == status  # no move went unreported
    try:  # an event of the wrong shape: a declared error (or a move by the table), never another exception
        module.lambda_handler(junk_event, lambda_context("arcbp-dev-bookings-saga-steps"))
    except declared:
        pass
    now = aws["table"].get_item(Key={"id": "b-0"})["Item"]["status"]
    assert now == status or (status, now) in ALLOWED_MOVES
