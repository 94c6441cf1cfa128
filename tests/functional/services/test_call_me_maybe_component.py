"""Call me maybe under the mock runtime: buffer + DLQ + alarm, limited consumer concurrency, idempotency
table, signed-webhook API; Kinesis variant with on-failure destination; secrets checked."""

from __future__ import annotations

import json

import pytest

from arcblueprint.config.schema import ConfigError

SQS_SPEC = {
    "maximumConcurrency": 5,
    "reservedConcurrency": 10,
    "sensitiveFields": ["card.number"],
    "statusTracking": True,
    "maxReceiveCount": 4,
}
KINESIS_SPEC = {
    "buffer": "kinesis",
    "shardCount": 2,
    "batchSize": 50,
    "maximumBatchingWindowSeconds": 300,
    "partitionKeyField": "order.id",
    "reservedConcurrency": 2,
}


@pytest.fixture(scope="module", params=["dev", "prod"])
def graph(request, run_component, service_program):
    program = service_program("hooks", "call-me-maybe", SQS_SPEC, secrets=("webhook-signing",), with_bus=True)
    return run_component(program, stack=request.param, preview=False)


@pytest.fixture(scope="module")
def kinesis_graph(run_component, service_program):
    program = service_program("hooks", "call-me-maybe", KINESIS_SPEC, with_bus=False, secrets=("webhook-signing",))
    return run_component(program, stack="prod", preview=False)


def _function(graph, suffix):
    [fn] = [f for f in graph.by_type("aws:lambda/function:Function") if f.name == f"hooks-{suffix}-function"]
    return fn


def test_buffer_queue_is_encrypted_with_a_dlq_redrive_and_depth_alarm(graph):
    queues = {q.name: q for q in graph.by_type("aws:sqs/queue:Queue")}
    buffer, dlq = queues["hooks-buffer-queue"], queues["hooks-buffer-dlq"]
    assert json.loads(buffer.inputs["redrivePolicy"]) == {
        "deadLetterTargetArn": dlq.outputs["arn"],
        "maxReceiveCount": 4,
    }
    assert buffer.inputs["visibilityTimeoutSeconds"] == 6 * 30
    for queue in (buffer, dlq):
        assert queue.inputs["kmsMasterKeyId"].startswith("arn:aws:kms:")
    [alarm] = [a for a in graph.by_type("aws:cloudwatch/metricAlarm:MetricAlarm") if a.name == "hooks-buffer-dlq-alarm"]
    assert alarm.inputs["dimensions"] == {"QueueName": dlq.outputs["name"]}
    assert alarm.inputs["metricName"] == "ApproximateNumberOfMessagesVisible" and alarm.inputs["threshold"] == 1
    topic = f"arn:aws:sns:{graph.config.region}:{graph.config.account_id}:{graph.config.naming_prefix}-alarms"
    assert alarm.inputs["alarmActions"] == alarm.inputs["okActions"] == [topic]
    assert dlq.inputs["messageRetentionSeconds"] == 14 * 86400 > buffer.inputs["messageRetentionSeconds"]
    policies = [json.loads(p.inputs["policy"]) for p in graph.by_type("aws:sqs/queuePolicy:QueuePolicy")]
    assert all(
        s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for p in policies
        for s in p["Statement"]
        if s["Effect"] == "Deny"
    )


def test_consumer_concurrency_is_limited_by_event_source_and_reservation(graph):
    [mapping] = graph.by_type("aws:lambda/eventSourceMapping:EventSourceMapping")
    assert mapping.inputs["scalingConfig"] == {"maximumConcurrency": 5}
    assert mapping.inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping.inputs["functionName"].endswith(":live")
    assert _function(graph, "consumer").inputs["reservedConcurrentExecutions"] == 10
    assert "reservedConcurrentExecutions" not in _function(graph, "receiver").inputs


def test_functions_get_names_not_values_and_only_their_grants(graph):
    receiver = _function(graph, "receiver").inputs["environment"]["variables"]
    assert receiver["SIGNING_SECRET_ID"].startswith("arn:aws:secretsmanager:")
    assert receiver["SENSITIVE_FIELDS"] == "card.number" and receiver["BUFFER"] == "sqs"
    consumer = _function(graph, "consumer").inputs["environment"]["variables"]
    assert consumer["IDEMPOTENCY_TABLE"].endswith("-hooks-idempotency") and "EVENT_BUS_NAME" in consumer
    policies = {p.name: json.loads(p.inputs["policy"]) for p in graph.by_type("aws:iam/rolePolicy:RolePolicy")}
    actions = {
        name: {a for s in doc["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
        for name, doc in policies.items()
    }
    assert "secretsmanager:GetSecretValue" in actions["hooks-receiver-secret-read"]
    assert not any(name.startswith("hooks-consumer-secret") for name in policies)
    # The receiver claims each webhook key (signed content) in the consumer's idempotency table.
    assert receiver["IDEMPOTENCY_TABLE"] == consumer["IDEMPOTENCY_TABLE"] and receiver["ID_FIELD"] == ""
    assert receiver["IDEMPOTENCY_TTL_SECONDS"] == consumer["IDEMPOTENCY_TTL_SECONDS"]
    [idempotency] = [t for t in graph.by_type("aws:dynamodb/table:Table") if t.name == "hooks-idempotency"]
    receiver_tables = {
        r
        for name, doc in policies.items()
        if name.startswith("hooks-receiver-table")
        for s in doc["Statement"]
        for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])
    }
    assert idempotency.outputs["arn"] in receiver_tables
    assert {"dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem"} <= set().union(
        *(acts for name, acts in actions.items() if name.startswith("hooks-receiver-table"))
    )
    assert all("*" not in a for acts in actions.values() for a in acts if a != "xray:*")


def test_tables_have_ttl_pitr_kms_and_are_protected_in_prod(graph):
    tables = {t.name: t for t in graph.by_type("aws:dynamodb/table:Table")}
    assert set(tables) == {"hooks-idempotency", "hooks-status"}
    assert tables["hooks-idempotency"].inputs["ttl"] == {"attributeName": "expiration", "enabled": True}
    assert tables["hooks-idempotency"].inputs["hashKey"] == "id"
    prod = graph.resources[0].urn.split("::")[0].endswith("prod")
    for table in tables.values():
        assert table.inputs["serverSideEncryption"]["enabled"] is True
        assert table.inputs["pointInTimeRecovery"] == {"enabled": True}
        assert table.protect is prod


def test_webhook_route_is_signed_not_iam_and_only_this_stage_invokes(graph):
    [method] = graph.by_type("aws:apigateway/method:Method")
    assert (method.inputs["httpMethod"], method.inputs["authorization"]) == ("POST", "NONE")
    [integration] = graph.by_type("aws:apigateway/integration:Integration")
    assert integration.inputs["type"] == "AWS_PROXY" and integration.inputs["uri"].endswith(":live/invocations")
    [permission] = graph.by_type("aws:lambda/permission:Permission")
    assert permission.inputs["sourceArn"].endswith("/v1/POST/webhook") and permission.inputs["qualifier"] == "live"


def test_kinesis_buffer_is_ordered_encrypted_and_failures_have_a_destination(kinesis_graph):
    [stream] = kinesis_graph.by_type("aws:kinesis/stream:Stream")
    assert stream.inputs["streamModeDetails"] == {"streamMode": "PROVISIONED"} and stream.inputs["shardCount"] == 2
    assert stream.inputs["encryptionType"] == "KMS" and stream.protect is True
    [mapping] = kinesis_graph.by_type("aws:lambda/eventSourceMapping:EventSourceMapping")
    assert mapping.inputs["maximumBatchingWindowInSeconds"] == 300 and mapping.inputs["bisectBatchOnFunctionError"]
    [failures] = [q for q in kinesis_graph.by_type("aws:sqs/queue:Queue") if q.name == "hooks-failures"]
    assert mapping.inputs["destinationConfig"]["onFailure"]["destinationArn"] == failures.outputs["arn"]
    assert "scalingConfig" not in mapping.inputs
    assert any(
        a.name == "hooks-failures-alarm" for a in kinesis_graph.by_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    )
    assert not kinesis_graph.by_type("aws:sqs/queue:Queue") or all(
        "redrivePolicy" not in q.inputs for q in kinesis_graph.by_type("aws:sqs/queue:Queue")
    )


def test_unknown_signing_secret_is_a_config_error(run_component, service_program):
    with pytest.raises(Exception) as error:
        run_component(service_program("hooks", "call-me-maybe", {}, secrets=("other",), with_bus=True), stack="dev")
    assert "signingSecret" in str(error.value) and "webhook-signing" in str(error.value)
    assert (
        isinstance(error.value, ConfigError) or "ConfigError" in repr(error.value) or "is invalid" in str(error.value)
    )


def test_the_receiver_stops_before_the_webhook_integration_gives_up(graph):
    [integration] = graph.by_type("aws:apigateway/integration:Integration")
    assert integration.inputs["timeoutMilliseconds"] == 5000  # senders expect a fast acknowledgement
    assert _function(graph, "receiver").inputs["timeout"] == 4
    assert graph.by_type("aws:apigateway/usagePlan:UsagePlan") == []  # senders are throttled by the stage


def test_the_logging_stage_waits_for_the_account_role_setting(graph):
    [account] = graph.by_type("aws:apigateway/account:Account")
    logging = [
        *graph.by_type("aws:apigateway/stage:Stage"),
        *graph.by_type("aws:apigateway/methodSettings:MethodSettings"),
    ]
    assert logging and all(account.urn in r.dependencies for r in logging)


def test_a_buffer_that_keeps_messages_as_long_as_its_dlq_is_refused_with_the_reason(run_component, service_program):
    program = service_program(
        "hooks", "call-me-maybe", {**SQS_SPEC, "messageRetentionDays": 14}, secrets=("webhook-signing",)
    )
    with pytest.raises(
        ConfigError,
        match=r"^services\.hooks\.messageRetentionDays = 14 is invalid in stack 'prod': "
        r"must be at most 13: SQS keeps a message's first enqueue time",
    ):
        run_component(program, stack="prod")
    from arcblueprint.platform.constructs.durable_queue import DurableQueueArgs

    with pytest.raises(ValueError, match=r"message_retention_days = 14 is invalid: must be 1 to 13"):
        DurableQueueArgs(
            platform=None,
            service="hooks",
            suffix="buffer",  # type: ignore[arg-type]
            message_retention_days=14,
        )
