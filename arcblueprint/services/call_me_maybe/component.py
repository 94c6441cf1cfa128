"""Call me maybe: API Gateway -> signature-checking receiver -> SQS or Kinesis -> throttled, idempotent consumer."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_aws as aws

from arcblueprint.config.schema import ConfigError
from arcblueprint.platform.constructs.durable_queue import DurableQueue, DurableQueueArgs
from arcblueprint.platform.constructs.rest_conventions import function_timeout_seconds
from arcblueprint.platform.constructs.rest_stage import MethodThrottle, RestStage, RestStageArgs
from arcblueprint.platform.constructs.ttl_table import ttl_table
from arcblueprint.platform.functions import FunctionArgs, ServerlessFunction, SqsSource, StreamSource
from arcblueprint.platform.queues import (
    DEAD_LETTER_RETENTION_SECONDS,
    KMS_DATA_KEY_REUSE_SECONDS,
    dead_letter_alarm,
    queue_policy,
)
from arcblueprint.services.base import Service, ServiceArgs
from arcblueprint.services.call_me_maybe.spec import CallMeMaybeSpec

__all__ = ["CallMeMaybeService"]

HANDLERS = Path(__file__).resolve().parent / "handlers"
WEBHOOK_PATH = "webhook"
STAGE_NAME = "v1"
#: Senders expect a fast acknowledgement and retry on a 504; the receiver only verifies and buffers.
RECEIVER_INTEGRATION_TIMEOUT_MS = 5000


class CallMeMaybeService(Service[CallMeMaybeSpec]):
    """Receives third-party webhooks and feeds them to a downstream that cannot scale.

    The receiver only verifies (HMAC over timestamp + body, replay window), masks and buffers, so
    senders get a fast 202. The consumer's concurrency is capped by the event source (SQS maximum
    concurrency or Kinesis shards) and/or reserved concurrency; it is idempotent and reports partial
    batch failures, and what it cannot process lands in a DLQ with an alarm.

    Attributes
    ----------
    receiver, consumer : ServerlessFunction
    queue : DurableQueue | None
        The SQS buffer and its DLQ (``buffer: sqs``).
    stream : aws.kinesis.Stream | None
        The Kinesis buffer (``buffer: kinesis``); its on-failure destination is ``failure_queue``.
    idempotency_table, status_table : aws.dynamodb.Table (status_table None unless statusTracking)
    outputs : dict[str, pulumi.Input]
        ``url``, ``bufferName``, ``deadLetterQueueUrl``, ``idempotencyTable``, ``statusTable``,
        ``receiverFunction``, ``consumerFunction``.
    """

    TYPE = "arcblueprint:services:CallMeMaybeService"

    def __init__(
        self, name: str, args: ServiceArgs[CallMeMaybeSpec], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(name, opts)
        spec, platform = args.spec, args.platform
        ctx = platform.context
        tags = ctx.tags(name)
        child = pulumi.ResourceOptions(parent=self)
        if spec.signing_secret not in platform.secret_arns:
            known = ", ".join(sorted(platform.secret_arns)) or "none"
            raise ConfigError(
                f"services.{name}.signingSecret",
                spec.signing_secret,
                f"must name a secret in arcblueprint:secrets (known: {known})",
            )

        self.idempotency_table = ttl_table(
            f"{name}-idempotency",
            platform=platform,
            service=name,
            suffix="idempotency",
            hash_key="id",
            ttl_attribute="expiration",
            parent=self,
        )
        self.status_table = (
            ttl_table(
                f"{name}-status",
                platform=platform,
                service=name,
                suffix="status",
                hash_key="webhookId",
                ttl_attribute="expiresAt",
                parent=self,
            )
            if spec.status_tracking
            else None
        )

        self.queue: DurableQueue | None = None
        self.stream: aws.kinesis.Stream | None = None
        self.failure_queue: aws.sqs.Queue | None = None
        if spec.buffer == "sqs":
            self.queue = DurableQueue(
                f"{name}-buffer",
                DurableQueueArgs(
                    platform=platform,
                    service=name,
                    suffix="buffer",
                    visibility_timeout_seconds=spec.visibility_timeout_seconds,
                    message_retention_days=spec.message_retention_days,
                    max_receive_count=spec.max_receive_count,
                    dlq_alarm_threshold=spec.dlq_alarm_threshold,
                ),
                opts=child,
            )
            buffer_env: dict[str, pulumi.Input[str]] = {"BUFFER": "sqs", "QUEUE_URL": self.queue.url}
            dead_letter_url = self.queue.dead_letter_url
        else:
            self.stream = aws.kinesis.Stream(
                f"{name}-stream",
                name=ctx.name(name, "buffer"),
                stream_mode_details={"stream_mode": "PROVISIONED" if spec.shard_count else "ON_DEMAND"},
                shard_count=spec.shard_count,
                retention_period=24,
                encryption_type="KMS",
                kms_key_id=platform.kms_key_arn,
                tags=tags,
                opts=ctx.stateful(child),
            )
            # Records the consumer gives up on (retries or age exhausted) are described here.
            self.failure_queue = aws.sqs.Queue(
                f"{name}-failures",
                name=ctx.name(name, "failures"),
                message_retention_seconds=DEAD_LETTER_RETENTION_SECONDS,
                kms_master_key_id=platform.kms_key_arn,
                kms_data_key_reuse_period_seconds=KMS_DATA_KEY_REUSE_SECONDS,
                tags=tags,
                opts=ctx.stateful(child),
            )
            aws.sqs.QueuePolicy(
                f"{name}-failures-policy",
                queue_url=self.failure_queue.url,
                policy=self.failure_queue.arn.apply(queue_policy),
                opts=child,
            )
            dead_letter_alarm(
                f"{name}-failures-alarm",
                queue=self.failure_queue,
                threshold=spec.dlq_alarm_threshold,
                description=f"{name}: webhooks the consumer gave up on",
                actions=platform.alarm_actions,
                tags=tags,
                parent=self,
            )
            buffer_env = {"BUFFER": "kinesis", "STREAM_NAME": self.stream.name}
            dead_letter_url = self.failure_queue.url

        status_env: dict[str, pulumi.Input[str]] = {}
        if self.status_table is not None:
            status_env["STATUS_TABLE"] = self.status_table.name
        self.receiver = ServerlessFunction(
            f"{name}-receiver",
            FunctionArgs(
                platform=platform,
                service=name,
                **ctx.code(spec.code("receiver"), HANDLERS / "receiver", key=f"services.{name}.functions.receiver"),
                description=f"{name}: verify, mask and buffer webhooks",
                # Stops before API Gateway does, so a slow request is the receiver's own error, not a
                # 504 for a webhook that then gets buffered anyway (and buffered again on the retry).
                timeout_seconds=function_timeout_seconds(RECEIVER_INTEGRATION_TIMEOUT_MS),
                snap_start=spec.snap_start,
                environment={
                    **buffer_env,
                    **status_env,
                    "SIGNING_SECRET_ID": platform.secret_arns[spec.signing_secret],
                    "SIGNATURE_HEADER": spec.signature_header,
                    "TIMESTAMP_HEADER": spec.timestamp_header,
                    "ID_HEADER": spec.id_header,
                    "ID_FIELD": spec.id_field or "",
                    "REPLAY_WINDOW_SECONDS": str(spec.replay_window_seconds),
                    "PREVIOUS_KEY_GRACE_SECONDS": str(spec.previous_key_grace_seconds),
                    "SENSITIVE_FIELDS": ",".join(spec.sensitive_fields),
                    "PARTITION_KEY_FIELD": spec.partition_key_field or "",
                    # The receiver claims each webhook key (with the hash of its body) in the consumer's
                    # idempotency table, under its own prefix, for as long as the consumer dedupes on it.
                    "IDEMPOTENCY_TABLE": self.idempotency_table.name,
                    "IDEMPOTENCY_TTL_SECONDS": str(spec.idempotency_ttl_seconds),
                },
            ),
            opts=child,
        )
        self.receiver.grant_secret_read(spec.signing_secret)
        self.receiver.grant_table_read_write(self.idempotency_table.arn)
        if self.queue is not None:
            self.receiver.grant_queue_send(self.queue.arn)
        else:
            assert self.stream is not None
            self.receiver.grant_stream_write(self.stream.arn)

        consumer_env: dict[str, pulumi.Input[str]] = {
            **status_env,
            "BUFFER": spec.buffer,
            "IDEMPOTENCY_TABLE": self.idempotency_table.name,
            "IDEMPOTENCY_TTL_SECONDS": str(spec.idempotency_ttl_seconds),
        }
        # Each processed webhook is published as WebhookReceived (arcblueprint.<service>), validated against
        # arcblueprint/events/schemas/<service>/WebhookReceived.json; the role may put no other source.
        self.consumer = ServerlessFunction(
            f"{name}-consumer",
            FunctionArgs(
                platform=platform,
                service=name,
                **ctx.code(spec.code("consumer"), HANDLERS / "consumer", key=f"services.{name}.functions.consumer"),
                description=f"{name}: deliver webhooks at the downstream's pace",
                timeout_seconds=spec.consumer_timeout_seconds,
                reserved_concurrency=spec.reserved_concurrency,
                protects_downstream=True,
                environment=consumer_env,
                publishes_domain_events=platform.event_rules is not None,
            ),
            opts=child,
        )
        self.consumer.grant_table_read_write(self.idempotency_table.arn)
        if self.status_table is not None:
            # Both only update a webhook's status row (UpdateItem creates it), nothing else on that table.
            self.receiver.grant_table_read_write(self.status_table.arn, actions=["dynamodb:UpdateItem"])
            self.consumer.grant_table_read_write(self.status_table.arn, actions=["dynamodb:UpdateItem"])
        if self.queue is not None:
            self.source = self.consumer.add_sqs_source(
                "buffer",
                SqsSource(
                    queue_arn=self.queue.arn,
                    batch_size=spec.batch_size,
                    maximum_batching_window_seconds=spec.maximum_batching_window_seconds,
                    maximum_concurrency=spec.maximum_concurrency,
                ),
            )
        else:
            assert self.stream is not None and self.failure_queue is not None
            self.source = self.consumer.add_stream_source(
                "buffer",
                StreamSource(
                    stream_arn=self.stream.arn,
                    batch_size=spec.batch_size,
                    starting_position="TRIM_HORIZON",
                    maximum_batching_window_seconds=spec.maximum_batching_window_seconds,
                    parallelization_factor=spec.parallelization_factor,
                    bisect_batch_on_function_error=True,
                    maximum_record_age_seconds=spec.maximum_record_age_seconds,
                    maximum_retry_attempts=spec.maximum_retry_attempts,
                    on_failure_destination_arn=self.failure_queue.arn,
                ),
            )

        self.rest_api = aws.apigateway.RestApi(
            f"{name}-rest-api",
            name=ctx.name(name),
            description=f"{name}: third-party webhooks",
            endpoint_configuration={"types": "REGIONAL"},
            tags=tags,
            opts=child,
        )
        resource = aws.apigateway.Resource(
            f"{name}-path-webhook",
            rest_api=self.rest_api.id,
            parent_id=self.rest_api.root_resource_id,
            path_part=WEBHOOK_PATH,
            opts=child,
        )
        # Senders cannot hold AWS credentials or tokens; each request is authenticated by its HMAC
        # signature over timestamp + body, verified by the receiver before anything is buffered.
        method = aws.apigateway.Method(
            f"{name}-post",
            rest_api=self.rest_api.id,
            resource_id=resource.id,
            http_method="POST",
            authorization="NONE",
            operation_name="receiveWebhook",
            opts=child,
        )
        integration = aws.apigateway.Integration(
            f"{name}-post-integration",
            rest_api=self.rest_api.id,
            resource_id=resource.id,
            http_method=method.http_method,
            type="AWS_PROXY",
            integration_http_method="POST",
            uri=self.receiver.alias_invoke_arn,
            timeout_milliseconds=RECEIVER_INTEGRATION_TIMEOUT_MS,
            opts=child,
        )
        self.stage = RestStage(
            f"{name}-stage",
            RestStageArgs(
                platform=platform,
                service=name,
                waf_inspects_sql=spec.waf_inspects_sql,
                waf_large_bodies=spec.waf_large_bodies,
                allowed_source_ranges=spec.allowed_sender_ranges,
                rest_api=self.rest_api,
                stage_name=STAGE_NAME,
                rate_limit=spec.throttling_rate_limit,
                burst_limit=spec.throttling_burst_limit,
                method_throttles=[
                    MethodThrottle(
                        resource_path=f"/{WEBHOOK_PATH}",
                        http_method="POST",
                        rate_limit=spec.throttling_rate_limit,
                        burst_limit=spec.throttling_burst_limit,
                    )
                ],
                deployment_triggers={"routes": f"POST /{WEBHOOK_PATH}"},
                depends_on=[method, integration],
                execution_logging_level="ERROR" if ctx.stack.is_production else "INFO",
            ),
            opts=child,
        )
        self.receiver.allow_invoke(
            "apigw",
            principal="apigateway.amazonaws.com",
            source_arn=self.stage.execution_arn.apply(lambda arn: f"{arn}/POST/{WEBHOOK_PATH}"),
        )

        self.outputs = {
            "url": self.stage.invoke_url.apply(lambda url: f"{url.rstrip('/')}/{WEBHOOK_PATH}"),
            "bufferName": self.queue.queue.name if self.queue is not None else self.stream.name,  # type: ignore[union-attr]
            "deadLetterQueueUrl": dead_letter_url,
            "idempotencyTable": self.idempotency_table.name,
            "receiverFunction": self.receiver.function_name,
            "consumerFunction": self.consumer.function_name,
        }
        if self.status_table is not None:
            self.outputs["statusTable"] = self.status_table.name
        self.finish(self.outputs)
