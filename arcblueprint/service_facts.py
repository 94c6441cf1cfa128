"""What AWS services do on the stack's behalf: the facts the platform and the policy pack share (pure).

Each fact decides a default of the platform and the rule that checks it, so it lives here once,
with the AWS document it comes from:

* which services invoke a function asynchronously (they need the function's failure path);
* which services put ``aws:SourceArn``/``aws:SourceAccount`` in the request when they assume a
  role (a trust policy can pin them to this account's resources; a service that does not send
  the keys would be locked out by the same condition);
* which services use a KMS key themselves (the key policy must name them) and which use it with
  the caller's permissions (the key policy must not: the caller's role carries the grant);
* which actions an SNS topic policy may name (SNS rejects a policy with any other action).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "state_machine_observability_statements",
    "ASYNC_INVOKERS",
    "CALLER_KEY_SERVICES",
    "KEY_USING_SERVICES",
    "SOURCE_KEY_SERVICES",
    "TOPIC_POLICY_ACTIONS",
    "service_trust_policy",
    "topic_tls_only_statement",
]

#: Service principals that invoke a function asynchronously. Lambda guide, "Invoking a Lambda function
#: asynchronously": "Several AWS services, such as Amazon S3 and Amazon SNS, invoke functions
#: asynchronously"; EventBridge rules, SES, CloudWatch Logs subscriptions, IoT, Config and CodeCommit
#: are the other asynchronous event sources of the guide's list. EventBridge Scheduler invokes
#: asynchronously too ("Using Lambda with EventBridge Scheduler"), with a role instead of a permission.
ASYNC_INVOKERS = frozenset(
    {
        "events.amazonaws.com",
        "sns.amazonaws.com",
        "s3.amazonaws.com",
        "ses.amazonaws.com",
        "logs.amazonaws.com",
        "iot.amazonaws.com",
        "config.amazonaws.com",
        "codecommit.amazonaws.com",
    }
)

#: Service principal -> (the ARN ``aws:SourceArn`` carries when it assumes a role, the AWS document).
#: Only services whose guide documents the keys on role trust: a condition on a key a service does
#: not send denies every AssumeRole (``apigateway-integration-role-trust`` for API Gateway's
#: integration roles). Not here, for lack of a source that the keys are sent on AssumeRole: API
#: Gateway (its CloudWatch role and integration roles), AppSync, Lambda (execution roles), EC2, and
#: Firehose, whose guide conditions its role on ``sts:ExternalId`` (the account id) instead.
SOURCE_KEY_SERVICES: dict[str, tuple[str, str]] = {
    "states.amazonaws.com": (
        "the state machine",
        "Step Functions guide, 'Creating an IAM role for your state machine': 'Prevent cross-service "
        "confused deputy issue' (aws:SourceArn arn:aws:states:<region>:<account>:stateMachine:*)",
    ),
    "events.amazonaws.com": (
        "the rule",
        "EventBridge guide, 'Cross-service confused deputy prevention': 'For EventBridge event bus rule "
        "targets, the value of aws:SourceArn must be the rule ARN'",
    ),
    "scheduler.amazonaws.com": (
        "the schedule group",
        "EventBridge Scheduler guide, 'Confused deputy prevention': 'The value of aws:SourceArn must be "
        "your EventBridge Scheduler schedule group ARN'",
    ),
    "logs.amazonaws.com": ("the log group or subscription filter", "CloudWatch Logs guide, 'Confused deputy'"),
    "vpc-flow-logs.amazonaws.com": ("the flow log", "VPC guide, 'IAM role for publishing flow logs'"),
    "codedeploy.amazonaws.com": ("the deployment group", "CodeDeploy guide, 'Cross-service confused deputy'"),
}

#: Services that use a customer managed key themselves, with their own principal, so the key policy must
#: name them. SQS guide, "Key management": "Several AWS services act as event sources that can send events
#: to Amazon SQS queues. To allow these event sources to work with encrypted queues, you must ... add
#: permissions in the key policy for the service" (SNS subscriptions, EventBridge targets and DLQs,
#: CloudWatch alarms publishing to encrypted topics, S3 notifications); an encrypted custom event bus and
#: its archive (EventBridge guide, "Encrypting events"); CloudWatch Logs encrypting log groups.
KEY_USING_SERVICES: dict[str, str] = {
    "events.amazonaws.com": "EventBridge encrypts the bus and its archive and delivers to encrypted queues and topics",
    "sns.amazonaws.com": "SNS delivers to encrypted queues (subscriptions, redrive to a dead-letter queue)",
    "cloudwatch.amazonaws.com": "CloudWatch alarms publish to encrypted topics",
    "s3.amazonaws.com": "S3 event notifications to encrypted queues and topics",
}

#: Services that use a key with the permissions of whoever calls them, so naming them in the key policy
#: grants nothing any caller needs: the caller's role holds kms:Decrypt/GenerateDataKey (scoped with
#: kms:ViaService where the platform grants it). Each with the AWS document.
CALLER_KEY_SERVICES: dict[str, str] = {
    "sqs.amazonaws.com": "SQS: producers and consumers need the key permissions themselves "
    "(SQS guide, 'Key management')",
    "kinesis.amazonaws.com": "Kinesis: 'When Kinesis Data Streams calls AWS KMS on your behalf' it uses the caller's "
    "permissions (Kinesis guide, 'Permissions to use user-generated KMS keys')",
    "dynamodb.amazonaws.com": "DynamoDB uses the key through grants created with the caller's permissions "
    "(DynamoDB guide, 'How Amazon DynamoDB uses AWS KMS')",
    "secretsmanager.amazonaws.com": "Secrets Manager uses the key with the caller's permissions (kms:ViaService)",
    "states.amazonaws.com": "Step Functions uses the execution role and the caller's permissions for a customer "
    "managed key (Step Functions guide, 'Data at rest encryption')",
    "firehose.amazonaws.com": "Firehose creates a grant with the caller's permissions when the stream is created "
    "(CreateDeliveryStream/StartDeliveryStreamEncryption, CUSTOMER_MANAGED_CMK) and writes to S3 with its role",
    "lambda.amazonaws.com": "Lambda decrypts environment variables with the function's role",
}

#: The actions an SNS topic policy may name (SNS guide, "Amazon SNS API permissions: Actions and resources
#: reference", "Valid Amazon SNS policy actions"); any other one, ``sns:*`` included, fails with "Policy
#: statement action out of service scope!".
TOPIC_POLICY_ACTIONS = (
    "sns:AddPermission",
    "sns:DeleteTopic",
    "sns:GetDataProtectionPolicy",
    "sns:GetTopicAttributes",
    "sns:ListSubscriptionsByTopic",
    "sns:ListTagsForResource",
    "sns:Publish",
    "sns:PutDataProtectionPolicy",
    "sns:RemovePermission",
    "sns:SetTopicAttributes",
    "sns:Subscribe",
)


def topic_tls_only_statement(topic_arn: str) -> dict[str, Any]:
    """Deny every topic action made without TLS (AWS services always call over TLS, so none is refused)."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": list(TOPIC_POLICY_ACTIONS),
        "Resource": topic_arn,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def state_machine_observability_statements() -> list[dict[str, Any]]:
    """What a state machine's role needs to deliver its execution logs and traces. CloudWatch Logs delivery and
    X-Ray APIs do not support resource-level permissions ("Resource": "*" is the only form AWS accepts)."""
    return [
        {
            "Sid": "LogDelivery",
            "Effect": "Allow",
            "Resource": "*",
            "Action": [
                "logs:CreateLogDelivery",
                "logs:GetLogDelivery",
                "logs:UpdateLogDelivery",
                "logs:DeleteLogDelivery",
                "logs:ListLogDeliveries",
                "logs:PutResourcePolicy",
                "logs:DescribeResourcePolicies",
                "logs:DescribeLogGroups",
            ],
        },
        {
            "Sid": "Tracing",
            "Effect": "Allow",
            "Resource": "*",
            "Action": [
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
            ],
        },
    ]


def service_trust_policy(service: str, *, account_id: str, source_arn: str | None = None) -> str:
    """A trust policy letting ``service`` assume the role, pinned to this account's resources when the
    service sends the source keys (:data:`SOURCE_KEY_SERVICES`); ``source_arn`` (``ArnLike``, wildcards
    allowed) narrows it to one resource or a family of them."""
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if service in SOURCE_KEY_SERVICES:
        condition: dict[str, Any] = {"StringEquals": {"aws:SourceAccount": account_id}}
        if source_arn is not None:
            condition["ArnLike"] = {"aws:SourceArn": source_arn}
        statement["Condition"] = condition
    elif source_arn is not None:
        raise ValueError(f"{service} does not send aws:SourceArn when it assumes a role; drop source_arn")
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})
