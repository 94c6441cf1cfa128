"""Route 53 Resolver query logs: every DNS query the stack's VPCs make, into the central sink.

Flow logs say which addresses talked; query logs say which names were asked for first, and by
which instance or ENI, which is what an investigation of data leaving through DNS, or of a function
calling a host it should not, needs. One query logging configuration (its destination the stack's
``/aws/route53resolver/<prefix>-dns-queries`` log group, subscribed to the sink like every other)
is associated with each VPC whose resolvers answer the stack's private names: the application VPC
(the private hosted zone of the on-prem proxy) and the on-prem proxy VPC (the Resolver rules that
forward on-prem names). On in prod by default (``logging.resolverQueryLogs``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from arcblueprint.platform.logging import resolver_log_group_name

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from arcblueprint.platform.context import StackContext
    from arcblueprint.platform.handles import LogGroups

__all__ = ["ResolverQueryLogging", "ResolverQueryLoggingArgs"]

_SERVICE = "network"


@dataclass(frozen=True, kw_only=True)
class ResolverQueryLoggingArgs:
    context: StackContext
    log_groups: LogGroups
    #: Label (part of each association's name) -> VPC id.
    vpc_ids: Mapping[str, pulumi.Input[str]]
    #: What the configuration must wait for: the log group's resource policy for CloudWatch Logs delivery.
    depends_on: Sequence[pulumi.Resource] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not self.vpc_ids:
            raise ValueError(
                "ResolverQueryLoggingArgs.vpc_ids is empty: a query log configuration with no VPC logs nothing"
            )


class ResolverQueryLogging(pulumi.ComponentResource):
    """One query logging configuration, associated with each VPC.

    Attributes
    ----------
    log_group : aws.cloudwatch.LogGroup
    config : aws.route53.ResolverQueryLogConfig
    associations : dict[str, aws.route53.ResolverQueryLogConfigAssociation]
        VPC label -> its association.
    """

    def __init__(self, name: str, args: ResolverQueryLoggingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("arcblueprint:platform:ResolverQueryLogging", name, None, opts)
        ctx = args.context
        child = pulumi.ResourceOptions(parent=self)
        self.log_group = args.log_groups.log_group(
            f"{name}-logs", resolver_log_group_name(ctx), service=_SERVICE, parent=self
        )
        self.config = aws.route53.ResolverQueryLogConfig(
            f"{name}-config",
            name=ctx.name("dns-queries"),
            destination_arn=self.log_group.arn,
            tags=ctx.tags(_SERVICE),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )
        self.associations = {
            label: aws.route53.ResolverQueryLogConfigAssociation(
                f"{name}-{label}",
                resolver_query_log_config_id=self.config.id,
                resource_id=vpc_id,
                opts=child,
            )
            for label, vpc_id in args.vpc_ids.items()
        }
        self.register_outputs({"configId": self.config.id, "logGroupName": self.log_group.name})
