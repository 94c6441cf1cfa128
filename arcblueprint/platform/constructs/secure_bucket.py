"""An S3 bucket: private, KMS-encrypted, versioned, TLS-only, access-logged, expiring what it no longer needs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from arcblueprint.platform.buckets import keep_private, tls_only_statement

if TYPE_CHECKING:
    from collections.abc import Sequence

    from arcblueprint.platform.handles import Platform

__all__ = ["BucketLifecycle", "SecureBucket", "SecureBucketArgs"]


@dataclass(frozen=True, kw_only=True)
class BucketLifecycle:
    """What happens to objects under ``prefix`` (``""``: the whole bucket)."""

    rule_id: str
    prefix: str = ""
    expire_days: int | None = None
    transition_to_ia_days: int | None = None
    #: Days an overwritten or expired version is kept under this prefix; default: the bucket's
    #: ``noncurrent_version_expire_days`` (set it short where the data must not outlive ``expire_days``).
    noncurrent_expire_days: int | None = None


@dataclass(frozen=True, kw_only=True)
class SecureBucketArgs:
    platform: Platform
    service: str
    suffix: str
    lifecycle: Sequence[BucketLifecycle] = ()
    #: Old versions are kept this long (recovery from overwrites and deletes), then expire.
    noncurrent_version_expire_days: int = 30


class SecureBucket(pulumi.ComponentResource):
    """Attributes: ``bucket`` (aws.s3.Bucket), ``arn`` and ``bucket_name`` (pulumi.Output[str]),
    ``access_logging`` (aws.s3.BucketLogging, ``None`` where the platform keeps no access logs)."""

    def __init__(self, name: str, args: SecureBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("arcblueprint:services:SecureBucket", name, None, opts)
        ctx = args.platform.context
        child = pulumi.ResourceOptions(parent=self)
        # Bucket names are global: the account id keeps two accounts' stacks from colliding.
        self.bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=ctx.name(args.service, args.suffix, ctx.stack.account_id, max_length=63),
            force_destroy=not ctx.stack.protect_stateful_resources,
            tags=ctx.tags(args.service),
            opts=ctx.stateful(child),
        )
        bucket_id = self.bucket.id
        self.public_access_block = keep_private(name, bucket_id, child)
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket_id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {
                        "sse_algorithm": "aws:kms",
                        "kms_master_key_id": args.platform.kms_key_arn,
                    },
                    "bucket_key_enabled": True,
                }
            ],  # one KMS data key per bucket, not per object: cheaper
            opts=child,
        )
        aws.s3.BucketVersioning(
            f"{name}-versioning", bucket=bucket_id, versioning_configuration={"status": "Enabled"}, opts=child
        )
        s3 = aws.s3  # the typed args below keep the SDK's type checks
        abort_uploads = s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(days_after_initiation=7)
        rules = [
            s3.BucketLifecycleConfigurationRuleArgs(
                id=rule.rule_id,
                status="Enabled",
                filter=s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=rule.prefix),
                expiration=s3.BucketLifecycleConfigurationRuleExpirationArgs(days=rule.expire_days)
                if rule.expire_days
                else None,
                transitions=[
                    s3.BucketLifecycleConfigurationRuleTransitionArgs(
                        days=rule.transition_to_ia_days, storage_class="STANDARD_IA"
                    )
                ]
                if rule.transition_to_ia_days
                else None,
                noncurrent_version_expiration=s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                    noncurrent_days=rule.noncurrent_expire_days or args.noncurrent_version_expire_days
                ),
                abort_incomplete_multipart_upload=abort_uploads,
            )
            for rule in args.lifecycle
        ]
        if not any(rule.prefix == "" for rule in args.lifecycle):
            # Uploads under no rule's prefix would otherwise be kept (and billed) forever when left incomplete.
            rules.append(
                s3.BucketLifecycleConfigurationRuleArgs(
                    id="whole-bucket",
                    status="Enabled",
                    filter=s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    noncurrent_version_expiration=s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=args.noncurrent_version_expire_days
                    ),
                    abort_incomplete_multipart_upload=abort_uploads,
                )
            )
        aws.s3.BucketLifecycleConfiguration(f"{name}-lifecycle", bucket=bucket_id, rules=rules, opts=child)
        # Who read or wrote what: S3 server access logs to the platform's access-log bucket.
        self.access_logging = (
            args.platform.access_logs.log_requests(name, self.bucket, parent=self)
            if args.platform.access_logs is not None
            else None
        )
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket_id,
            policy=self.bucket.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [tls_only_statement(arn, f"{arn}/*")],
                    }
                )
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.public_access_block]),
        )
        self.arn: pulumi.Output[str] = self.bucket.arn
        self.bucket_name: pulumi.Output[str] = self.bucket.bucket
        self.register_outputs({"bucket": self.bucket_name})
