"""The booking saga as an Amazon States Language document, built in Python (pure: no Pulumi here).

Each step is a Lambda task with a Retry (exponential backoff, jitter) and a Catch that starts the
compensations: the failed step's own compensation first (compensations are idempotent, so undoing
a half-done step is safe), then those of every earlier step in reverse order, then ``BookingFailed``.
Compensations retry harder and, if they still fail, end in ``CompensationFailed`` for an operator.

Each task passes the step its execution's id and start time (``$$.Execution``): the steps act only
on a booking their own execution claimed, and a forward step of a second execution of the same
booking raises ``SagaNotOwnerError``, which ends that execution in ``AlreadyHandled`` without
compensating (Step Functions does not deduplicate EXPRESS executions by name).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["BOOKING_STEPS", "NOT_OWNER", "RETRYABLE", "SagaRetry", "SagaStep", "build_saga", "validate_saga"]

#: Transient errors worth retrying: AWS's recommended set for lambda:invoke tasks (the service's 500s and
#: the invoke's client/network failures), throttling, a function that crashed or timed out (``Lambda.Unknown``:
#: the steps are idempotent), the task's own timeout, and the steps' own ``StepRetryableError`` (their
#: store throttled or unreachable: network errors inside the function are raised under this name).
RETRYABLE = [
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.Unknown",
    "States.Timeout",
    "StepRetryableError",
]
#: Raised by a forward step whose booking another execution claimed: this execution stops, changing nothing.
NOT_OWNER = "SagaNotOwnerError"


@dataclass(frozen=True, kw_only=True)
class SagaStep:
    """A forward step and the action that undoes it."""

    name: str
    action: str
    compensation: str
    compensation_action: str


@dataclass(frozen=True, kw_only=True)
class SagaRetry:
    max_attempts: int = 3
    interval_seconds: int = 2
    backoff_rate: float = 2.0
    max_delay_seconds: int = 60


BOOKING_STEPS: tuple[SagaStep, ...] = (
    SagaStep(
        name="ReserveFlight",
        action="reserve_flight",
        compensation="CancelFlightReservation",
        compensation_action="cancel_reservation",
    ),
    SagaStep(
        name="CollectPayment",
        action="collect_payment",
        compensation="RefundPayment",
        compensation_action="refund_payment",
    ),
    SagaStep(
        name="ConfirmBooking",
        action="confirm_booking",
        compensation="CancelBooking",
        compensation_action="cancel_booking",
    ),
)


def _task(function_arn: str, action: str, retry: SagaRetry, *, attempts: int, timeout_seconds: int) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {
            "FunctionName": function_arn,
            "Payload": {
                "action": action,
                "booking.$": "$.booking",
                "execution.$": "$$.Execution.Id",
                "startedAt.$": "$$.Execution.StartTime",
            },
        },
        "ResultSelector": {"result.$": "$.Payload"},
        "ResultPath": f"$.results.{action}",
        "TimeoutSeconds": timeout_seconds,
        "Retry": [
            {
                "ErrorEquals": RETRYABLE,
                "IntervalSeconds": retry.interval_seconds,
                "BackoffRate": retry.backoff_rate,
                "MaxAttempts": attempts,
                "MaxDelaySeconds": retry.max_delay_seconds,
                "JitterStrategy": "FULL",
            }
        ],
    }


def build_saga(
    function_arn: str,
    *,
    steps: Sequence[SagaStep] = BOOKING_STEPS,
    retry: SagaRetry | None = None,
    step_timeout_seconds: int = 30,
) -> dict[str, Any]:
    """The state machine definition; ``function_arn`` is the step function's ``live`` alias."""
    if not steps:
        raise ValueError("a saga needs at least one step")
    retry = retry or SagaRetry()
    states: dict[str, Any] = {}
    for i, step in enumerate(steps):
        task = _task(
            function_arn, step.action, retry, attempts=retry.max_attempts, timeout_seconds=step_timeout_seconds
        )
        task["Catch"] = [
            {"ErrorEquals": [NOT_OWNER], "ResultPath": "$.error", "Next": "AlreadyHandled"},
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": step.compensation},
        ]
        if i + 1 < len(steps):
            task["Next"] = steps[i + 1].name
        else:
            task["Next"] = "BookingSucceeded"
        states[step.name] = task
    for i, step in enumerate(steps):
        # Compensations must not give up early: twice the attempts of a forward step.
        task = _task(
            function_arn,
            step.compensation_action,
            retry,
            attempts=retry.max_attempts * 2,
            timeout_seconds=step_timeout_seconds,
        )
        task["Catch"] = [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.compensationError", "Next": "CompensationFailed"}
        ]
        task["Next"] = steps[i - 1].compensation if i > 0 else "BookingFailed"
        states[step.compensation] = task
    states["BookingSucceeded"] = {"Type": "Succeed"}
    states["AlreadyHandled"] = {"Type": "Succeed", "Comment": "Another execution of this booking's saga owns it"}
    states["BookingFailed"] = {
        "Type": "Fail",
        "Error": "BookingFailed",
        "Cause": "A step failed; every completed step was compensated",
    }
    states["CompensationFailed"] = {
        "Type": "Fail",
        "Error": "CompensationFailed",
        "Cause": "A compensation failed after its retries; needs an operator",
    }
    return {
        "Comment": "Booking saga: forward steps with retries, compensations on failure",
        "StartAt": steps[0].name,
        "States": states,
    }


def validate_saga(definition: dict[str, Any]) -> list[str]:
    """Problems with a saga definition (empty when it is sound); used by tests and the component."""
    problems: list[str] = []
    states = definition.get("States", {})
    if definition.get("StartAt") not in states:
        problems.append(f"StartAt {definition.get('StartAt')!r} is not a state")
    compensations = {c["Next"] for s in states.values() for c in s.get("Catch", [])}
    reachable, todo = set(), [definition.get("StartAt")]
    while todo:
        name = todo.pop()
        if name in reachable or name not in states:
            continue
        reachable.add(name)
        state = states[name]
        todo += [state["Next"]] if "Next" in state else []
        todo += [c["Next"] for c in state.get("Catch", [])]
    for name, state in states.items():
        targets = ([state["Next"]] if "Next" in state else []) + [c["Next"] for c in state.get("Catch", [])]
        problems += [f"{name} goes to unknown state {t!r}" for t in targets if t not in states]
        if name not in reachable:
            problems.append(f"{name} is unreachable")
        if state["Type"] == "Task":
            retries = state.get("Retry", [])
            if not retries or any(r.get("BackoffRate", 1) <= 1 or r.get("IntervalSeconds", 0) < 1 for r in retries):
                problems.append(f"{name} has no retry with backoff")
            catches = state.get("Catch", [])
            if not any("States.ALL" in c["ErrorEquals"] for c in catches):
                problems.append(f"{name} does not catch every error")
            if "TimeoutSeconds" not in state:
                problems.append(f"{name} has no timeout")
        elif state["Type"] not in ("Succeed", "Fail"):
            problems.append(f"{name} has unexpected type {state['Type']}")
    forward = [
        n
        for n, s in states.items()
        if s["Type"] == "Task"
        and n not in compensations
        and not any(c["Next"] == "CompensationFailed" for c in s.get("Catch", []))
    ]
    for name in forward:
        catch_all = [c for c in states[name].get("Catch", []) if "States.ALL" in c["ErrorEquals"]]
        if not catch_all or states.get(catch_all[0]["Next"], {}).get("Type") != "Task":
            problems.append(f"{name} does not catch into a compensation")
    for name, state in states.items():
        catches = state.get("Catch", [])
        if any("States.ALL" in c["ErrorEquals"] for c in catches[:-1]):
            problems.append(f"{name} catches States.ALL before its last catcher")
    return problems
