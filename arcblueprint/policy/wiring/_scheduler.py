"""EventBridge Scheduler: a schedule runs only if its execution role may do all it asks of the role.

Scheduler has no resource policy of its own to lean on: it assumes the schedule's role
(``target.roleArn``) and calls the target, and the dead-letter queue, with it (Scheduler user
guide, "Set up the execution role"; "Configuring a dead-letter queue"). So:

* the role must trust ``scheduler.amazonaws.com``; a source condition must admit this schedule:
  Scheduler sends ``aws:SourceAccount`` and ``aws:SourceArn``, the latter the ARN of the schedule
  *group*, never of a schedule ("Confused deputy prevention");
* its policies must allow the target's action (``lambda:InvokeFunction`` on the alias it names,
  ``sqs:SendMessage``, ``states:StartExecution``...) and ``sqs:SendMessage`` on the DLQ;
* a DLQ (or a target) encrypted with a customer managed key needs that key to admit the role
  (the account or the role in its policy) and the role's policies to allow ``kms:GenerateDataKey``
  and ``kms:Decrypt`` (a queue) or ``kms:GenerateDataKey`` (a stream, a state machine's input).
"""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, Any

from arcblueprint.policy.base import as_list, is_mapping, json_document, known, known_dig
from arcblueprint.policy.wiring._delivery import ROLE, key_problems, role_grants, target_key
from arcblueprint.policy.wiring._props import UNKNOWN, service_allowed

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pulumi_policy import PolicyResource

    from arcblueprint.policy.graph import StackGraph

__all__ = ["SCHEDULE", "schedule_problems"]

SCHEDULE = "aws:scheduler/schedule:Schedule"
GROUP = "aws:scheduler/scheduleGroup:ScheduleGroup"
SCHEDULER = "scheduler.amazonaws.com"
QUEUE = "aws:sqs/queue:Queue"
KEY = "aws:kms/key:Key"
#: Resource type of a target -> the action Scheduler calls on it with the role.
_ACTIONS = {
    "aws:lambda/function:Function": "lambda:InvokeFunction",
    "aws:lambda/alias:Alias": "lambda:InvokeFunction",
    QUEUE: "sqs:SendMessage",
    "aws:sfn/stateMachine:StateMachine": "states:StartExecution",
    "aws:kinesis/stream:Stream": "kinesis:PutRecord",
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": "firehose:PutRecord",
    "aws:sns/topic:Topic": "sns:Publish",
    "aws:cloudwatch/eventBus:EventBus": "events:PutEvents",
}
#: The same by the service of a target's ARN (a target outside the stack).
_SERVICE_ACTIONS = {
    "lambda": "lambda:InvokeFunction",
    "sqs": "sqs:SendMessage",
    "states": "states:StartExecution",
    "kinesis": "kinesis:PutRecord",
    "firehose": "firehose:PutRecord",
    "sns": "sns:Publish",
    "events": "events:PutEvents",
}
#: What the role needs of a customer managed key protecting a queue (SQS SSE) or the target.
_QUEUE_KEY_ACTIONS = ["kms:GenerateDataKey", "kms:Decrypt"]


def _by_arn(candidates: list[PolicyResource], arn: Any) -> PolicyResource | None:
    return next((r for r in candidates if isinstance(arn, str) and known(r.props, "arn") == arn), None)


def _target_and_dlq(
    graph: StackGraph, schedule: PolicyResource, target: Mapping[str, Any]
) -> tuple[PolicyResource | None, PolicyResource | None]:
    """The stack's resources the schedule's target invokes and dead-letters to (by ARN, else by edge)."""
    candidates = graph.refs(schedule, "target", *_ACTIONS)
    arn, dlq_arn = known_dig(target, "arn"), known_dig(target, "deadLetterConfig", "arn")
    found = _by_arn(candidates, arn)
    if found is None and arn is UNKNOWN:
        others = [r for r in candidates if r.resource_type != QUEUE]
        found = others[0] if len(others) == 1 else None
    dlq = _by_arn([r for r in candidates if r.resource_type == QUEUE], dlq_arn)
    if dlq is None and dlq_arn is UNKNOWN:
        queues = [r for r in candidates if r.resource_type == QUEUE and r is not found]
        dlq = queues[0] if len(queues) == 1 else None
    return found, dlq


def _group_name(graph: StackGraph, schedule: PolicyResource) -> Any:
    name = known(schedule.props, "groupName")
    if name is UNKNOWN:
        group = graph.ref(schedule, "groupName", GROUP)
        return known(group.props, "name") if group is not None else UNKNOWN
    return name or "default"


def _account_of(*resources: PolicyResource | None) -> str | None:
    for resource in resources:
        arn = known(resource.props, "arn") if resource is not None else None
        if isinstance(arn, str) and arn.count(":") >= 5 and arn.split(":")[4]:
            return arn.split(":")[4]
    return None


def _admits_schedule(group: Any, account: str | None) -> Any:
    """An ``admits`` test for :func:`service_allowed`: the trust statement's conditions hold for Scheduler."""

    def group_matches(value: Any) -> bool:
        parts = str(value).split(":", 5)
        if len(parts) < 6 or parts[2] not in ("scheduler", "*"):
            return False
        if account is not None and not fnmatch.fnmatchcase(account, parts[4]):
            return False
        # Scheduler's source is the group's ARN: a schedule ARN (schedule/<group>/<name>) never matches.
        return not isinstance(group, str) or fnmatch.fnmatchcase(f"schedule-group/{group}", parts[5])

    def admits(statement: Mapping[str, Any]) -> bool:
        condition = statement.get("Condition")
        for operator, tests in condition.items() if is_mapping(condition) else ():
            if not is_mapping(tests):
                return False
            negated = str(operator).startswith(("ArnNot", "StringNot"))
            for name, values in tests.items():
                key = str(name).lower()
                if key == "aws:sourcearn":
                    if negated or not any(group_matches(v) for v in as_list(values)):
                        return False
                elif key == "aws:sourceaccount" and account is not None:
                    if negated or not any(fnmatch.fnmatchcase(account, str(v)) for v in as_list(values)):
                        return False
        return True

    return admits


def schedule_problems(graph: StackGraph, schedule: PolicyResource) -> list[str]:
    """What stops Scheduler from running ``schedule``'s target, or from keeping what it cannot deliver."""
    target = known(schedule.props, "target")
    if not is_mapping(target):
        return []
    roles = graph.refs(schedule, "target", ROLE)
    role_arn = known_dig(target, "roleArn")
    role = roles[0] if roles else _by_arn(graph.of_type(ROLE), role_arn)
    if role is None:
        return []  # a role outside the stack: its owner answers for it
    resource, dlq = _target_and_dlq(graph, schedule, target)
    problems: list[str] = []
    trust = known(role.props, "assumeRolePolicy")
    group = _group_name(graph, schedule)
    if trust is not UNKNOWN and service_allowed(
        json_document(trust), SCHEDULER, ["sts:AssumeRole"], _admits_schedule(group, _account_of(schedule, role))
    ):
        problems.append(
            f"its role '{role.name}' does not let {SCHEDULER} sts:AssumeRole for schedules of group "
            f"{group if isinstance(group, str) else '(computed)'!r} (a source condition must name the schedule "
            "group's ARN and the account)"
        )
    arn = known_dig(target, "arn")
    service = arn.split(":")[2] if isinstance(arn, str) and arn.count(":") >= 5 else None
    universal = isinstance(arn, str) and ":aws-sdk:" in arn  # a universal target: the action is in the ARN
    action = _ACTIONS.get(resource.resource_type) if resource is not None else _SERVICE_ACTIONS.get(service or "")
    if action is not None and not universal and role_grants(graph, role, action, arn, resource) is False:
        problems.append(f"its role '{role.name}' has no policy that allows {action} on the target")
    if resource is not None:
        key, key_id = target_key(graph, resource)
        problems += key_problems(graph, role, key, key_id, ["kms:GenerateDataKey"], f"its target '{resource.name}'")
    dlq_arn = known_dig(target, "deadLetterConfig", "arn")
    if dlq is not None or isinstance(dlq_arn, str):
        if role_grants(graph, role, "sqs:SendMessage", dlq_arn, dlq) is False:
            problems.append(
                f"its role '{role.name}' has no policy that allows sqs:SendMessage on its dead-letter queue"
            )
        if dlq is not None:
            key_id = known(dlq.props, "kmsMasterKeyId")
            keys = graph.refs(dlq, "kmsMasterKeyId", KEY)
            if keys or (isinstance(key_id, str) and key_id and not key_id.startswith("alias/aws/")):
                problems += key_problems(
                    graph,
                    role,
                    keys[0] if keys else None,
                    key_id,
                    _QUEUE_KEY_ACTIONS,
                    f"its dead-letter queue '{dlq.name}'",
                )
    return problems
