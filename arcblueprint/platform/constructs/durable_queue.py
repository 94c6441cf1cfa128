"""An encrypted SQS queue with its dead-letter queue, redrive, TLS-only policies and a DLQ depth alarm."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from arcblueprint.platform.consumer_settings import DEAD_LETTER_RETENTION_DAYS, MAX_SOURCE_RETENTION_DAYS
from arcblueprint.platform.queues import KMS_DATA_KEY_REUSE_SECONDS, dead_letter_alarm, queue_policy

if TYPE_CHECKING:
    from collections.abc import Sequence

    from arcblueprint.platform.handles import Platform

__all__ = ["DurableQueue", "DurableQueueArgs"]

_DAY = 86400


@dataclass(frozen=True, kw_only=True)
class DurableQueueArgs:
    platform: Platform
    service: str
    #: Physical name suffix under the service (``<prefix>-<service>-<suffix>``).
    suffix: str
    #: Six times the consumer's timeout (AWS guidance), so a slow batch is not delivered twice.
    visibility_timeout_seconds: int = 180
    #: At most ``MAX_SOURCE_RETENTION_DAYS``: the DLQ (14 days) must outlive the source.
    message_retention_days: int = 4
    #: Receives before a message moves to the DLQ.
    max_receive_count: int = 5
    dlq_alarm_threshold: int = 1
    #: An SNS topic allowed to send to the queue (default: none; only IAM principals of the account).
    topic_arn: pulumi.Input[str] | None = None
    #: EventBridge rules allowed to send to the queue (their ARNs: the queue's policy is declared
    #: before the rules, from :meth:`EventRules.rule_arn`); default: none.
    event_rule_arns: Sequence[pulumi.Input[str]] = ()

    def __post_init__(self) -> None:
        if not 1 <= self.message_retention_days <= MAX_SOURCE_RETENTION_DAYS:
            raise ValueError(
                f"DurableQueueArgs.message_retention_days = {self.message_retention_days} is invalid: must be 1 to "
                f"{MAX_SOURCE_RETENTION_DAYS}, so the dead-letter queue ({DEAD_LETTER_RETENTION_DAYS} days) keeps a "
                "dead-lettered message longer than the source did"
            )


class DurableQueue(pulumi.ComponentResource):
    """A queue whose failures are kept (DLQ, 14 days, longer than the queue keeps messages), visible
    (alarm) and replayable (redrive allowed from this queue only).

    Attributes
    ----------
    queue, dead_letter_queue : aws.sqs.Queue
    alarm : aws.cloudwatch.MetricAlarm
    arn, url, dead_letter_arn, dead_letter_url : pulumi.Output[str]
    """

    def __init__(self, name: str, args: DurableQueueArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("arcblueprint:services:DurableQueue", name, None, opts)
        ctx = args.platform.context
        tags = ctx.tags(args.service)
        child = pulumi.ResourceOptions(parent=self)
        key_arn = args.platform.kms_key_arn
        self.dead_letter_queue = aws.sqs.Queue(
            f"{name}-dlq",
            name=ctx.name(args.service, args.suffix, "dlq", max_length=80),
            message_retention_seconds=DEAD_LETTER_RETENTION_DAYS * _DAY,
            tags=tags,
            kms_master_key_id=key_arn,
            kms_data_key_reuse_period_seconds=KMS_DATA_KEY_REUSE_SECONDS,
            opts=ctx.stateful(child),
        )
        self.queue = aws.sqs.Queue(
            f"{name}-queue",
            name=ctx.name(args.service, args.suffix, max_length=80),
            visibility_timeout_seconds=args.visibility_timeout_seconds,
            message_retention_seconds=args.message_retention_days * _DAY,
            redrive_policy=self.dead_letter_queue.arn.apply(
                lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": args.max_receive_count})
            ),
            tags=tags,
            kms_master_key_id=key_arn,
            kms_data_key_reuse_period_seconds=KMS_DATA_KEY_REUSE_SECONDS,
            opts=ctx.stateful(child),
        )
        aws.sqs.RedriveAllowPolicy(
            f"{name}-redrive-allow",
            queue_url=self.dead_letter_queue.url,
            redrive_allow_policy=self.queue.arn.apply(
                lambda arn: json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [arn]})
            ),
            opts=child,
        )
        aws.sqs.QueuePolicy(
            f"{name}-policy",
            queue_url=self.queue.url,
            policy=pulumi.Output.all(self.queue.arn, args.topic_arn, *args.event_rule_arns).apply(
                lambda v: queue_policy(v[0], v[1], v[2:])
            ),
            opts=child,
        )
        aws.sqs.QueuePolicy(
            f"{name}-dlq-policy",
            queue_url=self.dead_letter_queue.url,
            policy=self.dead_letter_queue.arn.apply(queue_policy),
            opts=child,
        )
        self.alarm = dead_letter_alarm(
            f"{name}-dlq-alarm",
            queue=self.dead_letter_queue,
            threshold=args.dlq_alarm_threshold,
            tags=tags,
            description=f"{args.service}: messages that failed {args.max_receive_count} times wait in the DLQ",
            actions=args.platform.alarm_actions,
            parent=self,
        )
        self.arn: pulumi.Output[str] = self.queue.arn
        self.url: pulumi.Output[str] = self.queue.url
        self.dead_letter_arn: pulumi.Output[str] = self.dead_letter_queue.arn
        self.dead_letter_url: pulumi.Output[str] = self.dead_letter_queue.url
        self.register_outputs({"url": self.url, "deadLetterUrl": self.dead_letter_url})
