"""The platform's customer-managed KMS key, used by logs, queues, topics, streams, tables and secrets."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws

from arcblueprint.config.schema import setting

if TYPE_CHECKING:
    from arcblueprint.platform.context import StackContext

__all__ = ["EncryptionKey", "EncryptionKeyArgs"]

#: Services that use the key themselves, with their own principal: EventBridge (the encrypted bus, its
#: archive, deliveries to encrypted queues and DLQs) and SNS (deliveries to encrypted queues, redrive to a
#: DLQ). SQS, Kinesis, DynamoDB, Secrets Manager, S3, Step Functions and Firehose use a key with the
#: permissions of whoever calls them (``arcblueprint.service_facts.CALLER_KEY_SERVICES``): the caller's role
#: holds the grant, so naming their principals here grants nothing anyone needs and only widens the key policy.
_SERVICE_PRINCIPALS = ("events", "sns")


@dataclass(frozen=True, kw_only=True)
class EncryptionKeyArgs:
    context: StackContext
    purpose: str = setting("platform", doc="what the key protects; part of its alias")
    deletion_window_days: int = setting(30, minimum=7, maximum=30, doc="default: the longest window AWS allows")
    #: Services that may use the key on the account's behalf; empty: only IAM principals of the account
    #: (granted by their own policies), as for a key that one role writes with.
    service_principals: tuple[str, ...] = _SERVICE_PRINCIPALS
    #: Whether CloudWatch Logs may encrypt this account's log groups with the key.
    encrypts_log_groups: bool = True
    #: Whether CloudWatch alarms may publish to SNS topics encrypted with the key (the alarm topic).
    encrypts_alarm_topics: bool = True
    #: The ``service`` tag; default: ``purpose``.
    service: str | None = None
    #: Names of this account's event buses whose archives the key encrypts: EventBridge re-encrypts
    #: archived events (``kms:ReEncrypt*``), for those buses' encryption context only.
    archived_event_buses: tuple[str, ...] = ()


class EncryptionKey(pulumi.ComponentResource):
    """A KMS key with yearly rotation and a key policy that names who may use it and how.

    Attributes
    ----------
    key : aws.kms.Key
    arn : pulumi.Output[str]
        The key ARN, for ``kmsKeyId``/``kmsMasterKeyId`` inputs.
    """

    def __init__(self, name: str, args: EncryptionKeyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("arcblueprint:platform:EncryptionKey", name, None, opts)
        ctx = args.context
        stack = ctx.stack
        account_root = f"arn:{ctx.partition}:iam::{stack.account_id}:root"
        policy: dict[str, Any] = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    # AWS requires the account to administer its keys; in a key policy "Resource": "*"
                    # means "this key" (key policies cannot name other resources).
                    "Sid": "AccountAdministers",
                    "Effect": "Allow",
                    "Principal": {"AWS": account_root},
                    "Action": [
                        "kms:Create*",
                        "kms:Describe*",
                        "kms:Enable*",
                        "kms:List*",
                        "kms:Put*",
                        "kms:Update*",
                        "kms:Revoke*",
                        "kms:Disable*",
                        "kms:Get*",
                        "kms:Delete*",
                        "kms:TagResource",
                        "kms:UntagResource",
                        "kms:ScheduleKeyDeletion",
                        "kms:CancelKeyDeletion",
                        "kms:Encrypt",
                        "kms:Decrypt",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:CreateGrant",
                    ],
                    "Resource": "*",
                },
            ],
        }
        if args.encrypts_log_groups:
            policy["Statement"].append(
                {
                    "Sid": "CloudWatchLogsEncryptsThisAccountsLogGroups",
                    "Effect": "Allow",
                    "Principal": {"Service": f"logs.{stack.region}.amazonaws.com"},
                    "Action": [
                        "kms:Encrypt*",
                        "kms:Decrypt*",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:Describe*",
                    ],
                    "Resource": "*",
                    "Condition": {
                        "ArnLike": {
                            "kms:EncryptionContext:aws:logs:arn": (
                                f"arn:{ctx.partition}:logs:{stack.region}:{stack.account_id}:log-group:*"
                            )
                        }
                    },
                }
            )
        if args.encrypts_alarm_topics:
            policy["Statement"].append(
                {
                    # An alarm publishing to a topic encrypted with this key: CloudWatch encrypts the
                    # notification itself, so without this grant every alarm action fails with KMS
                    # AccessDenied and nobody is notified. No source condition: AWS documents the grant
                    # without one, and the topic's own policy admits only this account's alarms.
                    "Sid": "CloudWatchAlarmsPublishToEncryptedTopics",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudwatch.amazonaws.com"},
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                    "Resource": "*",
                }
            )
        if args.service_principals:
            policy["Statement"].append(
                {
                    "Sid": "ServicesUseTheKeyForThisAccount",
                    "Effect": "Allow",
                    "Principal": {"Service": [f"{service}.amazonaws.com" for service in args.service_principals]},
                    # EventBridge describes the key before it encrypts a bus or an archive with it.
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"],
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:SourceAccount": stack.account_id}},
                }
            )
        if args.archived_event_buses:
            bus_arns = [
                f"arn:{ctx.partition}:events:{stack.region}:{stack.account_id}:event-bus/{bus}"
                for bus in args.archived_event_buses
            ]
            policy["Statement"].append(
                {
                    # "Encrypting EventBridge archives with AWS KMS keys": an archive needs ReEncrypt too;
                    # EventBridge passes the bus's ARN as the encryption context of every archive operation.
                    "Sid": "EventBridgeArchivesThisAccountsBuses",
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": ["kms:ReEncrypt*"],
                    "Resource": "*",
                    "Condition": {
                        # One value per bus; several values of a single-valued key match any of them.
                        "StringEquals": {
                            "aws:SourceAccount": stack.account_id,
                            "kms:EncryptionContext:aws:events:event-bus:arn": bus_arns,
                        }
                    },
                }
            )
        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"{ctx.name(args.purpose)}: encrypts the {args.purpose} data of {stack.environment}",
            enable_key_rotation=True,
            rotation_period_in_days=365,
            deletion_window_in_days=args.deletion_window_days,
            policy=json.dumps(policy),
            tags=ctx.tags(args.service or args.purpose),
            opts=ctx.stateful(pulumi.ResourceOptions(parent=self)),
        )
        self.alias = aws.kms.Alias(
            f"{name}-alias",
            name=f"alias/{ctx.name(args.purpose)}",
            target_key_id=self.key.key_id,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.arn: pulumi.Output[str] = self.key.arn
        self.register_outputs({"arn": self.arn})
