"""The toy pattern's component: one encrypted queue."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from arcblueprint.services.base import Service, ServiceArgs
from toy_pattern.spec import ToyQueueSpec

DAY_SECONDS = 86_400


class ToyQueueService(Service[ToyQueueSpec]):
    """A queue encrypted with the platform key, kept ``retentionDays`` (stateful: protected in prod)."""

    TYPE = "arcblueprint:services:ToyQueueService"

    def __init__(self, name: str, args: ServiceArgs[ToyQueueSpec], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        ctx = args.platform.context
        self.queue = aws.sqs.Queue(
            f"{name}-queue",
            name=ctx.name(name),
            kms_master_key_id=args.platform.kms_key_arn,
            message_retention_seconds=args.spec.retention_days * DAY_SECONDS,
            tags=ctx.tags(name),
            opts=ctx.stateful(pulumi.ResourceOptions(parent=self)),  # it holds messages: protected where data is
        )
        self.finish({"queueUrl": self.queue.url})
