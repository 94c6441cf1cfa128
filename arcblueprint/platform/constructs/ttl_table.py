"""A small DynamoDB table whose items expire: idempotency records and webhook status."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

if TYPE_CHECKING:
    from arcblueprint.platform.handles import Platform

__all__ = ["ttl_table"]


def ttl_table(
    name: str,
    *,
    platform: Platform,
    service: str,
    suffix: str,
    hash_key: str,
    ttl_attribute: str,
    parent: pulumi.Resource,
) -> aws.dynamodb.Table:
    """An on-demand table keyed on ``hash_key`` whose items expire on ``ttl_attribute`` (KMS, PITR, protected).

    Powertools idempotency uses ``id`` and ``expiration``; the status table ``webhookId`` and ``expiresAt``.
    """
    ctx = platform.context
    return aws.dynamodb.Table(
        name,
        name=ctx.name(service, suffix),
        billing_mode="PAY_PER_REQUEST",
        hash_key=hash_key,
        attributes=[{"name": hash_key, "type": "S"}],
        ttl={"attribute_name": ttl_attribute, "enabled": True},
        point_in_time_recovery={"enabled": True},
        server_side_encryption={"enabled": True, "kms_key_arn": platform.kms_key_arn},
        deletion_protection_enabled=ctx.stack.protect_stateful_resources,
        tags=ctx.tags(service),
        opts=ctx.stateful(pulumi.ResourceOptions(parent=parent)),
    )
