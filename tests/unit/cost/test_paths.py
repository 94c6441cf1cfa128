"""The per-request price rules: a Lambda invocation, and the succeeded path of a state machine."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arcblueprint.cost.paths import happy_path, lambda_invocation_usd
from arcblueprint.cost.prices import load_prices

PRICES = load_prices("eu-west-1")


def test_an_invocation_is_the_request_plus_gb_seconds_at_the_architecture_rate():
    # 512 MB for 120 ms on arm64: $0.0000002 + 0.5 GB x 0.12 s x $0.0000133334
    assert lambda_invocation_usd(512, 120, "arm64", PRICES) == pytest.approx(0.0000002 + 0.5 * 0.12 * 0.0000133334)
    # the same on x86_64: the GB-second costs $0.0000166667
    assert lambda_invocation_usd(512, 120, "x86_64", PRICES) == pytest.approx(0.0000002 + 0.5 * 0.12 * 0.0000166667)
    # a million 1,769 MB invocations of 1 s on arm64: $0.20 + 1,727.5 GB-s x 1e6 ... per million
    assert lambda_invocation_usd(1769, 1000, "arm64", PRICES) * 1e6 == pytest.approx(0.2 + 1769 / 1024 * 13.3334)


@given(
    memory=st.integers(128, 10240),
    low=st.floats(1, 10_000),
    extra=st.floats(0, 10_000),
    architecture=st.sampled_from(["arm64", "x86_64"]),
)
def test_an_invocation_never_costs_less_for_longer_or_bigger(memory, low, extra, architecture):
    base = lambda_invocation_usd(memory, low, architecture, PRICES)
    assert lambda_invocation_usd(memory, low + extra, architecture, PRICES) >= base
    assert lambda_invocation_usd(min(memory * 2, 10240), low, architecture, PRICES) >= base
    assert lambda_invocation_usd(memory, low, "arm64", PRICES) <= lambda_invocation_usd(memory, low, "x86_64", PRICES)


SAGA = {
    "StartAt": "Reserve",
    "States": {
        "Reserve": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Next": "Pay",
            "Catch": [{"Next": "Undo"}],
        },
        "Pay": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "Paid?"},
        "Paid?": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.ok", "BooleanEquals": True, "Next": "Done"}],
            "Default": "Undo",
        },
        "Undo": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "Failed"},
        "Done": {"Type": "Succeed"},
        "Failed": {"Type": "Fail"},
    },
}


def test_the_happy_path_follows_next_and_stops_at_the_end():
    names = [next(k for k, v in SAGA["States"].items() if v is s) for s in happy_path(SAGA)]
    assert names == ["Reserve", "Pay", "Paid?", "Undo", "Failed"]  # a Choice follows its Default
    linear = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "End": True}}}
    assert len(happy_path(json.dumps(linear))) == 2
    loop = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "A"}}}
    assert len(happy_path(loop)) == 1  # a loop is counted once, never forever
