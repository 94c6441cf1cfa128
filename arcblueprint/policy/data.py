"""Data: DynamoDB recovery and encryption, locked-down S3 buckets, protected stateful resources."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from arcblueprint.policy.base import (
    UNKNOWN,
    as_list,
    dig,
    is_mapping,
    json_document,
    known,
    known_dig,
    linked,
    resource_policy,
    resources_of,
    stack_policy,
    truthy,
)

if TYPE_CHECKING:
    from pulumi_policy import PolicyResource, ResourceValidationArgs, StackValidationArgs

    from arcblueprint.policy.base import ReportViolation

__all__ = [
    "BUCKET_TYPES",
    "DYNAMODB_PITR_ENCRYPTED",
    "POLICIES",
    "S3_BUCKET_SECURED",
    "STATEFUL_PROTECTED",
    "STATEFUL_TYPES",
    "denies_insecure_transport",
]

TABLE = "aws:dynamodb/table:Table"
BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ENCRYPTION_TYPES = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
VERSIONING_TYPES = ("aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2")
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"

#: Resources whose deletion loses data or breaks decryption; protected (and retained) in prod.
STATEFUL_TYPES = (
    TABLE,
    *BUCKET_TYPES,
    "aws:kms/key:Key",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:kinesis/stream:Stream",
    "aws:secretsmanager/secret:Secret",
    "aws:sqs/queue:Queue",
    "aws:cognito/userPool:UserPool",
    "aws:cloudwatch/eventArchive:EventArchive",
)


def validate_dynamodb(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Point-in-time recovery undoes a bad write or deploy (35 days); a customer-managed key puts access
    to the data under the key policy."""
    if not truthy(dig(args.props, "pointInTimeRecovery", "enabled")):
        report_violation(f"DynamoDB table '{args.name}' has no point-in-time recovery; set pointInTimeRecovery.")
    if not truthy(dig(args.props, "serverSideEncryption", "enabled")):
        report_violation(
            f"DynamoDB table '{args.name}' is not encrypted with a customer-managed KMS key; set serverSideEncryption."
        )


DYNAMODB_PITR_ENCRYPTED = resource_policy(
    "dynamodb-pitr-encrypted",
    "DynamoDB tables have point-in-time recovery and KMS encryption.",
    validate_dynamodb,
    types=[TABLE],
)


def denies_insecure_transport(policy: Any) -> bool:
    """Whether a bucket policy denies every request made without TLS (``aws:SecureTransport`` false)."""
    for statement in as_list(dig(json_document(policy), "Statement")):
        if not is_mapping(statement) or statement.get("Effect") != "Deny":
            continue
        actions = as_list(statement.get("Action"))
        condition = dig(statement, "Condition", "Bool", "aws:SecureTransport")
        if ("s3:*" in actions or "*" in actions) and str(condition).lower() == "false":
            return True
    return False


def _attached(bucket: PolicyResource, candidates: list[PolicyResource]) -> list[PolicyResource]:
    """Bucket-level resources (``bucket=<bucket>``) that belong to ``bucket``."""
    names = {v for v in (known(bucket.props, "bucket"), known(bucket.props, "id"), bucket.name) if isinstance(v, str)}
    return [c for c in candidates if bucket in linked(c, "bucket") or known(c.props, "bucket") in names]


def validate_s3_buckets(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Every bucket blocks public access, is encrypted, versioned and only reachable over TLS."""
    blocks = list(resources_of(args, PUBLIC_ACCESS_BLOCK))
    encryption = list(resources_of(args, *ENCRYPTION_TYPES))
    versioning = list(resources_of(args, *VERSIONING_TYPES))
    policies = list(resources_of(args, BUCKET_POLICY))
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    for bucket in resources_of(args, *BUCKET_TYPES):

        def fail(message: str, bucket: PolicyResource = bucket) -> None:
            report_violation(f"S3 bucket '{bucket.name}' {message}", bucket.urn)

        if not any(all(truthy(known(b.props, f)) for f in flags) for b in _attached(bucket, blocks)):
            fail("has no public access block with all four settings on.")
        inline_sse = known(bucket.props, "serverSideEncryptionConfiguration")
        if not inline_sse and not _attached(bucket, encryption):
            fail("has no server-side encryption configuration.")
        inline_versioning = truthy(known_dig(bucket.props, "versioning", "enabled"))
        if not inline_versioning and not any(
            known_dig(v.props, "versioningConfiguration", "status") == "Enabled" for v in _attached(bucket, versioning)
        ):
            fail("is not versioned.")
        attached = [known(p.props, "policy") for p in _attached(bucket, policies)]
        if any(p is UNKNOWN for p in attached):
            continue  # computed from the bucket's ARN: judged when it is known
        if not any(denies_insecure_transport(p) for p in attached):
            fail("has no bucket policy denying requests without TLS (aws:SecureTransport false).")


S3_BUCKET_SECURED = stack_policy(
    "s3-bucket-secured",
    "S3 buckets block public access, are encrypted, versioned and deny requests without TLS.",
    validate_s3_buckets,
)


def validate_stateful_protected(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """In prod, ``protect`` makes a destroy or a replacement of data-holding resources fail until lifted."""
    config = args.get_config()
    if config.get("environment", "prod") != "prod":
        return
    if args.resource_type not in (config.get("statefulTypes") or STATEFUL_TYPES):
        return
    if not args.opts.protect:
        report_violation(
            f"Stateful resource '{args.name}' ({args.resource_type}) is not protected; declare it "
            "with context.stateful(...)."
        )


STATEFUL_PROTECTED = resource_policy(
    "stateful-protected",
    "In prod, stateful resources are declared with the protect option.",
    validate_stateful_protected,
    types=None,
    parameters={
        "environment": {"type": "string", "description": "the stack's environment; enforced in prod only"},
        "statefulTypes": {"type": "array", "items": {"type": "string"}, "default": list(STATEFUL_TYPES)},
    },
)

POLICIES = [DYNAMODB_PITR_ENCRYPTED, S3_BUCKET_SECURED, STATEFUL_PROTECTED]
