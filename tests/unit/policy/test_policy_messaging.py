"""SQS, SNS, Kinesis and Firehose rules."""

from __future__ import annotations

import copy

import pytest

from arcblueprint.policy import messaging
from arcblueprint.policy.testing import COMPLIANT_PROPS, resource, run_resource, run_stack

QUEUE = "aws:sqs/queue:Queue"
TOPIC = "aws:sns/topic:Topic"
SUB = "aws:sns/topicSubscription:TopicSubscription"
STREAM = "aws:kinesis/stream:Stream"
FIREHOSE = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
FUNCTION = "aws:lambda/function:Function"
ALIAS = "aws:lambda/alias:Alias"
ESM = "aws:lambda/eventSourceMapping:EventSourceMapping"


def props(kind, **changes):
    value = copy.deepcopy(COMPLIANT_PROPS[kind])
    value.update(changes)
    return {k: v for k, v in value.items() if v is not None}


def test_queue_needs_redrive_unless_it_is_a_dlq():
    assert run_resource(messaging.SQS_REDRIVE, QUEUE, props(QUEUE)).messages == []
    assert run_resource(messaging.SQS_REDRIVE, QUEUE, props(QUEUE, redrivePolicy=None), name="orders").messages
    no_count = props(QUEUE, redrivePolicy='{"deadLetterTargetArn": "arn:aws:sqs:r:1:dlq"}')
    assert run_resource(messaging.SQS_REDRIVE, QUEUE, no_count).messages
    assert (
        run_resource(messaging.SQS_REDRIVE, QUEUE, props(QUEUE, redrivePolicy=None), name="orders-dlq").messages == []
    )
    allow = props(QUEUE, redrivePolicy=None, redriveAllowPolicy='{"redrivePermission": "byQueue"}')
    assert run_resource(messaging.SQS_REDRIVE, QUEUE, allow).messages == []
    assert (
        run_resource(messaging.SQS_REDRIVE, QUEUE, props(QUEUE, redrivePolicy=None, name="x-dlq.fifo")).messages == []
    )


def test_queue_encryption():
    assert run_resource(messaging.SQS_ENCRYPTED, QUEUE, props(QUEUE)).messages == []
    assert run_resource(messaging.SQS_ENCRYPTED, QUEUE, props(QUEUE, kmsMasterKeyId=None)).messages
    sse_sqs = props(QUEUE, kmsMasterKeyId=None, sqsManagedSseEnabled=True)
    assert run_resource(messaging.SQS_ENCRYPTED, QUEUE, sse_sqs).messages == []


@pytest.mark.parametrize(
    ("visibility", "timeout", "fires"),
    [
        (60.0, 10.0, False),
        (59.0, 10.0, True),
        (None, 5.0, False),
        (None, 6.0, True),
        (18.0, None, False),
        (17.0, 3.0, True),
    ],
)
def test_visibility_timeout_is_six_times_the_consumer_timeout(visibility, timeout, fires):
    queue = resource(QUEUE, "orders-queue", {"visibilityTimeoutSeconds": visibility} if visibility else {})
    function = resource(FUNCTION, "orders-fn", {"name": "orders", **({"timeout": timeout} if timeout else {})})
    alias = resource(
        ALIAS, "orders-live", {"name": "live", "functionName": "orders"}, depends={"functionName": [function]}
    )
    mapping = resource(ESM, "orders-esm", {}, depends={"eventSourceArn": [queue], "functionName": [alias]})
    found = run_stack(messaging.SQS_VISIBILITY_TIMEOUT, [queue, function, alias, mapping])
    assert [u for u, _ in found.violations] == ([queue.urn] if fires else [])


def test_visibility_timeout_links_by_arn_and_name_without_dependencies():
    queue = resource(QUEUE, "q", {"arn": "arn:aws:sqs:r:1:q", "visibilityTimeoutSeconds": 30.0})
    function = resource(FUNCTION, "f", {"name": "orders", "timeout": 10.0})
    mapping = resource(
        ESM, "m", {"eventSourceArn": "arn:aws:sqs:r:1:q", "functionName": "arn:aws:lambda:r:1:function:orders:live"}
    )
    assert len(run_stack(messaging.SQS_VISIBILITY_TIMEOUT, [queue, function, mapping]).violations) == 1


def test_topics_and_subscriptions():
    assert run_resource(messaging.SNS_ENCRYPTED, TOPIC, props(TOPIC)).messages == []
    assert run_resource(messaging.SNS_ENCRYPTED, TOPIC, props(TOPIC, kmsMasterKeyId=None)).messages
    assert run_resource(messaging.SNS_SUBSCRIPTION_DLQ, SUB, props(SUB)).messages == []
    assert run_resource(messaging.SNS_SUBSCRIPTION_DLQ, SUB, props(SUB, redrivePolicy=None)).messages


def test_kinesis_and_firehose():
    assert run_resource(messaging.KINESIS_ENCRYPTED, STREAM, props(STREAM)).messages == []
    assert run_resource(messaging.KINESIS_ENCRYPTED, STREAM, props(STREAM, encryptionType="NONE")).messages
    assert run_resource(messaging.FIREHOSE_ENCRYPTED_BACKED_UP, FIREHOSE, props(FIREHOSE)).messages == []
    no_sse = props(FIREHOSE, serverSideEncryption={"enabled": False})
    assert "encryption" in run_resource(messaging.FIREHOSE_ENCRYPTED_BACKED_UP, FIREHOSE, no_sse).messages[0]
    from_kinesis = props(FIREHOSE, serverSideEncryption=None, kinesisSourceConfiguration={"kinesisStreamArn": "a"})
    assert run_resource(messaging.FIREHOSE_ENCRYPTED_BACKED_UP, FIREHOSE, from_kinesis).messages == []
    no_backup = props(FIREHOSE)
    no_backup["extendedS3Configuration"]["s3BackupMode"] = "Disabled"
    assert "s3BackupMode" in run_resource(messaging.FIREHOSE_ENCRYPTED_BACKED_UP, FIREHOSE, no_backup).messages[0]


def test_s3_delivery_without_transform_needs_no_source_backup():
    plain = props(FIREHOSE)
    del plain["extendedS3Configuration"]["processingConfiguration"]
    plain["extendedS3Configuration"]["s3BackupMode"] = "Disabled"
    assert run_resource(messaging.FIREHOSE_ENCRYPTED_BACKED_UP, FIREHOSE, plain).messages == []
    http = {
        "destination": "http_endpoint",
        "serverSideEncryption": {"enabled": True},
        "httpEndpointConfiguration": {"url": "https://example.com", "s3BackupMode": "FailedDataOnly"},
    }
    assert "AllData" in run_resource(messaging.FIREHOSE_ENCRYPTED_BACKED_UP, FIREHOSE, http).messages[0]


@pytest.mark.parametrize(
    ("processors", "needs_backup"),
    [
        # The central log sink: gunzip CloudWatch Logs batches and end each with a newline; nothing is lost.
        ([{"type": "Decompression"}, {"type": "AppendDelimiterToRecord"}], False),
        ([{"type": "Decompression"}, {"type": "CloudWatchLogProcessing"}], True),  # extraction drops metadata
        ([{"type": "Decompression"}, {"type": "Lambda"}], True),
        ([], True),  # enabled with no processor named: assume a transform
    ],
)
def test_lossless_processors_are_not_a_transform(processors, needs_backup):
    stream = props(FIREHOSE)
    stream["extendedS3Configuration"]["processingConfiguration"] = {"enabled": True, "processors": processors}
    stream["extendedS3Configuration"]["s3BackupMode"] = "Disabled"
    assert bool(run_resource(messaging.FIREHOSE_ENCRYPTED_BACKED_UP, FIREHOSE, stream).messages) is needs_backup
