"""Big Fan: API Gateway publishes straight to SNS; each consumer gets a filtered, durable SQS queue."""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pulumi_aws as aws

from arcblueprint.platform.constructs.durable_queue import DurableQueue, DurableQueueArgs
from arcblueprint.platform.constructs.rest_stage import MethodThrottle, RestStage, RestStageArgs
from arcblueprint.platform.constructs.secure_bucket import BucketLifecycle, SecureBucket, SecureBucketArgs
from arcblueprint.platform.constructs.ttl_table import ttl_table
from arcblueprint.platform.functions import FunctionArgs, ServerlessFunction, SqsSource
from arcblueprint.platform.handles import Platform, RuleTarget
from arcblueprint.platform.queues import dead_end_queue
from arcblueprint.service_facts import service_trust_policy, topic_tls_only_statement
from arcblueprint.services.base import Service, ServiceArgs
from arcblueprint.services.big_fan.spec import BigFanSpec
from arcblueprint.services.event_wiring import subscription_rules

__all__ = ["BigFanService", "publish_template"]

HANDLERS = Path(__file__).resolve().parent / "handlers"
EVENTS_PATH = "events"
STAGE_NAME = "v1"


def publish_template(topic_arn: str, attribute_headers: dict[str, str]) -> str:
    """The VTL mapping a request to an SNS ``Publish`` call (form-encoded, one line).

    The request id becomes the ``messageId`` attribute consumers deduplicate on; each configured
    header becomes a String attribute when the request carries it (SNS rejects empty values).
    """
    parts = [
        f"Action=Publish&TopicArn=$util.urlEncode('{topic_arn}')&Message=$util.urlEncode($input.body)",
        "&MessageAttributes.entry.1.Name=messageId&MessageAttributes.entry.1.Value.DataType=String"
        "&MessageAttributes.entry.1.Value.StringValue=$util.urlEncode($context.requestId)",
        "#set($n = 1)",
    ]
    for attribute, header in sorted(attribute_headers.items()):
        value = f"$input.params('{header}')"
        parts.append(
            f'#if("{value}" != "")#set($n = $n + 1)'
            f"&MessageAttributes.entry.$n.Name={attribute}&MessageAttributes.entry.$n.Value.DataType=String"
            f"&MessageAttributes.entry.$n.Value.StringValue=$util.urlEncode({value})#end"
        )
    return "".join(parts)


class BigFanService(Service[BigFanSpec]):
    """One topic, many independent consumers.

    No Lambda sits in the ingest path: API Gateway calls ``sns:Publish`` with a role that may do
    nothing else. Each consumer's queue is subscribed with its filter policy, has a DLQ for what its
    function cannot process and another for what SNS could not deliver, both alarmed.

    Attributes
    ----------
    topic : aws.sns.Topic
    consumers : dict[str, tuple[DurableQueue, ServerlessFunction]]
    payload_bucket : SecureBucket | None
    outputs : dict[str, pulumi.Input]
        ``url``, ``topicArn``, ``payloadBucket``, ``<consumer>QueueUrl``, ``<consumer>Function``.
    """

    TYPE = "arcblueprint:services:BigFanService"

    def __init__(self, name: str, args: ServiceArgs[BigFanSpec], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        spec, platform = args.spec, args.platform
        ctx = platform.context
        tags = ctx.tags(name)
        child = pulumi.ResourceOptions(parent=self)

        self.topic = aws.sns.Topic(
            f"{name}-topic",
            name=ctx.name(name, "events"),
            kms_master_key_id=platform.kms_key_arn,
            signature_version=2,  # SHA256 signatures for any HTTP subscriber that verifies them
            tracing_config="Active",
            tags=tags,
            opts=child,
        )
        aws.sns.TopicPolicy(
            f"{name}-topic-policy",
            arn=self.topic.arn,
            policy=self.topic.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        # Every topic action over TLS only, not just Publish (Subscribe, SetTopicAttributes...).
                        "Statement": [topic_tls_only_statement(arn)],
                    }
                )
            ),
            opts=child,
        )

        self.payload_bucket = (
            SecureBucket(
                f"{name}-payloads",
                SecureBucketArgs(
                    platform=platform,
                    service=name,
                    suffix="payloads",
                    noncurrent_version_expire_days=1,
                    lifecycle=[
                        BucketLifecycle(
                            rule_id="claim-checks", prefix="payloads/", expire_days=spec.payload_retention_days
                        )
                    ],
                ),
                opts=child,
            )
            if spec.claim_check
            else None
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

        rules = subscription_rules(name, spec, platform)
        self.consumers: dict[str, tuple[DurableQueue, ServerlessFunction]] = {}
        consumer_outputs: dict[str, pulumi.Input] = {}
        for consumer_name, consumer in sorted(spec.consumers.items()):
            base = f"{name}-{consumer_name}"
            routes = [(key, subscription) for key, subscription in rules if subscription.target == consumer_name]
            assert platform.event_rules is not None or not routes  # subscription_rules refuses that
            queue = DurableQueue(
                base,
                DurableQueueArgs(
                    platform=platform,
                    service=name,
                    suffix=consumer_name,
                    visibility_timeout_seconds=consumer.visibility_timeout_seconds,
                    max_receive_count=consumer.max_receive_count,
                    dlq_alarm_threshold=spec.dlq_alarm_threshold,
                    topic_arn=self.topic.arn,
                    event_rule_arns=[
                        platform.event_rules.rule_arn(key, service=name)  # type: ignore[union-attr]
                        for key, _ in routes
                    ],
                ),
                opts=child,
            )
            for key, subscription in routes:
                # Domain events from the bus land in the consumer's own queue, beside what the topic fans out.
                platform.event_rules.add_rule(  # type: ignore[union-attr]
                    key,
                    service=name,
                    event_pattern=subscription.pattern(),
                    parent=self,
                    target=RuleTarget(kind="sqs", arn=queue.arn, label=f"{name} {consumer_name} queue"),
                    description=f"{subscription.source} {', '.join(subscription.detail_types) or 'all'} -> "
                    f"{name} {consumer_name}",
                )
            # What SNS could not deliver to the queue (deleted queue, KMS denied) is kept here.
            undelivered = dead_end_queue(
                f"{base}-undelivered",
                platform=platform,
                physical_name=ctx.name(name, consumer_name, "undelivered", max_length=80),
                description=f"{name}: SNS could not deliver to {consumer_name}",
                threshold=spec.dlq_alarm_threshold,
                topic_arn=self.topic.arn,
                tags=tags,
                parent=self,
            )
            aws.sns.TopicSubscription(
                f"{base}-subscription",
                topic=self.topic.arn,
                protocol="sqs",
                endpoint=queue.arn,
                raw_message_delivery=consumer.raw_message_delivery,
                filter_policy=consumer.filter_policy_json,
                filter_policy_scope=consumer.filter_policy_scope if consumer.filter_policy is not None else None,
                redrive_policy=undelivered.arn.apply(lambda arn: json.dumps({"deadLetterTargetArn": arn})),
                opts=child,
            )
            environment: dict[str, pulumi.Input[str]] = {
                "CONSUMER_NAME": consumer_name,
                "IDEMPOTENCY_TABLE": self.idempotency_table.name,
                "IDEMPOTENCY_TTL_SECONDS": str(spec.idempotency_ttl_seconds),
                # How the subscription delivers: only a non-raw body is an SNS envelope, so a raw
                # message shaped like one cannot forge the attributes SNS set.
                "RAW_MESSAGE_DELIVERY": "true" if consumer.raw_message_delivery else "false",
            }
            if self.payload_bucket is not None:
                environment["PAYLOAD_BUCKET"] = self.payload_bucket.bucket_name
            function = ServerlessFunction(
                base,
                FunctionArgs(
                    platform=platform,
                    service=name,
                    **ctx.code(consumer, HANDLERS / "consumer", key=f"services.{name}.consumers.{consumer_name}"),
                    description=f"{name}: {consumer_name} consumer",
                    timeout_seconds=consumer.timeout_seconds,
                    reserved_concurrency=consumer.reserved_concurrency,
                    environment=environment,
                ),
                opts=child,
            )
            function.grant_table_read_write(self.idempotency_table.arn)
            if self.payload_bucket is not None:
                function.grant_bucket_read(self.payload_bucket.arn)
            function.add_sqs_source(
                "queue",
                SqsSource(
                    queue_arn=queue.arn,
                    batch_size=consumer.batch_size,
                    maximum_batching_window_seconds=consumer.maximum_batching_window_seconds,
                    maximum_concurrency=consumer.maximum_concurrency,
                ),
            )
            self.consumers[consumer_name] = (queue, function)
            key = consumer_name.replace("-", "_")
            consumer_outputs[f"{key}QueueUrl"] = queue.url
            consumer_outputs[f"{key}Function"] = function.function_name

        self.stage = self._api(name, spec, platform)
        self.outputs = {
            "url": self.stage.invoke_url.apply(lambda url: f"{url.rstrip('/')}/{EVENTS_PATH}"),
            "topicArn": self.topic.arn,
            **consumer_outputs,
        }
        if self.payload_bucket is not None:
            self.outputs["payloadBucket"] = self.payload_bucket.bucket_name
        self.finish(self.outputs)

    def _api(self, name: str, spec: BigFanSpec, platform: Platform) -> RestStage:
        ctx = platform.context
        child = pulumi.ResourceOptions(parent=self)
        # No confused-deputy condition in the trust policy: API Gateway does not put aws:SourceAccount (nor,
        # as far as anyone has shown, aws:SourceArn) in the request context when it assumes an integration's
        # credentials role, so any such condition denies every AssumeRole and each POST answers 500. What
        # bounds the role instead is its permission policy: sns:Publish on this one topic, nothing else.
        role = aws.iam.Role(
            f"{name}-api-role",
            name=ctx.name(name, "api-publish"),
            description=f"API Gateway publishes to {name}",
            assume_role_policy=service_trust_policy("apigateway.amazonaws.com", account_id=ctx.stack.account_id),
            tags=ctx.tags(name),
            opts=child,
        )
        publish_policy = aws.iam.RolePolicy(
            f"{name}-api-publish",
            role=role.id,
            name="publish",
            policy=pulumi.Output.all(self.topic.arn, platform.kms_key_arn).apply(
                lambda v: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {"Sid": "PublishToTheTopic", "Effect": "Allow", "Action": "sns:Publish", "Resource": v[0]},
                            {
                                "Sid": "EncryptForTheTopic",
                                "Effect": "Allow",
                                "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                                "Resource": v[1],
                                "Condition": {
                                    "StringEquals": {"kms:ViaService": f"sns.{ctx.stack.region}.amazonaws.com"}
                                },
                            },
                        ],
                    }
                )
            ),
            opts=child,
        )
        api = aws.apigateway.RestApi(
            f"{name}-rest-api",
            name=ctx.name(name),
            description=f"{name}: publish events",
            endpoint_configuration={"types": "REGIONAL"},
            tags=ctx.tags(name),
            opts=child,
        )
        resource = aws.apigateway.Resource(
            f"{name}-path-events", rest_api=api.id, parent_id=api.root_resource_id, path_part=EVENTS_PATH, opts=child
        )
        model = aws.apigateway.Model(
            f"{name}-model-event",
            rest_api=api.id,
            name="Event",
            content_type="application/json",
            schema=json.dumps(
                {
                    "$schema": "http://json-schema.org/draft-04/schema#",
                    "title": "Event",
                    "type": "object",
                    "minProperties": 1,
                }
            ),
            opts=child,
        )
        validator = aws.apigateway.RequestValidator(
            f"{name}-validate-body", rest_api=api.id, name="body", validate_request_body=True, opts=child
        )
        # Producers are services of the organization: they sign requests with IAM (SigV4).
        method = aws.apigateway.Method(
            f"{name}-publish",
            rest_api=api.id,
            resource_id=resource.id,
            http_method="POST",
            authorization="AWS_IAM",
            request_validator_id=validator.id,
            request_models={"application/json": model.name},
            operation_name="publishEvent",
            opts=child,
        )
        integration = aws.apigateway.Integration(
            f"{name}-publish-integration",
            rest_api=api.id,
            resource_id=resource.id,
            http_method=method.http_method,
            type="AWS",
            integration_http_method="POST",
            credentials=role.arn,
            uri=f"arn:{ctx.partition}:apigateway:{ctx.stack.region}:sns:action/Publish",
            request_parameters={"integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"},
            request_templates={
                "application/json": self.topic.arn.apply(
                    lambda arn: publish_template(arn, dict(spec.attribute_headers))
                )
            },
            passthrough_behavior="NEVER",
            timeout_milliseconds=5000,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[publish_policy]),
        )
        responses: list[pulumi.Resource] = [method, integration]
        for status, pattern, body in (
            ("202", None, '{"messageId":"$context.requestId"}'),
            ("500", "5\\d{2}|4\\d{2}", '{"message":"publish failed","requestId":"$context.requestId"}'),
        ):
            method_response = aws.apigateway.MethodResponse(
                f"{name}-publish-{status}",
                rest_api=api.id,
                resource_id=resource.id,
                http_method=method.http_method,
                status_code=status,
                opts=child,
            )
            responses += [
                method_response,
                aws.apigateway.IntegrationResponse(
                    f"{name}-publish-{status}-integration",
                    rest_api=api.id,
                    resource_id=resource.id,
                    http_method=method.http_method,
                    status_code=status,
                    selection_pattern=pattern,
                    response_templates={"application/json": body},
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[integration, method_response]),
                ),
            ]
        return RestStage(
            f"{name}-stage",
            RestStageArgs(
                platform=platform,
                service=name,
                waf_inspects_sql=spec.waf_inspects_sql,
                waf_large_bodies=spec.waf_large_bodies,
                rest_api=api,
                stage_name=STAGE_NAME,
                rate_limit=spec.throttling_rate_limit,
                burst_limit=spec.throttling_burst_limit,
                method_throttles=[
                    MethodThrottle(
                        resource_path=f"/{EVENTS_PATH}",
                        http_method="POST",
                        rate_limit=spec.throttling_rate_limit,
                        burst_limit=spec.throttling_burst_limit,
                    )
                ],
                deployment_triggers={
                    "routes": f"POST /{EVENTS_PATH}",
                    "attributes": json.dumps(dict(spec.attribute_headers), sort_keys=True),
                },
                depends_on=responses,
                execution_logging_level="ERROR" if ctx.stack.is_production else "INFO",
            ),
            opts=child,
        )
