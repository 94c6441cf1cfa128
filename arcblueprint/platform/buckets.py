"""What every bucket of the blueprint has: no public access, and no ACLs (the bucket policy alone grants)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pulumi_aws as aws

if TYPE_CHECKING:
    import pulumi

__all__ = ["keep_private", "tls_only_statement"]


def keep_private(
    prefix: str, bucket_id: pulumi.Input[str], opts: pulumi.ResourceOptions
) -> aws.s3.BucketPublicAccessBlock:
    """Block every form of public access and disable ACLs (``BucketOwnerEnforced``) on one bucket.

    Declares ``<prefix>-ownership`` and ``<prefix>-public-access``; returns the block, which a bucket
    policy should wait for (S3 refuses a policy the block would call public while it is being set).
    """
    aws.s3.BucketOwnershipControls(
        f"{prefix}-ownership", bucket=bucket_id, rule={"object_ownership": "BucketOwnerEnforced"}, opts=opts
    )
    return aws.s3.BucketPublicAccessBlock(
        f"{prefix}-public-access",
        bucket=bucket_id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=opts,
    )


def tls_only_statement(bucket_arn: Any, objects_arn: Any) -> dict[str, Any]:
    """The bucket policy statement that refuses every request made without TLS (to the bucket and its objects)."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, objects_arn],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
