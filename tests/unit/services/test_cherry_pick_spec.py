"""Cherry-pick: the schema is valid GraphQL with field-level auth, the saga is sound, bad config fails."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import build_schema, validate
from graphql.language import parse as parse_graphql
from hypothesis import given
from hypothesis import strategies as st

from arcblueprint.config.schema import ConfigError, parse
from arcblueprint.services.cherry_pick.saga import SagaRetry, SagaStep, build_saga, validate_saga
from arcblueprint.services.cherry_pick.spec import CherryPickSpec

HERE = Path(__file__).resolve().parents[3] / "arcblueprint/services/cherry_pick"
ARN = "arn:aws:lambda:eu-west-1:111111111111:function:arcbp-dev-bookings-saga-steps:live"

# What AppSync predefines (its scalars and auth directives); the schema file must not redefine them.
APPSYNC_PRELUDE = """
scalar AWSDateTime
directive @aws_iam on OBJECT | FIELD_DEFINITION
directive @aws_cognito_user_pools(cognito_groups: [String]) on OBJECT | FIELD_DEFINITION
directive @aws_auth(cognito_groups: [String]) on FIELD_DEFINITION
"""


@pytest.fixture(scope="module")
def schema():
    return build_schema(APPSYNC_PRELUDE + (HERE / "schema.graphql").read_text())


def test_the_schema_is_valid_graphql_and_queries_against_it_validate(schema):
    query = parse_graphql(
        'query { getBooking(id: "1") { id status seats } listBookings(limit: 5) { items { id } nextToken } }'
    )
    assert validate(schema, query) == []
    bad = parse_graphql('query { getBooking(id: "1") { id price } }')
    assert validate(schema, bad)  # unknown field is rejected


def test_field_level_authorization_is_declared(schema):
    payment = schema.type_map["Booking"].fields["paymentReference"].ast_node
    directives = {d.name.value: d for d in payment.directives}
    assert "aws_cognito_user_pools" in directives and "aws_iam" in directives
    groups = directives["aws_cognito_user_pools"].arguments[0].value.values
    assert [g.value for g in groups] == ["admins"]
    confirm = schema.mutation_type.fields["confirmBooking"].ast_node
    assert [d.name.value for d in confirm.directives] == ["aws_iam"]


def test_the_schema_file_does_not_redefine_appsync_builtins():
    text = (HERE / "schema.graphql").read_text()
    assert "directive @" not in text and "scalar AWS" not in text


def test_the_saga_is_sound_and_every_task_retries_with_backoff_and_compensates():
    definition = build_saga(ARN)
    assert validate_saga(definition) == []
    states = definition["States"]
    for name in ("ReserveFlight", "CollectPayment", "ConfirmBooking"):
        task = states[name]
        assert task["Retry"][0]["BackoffRate"] > 1 and task["Retry"][0]["IntervalSeconds"] >= 1
        target = task["Catch"][-1]["Next"]
        assert task["Catch"][-1]["ErrorEquals"] == ["States.ALL"]
        assert states[target]["Type"] == "Task" and states[target]["Parameters"]["FunctionName"] == ARN
        # A second execution of the same booking stops, without compensating what the first one did.
        assert task["Catch"][0] == {
            "ErrorEquals": ["SagaNotOwnerError"],
            "ResultPath": "$.error",
            "Next": "AlreadyHandled",
        }
        assert task["Parameters"]["Payload"]["execution.$"] == "$$.Execution.Id"
    assert states["AlreadyHandled"]["Type"] == "Succeed"
    # Network errors are retried: AWS's recommended Lambda errors, and the steps' own StepRetryableError.
    retried = set(states["ReserveFlight"]["Retry"][0]["ErrorEquals"])
    assert {
        "Lambda.ClientExecutionTimeoutException",
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "StepRetryableError",
    } <= retried
    assert "StepFailedError" not in retried and "States.ALL" not in retried
    # Failing at payment undoes payment, then the reservation, then fails the booking.
    chain, state = [], states["CollectPayment"]["Catch"][-1]["Next"]
    while states[state]["Type"] == "Task":
        chain.append(state)
        state = states[state]["Next"]
    assert chain == ["RefundPayment", "CancelFlightReservation"] and state == "BookingFailed"


@given(
    count=st.integers(1, 8),
    attempts=st.integers(1, 10),
    interval=st.integers(1, 300),
    rate=st.floats(1.1, 10, allow_nan=False),
)
def test_any_generated_saga_validates(count, attempts, interval, rate):
    steps = [
        SagaStep(name=f"Step{i}", action=f"do_{i}", compensation=f"Undo{i}", compensation_action=f"undo_{i}")
        for i in range(count)
    ]
    definition = build_saga(
        ARN, steps=steps, retry=SagaRetry(max_attempts=attempts, interval_seconds=interval, backoff_rate=rate)
    )
    assert validate_saga(definition) == []
    tasks = [s for s in definition["States"].values() if s["Type"] == "Task"]
    assert len(tasks) == 2 * count and all(s["Catch"] for s in tasks)


def test_the_validator_catches_a_task_without_retry_or_catch():
    definition = build_saga(ARN)
    del definition["States"]["CollectPayment"]["Retry"]
    definition["States"]["ConfirmBooking"]["Catch"] = []
    problems = validate_saga(definition)
    assert "CollectPayment has no retry with backoff" in problems
    assert "ConfirmBooking does not catch every error" in problems


@pytest.mark.parametrize(
    ("data", "key", "fragment"),
    [
        ({"caching": {"ttlSeconds": 0}}, "services.bookings.caching.ttlSeconds", "from 1 to 3600"),
        ({"caching": {"ttlSeconds": 3601}}, "services.bookings.caching.ttlSeconds", "from 1 to 3600"),
        (
            {"caching": {"resolvers": ["Mutation.createBooking"]}},
            "services.bookings.caching.resolvers",
            "Query.getBooking",
        ),
        ({"authorizer": "apikey"}, "services.bookings.authorizer", "cognito, iam"),
        ({"sagaType": "FAST"}, "services.bookings.sagaType", "STANDARD"),
        ({"sagaRetry": {"backoffRate": 1.0}}, "services.bookings.sagaRetry.backoffRate", "1.1"),
    ],
)
def test_invalid_specs_name_the_key(data, key, fragment):
    with pytest.raises(ConfigError) as caught:
        parse(CherryPickSpec, data, "services.bookings")
    assert caught.value.key == key and fragment in str(caught.value) and "\n" not in str(caught.value)


@given(ttl=st.integers(1, 3600))
def test_valid_cache_ttls_parse(ttl):
    spec = parse(CherryPickSpec, {"caching": {"ttlSeconds": ttl, "resolvers": ["Query.listBookings"]}}, "s")
    assert spec.caching.ttl_seconds == ttl


def test_the_stack_example_parses_and_only_prod_caches():
    import yaml

    data = yaml.safe_load((HERE / "stack-example.yaml").read_text())
    specs = {}
    for stack in ("dev", "prod"):
        ((name, entry),) = data[stack].items()
        assert entry.pop("pattern") == "cherry-pick"
        specs[stack] = parse(CherryPickSpec, entry, f"services.{name}")
    assert specs["dev"].caching is None and specs["prod"].caching.ttl_seconds == 300
