"""Queues that keep what AWS services gave up on: their TLS-only policy, the depth alarm on a dead-letter
queue, and the alarmed dead-end queue (on-failure destinations, service dead-letter queues)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from arcblueprint.platform.consumer_settings import DEAD_LETTER_RETENTION_DAYS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from arcblueprint.platform.handles import AlarmActions, Platform

__all__ = ["DEAD_LETTER_RETENTION_SECONDS", "dead_end_queue", "dead_letter_alarm", "queue_policy"]

_DAY = 86400
#: Every dead-letter queue keeps its messages as long as SQS allows.
DEAD_LETTER_RETENTION_SECONDS = DEAD_LETTER_RETENTION_DAYS * _DAY


#: How long SQS reuses a data key before calling KMS again: one hour, the AWS maximum (fewer KMS calls).
KMS_DATA_KEY_REUSE_SECONDS = 3600


def queue_policy(queue_arn: str, topic_arn: str | None = None, rule_arns: Sequence[str] = ()) -> str:
    """TLS-only access; if ``topic_arn`` is set, that topic may send; so may the EventBridge ``rule_arns``."""
    statements: list[dict[str, object]] = [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sqs:*",
            "Resource": queue_arn,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]
    if topic_arn:
        statements.append(
            {
                "Sid": "OnlyTheTopicSends",
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
            }
        )
    if rule_arns:
        statements.append(
            {
                "Sid": "TheseRulesSend",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": list(rule_arns)}},
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def dead_letter_alarm(
    name: str,
    *,
    queue: aws.sqs.Queue,
    threshold: int,
    description: str,
    actions: AlarmActions,
    tags: dict[str, str],
    parent: pulumi.Resource,
) -> aws.cloudwatch.MetricAlarm:
    """Pages (through ``actions``, the platform's) when messages wait in a dead-letter queue: each one is a
    request that was not served."""
    return aws.cloudwatch.MetricAlarm(
        name,
        name=queue.name.apply(lambda n: f"{n}-depth"),
        alarm_description=description,
        namespace="AWS/SQS",
        metric_name="ApproximateNumberOfMessagesVisible",
        dimensions={"QueueName": queue.name},
        statistic="Maximum",
        period=60,
        evaluation_periods=1,
        threshold=threshold,
        comparison_operator="GreaterThanOrEqualToThreshold",
        treat_missing_data="notBreaching",
        **actions.metric_alarm_args(),
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def dead_end_queue(
    resource_name: str,
    *,
    platform: Platform,
    physical_name: str,
    description: str,
    tags: dict[str, str],
    parent: pulumi.Resource,
    threshold: int = 1,
    topic_arn: pulumi.Input[str] | None = None,
) -> aws.sqs.Queue:
    """Where an AWS service puts what it gave up on (an on-failure destination, a dead-letter queue): kept
    14 days under the platform key, TLS-only (and writable by ``topic_arn`` when given), alarmed, and a dead
    end: no SQS queue may redrive into it. Declares ``<resource_name>``, ``-policy`` and ``-alarm``."""
    ctx = platform.context
    child = pulumi.ResourceOptions(parent=parent)
    queue = aws.sqs.Queue(
        resource_name,
        name=physical_name,
        message_retention_seconds=DEAD_LETTER_RETENTION_SECONDS,
        kms_master_key_id=platform.kms_key_arn,
        kms_data_key_reuse_period_seconds=KMS_DATA_KEY_REUSE_SECONDS,
        tags=tags,
        redrive_allow_policy=json.dumps({"redrivePermission": "denyAll"}),
        opts=ctx.stateful(child),
    )
    aws.sqs.QueuePolicy(
        f"{resource_name}-policy",
        queue_url=queue.url,
        policy=pulumi.Output.all(queue.arn, topic_arn).apply(lambda v: queue_policy(v[0], v[1])),
        opts=child,
    )
    dead_letter_alarm(
        f"{resource_name}-alarm",
        queue=queue,
        threshold=threshold,
        tags=tags,
        description=description,
        actions=platform.alarm_actions,
        parent=parent,
    )
    return queue
