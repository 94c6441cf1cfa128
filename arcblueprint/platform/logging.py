"""Centralized logging: every log group the blueprint creates, and the sink they all feed.

Each log group gets the stack's retention (CloudWatch's default is "never expire"), the platform
KMS key, and a subscription filter to one Kinesis Data Firehose stream that writes GZIP objects
to an encrypted, versioned, access-blocked S3 bucket with lifecycle rules. Function logs, API
access logs and VPC flow logs all take this path. The convention for what goes in them is
structured JSON from powertools ``Logger``.

CloudWatch Logs hands Firehose each batch gzipped. The stream decompresses it (Firehose's
CloudWatch Logs decompression) and writes one JSON document per line: the batch as CloudWatch
Logs sends it (``messageType``, ``owner``, ``logGroup``, ``logStream``, ``logEvents``), gzipped
once for S3. The batch is kept whole rather than reduced to its messages (Firehose's message
extraction) because the sink mixes sources, JSON and text (flow logs), and the log group is
what tells them apart. CloudWatch Logs' health checks arrive as ``CONTROL_MESSAGE`` batches with
no log group: dynamic partitioning routes them to ``control/`` (expired after a day). A Glue table with date partition
projection over ``logs/<yyyy>/<MM>/<dd>/`` makes the bucket queryable from Athena.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from arcblueprint.platform.buckets import keep_private, tls_only_statement
from arcblueprint.service_facts import service_trust_policy

if TYPE_CHECKING:
    from arcblueprint.config.model import StackConfig
    from arcblueprint.platform.context import StackContext

__all__ = [
    "LOG_TABLE_COLUMNS",
    "CentralLogging",
    "CentralLoggingArgs",
    "events_query",
    "resolver_log_group_name",
    "waf_log_group_name",
]

_SERVICE = "logging"
#: Where Firehose writes, by arrival day (UTC); the Glue table projects the same layout.
LOG_PREFIX = "logs/"
#: Where CloudWatch Logs' CONTROL_MESSAGE batches (destination health checks) go; they expire after a day.
CONTROL_PREFIX = "control/"
#: The dynamic-partitioning key: data batches under LOG_PREFIX, everything else under CONTROL_PREFIX.
_ROUTE_QUERY = (
    '{route: (if .messageType == "DATA_MESSAGE" then "'
    + LOG_PREFIX.rstrip("/")
    + '" else "'
    + CONTROL_PREFIX.rstrip("/")
    + '" end)}'
)
_DAY_FORMAT = "yyyy/MM/dd"
#: Incomplete multipart uploads are billed until aborted: every lifecycle configuration aborts them.
ABORT_UPLOADS_AFTER_DAYS = 7
#: One CloudWatch Logs subscription batch per line, as Firehose writes it after decompression.
LOG_TABLE_COLUMNS: dict[str, str] = {
    "messagetype": "string",
    "owner": "string",
    "loggroup": "string",
    "logstream": "string",
    "subscriptionfilters": "array<string>",
    "logevents": "array<struct<id:string,timestamp:bigint,message:string>>",
}
LOG_TABLE = "central_logs"
_JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"  # maps messageType to messagetype (case-insensitive)
_TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"  # reads .gz objects transparently
_TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"


#: Where each bucket's server access logs go in the access-log bucket: ``s3/<source bucket>/``.
ACCESS_LOG_PREFIX = "s3/"


def waf_log_group_name(ctx: StackContext) -> str:
    """The stack's WAF log group: AWS WAF logs only to destinations named ``aws-waf-logs-...``."""
    return f"aws-waf-logs-{ctx.name('waf')}"


def resolver_log_group_name(ctx: StackContext) -> str:
    """The stack's Route 53 Resolver query log group."""
    return f"/aws/route53resolver/{ctx.name('dns-queries')}"


def events_query(database: str, day: str) -> str:
    """One row per log event of ``day`` (``yyyy/MM/dd``), health checks left out (docs/platform.md)."""
    return (
        f"SELECT loggroup, logstream, from_unixtime(e.timestamp / 1000) AS at, e.message "
        f"FROM {database}.{LOG_TABLE} CROSS JOIN UNNEST(logevents) AS t(e) "
        f"WHERE day = '{day}' AND messagetype = 'DATA_MESSAGE'"
    )


@dataclass(frozen=True, kw_only=True)
class CentralLoggingArgs:
    context: StackContext
    #: The platform key: encrypts log groups, the Firehose stream and the bucket.
    kms_key_arn: pulumi.Input[str]


class CentralLogging(pulumi.ComponentResource):
    """The log sink (Firehose -> S3) and the factory of log groups subscribed to it.

    Implements :class:`arcblueprint.platform.handles.LogGroups`.

    Attributes
    ----------
    bucket : aws.s3.Bucket
        Where every log ends up (GZIP objects under ``logs/``).
    delivery_stream : aws.kinesis.FirehoseDeliveryStream
    destination_arn : pulumi.Output[str]
        The Firehose stream ARN subscription filters deliver to.
    subscription_role_arn : pulumi.Output[str]
        The role CloudWatch Logs assumes to put records on the stream.
    api_gateway_account : aws.apigateway.Account | None
        API Gateway's account-level CloudWatch role setting (``logging.manageApiGatewayAccount``);
        ``None`` where another owner sets it. Stages that log must be created after it.
    access_log_bucket : aws.s3.Bucket | None
        Where every bucket's server access logs go (``logging.s3AccessLogs``). SSE-S3, not the platform
        key: S3 delivers server access logs only to buckets whose default encryption is SSE-S3.
    vended_logs_policy : aws.cloudwatch.LogResourcePolicy | None
        Lets CloudWatch Logs' delivery service write the WAF and Resolver query log groups (declared
        here, not left to each service's first delivery, which edits one shared policy per account).

    Implements :class:`arcblueprint.platform.handles.ServerAccessLogs`.
    """

    def __init__(self, name: str, args: CentralLoggingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("arcblueprint:platform:CentralLogging", name, None, opts)
        self._context = ctx = args.context
        self._kms_key_arn = args.kms_key_arn
        self.access_log_bucket: aws.s3.Bucket | None = None
        self._access_logs_policy: aws.s3.BucketPolicy | None = None
        stack = ctx.stack
        spec = stack.logging
        child = pulumi.ResourceOptions(parent=self)
        tags = ctx.tags(_SERVICE)
        arn_prefix = f"arn:{ctx.partition}"

        self.bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=ctx.name("logs", stack.account_id, stack.region, max_length=63),
            tags=tags,
            opts=ctx.stateful(child),
        )
        bucket_id = self.bucket.id
        keep_private(f"{name}-bucket", bucket_id, child)
        aws.s3.BucketVersioning(
            f"{name}-bucket-versioning", bucket=bucket_id, versioning_configuration={"status": "Enabled"}, opts=child
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-bucket-encryption",
            bucket=bucket_id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {
                        "sse_algorithm": "aws:kms",
                        "kms_master_key_id": args.kms_key_arn,
                    },
                    "bucket_key_enabled": True,
                }
            ],
            opts=child,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-bucket-lifecycle",
            bucket=bucket_id,
            rules=[
                {
                    "id": "archive-then-expire",
                    "status": "Enabled",
                    "filter": {"prefix": ""},
                    # Instant Retrieval: GET works without a restore, so Athena still reads archived logs
                    # (it skips GLACIER Flexible Retrieval objects unless they are restored first).
                    "transitions": [{"days": spec.archive_after_days, "storage_class": "GLACIER_IR"}],
                    "expiration": {"days": spec.expire_after_days},
                    # Versioning keeps overwritten objects; they expire on the same clock.
                    "noncurrent_version_expiration": {"noncurrent_days": spec.expire_after_days},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": ABORT_UPLOADS_AFTER_DAYS},
                },
                {
                    # Health checks carry no log data: S3 honours the shorter of two overlapping expirations.
                    "id": "expire-control-messages",
                    "status": "Enabled",
                    "filter": {"prefix": CONTROL_PREFIX},
                    "expiration": {"days": 1},
                    "noncurrent_version_expiration": {"noncurrent_days": 1},
                },
            ],
            opts=child,
        )
        aws.s3.BucketPolicy(
            f"{name}-bucket-policy",
            bucket=bucket_id,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [tls_only_statement(self.bucket.arn, pulumi.Output.concat(self.bucket.arn, "/*"))],
                }
            ),
            opts=child,
        )

        # Firehose's own delivery errors. It is the one log group not subscribed to the sink:
        # a failing stream must not be asked to deliver its own failures.
        self.error_log_group = aws.cloudwatch.LogGroup(
            f"{name}-firehose-errors",
            name=f"/aws/kinesisfirehose/{ctx.name('logs')}",
            retention_in_days=spec.retention_days,
            kms_key_id=args.kms_key_arn,
            tags={**tags, "arcblueprint:sink": "self"},
            opts=ctx.stateful(child),
        )
        aws.cloudwatch.LogStream(
            f"{name}-firehose-errors-s3", name="S3Delivery", log_group_name=self.error_log_group.name, opts=child
        )

        self.firehose_role = aws.iam.Role(
            f"{name}-firehose-role",
            name=ctx.name("logs-firehose"),
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "firehose.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                            "Condition": {"StringEquals": {"sts:ExternalId": stack.account_id}},
                        }
                    ],
                }
            ),
            tags=tags,
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-firehose-policy",
            role=self.firehose_role.id,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "WriteTheLogBucket",
                            "Effect": "Allow",
                            "Action": [
                                "s3:AbortMultipartUpload",
                                "s3:GetBucketLocation",
                                "s3:GetObject",
                                "s3:ListBucket",
                                "s3:ListBucketMultipartUploads",
                                "s3:PutObject",
                            ],
                            "Resource": [self.bucket.arn, pulumi.Output.concat(self.bucket.arn, "/*")],
                        },
                        {
                            "Sid": "EncryptWithThePlatformKeyForS3",
                            "Effect": "Allow",
                            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                            "Resource": [args.kms_key_arn],
                            "Condition": {"StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"}},
                        },
                        {
                            "Sid": "ReportDeliveryErrors",
                            "Effect": "Allow",
                            "Action": ["logs:PutLogEvents"],
                            "Resource": [pulumi.Output.concat(self.error_log_group.arn, ":log-stream:*")],
                        },
                    ],
                }
            ),
            opts=child,
        )

        self.delivery_stream = aws.kinesis.FirehoseDeliveryStream(
            f"{name}-stream",
            name=ctx.name("logs"),
            destination="extended_s3",
            server_side_encryption={"enabled": True, "key_type": "CUSTOMER_MANAGED_CMK", "key_arn": args.kms_key_arn},
            extended_s3_configuration={
                "bucket_arn": self.bucket.arn,
                "role_arn": self.firehose_role.arn,
                "buffering_interval": spec.sink_buffer_seconds,
                "buffering_size": spec.sink_buffer_mib,
                # Subscription batches arrive gzipped: decompressed here, each on its own line, and the
                # object gzipped once (GZIP on gzipped records made objects Athena could not read).
                # CloudWatch Logs' destination health checks (CONTROL_MESSAGE) are routed to CONTROL_PREFIX
                # (kept a day) by dynamic partitioning, so the table under LOG_PREFIX holds log data only.
                "processing_configuration": {
                    "enabled": True,
                    "processors": [
                        {
                            "type": "Decompression",
                            "parameters": [{"parameter_name": "CompressionFormat", "parameter_value": "GZIP"}],
                        },
                        {
                            "type": "MetadataExtraction",
                            "parameters": [
                                {"parameter_name": "JsonParsingEngine", "parameter_value": "JQ-1.6"},
                                {"parameter_name": "MetadataExtractionQuery", "parameter_value": _ROUTE_QUERY},
                            ],
                        },
                        {"type": "AppendDelimiterToRecord"},
                    ],
                },
                "dynamic_partitioning_configuration": {"enabled": True, "retry_duration": 300},
                "compression_format": "GZIP",
                "kms_key_arn": args.kms_key_arn,
                "prefix": f"!{{partitionKeyFromQuery:route}}/!{{timestamp:{_DAY_FORMAT}}}/",
                "error_output_prefix": "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/",
                "cloudwatch_logging_options": {
                    "enabled": True,
                    "log_group_name": self.error_log_group.name,
                    "log_stream_name": "S3Delivery",
                },
            },
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.firehose_role]),
        )

        self.subscription_role = aws.iam.Role(
            f"{name}-subscription-role",
            name=ctx.name("logs-subscription"),
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "logs.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                            "Condition": {
                                "StringLike": {
                                    "aws:SourceArn": f"{arn_prefix}:logs:{stack.region}:{stack.account_id}:*"
                                }
                            },
                        }
                    ],
                }
            ),
            tags=tags,
            opts=child,
        )
        self._subscription_policy = aws.iam.RolePolicy(
            f"{name}-subscription-policy",
            role=self.subscription_role.id,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "PutOnTheSinkOnly",
                            "Effect": "Allow",
                            "Action": ["firehose:PutRecord", "firehose:PutRecordBatch"],
                            "Resource": [self.delivery_stream.arn],
                        }
                    ],
                }
            ),
            opts=child,
        )

        if spec.s3_access_logs:
            self.access_log_bucket = self._access_log_bucket(name, tags, child)
            self.log_requests(f"{name}-bucket", self.bucket, parent=self)
        self.vended_logs_policy = self._vended_logs_policy(name, child) if _has_vended_logs(stack) else None

        self.database, self.table = self._catalog(name, tags, child)
        self.api_gateway_account: aws.apigateway.Account | None = (
            self._api_gateway_account(name, tags, child) if spec.manage_api_gateway_account else None
        )

        self.destination_arn: pulumi.Output[str] = self.delivery_stream.arn
        self.subscription_role_arn: pulumi.Output[str] = self.subscription_role.arn
        self.bucket_name: pulumi.Output[str] = self.bucket.bucket
        self.database_name: pulumi.Output[str] = self.database.name
        self.register_outputs(
            {
                "destinationArn": self.destination_arn,
                "bucketName": self.bucket_name,
                "subscriptionRoleArn": self.subscription_role_arn,
                "databaseName": self.database_name,
            }
        )

    def _access_log_bucket(self, name: str, tags: dict[str, str], child: pulumi.ResourceOptions) -> aws.s3.Bucket:
        """The target of every bucket's server access logs.

        S3 delivers server access logs to a target whose default encryption is SSE-S3 only (SSE-KMS is
        not supported), with a bucket policy for ``logging.s3.amazonaws.com`` since ACLs are disabled
        (bucket owner enforced); the target itself must not log (each delivery would log another).
        """
        ctx = self._context
        stack = ctx.stack
        bucket = aws.s3.Bucket(
            f"{name}-access-logs",
            bucket=ctx.name("access-logs", stack.account_id, stack.region, max_length=63),
            tags=tags,
            opts=ctx.stateful(child),
        )
        bucket_id = bucket.id
        block = keep_private(f"{name}-access-logs", bucket_id, child)
        aws.s3.BucketVersioning(
            f"{name}-access-logs-versioning",
            bucket=bucket_id,
            versioning_configuration={"status": "Enabled"},
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-access-logs-encryption",
            bucket=bucket_id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
            opts=child,
        )
        spec = stack.logging
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-access-logs-lifecycle",
            bucket=bucket_id,
            rules=[
                {
                    "id": "expire-access-logs",
                    "status": "Enabled",
                    "filter": {"prefix": ""},
                    "expiration": {"days": spec.expire_after_days},
                    "noncurrent_version_expiration": {"noncurrent_days": 1},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": ABORT_UPLOADS_AFTER_DAYS},
                }
            ],
            opts=child,
        )
        arn_prefix = f"arn:{ctx.partition}:s3:::"
        self._access_logs_policy = aws.s3.BucketPolicy(
            f"{name}-access-logs-policy",
            bucket=bucket_id,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "S3ServerAccessLogsOfThisStack",
                            "Effect": "Allow",
                            "Principal": {"Service": "logging.s3.amazonaws.com"},
                            "Action": "s3:PutObject",
                            "Resource": pulumi.Output.concat(bucket.arn, "/", ACCESS_LOG_PREFIX, "*"),
                            # Every bucket of the stack is named under its prefix (StackContext.name).
                            "Condition": {
                                "ArnLike": {"aws:SourceArn": f"{arn_prefix}{stack.naming_prefix}-*"},
                                "StringEquals": {"aws:SourceAccount": stack.account_id},
                            },
                        },
                        tls_only_statement(bucket.arn, pulumi.Output.concat(bucket.arn, "/*")),
                    ],
                }
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[block]),
        )
        return bucket

    def log_requests(
        self, resource_name: str, bucket: aws.s3.Bucket, *, parent: pulumi.Resource
    ) -> aws.s3.BucketLogging | None:
        """Server access logs of ``bucket`` to the access-log bucket, under ``s3/<bucket name>/``.

        ``None`` where the stack turned them off (``logging.s3AccessLogs: false``).
        """
        target = self.access_log_bucket
        if target is None:
            return None
        return aws.s3.BucketLogging(
            f"{resource_name}-access-logging",
            bucket=bucket.id,
            target_bucket=target.id,
            target_prefix=bucket.bucket.apply(lambda name: f"{ACCESS_LOG_PREFIX}{name}/"),
            # The target's policy is S3's only grant to deliver (ACLs are disabled): in place before logging starts.
            opts=pulumi.ResourceOptions(parent=parent, depends_on=[p for p in [self._access_logs_policy] if p]),
        )

    def _vended_logs_policy(self, name: str, child: pulumi.ResourceOptions) -> aws.cloudwatch.LogResourcePolicy:
        """CloudWatch Logs' delivery service may write the WAF and Resolver query log groups of this stack.

        Without it, the first ``PutLoggingConfiguration`` (WAF) or query log delivery creates or edits a
        shared account policy itself (``AWSWAF-LOGS``), which fails once that policy reaches CloudWatch
        Logs' 5,120-character limit; one policy of the stack's own, scoped to its groups, cannot.
        """
        ctx = self._context
        stack = ctx.stack
        logs_arn = f"arn:{ctx.partition}:logs:{stack.region}:{stack.account_id}"
        # Only the groups this stack delivers to (a policy naming others grants what nobody uses).
        groups = [waf_log_group_name(ctx)] if any(stack.waf_enabled(s) for s in stack.services) else []
        groups += [resolver_log_group_name(ctx)] if stack.resolver_query_logs else []
        return aws.cloudwatch.LogResourcePolicy(
            f"{name}-vended-logs-policy",
            policy_name=ctx.name("vended-logs"),
            policy_document=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "AWSLogDeliveryWrite",
                            "Effect": "Allow",
                            "Principal": {"Service": "delivery.logs.amazonaws.com"},
                            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                            "Resource": [f"{logs_arn}:log-group:{group}:log-stream:*" for group in groups],
                            "Condition": {
                                "StringEquals": {"aws:SourceAccount": stack.account_id},
                                "ArnLike": {"aws:SourceArn": f"{logs_arn}:*"},
                            },
                        }
                    ],
                }
            ),
            opts=child,
        )

    def _catalog(
        self, name: str, tags: dict[str, str], child: pulumi.ResourceOptions
    ) -> tuple[aws.glue.CatalogDatabase, aws.glue.CatalogTable]:
        """The Glue database and table Athena reads the bucket through (partitions projected, no crawler)."""
        ctx = self._context
        database = aws.glue.CatalogDatabase(
            f"{name}-database",
            name=ctx.name("logs").replace("-", "_"),
            description="Central logs: every subscribed log group, one CloudWatch Logs batch per row",
            tags=tags,
            opts=child,
        )
        location = self.bucket.bucket.apply(lambda bucket: f"s3://{bucket}/{LOG_PREFIX}")
        table = aws.glue.CatalogTable(
            f"{name}-table",
            name=LOG_TABLE,
            database_name=database.name,
            table_type="EXTERNAL_TABLE",
            description="CloudWatch Logs subscription batches (data only: health checks go to control/)",
            parameters=location.apply(
                lambda loc: {
                    "classification": "json",
                    "EXTERNAL": "TRUE",
                    "compressionType": "gzip",
                    # The day Firehose wrote the object (UTC), exactly the prefix it writes under.
                    "projection.enabled": "true",
                    "projection.day.type": "date",
                    "projection.day.format": _DAY_FORMAT,
                    "projection.day.range": "2024/01/01,NOW",
                    "projection.day.interval": "1",
                    "projection.day.interval.unit": "DAYS",
                    "storage.location.template": loc + "${day}/",
                }
            ),
            partition_keys=[{"name": "day", "type": "string"}],
            storage_descriptor={
                "location": location,
                "input_format": _TEXT_INPUT,
                "output_format": _TEXT_OUTPUT,
                "ser_de_info": {"serialization_library": _JSON_SERDE},
                "columns": [{"name": column, "type": type_name} for column, type_name in LOG_TABLE_COLUMNS.items()],
            },
            opts=child,
        )
        return database, table

    def _api_gateway_account(
        self, name: str, tags: dict[str, str], child: pulumi.ResourceOptions
    ) -> aws.apigateway.Account:
        """API Gateway writes stage access and execution logs only once its account-level CloudWatch
        role is set (one setting per account and region, so a stack can opt out where another owns it).

        Until it is set, creating a stage with access logs or a logging level fails with "CloudWatch
        Logs role ARN must be set in account settings to enable logging"; services therefore wait for
        it (:attr:`Platform.api_logging_depends_on`).
        """
        role = aws.iam.Role(
            f"{name}-apigateway-role",
            name=self._context.name("apigateway-logs"),
            assume_role_policy=service_trust_policy(
                "apigateway.amazonaws.com", account_id=self._context.stack.account_id
            ),
            tags=tags,
            opts=child,
        )
        # AWS's managed policy for exactly this role: API Gateway creates the log groups it writes to.
        push_policy = aws.iam.RolePolicyAttachment(
            f"{name}-apigateway-logs",
            role=role.name,
            policy_arn=f"arn:{self._context.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
            opts=child,
        )
        # UpdateAccount checks that API Gateway can assume the role and write logs with it ("The role
        # ARN does not have required permissions set to API Gateway"): the policy is attached first.
        return aws.apigateway.Account(
            f"{name}-apigateway-account",
            cloudwatch_role_arn=role.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[push_policy]),
        )

    def log_group(
        self, resource_name: str, log_group_name: pulumi.Input[str], *, service: str, parent: pulumi.Resource
    ) -> aws.cloudwatch.LogGroup:
        """A log group with the stack's retention, the platform key and a subscription to the sink."""
        ctx = self._context
        group = aws.cloudwatch.LogGroup(
            resource_name,
            name=log_group_name,
            retention_in_days=ctx.stack.logging.retention_days,
            kms_key_id=self._kms_key_arn,
            tags=ctx.tags(service),
            opts=ctx.stateful(pulumi.ResourceOptions(parent=parent)),
        )
        aws.cloudwatch.LogSubscriptionFilter(
            f"{resource_name}-to-sink",
            name="central-sink",
            log_group=group.name,
            filter_pattern="",  # everything: the sink is the complete record
            destination_arn=self.destination_arn,
            role_arn=self.subscription_role_arn,
            opts=pulumi.ResourceOptions(parent=group, depends_on=[self._subscription_policy]),
        )
        return group


def _has_vended_logs(stack: StackConfig) -> bool:
    """Whether a web ACL or Resolver query logging of the stack delivers to CloudWatch Logs."""
    return stack.resolver_query_logs or any(stack.waf_enabled(name) for name in stack.services)
