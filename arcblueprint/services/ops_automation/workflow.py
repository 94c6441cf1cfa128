"""The event-triggered workflow, as an Amazon States Language document (pure: no Pulumi here).

A domain event routed to the workflow (``target: workflow``) is first recorded by the audit
function, then announced on the platform's notification topic. Each task retries transient
errors with backoff; anything that still fails ends the execution in ``WorkflowFailed``, where
the execution history (and the rule's DLQ for a start that never happened) keeps it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["build_workflow"]

_RETRY = {"IntervalSeconds": 2, "BackoffRate": 2.0, "MaxAttempts": 3, "MaxDelaySeconds": 30, "JitterStrategy": "FULL"}


def build_workflow(audit_function_arn: str, topic_arn: str) -> dict[str, Any]:
    """Record the event, then notify; ``audit_function_arn`` is the audit function's ``live`` alias."""
    failed = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "WorkflowFailed"}]
    return {
        "Comment": "Operations workflow for a domain event: record it, then notify",
        "StartAt": "RecordEvent",
        "States": {
            "RecordEvent": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": audit_function_arn, "Payload.$": "$"},
                "ResultSelector": {"recorded.$": "$.Payload"},
                "ResultPath": "$.audit",
                "TimeoutSeconds": 30,
                "Retry": [
                    {
                        "ErrorEquals": [
                            "Lambda.ServiceException",
                            "Lambda.AWSLambdaException",
                            "Lambda.SdkClientException",
                            "Lambda.TooManyRequestsException",
                            "States.Timeout",
                        ],
                        **_RETRY,
                    }
                ],
                "Catch": failed,
                "Next": "Notify",
            },
            "Notify": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sns:publish",
                "Parameters": {
                    "TopicArn": topic_arn,
                    "Subject.$": "States.Format('{} from {}', $['detail-type'], $.source)",
                    "Message.$": "States.JsonToString($)",
                },
                "ResultPath": None,
                "TimeoutSeconds": 30,
                "Retry": [{"ErrorEquals": ["States.ALL"], **_RETRY}],
                "Catch": failed,
                "Next": "Done",
            },
            "Done": {"Type": "Succeed"},
            "WorkflowFailed": {
                "Type": "Fail",
                "Error": "WorkflowFailed",
                "Cause": "Recording or notifying failed after retries",
            },
        },
    }
