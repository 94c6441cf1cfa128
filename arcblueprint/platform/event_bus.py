"""The shared EventBridge bus, and the one way services put rules and targets on it.

Every target gets a dead-letter queue (encrypted SQS) and a retry policy from the stack's
``eventBus`` config (whitepaper, seed 003: "use DLQs and retries on every asynchronous path"),
so an event that cannot be delivered is kept, not dropped. An archive keeps events for replay.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from arcblueprint.platform.context import StackContext

__all__ = ["EventBus", "EventBusArgs"]

_SERVICE = "event-bus"
#: The longest SQS keeps a message: a DLQ must outlive the time it takes someone to look.
_DLQ_RETENTION_SECONDS = 14 * 24 * 3600


@dataclass(frozen=True, kw_only=True)
class EventBusArgs:
    context: StackContext
    #: The platform key: encrypts the bus, its archive and every DLQ.
    kms_key_arn: pulumi.Input[str]


class EventBus(pulumi.ComponentResource):
    """A custom bus encrypted with the platform key, limited to this account (and organization), with an archive.

    Implements :class:`arcblueprint.platform.handles.EventRules`.

    Attributes
    ----------
    bus : aws.cloudwatch.EventBus
    name_output : pulumi.Output[str]
        The bus name (what rules and ``PutEvents`` callers use).
    arn : pulumi.Output[str]
    """

    def __init__(self, name: str, args: EventBusArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("arcblueprint:platform:EventBus", name, None, opts)
        self._context = ctx = args.context
        self._kms_key_arn = args.kms_key_arn
        stack = ctx.stack
        spec = stack.event_bus
        child = pulumi.ResourceOptions(parent=self)

        self.bus = aws.cloudwatch.EventBus(
            f"{name}-bus",
            name=ctx.name("bus"),
            description=f"Shared event bus of {stack.environment}",
            kms_key_identifier=args.kms_key_arn,
            tags=ctx.tags(_SERVICE),
            opts=child,
        )
        statements: list[dict[str, object]] = [{
            "Sid": "ThisAccountPublishes",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{ctx.partition}:iam::{stack.account_id}:root"},
            "Action": "events:PutEvents",
            "Resource": self.bus.arn,
        }]
        if stack.organization_id:
            statements.append({
                "Sid": "OrganizationPublishes",
                "Effect": "Allow",
                # "*" narrowed to the organization by the condition: AWS's documented form for org-wide access.
                "Principal": "*",
                "Action": "events:PutEvents",
                "Resource": self.bus.arn,
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": stack.organization_id}},
            })
        aws.cloudwatch.EventBusPolicy(
            f"{name}-policy", event_bus_name=self.bus.name,
            policy=pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": statements}), opts=child)

        self.archive = aws.cloudwatch.EventArchive(
            f"{name}-archive",
            name=ctx.name("bus-archive", max_length=48),
            event_source_arn=self.bus.arn,
            retention_days=spec.archive_retention_days,
            kms_key_identifier=args.kms_key_arn,
            description="Every event on the shared bus, for replay",
            opts=ctx.stateful(child),
        )
        # No schema discoverer: EventBridge rejects CreateDiscoverer on a bus encrypted with a
        # customer managed key (config refuses eventBus.enableSchemaDiscovery for that reason).

        self.name_output: pulumi.Output[str] = self.bus.name
        self.arn: pulumi.Output[str] = self.bus.arn
        self.archive_arn: pulumi.Output[str] = self.archive.arn
        self.register_outputs({"name": self.name_output, "arn": self.arn, "archiveArn": self.archive_arn})

    def add_rule(self, resource_name: str, *, service: str, event_pattern: Mapping[str, object],
                 target_arn: pulumi.Input[str], parent: pulumi.Resource,
                 target_role_arn: pulumi.Input[str] | None = None) -> aws.cloudwatch.EventRule:
        """A rule on the shared bus with one target that has a DLQ and the stack's retry policy.

        The target's own permission (a Lambda permission, a queue policy) is the caller's: it
        knows the target's type. ``target_role_arn`` is for targets that need a role (Step Functions).
        """
        ctx = self._context
        spec = ctx.stack.event_bus
        opts = pulumi.ResourceOptions(parent=parent)
        rule = aws.cloudwatch.EventRule(
            resource_name,
            name=ctx.name(service, resource_name, max_length=64),
            event_bus_name=self.bus.name,
            event_pattern=json.dumps(dict(event_pattern), sort_keys=True),
            tags=ctx.tags(service),
            opts=opts,
        )
        dlq = aws.sqs.Queue(
            f"{resource_name}-dlq",
            name=ctx.name(service, resource_name, "dlq", max_length=80),
            kms_master_key_id=self._kms_key_arn,
            kms_data_key_reuse_period_seconds=300,
            message_retention_seconds=_DLQ_RETENTION_SECONDS,
            tags=ctx.tags(service),
            opts=ctx.stateful(opts),
        )
        aws.sqs.QueuePolicy(
            f"{resource_name}-dlq-policy",
            queue_url=dlq.url,
            policy=pulumi.Output.json_dumps({
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "ThisRuleDeadLetters",
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": dlq.arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": rule.arn}},
                }],
            }),
            opts=opts,
        )
        aws.cloudwatch.EventTarget(
            f"{resource_name}-target",
            rule=rule.name,
            event_bus_name=self.bus.name,
            arn=target_arn,
            role_arn=target_role_arn,
            dead_letter_config={"arn": dlq.arn},
            retry_policy={"maximum_retry_attempts": spec.target_maximum_retry_attempts,
                          "maximum_event_age_in_seconds": spec.target_maximum_event_age_seconds},
            opts=opts,
        )
        return rule
