"""I'm a Streamer: Kinesis -> a Firehose per domain (transform, Parquet, date partitions) -> S3 -> Glue + Athena.

Domains fed by the bus (``subscribe``) get a Direct PUT Firehose stream that EventBridge writes to; only
the other domains' Firehose streams read the Kinesis stream.
"""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pulumi_aws as aws

from arcblueprint.platform.constructs.secure_bucket import BucketLifecycle, SecureBucket, SecureBucketArgs
from arcblueprint.platform.constructs.ttl_table import ttl_table
from arcblueprint.platform.encryption import EncryptionKey, EncryptionKeyArgs
from arcblueprint.platform.functions import FunctionArgs, ServerlessFunction, StreamSource
from arcblueprint.platform.handles import InputTransformer, Platform, RuleTarget
from arcblueprint.platform.queues import dead_end_queue
from arcblueprint.services.base import Service, ServiceArgs
from arcblueprint.services.event_wiring import subscription_rules
from arcblueprint.services.streamer.spec import PARTITION_COLUMNS, DomainSpec, StreamerSpec

__all__ = [
    "EVENT_ENVELOPE_KEY",
    "StreamerService",
    "domain_event_record",
    "firehose_policy",
    "glue_name",
]

HANDLERS = Path(__file__).resolve().parent / "handlers"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"


def glue_name(name: str) -> str:
    """Glue and Athena names: lowercase letters, digits and underscores."""
    return name.replace("-", "_")


def firehose_policy(
    *,
    stream_arn: str | None,
    bucket_arn: str,
    key_arn: str,
    backup_key_arn: str,
    function_arn: str,
    database_arn: str,
    table_arn: str,
    catalog_arn: str,
    log_group_arn: str,
    domain: str,
) -> str:
    """What one domain's Firehose may do: read the stream (unless Direct PUT), write its prefixes, transform."""
    read = [
        {
            "Sid": "ReadTheStream",
            "Effect": "Allow",
            "Resource": stream_arn,
            "Action": [
                "kinesis:DescribeStream",
                "kinesis:DescribeStreamSummary",
                "kinesis:GetShardIterator",
                "kinesis:GetRecords",
                "kinesis:ListShards",
            ],
        }
    ]
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                *(read if stream_arn else []),
                {
                    "Sid": "WriteItsPrefixes",
                    "Effect": "Allow",
                    "Action": ["s3:PutObject", "s3:AbortMultipartUpload"],
                    "Resource": [
                        f"{bucket_arn}/data/{domain}/*",
                        f"{bucket_arn}/raw/{domain}/*",
                        f"{bucket_arn}/errors/{domain}/*",
                    ],
                },
                {
                    "Sid": "FindTheBucket",
                    "Effect": "Allow",
                    "Resource": bucket_arn,
                    "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
                },
                {
                    "Sid": "UseThePlatformKey",
                    "Effect": "Allow",
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                    "Resource": key_arn,
                },
                {
                    "Sid": "UseTheBackupKey",
                    "Effect": "Allow",
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                    "Resource": backup_key_arn,
                },
                {
                    "Sid": "Transform",
                    "Effect": "Allow",
                    "Action": ["lambda:InvokeFunction", "lambda:GetFunctionConfiguration"],
                    "Resource": function_arn,
                },
                {
                    "Sid": "ReadTheSchema",
                    "Effect": "Allow",
                    "Action": ["glue:GetTable", "glue:GetTableVersion", "glue:GetTableVersions"],
                    "Resource": [catalog_arn, database_arn, table_arn],
                },
                {
                    "Sid": "LogDeliveryErrors",
                    "Effect": "Allow",
                    "Action": "logs:PutLogEvents",
                    "Resource": f"{log_group_arn}:log-stream:*",
                },
            ],
        }
    )


#: The record key holding an event's envelope (id, source, type, time); the transform flattens such records.
EVENT_ENVELOPE_KEY = "eventbridge"


def domain_event_record(domain_field: str, domain: str) -> InputTransformer:
    """The input transformer that turns a domain event into a record of ``domain``'s Firehose stream.

    ``{<domainField>: <domain>, "eventbridge": {id, source, detailType, time}, "detail": {...}}``:
    the domain field tells the transform the record is the domain's (like a stream record), the
    detail keeps its JSON types (unquoted placeholder), and the transform flattens envelope and
    detail into one row for the domain's table (one JSON line: EventBridge adds no delimiter).
    """
    parts = domain_field.split(".")
    marker = "<domain>"
    nested: str = json.dumps(marker)
    for part in reversed(parts):
        nested = "{" + json.dumps(part) + ": " + nested + "}"
    domain_json = nested.replace(json.dumps(marker), json.dumps(domain))
    template = (
        "{" + domain_json[1:-1] + ', "' + EVENT_ENVELOPE_KEY + '": {"id": "<id>", "source": "<source>", '
        '"detailType": "<detailType>", "time": "<time>"}, "detail": <detail>}'
    )
    return InputTransformer(
        paths={
            "id": "$.id",
            "source": "$.source",
            "detailType": "$.detail-type",
            "time": "$.time",
            "detail": "$.detail",
        },
        template=template,
    )


class StreamerService(Service[StreamerSpec]):
    """A stream, and for each domain a dedicated Firehose into a Parquet data lake that Athena queries.

    Each Firehose keeps the raw records (source record backup), calls one transformation function
    that drops other domains' records and strips sensitive fields, converts to Parquet with the
    domain's Glue table schema and partitions by event date. Athena queries through a workgroup
    that encrypts results and cuts off expensive queries.

    A domain fed by the bus (a ``subscribe`` route's target) has a Direct PUT Firehose stream,
    encrypted with the platform key, that the route's rule writes to: its records never share the
    Kinesis stream's read budget, and its source backup holds its own records only. The stream's
    readers (the other domains' Firehoses, a consumer without enhanced fan-out) are checked against
    a shard's read budget by the spec.

    The source backup (``raw/``) and the error output (``errors/``) hold records before the transform
    removed or masked anything, so they expire within ``rawBackupExpireDays`` (at most 7; their old
    versions a day later) and the backup is encrypted with its own KMS key (``backup_key``): its key
    policy admits no service principal, and of this program's roles only the Firehose roles name it.
    Unroutable records (no domain, an unknown one, undecodable)
    land under the errors prefix of one stream, the first domain by name.

    Attributes
    ----------
    stream : aws.kinesis.Stream
    lake, query_results : SecureBucket
    backup_key : EncryptionKey
        Encrypts ``raw/``: a key apart from the platform's, so access to the raw records is granted apart.
    database : aws.glue.CatalogDatabase
    tables, delivery_streams : dict[str, ...] per domain
    transform : ServerlessFunction
    consumer : ServerlessFunction | None
    consumer_idempotency_table : aws.dynamodb.Table
        With a consumer: its idempotency records, keyed on each record's eventID (replays are no-ops).
    workgroup : aws.athena.Workgroup
    outputs : dict[str, pulumi.Input]
        ``streamName``, ``lakeBucket``, ``database``, ``workgroup``, ``<domain>DeliveryStream``.
    """

    TYPE = "arcblueprint:services:StreamerService"

    def __init__(self, name: str, args: ServiceArgs[StreamerSpec], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        spec, platform = args.spec, args.platform
        ctx = platform.context
        stack = ctx.stack
        tags = ctx.tags(name)
        child = pulumi.ResourceOptions(parent=self)

        self.stream = aws.kinesis.Stream(
            f"{name}-stream",
            name=ctx.name(name, "stream"),
            stream_mode_details={"stream_mode": "PROVISIONED" if spec.shard_count else "ON_DEMAND"},
            shard_count=spec.shard_count,
            retention_period=spec.retention_hours,
            encryption_type="KMS",
            kms_key_id=platform.kms_key_arn,
            tags=tags,
            opts=ctx.stateful(child),
        )
        self.backup_key = EncryptionKey(
            f"{name}-backup-key",
            EncryptionKeyArgs(
                context=ctx,
                purpose=f"{name}-raw-backup",
                service=name,
                service_principals=(),
                encrypts_log_groups=False,
                encrypts_alarm_topics=False,
            ),
            opts=child,
        )
        # raw/ and errors/ hold records before removeFields and masking: short-lived, old versions too.
        self.lake = SecureBucket(
            f"{name}-lake",
            SecureBucketArgs(
                platform=platform,
                service=name,
                suffix="lake",
                noncurrent_version_expire_days=spec.noncurrent_version_expire_days,
                lifecycle=[
                    BucketLifecycle(
                        rule_id="curated", prefix="data/", transition_to_ia_days=spec.transition_to_ia_days
                    ),
                    BucketLifecycle(
                        rule_id="raw-backup",
                        prefix="raw/",
                        expire_days=spec.raw_backup_expire_days,
                        noncurrent_expire_days=1,
                    ),
                    BucketLifecycle(
                        rule_id="errors",
                        prefix="errors/",
                        expire_days=spec.raw_backup_expire_days,
                        noncurrent_expire_days=1,
                    ),
                ],
            ),
            opts=child,
        )
        self.query_results = SecureBucket(
            f"{name}-athena",
            SecureBucketArgs(
                platform=platform,
                service=name,
                suffix="athena",
                noncurrent_version_expire_days=1,
                lifecycle=[BucketLifecycle(rule_id="results", expire_days=spec.athena_results_expire_days)],
            ),
            opts=child,
        )
        self.database = aws.glue.CatalogDatabase(
            f"{name}-database",
            name=glue_name(ctx.name(name)),
            description=f"{name}: curated stream data",
            tags=tags,
            opts=child,
        )

        stream_names = {domain: ctx.name(name, domain) for domain in spec.domains}
        direct = set(spec.event_domains)
        # Every Firehose reading the stream sees every record; exactly one (the first stream domain) fails the
        # unroutable ones, so each lands once under errors/ instead of being dropped by all. A Direct PUT stream
        # receives its domain's events only: it fails whatever else reaches it (nothing else would deliver it).
        first = min(spec.stream_domains, default=None)
        rules = {
            stream_names[domain]: {
                "domain": domain,
                "remove": list(d.remove_fields),
                "mask": list(d.mask_fields),
                "timestampField": d.timestamp_field,
                "unroutable": domain == first,
                "direct": domain in direct,
            }
            for domain, d in spec.domains.items()
        }
        self.transform = ServerlessFunction(
            f"{name}-transform",
            FunctionArgs(
                platform=platform,
                service=name,
                **ctx.code(spec.code("transform"), HANDLERS / "transform", key=f"services.{name}.functions.transform"),
                description=f"{name}: keep its domain, fail unroutable records, strip sensitive fields, date keys",
                timeout_seconds=spec.transform_timeout_seconds,
                environment={"DOMAIN_FIELD": spec.domain_field, "DELIVERY_STREAMS": json.dumps(rules, sort_keys=True)},
            ),
            opts=child,
        )

        self.tables: dict[str, aws.glue.CatalogTable] = {}
        self.delivery_streams: dict[str, aws.kinesis.FirehoseDeliveryStream] = {}
        for domain, domain_spec in sorted(spec.domains.items()):
            self.tables[domain] = self._table(name, domain, domain_spec)
            self.delivery_streams[domain] = self._delivery_stream(
                name, domain, domain_spec, stream_names[domain], platform, direct=domain in direct
            )

        self.workgroup = aws.athena.Workgroup(
            f"{name}-workgroup",
            name=ctx.name(name),
            description=f"Queries over the {name} data lake",
            configuration={
                "enforce_workgroup_configuration": True,  # clients cannot switch off encryption or the cutoff
                "publish_cloudwatch_metrics_enabled": True,
                "bytes_scanned_cutoff_per_query": spec.athena_bytes_scanned_cutoff_mib * 1024 * 1024,
                "result_configuration": {
                    "output_location": self.query_results.bucket_name.apply(lambda b: f"s3://{b}/results/"),
                    "encryption_configuration": {"encryption_option": "SSE_KMS", "kms_key_arn": platform.kms_key_arn},
                },
            },
            force_destroy=not stack.protect_stateful_resources,
            tags=tags,
            opts=child,
        )

        self.consumer: ServerlessFunction | None = None
        if spec.consumer is not None:
            self._consumer(name, spec, platform)

        # Domain events from the bus: each subscription puts matching events straight on its domain's
        # Firehose stream as records of that domain, landed in its table (the transform unwraps them).
        for key, subscription in subscription_rules(name, spec, platform):
            assert platform.event_rules is not None and subscription.target is not None
            platform.event_rules.add_rule(
                key,
                service=name,
                event_pattern=subscription.pattern(),
                parent=self,
                target=RuleTarget(
                    kind="firehose",
                    arn=self.delivery_streams[subscription.target].arn,
                    label=f"{name} {subscription.target} delivery stream",
                    input_transformer=domain_event_record(spec.domain_field, subscription.target),
                ),
                description=f"{subscription.source} {', '.join(subscription.detail_types) or 'all'} -> "
                f"{name} {subscription.target}",
            )

        self.outputs = {
            "streamName": self.stream.name,
            "lakeBucket": self.lake.bucket_name,
            "database": self.database.name,
            "workgroup": self.workgroup.name,
            **{f"{glue_name(d)}DeliveryStream": s.name for d, s in self.delivery_streams.items()},
        }
        self.finish(self.outputs)

    def _table(self, name: str, domain: str, domain_spec: DomainSpec) -> aws.glue.CatalogTable:
        location = self.lake.bucket_name.apply(lambda b: f"s3://{b}/data/{domain}/")
        return aws.glue.CatalogTable(
            f"{name}-{domain}-table",
            name=glue_name(domain),
            database_name=self.database.name,
            table_type="EXTERNAL_TABLE",
            parameters=location.apply(
                lambda loc: {
                    "classification": "parquet",
                    "EXTERNAL": "TRUE",
                    # Partition projection: Athena computes partitions from the dates; no crawler, no MSCK REPAIR.
                    "projection.enabled": "true",
                    "projection.year.type": "integer",
                    "projection.year.range": "2020,2100",
                    "projection.month.type": "integer",
                    "projection.month.range": "1,12",
                    "projection.month.digits": "2",
                    "projection.day.type": "integer",
                    "projection.day.range": "1,31",
                    "projection.day.digits": "2",
                    "storage.location.template": loc + "year=${year}/month=${month}/day=${day}/",
                }
            ),
            partition_keys=[{"name": column, "type": "string"} for column in PARTITION_COLUMNS],
            storage_descriptor={
                "location": location,
                "input_format": PARQUET_INPUT,
                "output_format": PARQUET_OUTPUT,
                "ser_de_info": {"serialization_library": PARQUET_SERDE, "parameters": {"serialization.format": "1"}},
                "columns": [{"name": column, "type": type_name} for column, type_name in domain_spec.columns.items()],
            },
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _delivery_stream(
        self, name: str, domain: str, domain_spec: DomainSpec, stream_name: str, platform: Platform, *, direct: bool
    ) -> aws.kinesis.FirehoseDeliveryStream:
        """The domain's Firehose: reads the Kinesis stream, or (``direct``) receives the bus's events."""
        ctx = platform.context
        stack = ctx.stack
        child = pulumi.ResourceOptions(parent=self)
        base = f"{name}-{domain}"
        log_group = platform.log_groups.log_group(
            f"{base}-delivery-logs", f"/aws/kinesisfirehose/{stream_name}", service=name, parent=self
        )
        for stream in ("DestinationDelivery", "BackupDelivery"):
            aws.cloudwatch.LogStream(f"{base}-{stream.lower()}", name=stream, log_group_name=log_group.name, opts=child)
        role = aws.iam.Role(
            f"{base}-delivery-role",
            name=ctx.name(name, domain, "firehose"),
            description=f"Firehose of the {domain} domain",
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
            tags=ctx.tags(name),
            opts=child,
        )
        catalog_arn = f"arn:{ctx.partition}:glue:{stack.region}:{stack.account_id}:catalog"
        policy = aws.iam.RolePolicy(
            f"{base}-delivery-policy",
            role=role.id,
            name="deliver",
            policy=pulumi.Output.all(
                self.stream.arn,
                self.lake.arn,
                platform.kms_key_arn,
                self.transform.alias_arn,
                self.database.name,
                log_group.arn,
                self.backup_key.arn,
            ).apply(
                lambda v: firehose_policy(
                    stream_arn=None if direct else v[0],
                    bucket_arn=v[1],
                    key_arn=v[2],
                    backup_key_arn=v[6],
                    function_arn=v[3],
                    catalog_arn=catalog_arn,
                    database_arn=f"arn:{ctx.partition}:glue:{stack.region}:{stack.account_id}:database/{v[4]}",
                    table_arn=f"arn:{ctx.partition}:glue:{stack.region}:{stack.account_id}:table/{v[4]}/{glue_name(domain)}",
                    log_group_arn=v[5],
                    domain=domain,
                )
            ),
            opts=child,
        )

        def logging(
            stream: str,
        ) -> aws.kinesis.FirehoseDeliveryStreamExtendedS3ConfigurationCloudwatchLoggingOptionsArgsDict:
            return {"enabled": True, "log_group_name": log_group.name, "log_stream_name": stream}

        return aws.kinesis.FirehoseDeliveryStream(
            f"{base}-delivery",
            name=stream_name,
            destination="extended_s3",
            # Without a Kinesis source the stream is Direct PUT; only Direct PUT streams take server-side encryption
            # (a stream-fed Firehose keeps the records under the Kinesis stream's encryption).
            kinesis_source_configuration=None
            if direct
            else {"kinesis_stream_arn": self.stream.arn, "role_arn": role.arn},
            server_side_encryption={
                "enabled": True,
                "key_type": "CUSTOMER_MANAGED_CMK",
                "key_arn": platform.kms_key_arn,
            }
            if direct
            else None,
            extended_s3_configuration={
                "role_arn": role.arn,
                "bucket_arn": self.lake.arn,
                "kms_key_arn": platform.kms_key_arn,
                "prefix": f"data/{domain}/year=!{{partitionKeyFromLambda:year}}/month=!{{partitionKeyFromLambda:month}}"
                "/day=!{partitionKeyFromLambda:day}/",
                "error_output_prefix": f"errors/{domain}/!{{firehose:error-output-type}}/!{{timestamp:yyyy/MM/dd}}/",
                "buffering_size": domain_spec.buffer_size_mib,
                "buffering_interval": domain_spec.buffer_interval_seconds,
                "compression_format": "UNCOMPRESSED",  # Parquet compresses its own pages (parquet_compression)
                "s3_backup_mode": "Enabled",  # the source records, untouched, before transformation
                "s3_backup_configuration": {
                    "role_arn": role.arn,
                    "bucket_arn": self.lake.arn,
                    "kms_key_arn": self.backup_key.arn,
                    "prefix": f"raw/{domain}/",
                    "compression_format": domain_spec.backup_compression,
                    "buffering_size": 128,
                    "buffering_interval": domain_spec.buffer_interval_seconds,
                    "cloudwatch_logging_options": logging("BackupDelivery"),
                },
                "processing_configuration": {
                    "enabled": True,
                    "processors": [
                        {
                            "type": "Lambda",
                            "parameters": [
                                {"parameter_name": "LambdaArn", "parameter_value": self.transform.alias_arn},
                                {"parameter_name": "BufferSizeInMBs", "parameter_value": "1"},
                                {"parameter_name": "BufferIntervalInSeconds", "parameter_value": "60"},
                            ],
                        }
                    ],
                },
                "dynamic_partitioning_configuration": {"enabled": True, "retry_duration": 300},
                "data_format_conversion_configuration": {
                    "enabled": True,
                    "input_format_configuration": {"deserializer": {"open_x_json_ser_de": {}}},
                    "output_format_configuration": {
                        "serializer": {"parquet_ser_de": {"compression": domain_spec.parquet_compression}}
                    },
                    "schema_configuration": {
                        "database_name": self.database.name,
                        "table_name": self.tables[domain].name,
                        "role_arn": role.arn,
                        "region": stack.region,
                    },
                },
                "cloudwatch_logging_options": logging("DestinationDelivery"),
            },
            tags=ctx.tags(name),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )

    def _consumer(self, name: str, spec: StreamerSpec, platform: Platform) -> None:
        ctx = platform.context
        consumer = spec.consumer
        assert consumer is not None
        child = pulumi.ResourceOptions(parent=self)
        # The consumer's on-failure destination.
        failures = dead_end_queue(
            f"{name}-consumer-failures",
            platform=platform,
            physical_name=ctx.name(name, "consumer-failures"),
            description=f"{name}: stream records the consumer gave up on",
            tags=ctx.tags(name),
            parent=self,
        )
        # A retried batch replays records already handled: the consumer is idempotent on each record's
        # eventID for as long as Lambda may still deliver it (the maximum record age, and an hour more).
        self.consumer_idempotency_table = ttl_table(
            f"{name}-consumer-idempotency",
            platform=platform,
            service=name,
            suffix="consumer-idempotency",
            hash_key="id",
            ttl_attribute="expiration",
            parent=self,
        )
        self.consumer = ServerlessFunction(
            f"{name}-consumer",
            FunctionArgs(
                platform=platform,
                service=name,
                **ctx.code(spec.code("consumer"), HANDLERS / "consumer", key=f"services.{name}.functions.consumer"),
                description=f"{name}: stream consumer",
                reserved_concurrency=consumer.reserved_concurrency,
                environment={
                    "DOMAIN_FIELD": spec.domain_field,
                    "CONSUMER_DOMAINS": ",".join(consumer.domains),
                    "IDEMPOTENCY_TABLE": self.consumer_idempotency_table.name,
                    "IDEMPOTENCY_TTL_SECONDS": str(consumer.maximum_record_age_seconds + 3600),
                },
            ),
            opts=child,
        )
        self.consumer.grant_table_read_write(self.consumer_idempotency_table.arn)
        source_arn: pulumi.Input[str] = self.stream.arn
        if consumer.enhanced_fan_out:
            self.stream_consumer = aws.kinesis.StreamConsumer(
                f"{name}-efo", name=ctx.name(name, "consumer"), stream_arn=self.stream.arn, opts=child
            )
            source_arn = self.stream_consumer.arn
        self.consumer.add_stream_source(
            "stream",
            StreamSource(
                stream_arn=source_arn,
                batch_size=consumer.batch_size,
                starting_position="LATEST",
                maximum_batching_window_seconds=consumer.maximum_batching_window_seconds,
                parallelization_factor=consumer.parallelization_factor,
                bisect_batch_on_function_error=True,
                maximum_record_age_seconds=consumer.maximum_record_age_seconds,
                maximum_retry_attempts=consumer.maximum_retry_attempts,
                on_failure_destination_arn=failures.arn,
            ),
        )
