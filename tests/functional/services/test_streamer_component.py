"""Streamer under the mock runtime: KMS stream, a Firehose per domain with source backup, Lambda
transformation, Parquet conversion from the Glue table, date partitions, secure lake, Athena limits."""

from __future__ import annotations

import json

import pytest

SPEC = {
    "domains": {
        "orders": {
            "columns": {"id": "string", "amount": "decimal(10,2)", "customer": "struct<tier:string>"},
            "removeFields": ["card"],
            "maskFields": ["customer.name"],
            "timestampField": "occurredAt",
            "bufferSizeMib": 64,
            "bufferIntervalSeconds": 120,
        },
        "payments": {"columns": {"id": "string", "status": "string"}, "parquetCompression": "GZIP"},
    },
    "shardCount": 2,
    "athenaBytesScannedCutoffMib": 500,
    "consumer": {"enhancedFanOut": True, "domains": ["orders"], "maximumRecordAgeSeconds": 600},
}


@pytest.fixture(scope="module", params=["dev", "prod"])
def graph(request, run_component, service_program):
    return run_component(service_program("lake", "streamer", SPEC), stack=request.param, preview=False)


def _streams(graph):
    return {s.name: s for s in graph.by_type("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream")}


def test_stream_is_provisioned_and_encrypted(graph):
    [stream] = graph.by_type("aws:kinesis/stream:Stream")
    assert stream.inputs["shardCount"] == 2 and stream.inputs["encryptionType"] == "KMS"


def test_one_firehose_per_domain_with_backup_transform_parquet_and_date_partitions(graph):
    streams = _streams(graph)
    assert set(streams) == {"lake-orders-delivery", "lake-payments-delivery"}
    [stream] = graph.by_type("aws:kinesis/stream:Stream")
    [transform] = [f for f in graph.by_type("aws:lambda/alias:Alias") if f.name.startswith("lake-transform-alias")]
    tables = {t.name: t for t in graph.by_type("aws:glue/catalogTable:CatalogTable")}
    for domain in ("orders", "payments"):
        firehose = streams[f"lake-{domain}-delivery"].inputs
        assert firehose["kinesisSourceConfiguration"]["kinesisStreamArn"] == stream.outputs["arn"]
        s3 = firehose["extendedS3Configuration"]
        assert s3["s3BackupMode"] == "Enabled" and s3["s3BackupConfiguration"]["prefix"] == f"raw/{domain}/"
        assert s3["prefix"].startswith(f"data/{domain}/year=!{{partitionKeyFromLambda:year}}")
        assert s3["dynamicPartitioningConfiguration"]["enabled"] is True
        [processor] = s3["processingConfiguration"]["processors"]
        assert {p["parameterName"]: p["parameterValue"] for p in processor["parameters"]}[
            "LambdaArn"
        ] == transform.outputs["arn"]
        conversion = s3["dataFormatConversionConfiguration"]
        assert conversion["schemaConfiguration"]["tableName"] == tables[f"lake-{domain}-table"].outputs["name"]
        assert "parquetSerDe" in conversion["outputFormatConfiguration"]["serializer"]
        assert s3["compressionFormat"] == "UNCOMPRESSED" and s3["kmsKeyArn"].startswith("arn:aws:kms:")
    orders = streams["lake-orders-delivery"].inputs["extendedS3Configuration"]
    assert (orders["bufferingSize"], orders["bufferingInterval"]) == (64, 120)
    payments = streams["lake-payments-delivery"].inputs["extendedS3Configuration"]
    assert (
        payments["dataFormatConversionConfiguration"]["outputFormatConfiguration"]["serializer"]["parquetSerDe"][
            "compression"
        ]
        == "GZIP"
    )


def test_transform_knows_each_delivery_stream_and_its_sensitive_fields(graph):
    [fn] = [f for f in graph.by_type("aws:lambda/function:Function") if f.name == "lake-transform-function"]
    rules = json.loads(fn.inputs["environment"]["variables"]["DELIVERY_STREAMS"])
    streams = _streams(graph)
    orders_name = streams["lake-orders-delivery"].inputs["name"]
    assert rules[orders_name] == {
        "domain": "orders",
        "remove": ["card"],
        "mask": ["customer.name"],
        "timestampField": "occurredAt",
        "unroutable": True,
        "direct": False,
    }
    assert {r["domain"] for r in rules.values()} == {"orders", "payments"}
    # Exactly one stream fails unroutable records, so each lands once under errors/.
    assert [r["domain"] for r in rules.values() if r["unroutable"]] == ["orders"]


def test_glue_tables_use_the_spec_columns_and_date_partitions(graph):
    tables = {t.name: t for t in graph.by_type("aws:glue/catalogTable:CatalogTable")}
    orders = tables["lake-orders-table"].inputs
    assert orders["storageDescriptor"]["columns"] == [
        {"name": "id", "type": "string"},
        {"name": "amount", "type": "decimal(10,2)"},
        {"name": "customer", "type": "struct<tier:string>"},
    ]
    assert [k["name"] for k in orders["partitionKeys"]] == ["year", "month", "day"]
    assert orders["parameters"]["projection.enabled"] == "true"


def test_each_firehose_role_writes_only_its_domain_prefixes(graph):
    policies = {
        p.name: json.loads(p.inputs["policy"])
        for p in graph.by_type("aws:iam/rolePolicy:RolePolicy")
        if p.name.endswith("-delivery-policy")
    }
    assert set(policies) == {"lake-orders-delivery-policy", "lake-payments-delivery-policy"}
    [write] = [s for s in policies["lake-orders-delivery-policy"]["Statement"] if s["Sid"] == "WriteItsPrefixes"]
    assert all("/orders/" in r for r in write["Resource"])
    for policy in policies.values():
        for statement in policy["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert all("*" not in a for a in actions) and statement["Resource"] != "*"


def test_lake_bucket_is_private_encrypted_versioned_tls_only_with_lifecycle(graph):
    buckets = {b.name: b for b in graph.by_type("aws:s3/bucket:Bucket")}
    assert set(buckets) == {"lake-lake-bucket", "lake-athena-bucket"}
    blocks = graph.by_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert len(blocks) == 2 and all(
        all(b.inputs[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
        for b in blocks
    )
    versioning = graph.by_type("aws:s3/bucketVersioning:BucketVersioning")
    assert all(v.inputs["versioningConfiguration"]["status"] == "Enabled" for v in versioning)
    encryption = graph.by_type("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert all(
        e.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms" for e in encryption
    )
    [lake_rules] = [
        lc.inputs["rules"]
        for lc in graph.by_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
        if lc.name == "lake-lake-lifecycle"
    ]
    assert {r["id"] for r in lake_rules} == {"curated", "raw-backup", "errors", "whole-bucket"}
    # Incomplete multipart uploads are aborted everywhere, not only under the three prefixes.
    [whole] = [r for r in lake_rules if r["id"] == "whole-bucket"]
    assert whole["filter"] == {"prefix": ""} and whole["abortIncompleteMultipartUpload"]["daysAfterInitiation"] == 7
    for policy in graph.by_type("aws:s3/bucketPolicy:BucketPolicy"):
        [statement] = json.loads(policy.inputs["policy"])["Statement"]
        assert statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_athena_workgroup_encrypts_results_and_caps_bytes_scanned(graph):
    [workgroup] = graph.by_type("aws:athena/workgroup:Workgroup")
    config = workgroup.inputs["configuration"]
    assert config["enforceWorkgroupConfiguration"] is True
    assert config["bytesScannedCutoffPerQuery"] == 500 * 1024 * 1024
    assert config["resultConfiguration"]["encryptionConfiguration"]["encryptionOption"] == "SSE_KMS"


def test_enhanced_fan_out_consumer_bisects_ages_out_and_has_a_failure_destination(graph):
    [efo] = graph.by_type("aws:kinesis/streamConsumer:StreamConsumer")
    [mapping] = graph.by_type("aws:lambda/eventSourceMapping:EventSourceMapping")
    assert mapping.inputs["eventSourceArn"] == efo.outputs["arn"]
    assert mapping.inputs["bisectBatchOnFunctionError"] is True and mapping.inputs["maximumRecordAgeInSeconds"] == 600
    [failures] = [q for q in graph.by_type("aws:sqs/queue:Queue") if q.name == "lake-consumer-failures"]
    assert mapping.inputs["destinationConfig"]["onFailure"]["destinationArn"] == failures.outputs["arn"]
    [fn] = [f for f in graph.by_type("aws:lambda/function:Function") if f.name == "lake-consumer-function"]
    assert fn.inputs["environment"]["variables"]["CONSUMER_DOMAINS"] == "orders"


def test_the_source_backup_has_its_own_key_and_raw_and_errors_expire_within_a_week(graph):
    """raw/ and errors/ hold records before removeFields and masking: they must not outlive a week."""
    keys = {k.name: k for k in graph.by_type("aws:kms/key:Key")}
    backup_key = keys["lake-backup-key-key"]
    assert backup_key.inputs["enableKeyRotation"] is True and backup_key.protect is (graph.stack == "prod")
    statements = json.loads(backup_key.inputs["policy"])["Statement"]
    # Only the account (so IAM policies decide): no service may use it on its own.
    assert [set(s["Principal"]) for s in statements] == [{"AWS"}]
    assert statements[0]["Principal"]["AWS"].endswith(":root")
    for firehose in _streams(graph).values():
        s3 = firehose.inputs["extendedS3Configuration"]
        assert s3["s3BackupConfiguration"]["kmsKeyArn"] == backup_key.outputs["arn"]
        assert s3["kmsKeyArn"] != backup_key.outputs["arn"]  # the curated data stays under the platform key
    policies = [
        json.loads(p.inputs["policy"])
        for p in graph.by_type("aws:iam/rolePolicy:RolePolicy")
        if backup_key.outputs["arn"] in p.inputs["policy"]
    ]
    assert len(policies) == 2  # the two Firehose roles, nobody else
    [lake_rules] = [
        lc.inputs["rules"]
        for lc in graph.by_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
        if lc.name == "lake-lake-lifecycle"
    ]
    for rule in (r for r in lake_rules if r["id"] in ("raw-backup", "errors")):
        assert rule["expiration"]["days"] <= 7
        assert rule["noncurrentVersionExpiration"]["noncurrentDays"] == 1


def test_a_backup_kept_longer_than_a_week_is_a_one_line_config_error():
    from arcblueprint.config.model import ServiceSpec
    from arcblueprint.config.schema import ConfigError

    with pytest.raises(ConfigError) as raised:
        ServiceSpec.parse_config({"pattern": "streamer", **SPEC, "rawBackupExpireDays": 90}, "services.lake")
    message = str(raised.value)
    assert "\n" not in message and "services.lake.rawBackupExpireDays" in message and "90" in message


def test_stream_consumer_is_idempotent_for_as_long_as_a_record_can_be_replayed(graph):
    [table] = [t for t in graph.by_type("aws:dynamodb/table:Table") if t.name == "lake-consumer-idempotency"]
    assert table.inputs["hashKey"] == "id"
    assert table.inputs["ttl"] == {"attributeName": "expiration", "enabled": True}
    assert table.inputs["serverSideEncryption"]["enabled"] is True
    [fn] = [f for f in graph.by_type("aws:lambda/function:Function") if f.name == "lake-consumer-function"]
    variables = fn.inputs["environment"]["variables"]
    assert variables["IDEMPOTENCY_TABLE"] == table.outputs["name"]
    assert int(variables["IDEMPOTENCY_TTL_SECONDS"]) > 600  # beyond maximumRecordAgeSeconds
    grants = [
        json.loads(p.inputs["policy"])
        for p in graph.by_type("aws:iam/rolePolicy:RolePolicy")
        if p.name.startswith("lake-consumer-table")
    ]
    assert any(
        table.outputs["arn"] in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
        for doc in grants
        for s in doc["Statement"]
    )


def _spec(**overrides):
    from arcblueprint.config.model import ServiceSpec

    data = {"pattern": "streamer", **SPEC, "consumer": {"enhancedFanOut": True}, **overrides}
    return ServiceSpec.parse_config(data, "services.lake")


def _domains(count: int) -> dict:
    return {f"d{i}": {"columns": {"id": "string"}} for i in range(count)}


def test_the_stream_readers_must_fit_a_shards_read_budget():
    """Each Firehose reading the stream and a consumer without enhanced fan-out share a shard's 5 reads/s."""
    from arcblueprint.config.schema import ConfigError

    shared = {"enhancedFanOut": False}
    assert _spec(domains=_domains(5)).shared_readers == 5  # the consumer has enhanced fan-out: not counted
    with pytest.raises(ConfigError) as raised:
        _spec(domains=_domains(6))
    message = str(raised.value)
    assert "\n" not in message and message.startswith("services.lake.domains = 6 is invalid")
    assert "6 readers would share each shard" in message and "5 reads/s" in message
    with pytest.raises(ConfigError) as raised:
        _spec(domains=_domains(5), consumer=shared)
    message = str(raised.value)
    assert "\n" not in message and message.startswith("services.lake.consumer.enhancedFanOut = false is invalid")
    assert "set consumer.enhancedFanOut: true" in message
    assert _spec(domains=_domains(4), consumer=shared).shared_readers == 5


def test_a_domain_fed_by_the_bus_does_not_read_the_stream():
    subscribe = [{"source": "arcblueprint.orders", "target": "d5"}]
    spec = _spec(domains=_domains(6), subscribe=subscribe)  # 5 stream readers and one Direct PUT domain
    assert spec.event_domains == ("d5",) and spec.shared_readers == 5 and "d5" not in spec.stream_domains
    from arcblueprint.config.schema import ConfigError

    with pytest.raises(ConfigError) as raised:
        _spec(
            domains=_domains(2),
            subscribe=subscribe[:0] + [{"source": "arcblueprint.orders", "target": "d1"}],
            consumer={"domains": ["d1"]},
        )
    message = str(raised.value)
    assert "\n" not in message and "services.lake.consumer.domains[0] = 'd1'" in message
    assert "never is on the Kinesis stream" in message


def test_an_event_domain_has_a_direct_put_firehose_that_its_rule_writes_to(synthesized):
    """In the prod graph: the bus's rules write each event domain's Firehose; only stream domains read Kinesis."""
    graph = synthesized("prod")
    by_urn = graph.by_urn()
    spec = graph.config.services["lake"]
    streams = _streams(graph)
    [stream] = graph.by_type("aws:kinesis/stream:Stream")
    assert set(spec.event_domains) == {"order-events", "booking-events", "webhook-events"}
    assert set(spec.stream_domains) == {"orders", "payments"}
    [key] = [k for k in graph.by_type("aws:kms/key:Key") if k.name == "platform-key"]
    policies = {p.name: json.loads(p.inputs["policy"]) for p in graph.by_type("aws:iam/rolePolicy:RolePolicy")}
    for domain in spec.domains:
        firehose = streams[f"lake-{domain}-delivery"]
        sids = {s["Sid"] for s in policies[f"lake-{domain}-delivery-policy"]["Statement"]}
        if domain in spec.stream_domains:
            assert firehose.inputs["kinesisSourceConfiguration"]["kinesisStreamArn"] == stream.outputs["arn"]
            assert "ReadTheStream" in sids and not firehose.inputs.get("serverSideEncryption")
            continue
        assert "kinesisSourceConfiguration" not in firehose.inputs and "ReadTheStream" not in sids
        assert firehose.inputs["serverSideEncryption"] == {
            "enabled": True,
            "keyType": "CUSTOMER_MANAGED_CMK",
            "keyArn": key.outputs["arn"],
        }
        [target] = [
            t
            for t in graph.by_type("aws:cloudwatch/eventTarget:EventTarget")
            if t.property_dependencies["arn"] == [firehose.urn]
        ]
        assert target.inputs["inputTransformer"]["inputTemplate"].startswith(f'{{"domain": "{domain}"')
        [role_urn] = [u for u in target.property_dependencies["roleArn"] if by_urn[u].type == "aws:iam/role:Role"]
        role = by_urn[role_urn]
        [delivery] = policies[role.name.replace("-events-role", "-events-policy")]["Statement"]
        assert delivery["Action"] == ["firehose:PutRecord", "firehose:PutRecordBatch"]
        assert delivery["Resource"] == firehose.outputs["arn"]  # that stream only, and no key: Firehose has a grant
    # The backups of the event domains hold their own domain's records: each Firehose's raw/<domain>/ is its own.
    [fn] = [f for f in graph.by_type("aws:lambda/function:Function") if f.name == "lake-transform-function"]
    rules = json.loads(fn.inputs["environment"]["variables"]["DELIVERY_STREAMS"])
    assert {r["domain"] for r in rules.values() if r["direct"]} == set(spec.event_domains)
    assert [r["domain"] for r in rules.values() if r["unroutable"]] == ["orders"]
