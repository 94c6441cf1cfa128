"""IAM statements for what a function is granted: one builder per kind of access, no free-form JSON.

Pure: each builder takes resolved ARNs (strings) and returns statements, so the component calls
them inside ``Output.apply`` and tests can property-check every statement without Pulumi.
No statement has a ``*`` action. A ``*`` resource appears only in statements whose ``Sid`` starts
with :data:`AWS_REQUIRES_ANY_RESOURCE`, and only for actions AWS does not scope to a resource.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = [
    "AWS_REQUIRES_ANY_RESOURCE",
    "Statement",
    "bucket_read",
    "bucket_write",
    "codedeploy_hook_status",
    "function_invoke",
    "kms_use",
    "log_write",
    "policy_document",
    "put_events",
    "queue_consume",
    "queue_send",
    "secret_read",
    "start_execution",
    "stream_read",
    "stream_write",
    "table_read",
    "table_read_write",
    "topic_publish",
    "vpc_network_interfaces",
    "xray_write",
]

Statement = dict[str, Any]

#: Sid prefix of the statements that must use ``"Resource": "*"`` because AWS offers nothing narrower.
AWS_REQUIRES_ANY_RESOURCE = "AwsRequiresAnyResource"

TABLE_READ_ACTIONS = ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem")
TABLE_WRITE_ACTIONS = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                       "dynamodb:ConditionCheckItem", "dynamodb:BatchWriteItem")
QUEUE_CONSUME_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                         "sqs:ChangeMessageVisibility")
KINESIS_READ_ACTIONS = ("kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:DescribeStream",
                        "kinesis:DescribeStreamSummary", "kinesis:ListShards")
KINESIS_CONSUMER_ACTIONS = ("kinesis:SubscribeToShard", "kinesis:DescribeStreamConsumer")
DYNAMODB_STREAM_ACTIONS = ("dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream",
                           "dynamodb:ListStreams")

_ARN = re.compile(r"arn:(?P<partition>aws[a-z-]*):(?P<service>[a-z0-9-]+):(?P<region>[a-z0-9-]*):"
                  r"(?P<account>\d{12}|aws)?:(?P<resource>.+)")


class GrantError(ValueError):
    """A grant was given something that is not an ARN of the kind it needs."""


def _check_arn(arn: str, service: str, what: str) -> re.Match[str]:
    match = _ARN.fullmatch(arn) if isinstance(arn, str) else None
    if match is None or match["service"] != service:
        raise GrantError(f"{what} must be an arn:aws:{service}:... ARN, got {arn!r}")
    if "*" in match["resource"] and service != "logs":
        raise GrantError(f"{what} must name one resource, got {arn!r}")
    return match


def _sid(*words: str) -> str:
    return "".join(re.sub(r"[^A-Za-z0-9]", "", w.title()) for w in words)[:100]


def _allow(sid: str, actions: Sequence[str], resources: Sequence[str]) -> Statement:
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(set(actions)), "Resource": list(dict.fromkeys(resources))}


def policy_document(statements: Iterable[Statement]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def table_read(table_arn: str) -> list[Statement]:
    """Read items from a table and its indexes (GetItem, Query, BatchGetItem)."""
    _check_arn(table_arn, "dynamodb", "table_arn")
    return [_allow("TableRead", TABLE_READ_ACTIONS, [table_arn, f"{table_arn}/index/*"])]


def table_read_write(table_arn: str) -> list[Statement]:
    """Read and write items (no table-level actions: no Scan, no DeleteTable)."""
    _check_arn(table_arn, "dynamodb", "table_arn")
    return [_allow("TableReadWrite", TABLE_READ_ACTIONS + TABLE_WRITE_ACTIONS, [table_arn, f"{table_arn}/index/*"])]


def queue_send(queue_arn: str) -> list[Statement]:
    _check_arn(queue_arn, "sqs", "queue_arn")
    return [_allow("QueueSend", ["sqs:SendMessage"], [queue_arn])]


def queue_consume(queue_arn: str) -> list[Statement]:
    """What Lambda's SQS poller needs with the function's role."""
    _check_arn(queue_arn, "sqs", "queue_arn")
    return [_allow("QueueConsume", QUEUE_CONSUME_ACTIONS, [queue_arn])]


def topic_publish(topic_arn: str) -> list[Statement]:
    _check_arn(topic_arn, "sns", "topic_arn")
    return [_allow("TopicPublish", ["sns:Publish"], [topic_arn])]


def stream_read(stream_arn: str) -> list[Statement]:
    """Read a Kinesis stream, a Kinesis enhanced fan-out consumer, or a DynamoDB stream.

    A consumer ARN (``.../stream/<name>/consumer/<consumer>:<ts>``) gets the shard actions on its
    stream plus ``SubscribeToShard``/``DescribeStreamConsumer`` on the consumer itself.
    """
    match = _ARN.fullmatch(stream_arn) if isinstance(stream_arn, str) else None
    if match is None or match["service"] not in ("kinesis", "dynamodb"):
        raise GrantError(f"stream_arn must be a Kinesis stream/consumer or DynamoDB stream ARN, got {stream_arn!r}")
    if match["service"] == "dynamodb":
        if "/stream/" not in match["resource"]:
            raise GrantError(f"stream_arn must be a DynamoDB *stream* ARN (table/<name>/stream/<label>), got {stream_arn!r}")
        return [_allow("DynamodbStreamRead", DYNAMODB_STREAM_ACTIONS, [stream_arn])]
    if "/consumer/" in match["resource"]:
        stream, _, _ = stream_arn.partition("/consumer/")
        return [_allow("KinesisStreamRead", KINESIS_READ_ACTIONS, [stream]),
                _allow("KinesisConsumerRead", KINESIS_CONSUMER_ACTIONS, [stream_arn])]
    return [_allow("KinesisStreamRead", KINESIS_READ_ACTIONS, [stream_arn])]


def stream_write(stream_arn: str) -> list[Statement]:
    _check_arn(stream_arn, "kinesis", "stream_arn")
    return [_allow("KinesisStreamWrite", ["kinesis:PutRecord", "kinesis:PutRecords"], [stream_arn])]


def put_events(bus_arn: str) -> list[Statement]:
    _check_arn(bus_arn, "events", "bus_arn")
    return [_allow("BusPutEvents", ["events:PutEvents"], [bus_arn])]


def secret_read(secret_arn: str) -> list[Statement]:
    _check_arn(secret_arn, "secretsmanager", "secret_arn")
    return [_allow("SecretRead", ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], [secret_arn])]


def bucket_read(bucket_arn: str) -> list[Statement]:
    _check_arn(bucket_arn, "s3", "bucket_arn")
    return [_allow("BucketList", ["s3:ListBucket"], [bucket_arn]),
            _allow("BucketRead", ["s3:GetObject"], [f"{bucket_arn}/*"])]


def bucket_write(bucket_arn: str) -> list[Statement]:
    _check_arn(bucket_arn, "s3", "bucket_arn")
    return [_allow("BucketWrite", ["s3:PutObject", "s3:AbortMultipartUpload"], [f"{bucket_arn}/*"])]


def start_execution(state_machine_arn: str) -> list[Statement]:
    _check_arn(state_machine_arn, "states", "state_machine_arn")
    return [_allow("StartExecution", ["states:StartExecution"], [state_machine_arn])]


def kms_use(key_arn: str, *, encrypt: bool) -> list[Statement]:
    """Use the platform key for data it protects: decrypt to read, also generate data keys to write."""
    _check_arn(key_arn, "kms", "key_arn")
    actions = ["kms:Decrypt", "kms:GenerateDataKey"] if encrypt else ["kms:Decrypt"]
    return [_allow("PlatformKeyEncrypt" if encrypt else "PlatformKeyDecrypt", actions, [key_arn])]


def log_write(log_group_arn: str) -> list[Statement]:
    """Write to the function's own log group only (not ``AWSLambdaBasicExecutionRole``, which allows every group)."""
    _check_arn(log_group_arn, "logs", "log_group_arn")
    group = log_group_arn.removesuffix(":*")
    return [_allow("OwnLogGroupWrite", ["logs:CreateLogStream", "logs:PutLogEvents"], [f"{group}:*"])]


def xray_write() -> list[Statement]:
    """Active tracing. X-Ray's PutTraceSegments/PutTelemetryRecords have no resource-level permissions,
    so AWS requires ``"Resource": "*"`` for them."""
    return [_allow(f"{AWS_REQUIRES_ANY_RESOURCE}XRay", ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], ["*"])]


def vpc_network_interfaces(*, partition: str, region: str, account_id: str) -> list[Statement]:
    """What Lambda needs, with the function's role, to attach Hyperplane ENIs in the VPC.

    ``ec2:DescribeNetworkInterfaces`` supports no resource-level permissions, so AWS requires ``*``
    for it; the create/delete/assign actions are limited to this account's network interfaces,
    subnets and security groups in this region.
    """
    prefix = f"arn:{partition}:ec2:{region}:{account_id}"
    return [
        _allow(f"{AWS_REQUIRES_ANY_RESOURCE}EniDescribe", ["ec2:DescribeNetworkInterfaces"], ["*"]),
        _allow("VpcNetworkInterfaces",
               ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
                "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"],
               [f"{prefix}:network-interface/*", f"{prefix}:subnet/*", f"{prefix}:security-group/*"]),
    ]


def failure_destination(destination_arn: str) -> list[Statement]:
    """Send records that failed to an on-failure destination (an SQS queue or an SNS topic)."""
    match = _ARN.fullmatch(destination_arn) if isinstance(destination_arn, str) else None
    if match is not None and match["service"] == "sns":
        return topic_publish(destination_arn)
    if match is not None and match["service"] == "sqs":
        return queue_send(destination_arn)
    raise GrantError(f"on-failure destination must be an SQS queue or SNS topic ARN, got {destination_arn!r}")


def codedeploy_hook_status(deployment_group_arn: str) -> list[Statement]:
    """The one permission a CodeDeploy lifecycle hook needs: reporting its result to its deployment group."""
    _check_arn(deployment_group_arn, "codedeploy", "deployment_group_arn")
    return [_allow("CodeDeployHookStatus", ["codedeploy:PutLifecycleEventHookExecutionStatus"], [deployment_group_arn])]


def function_invoke(function_arn: str) -> list[Statement]:
    """Invoke one function version or alias (a qualified ARN), never the whole function."""
    _check_arn(function_arn, "lambda", "function_arn")
    return [_allow("InvokeFunction", ["lambda:InvokeFunction"], [function_arn])]


__all__ += ["GrantError", "failure_destination"]
