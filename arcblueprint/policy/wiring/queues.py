"""SQS: a dead-letter queue keeps messages longer than the queue that dead-letters into it.

For a standard queue SQS keeps a message's original enqueue timestamp when it moves the message
to the dead-letter queue, and expiry counts from that timestamp: a message that spent most of
its source's retention failing expires from a DLQ with the same retention moments after it
arrives there. AWS's advice is a DLQ retention longer than the source's. (A FIFO queue resets
the timestamp, so FIFO sources are not judged.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from arcblueprint.policy.base import dig, json_document, number, stack_policy, truthy
from arcblueprint.policy.graph import StackGraph
from arcblueprint.policy.wiring._props import UNKNOWN, known

if TYPE_CHECKING:
    from pulumi_policy import PolicyResource, StackValidationArgs

    from arcblueprint.policy.base import ReportViolation

__all__ = ["DLQ_OUTLIVES_SOURCE", "POLICIES", "SQS_DEFAULT_RETENTION_SECONDS", "SQS_MAX_RETENTION_SECONDS"]

QUEUE = "aws:sqs/queue:Queue"
#: What SQS keeps a message for when ``messageRetentionSeconds`` is not set (4 days), and at most (14 days).
SQS_DEFAULT_RETENTION_SECONDS = 345600
SQS_MAX_RETENTION_SECONDS = 1209600


def _retention(queue: PolicyResource) -> float | None:
    """Seconds the queue keeps a message; ``None`` while unknown."""
    value = known(queue.props, "messageRetentionSeconds")
    if value is UNKNOWN:
        return None
    return number(value) or SQS_DEFAULT_RETENTION_SECONDS


def _dead_letter_queues(graph: StackGraph, source: PolicyResource) -> list[PolicyResource]:
    """The queues of the stack the source's ``redrivePolicy`` targets (by dependency, else by ARN)."""
    found = graph.refs(source, "redrivePolicy", QUEUE)
    if found:
        return found
    policy = known(source.props, "redrivePolicy")
    arn = dig(json_document(policy), "deadLetterTargetArn")
    if not isinstance(arn, str) or not arn:
        return []
    name = arn.rsplit(":", 1)[-1]
    return [q for q in graph.of_type(QUEUE) if arn == known(q.props, "arn") or name == known(q.props, "name")]


def _days(seconds: float) -> str:
    return f"{seconds:.0f} s ({seconds / 86400:g} days)"


def validate_dlq_outlives_source(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Every DLQ of the stack keeps messages longer than each standard queue that dead-letters into it."""
    graph = StackGraph(args.resources)
    for source in graph.of_type(QUEUE):
        if truthy(known(source.props, "fifoQueue")):
            continue  # FIFO resets the enqueue timestamp on dead-lettering
        kept = _retention(source)
        if kept is None:
            continue
        for dlq in _dead_letter_queues(graph, source):
            dlq_kept = _retention(dlq)
            if dlq_kept is not None and dlq_kept <= kept:
                report_violation(
                    f"SQS queue '{source.name}' keeps messages {_days(kept)} but its dead-letter queue "
                    f"'{dlq.name}' only {_days(dlq_kept)}; SQS keeps a message's original enqueue timestamp when "
                    "it dead-letters it, so the message can expire moments after reaching the DLQ. Give the DLQ "
                    f"a longer messageRetentionSeconds (at most {SQS_MAX_RETENTION_SECONDS}) or shorten the "
                    "source's.",
                    source.urn,
                )


DLQ_OUTLIVES_SOURCE = stack_policy(
    "sqs-dlq-outlives-source",
    "Each SQS dead-letter queue keeps messages longer than the queues that dead-letter into it.",
    validate_dlq_outlives_source,
    remediation_steps="Keep DLQs at 14 days (the SQS maximum) and source queues at 13 days or less.",
)

POLICIES = [DLQ_OUTLIVES_SOURCE]
