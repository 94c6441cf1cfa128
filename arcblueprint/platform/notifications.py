"""The platform's alarm notification topic: where every alarm's ALARM and OK transitions go.

An alarm without actions tells nobody. Every alarm publishes to one SNS topic encrypted with the
platform key, whose subscribers come from the stack's ``notifications`` section. A notification
arrives only if all of these hold, and each is declared here or in the key policy:

* CloudWatch may publish to the topic: the topic policy allows ``cloudwatch.amazonaws.com`` for
  this account's alarms (``aws:SourceAccount`` and ``aws:SourceArn``, as AWS documents);
* CloudWatch may use the topic's key: it encrypts the notification itself, so the key policy
  must grant it ``kms:Decrypt`` and ``kms:GenerateDataKey*`` (``encryption.py``); without that,
  every publish fails with KMS AccessDenied, visible only in the alarm's history;
* someone confirmed a subscription: SNS holds email and HTTPS subscriptions pending until the
  address's owner (or the endpoint) confirms.

What SNS cannot deliver to a subscriber is kept in a dead-letter queue that has its own alarm.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws

from arcblueprint.config.schema import ConfigError
from arcblueprint.platform.handles import AlarmActions
from arcblueprint.platform.queues import DEAD_LETTER_RETENTION_SECONDS, KMS_DATA_KEY_REUSE_SECONDS, queue_policy
from arcblueprint.service_facts import topic_tls_only_statement

if TYPE_CHECKING:
    from arcblueprint.platform.context import StackContext

__all__ = ["AlarmNotifications", "AlarmNotificationsArgs", "topic_policy"]

_SERVICE = "notifications"


@dataclass(frozen=True, kw_only=True)
class AlarmNotificationsArgs:
    context: StackContext
    #: The platform key: encrypts the topic and its dead-letter queue. Its key policy must let
    #: ``cloudwatch.amazonaws.com`` use it (``EncryptionKey`` does), or no alarm is ever delivered.
    kms_key_arn: pulumi.Input[str]


def topic_policy(topic_arn: str, *, partition: str, region: str, account_id: str) -> dict[str, Any]:
    """CloudWatch alarms of this account may publish; nobody may publish without TLS.

    A topic policy replaces SNS's default one; the account's own IAM principals keep their access
    through their identity policies.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ThisAccountsAlarmsPublish",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnLike": {"aws:SourceArn": f"arn:{partition}:cloudwatch:{region}:{account_id}:alarm:*"},
                },
            },
            topic_tls_only_statement(topic_arn),
        ],
    }


def _endpoint_key(endpoint: str) -> str:
    """A stable short name for a subscription: reordering the config list replaces nothing
    (a replaced email subscription would have to be confirmed again)."""
    return hashlib.sha256(endpoint.encode()).hexdigest()[:10]


class AlarmNotifications(pulumi.ComponentResource):
    """One encrypted SNS topic for every alarm of the stack, its subscribers, and a DLQ for failed deliveries.

    Attributes
    ----------
    topic : aws.sns.Topic
    dead_letter_queue : aws.sqs.Queue
        What SNS could not deliver to a subscriber (an HTTPS endpoint down, a deleted address).
    actions : AlarmActions
        What every alarm's ``alarm_actions``/``ok_actions`` are (handed to services in ``Platform``).
    topic_arn : pulumi.Output[str]
    """

    def __init__(self, name: str, args: AlarmNotificationsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("arcblueprint:platform:AlarmNotifications", name, None, opts)
        ctx = args.context
        stack = ctx.stack
        spec = stack.notifications
        if not spec.has_subscribers:
            raise ConfigError(
                "notifications",
                None,
                "must list at least one of emails, httpsEndpoints: every "
                "alarm notifies this topic, and with no subscriber nobody hears it",
                show_value=False,
            )
        tags = ctx.tags(_SERVICE)
        child = pulumi.ResourceOptions(parent=self)
        topic_name = ctx.name("alarms", max_length=256)
        queue_name = ctx.name("alarms", "dlq", max_length=80)
        # ARNs follow from the names, so both policies are known in a preview (not computed later).
        arn_of = f"arn:{ctx.partition}:{{service}}:{stack.region}:{stack.account_id}:{{name}}"
        topic_arn = arn_of.format(service="sns", name=topic_name)
        queue_arn = arn_of.format(service="sqs", name=queue_name)

        self.topic = aws.sns.Topic(
            f"{name}-topic",
            name=topic_name,
            display_name=f"{stack.naming_prefix} alarms",
            kms_master_key_id=args.kms_key_arn,
            signature_version=2,  # SHA256 signatures for HTTPS subscribers that verify them
            # Replacing the topic would drop every confirmed subscription.
            tags=tags,
            opts=ctx.stateful(child),
        )
        aws.sns.TopicPolicy(
            f"{name}-topic-policy",
            arn=self.topic.arn,
            policy=json.dumps(
                topic_policy(topic_arn, partition=ctx.partition, region=stack.region, account_id=stack.account_id)
            ),
            opts=child,
        )

        self.dead_letter_queue = aws.sqs.Queue(
            f"{name}-dlq",
            name=queue_name,
            kms_master_key_id=args.kms_key_arn,
            kms_data_key_reuse_period_seconds=KMS_DATA_KEY_REUSE_SECONDS,
            message_retention_seconds=DEAD_LETTER_RETENTION_SECONDS,
            # SNS's dead-letter queue: no SQS queue may redrive into it.
            redrive_allow_policy=json.dumps({"redrivePermission": "denyAll"}),
            tags=tags,
            opts=ctx.stateful(child),
        )
        dlq_policy = aws.sqs.QueuePolicy(
            f"{name}-dlq-policy",
            queue_url=self.dead_letter_queue.url,
            policy=queue_policy(queue_arn, topic_arn),  # TLS only; only the topic may dead-letter here
            opts=child,
        )
        redrive = self.dead_letter_queue.arn.apply(lambda arn: json.dumps({"deadLetterTargetArn": arn}))
        # The queue admits SNS before any subscription exists, so no early failed delivery is lost.
        subscription_opts = pulumi.ResourceOptions(parent=self, depends_on=[dlq_policy])
        for protocol, endpoints in (("email", spec.emails), ("https", spec.https_endpoints)):
            for endpoint in endpoints:
                aws.sns.TopicSubscription(
                    f"{name}-{protocol}-{_endpoint_key(endpoint)}",
                    topic=self.topic.arn,
                    protocol=protocol,
                    endpoint=endpoint,
                    redrive_policy=redrive,
                    opts=subscription_opts,
                )

        self.topic_arn: pulumi.Output[str] = self.topic.arn
        self.actions = AlarmActions(topic_arn=self.topic.arn)
        aws.cloudwatch.MetricAlarm(
            f"{name}-dlq-alarm",
            name=f"{queue_name}-depth",
            alarm_description="Alarm notifications SNS could not deliver to a subscriber wait in the DLQ",
            namespace="AWS/SQS",
            metric_name="ApproximateNumberOfMessagesVisible",
            dimensions={"QueueName": self.dead_letter_queue.name},
            statistic="Maximum",
            period=300,
            evaluation_periods=1,
            threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            # The other subscribers still hear about a subscriber that stopped receiving.
            treat_missing_data="notBreaching",
            tags=tags,
            **self.actions.metric_alarm_args(),
            opts=child,
        )
        self.register_outputs({"topicArn": self.topic_arn, "deadLetterUrl": self.dead_letter_queue.url})
