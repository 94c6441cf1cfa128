"""IAM statements for what a function is granted: one builder per kind of access, no free-form JSON.

Pure: each builder takes resolved ARNs (strings) and returns statements, so the component calls
them inside ``Output.apply`` and tests can property-check every statement without Pulumi.
No statement has a ``*`` action. A ``*`` resource appears only in statements whose ``Sid`` starts
with :data:`AWS_REQUIRES_ANY_RESOURCE`, and only for actions AWS does not scope to a resource.

Each builder also declares, statically, the AWS API its statements let the function's *code*
call (:func:`api_of`), because a VPC-attached function can call an API only through that API's
VPC endpoint, and the endpoint must be declared before the ARNs are known. Statements that only
AWS services exercise with the function's role, on its behalf (Lambda's event-source pollers and
destinations, service-side KMS), carry the :data:`ON_BEHALF` Sid prefix and need no such path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from arcblueprint.vpc_access import ON_BEHALF

__all__ = [
    "AWS_REQUIRES_ANY_RESOURCE",
    "ON_BEHALF",
    "Statement",
    "api_of",
    "bucket_read",
    "bucket_write",
    "codedeploy_hook_status",
    "env_decrypt",
    "function_invoke",
    "kms_use",
    "log_write",
    "on_behalf",
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

_Builder = TypeVar("_Builder", bound=Callable[..., list[dict[str, Any]]])
#: Builder -> the IAM prefix of the API its statements let the function's code call (None: none).
_API: dict[Callable[..., Any], str | None] = {}


#: Builder -> the actions its statements offer the function's code (builders of statements only AWS uses
#: on the function's behalf, or that Lambda needs whatever the code does, are not listed).
_OFFERS: dict[Callable[..., Any], frozenset[str]] = {}


def _calls(api: str | None, *, offers: Iterable[str] = ()) -> Callable[[_Builder], _Builder]:
    """Record, on a builder, which AWS API (IAM prefix) its statements let the function's code call, and
    which actions they offer it (what :func:`narrowed` may keep)."""

    def record(build: _Builder) -> _Builder:
        _API[build] = api
        if offers:
            _OFFERS[build] = frozenset(offers)
        return build

    return record


def offers_of(build: Callable[..., Any]) -> frozenset[str] | None:
    """The actions ``build``'s statements offer the function's code; ``None``: not a grant to the code."""
    return _OFFERS.get(build)


def narrowed(statements: list[Statement], keep: Iterable[str]) -> list[Statement]:
    """The statements with only the actions in ``keep`` (the function's declared code calls); a statement
    left with none is dropped. On-behalf statements are kept whole: AWS, not the code, uses them."""
    wanted = set(keep)
    result = []
    for statement in statements:
        if statement["Sid"].startswith(ON_BEHALF):
            result.append(statement)
            continue
        actions = [a for a in statement["Action"] if a in wanted]
        if actions:
            result.append({**statement, "Action": actions})
    return result


def api_of(build: Callable[..., Any]) -> str | None:
    """The IAM prefix of the API ``build``'s statements let the function's code call; ``None``: no call
    from the function's network (only Lambda or another AWS service uses them). Undeclared: an error."""
    if build not in _API:
        raise GrantError(f"grant builder {getattr(build, '__name__', build)!r} does not declare the API it calls")
    return _API[build]


def on_behalf(statements: list[Statement]) -> list[Statement]:
    """The same statements, marked as used only by AWS services on the function's behalf."""
    return [s if s["Sid"].startswith(ON_BEHALF) else {**s, "Sid": (ON_BEHALF + s["Sid"])[:100]} for s in statements]


TABLE_READ_ACTIONS = ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem")
TABLE_WRITE_ACTIONS = (
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:BatchWriteItem",
)
QUEUE_CONSUME_ACTIONS = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ChangeMessageVisibility",
)
KINESIS_READ_ACTIONS = (
    "kinesis:GetRecords",
    "kinesis:GetShardIterator",
    "kinesis:DescribeStream",
    "kinesis:DescribeStreamSummary",
    "kinesis:ListShards",
)
KINESIS_CONSUMER_ACTIONS = ("kinesis:SubscribeToShard", "kinesis:DescribeStreamConsumer")
SECRET_READ_ACTIONS = ("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret")
DYNAMODB_STREAM_ACTIONS = (
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:DescribeStream",
    "dynamodb:ListStreams",
)

_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):(?P<service>[a-z0-9-]+):(?P<region>[a-z0-9-]*):"
    r"(?P<account>\d{12}|aws)?:(?P<resource>.+)"
)


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


@_calls("dynamodb", offers=TABLE_READ_ACTIONS)
def table_read(table_arn: str) -> list[Statement]:
    """Read items from a table and its indexes (GetItem, Query, BatchGetItem)."""
    _check_arn(table_arn, "dynamodb", "table_arn")
    return [_allow("TableRead", TABLE_READ_ACTIONS, [table_arn, f"{table_arn}/index/*"])]


@_calls("dynamodb", offers=TABLE_READ_ACTIONS + TABLE_WRITE_ACTIONS)
def table_read_write(table_arn: str) -> list[Statement]:
    """Read and write items (no table-level actions: no Scan, no DeleteTable)."""
    _check_arn(table_arn, "dynamodb", "table_arn")
    return [_allow("TableReadWrite", TABLE_READ_ACTIONS + TABLE_WRITE_ACTIONS, [table_arn, f"{table_arn}/index/*"])]


@_calls("sqs", offers=["sqs:SendMessage"])
def queue_send(queue_arn: str) -> list[Statement]:
    _check_arn(queue_arn, "sqs", "queue_arn")
    return [_allow("QueueSend", ["sqs:SendMessage"], [queue_arn])]


@_calls(None)
def queue_consume(queue_arn: str) -> list[Statement]:
    """What Lambda's SQS poller needs with the function's role.

    "When you use an event source mapping to invoke your function, Lambda uses the execution
    role to read event data" (Lambda guide): the poller runs in Lambda, not in the function's
    VPC, so the statements are :func:`on_behalf` (a private-subnet function with an SQS trigger
    and no NAT or SQS endpoint works, as users have verified). Code that reads a queue itself
    needs a grant of its own.
    """
    _check_arn(queue_arn, "sqs", "queue_arn")
    return on_behalf([_allow("QueueConsume", QUEUE_CONSUME_ACTIONS, [queue_arn])])


@_calls("sns", offers=["sns:Publish"])
def topic_publish(topic_arn: str) -> list[Statement]:
    _check_arn(topic_arn, "sns", "topic_arn")
    return [_allow("TopicPublish", ["sns:Publish"], [topic_arn])]


@_calls(None)
def stream_read(stream_arn: str) -> list[Statement]:
    """What Lambda's poller needs to read a Kinesis stream, an enhanced fan-out consumer, or a DynamoDB stream.

    A consumer ARN (``.../stream/<name>/consumer/<consumer>:<ts>``) gets the shard actions on its
    stream plus ``SubscribeToShard``/``DescribeStreamConsumer`` on the consumer itself.
    """
    match = _ARN.fullmatch(stream_arn) if isinstance(stream_arn, str) else None
    if match is None or match["service"] not in ("kinesis", "dynamodb"):
        raise GrantError(f"stream_arn must be a Kinesis stream/consumer or DynamoDB stream ARN, got {stream_arn!r}")
    if match["service"] == "dynamodb":
        if "/stream/" not in match["resource"]:
            raise GrantError(
                f"stream_arn must be a DynamoDB *stream* ARN (table/<name>/stream/<label>), got {stream_arn!r}"
            )
        return on_behalf([_allow("DynamodbStreamRead", DYNAMODB_STREAM_ACTIONS, [stream_arn])])
    if "/consumer/" in match["resource"]:
        stream, _, _ = stream_arn.partition("/consumer/")
        return on_behalf(
            [
                _allow("KinesisStreamRead", KINESIS_READ_ACTIONS, [stream]),
                _allow("KinesisConsumerRead", KINESIS_CONSUMER_ACTIONS, [stream_arn]),
            ]
        )
    return on_behalf([_allow("KinesisStreamRead", KINESIS_READ_ACTIONS, [stream_arn])])


@_calls("kinesis", offers=["kinesis:PutRecord", "kinesis:PutRecords"])
def stream_write(stream_arn: str) -> list[Statement]:
    _check_arn(stream_arn, "kinesis", "stream_arn")
    return [_allow("KinesisStreamWrite", ["kinesis:PutRecord", "kinesis:PutRecords"], [stream_arn])]


@_calls("events", offers=["events:PutEvents"])
def put_events(bus_arn: str, source: str | None = None) -> list[Statement]:
    """Put events on one bus; with ``source``, only events of that source (``events:source``).

    Within the account an identity policy alone allows the call, so the source condition here, not
    only the bus policy's, is what keeps a producer from publishing another service's events.
    """
    _check_arn(bus_arn, "events", "bus_arn")
    statement = _allow("BusPutEvents", ["events:PutEvents"], [bus_arn])
    if source is not None:
        if not re.fullmatch(r"[a-z][a-z0-9.-]{1,254}", source):
            raise GrantError(f"source must be an event source like arcblueprint.orders, got {source!r}")
        statement["Condition"] = {"ForAllValues:StringEquals": {"events:source": [source]}}
    return [statement]


@_calls("secretsmanager", offers=SECRET_READ_ACTIONS)
def secret_read(secret_arn: str) -> list[Statement]:
    _check_arn(secret_arn, "secretsmanager", "secret_arn")
    return [_allow("SecretRead", SECRET_READ_ACTIONS, [secret_arn])]


@_calls("s3", offers=["s3:ListBucket", "s3:GetObject"])
def bucket_read(bucket_arn: str) -> list[Statement]:
    _check_arn(bucket_arn, "s3", "bucket_arn")
    return [
        _allow("BucketList", ["s3:ListBucket"], [bucket_arn]),
        _allow("BucketRead", ["s3:GetObject"], [f"{bucket_arn}/*"]),
    ]


@_calls("s3", offers=["s3:PutObject", "s3:AbortMultipartUpload"])
def bucket_write(bucket_arn: str) -> list[Statement]:
    _check_arn(bucket_arn, "s3", "bucket_arn")
    return [_allow("BucketWrite", ["s3:PutObject", "s3:AbortMultipartUpload"], [f"{bucket_arn}/*"])]


@_calls("states", offers=["states:StartExecution"])
def start_execution(state_machine_arn: str) -> list[Statement]:
    _check_arn(state_machine_arn, "states", "state_machine_arn")
    return [_allow("StartExecution", ["states:StartExecution"], [state_machine_arn])]


@_calls("kms")
def kms_use(key_arn: str, *, encrypt: bool) -> list[Statement]:
    """Use the platform key for data it protects: decrypt to read, also generate data keys to write.

    Called by the code itself (client-side encryption). Beside a grant on SQS, SNS, DynamoDB,
    Kinesis, S3, Secrets Manager, EventBridge or Step Functions data, the component marks these
    statements :func:`on_behalf`: those services call KMS with the caller's permissions ("When
    Amazon Kinesis Data Streams calls AWS KMS on your behalf..."), the function never does.
    """
    _check_arn(key_arn, "kms", "key_arn")
    actions = ["kms:Decrypt", "kms:GenerateDataKey"] if encrypt else ["kms:Decrypt"]
    return [_allow("PlatformKeyEncrypt" if encrypt else "PlatformKeyDecrypt", actions, [key_arn])]


@_calls(None)
def log_write(log_group_arn: str) -> list[Statement]:
    """Write to the function's own log group only (not ``AWSLambdaBasicExecutionRole``, which allows every group).

    Lambda captures the function's output and sends it to CloudWatch Logs with this permission
    (Lambda guide, "Sending Lambda function logs to CloudWatch Logs"), so it is not a call from
    the function's VPC.
    """
    _check_arn(log_group_arn, "logs", "log_group_arn")
    group = log_group_arn.removesuffix(":*")
    return [_allow("OwnLogGroupWrite", ["logs:CreateLogStream", "logs:PutLogEvents"], [f"{group}:*"])]


@_calls("xray")
def xray_write() -> list[Statement]:
    """Active tracing. X-Ray's PutTraceSegments/PutTelemetryRecords have no resource-level permissions,
    so AWS requires ``"Resource": "*"`` for them.

    Declared as a call from the function's network: Lambda runs the X-Ray daemon, and no AWS
    document says whether its traffic leaves through the function's VPC, so a VPC function gets
    a path to X-Ray (the conservative reading).
    """
    return [_allow(f"{AWS_REQUIRES_ANY_RESOURCE}XRay", ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], ["*"])]


@_calls(None)
def vpc_network_interfaces() -> list[Statement]:
    """What Lambda needs, with the function's role, to manage the function's Hyperplane ENIs in the VPC.

    Exactly the EC2 actions of AWS's ``AWSLambdaVPCAccessExecutionRole`` (v3, January 2024, which
    added ``ec2:DescribeSubnets``), on ``*`` as there. Lambda checks these permissions when the
    function is created or its VPC settings change, with a check AWS does not document; the Lambda
    guide says ``DescribeNetworkInterfaces`` works only on ``*`` and that ``DeleteNetworkInterface``
    must name the ENI or all of them, but not which resource-scoped statements the check accepts
    for the other actions, so the managed policy's form is used. Lambda calls EC2 itself (the
    function's code never does), so no network path from the VPC is needed.
    """
    return [
        _allow(
            f"{AWS_REQUIRES_ANY_RESOURCE}LambdaEni",
            [
                "ec2:CreateNetworkInterface",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSubnets",
                "ec2:DeleteNetworkInterface",
                "ec2:AssignPrivateIpAddresses",
                "ec2:UnassignPrivateIpAddresses",
            ],
            ["*"],
        )
    ]


@_calls(None)
def env_decrypt(key_arn: str) -> list[Statement]:
    """Let Lambda decrypt the function's environment variables, encrypted with ``key_arn``.

    Lambda decrypts them with the function's role before the code runs: a denial fails the
    Invoke API call itself (``KMSAccessDeniedException``: "Lambda couldn't decrypt the environment
    variables because KMS access was denied"), so this is not a call from the function's VPC.
    """
    _check_arn(key_arn, "kms", "key_arn")
    return on_behalf([_allow("LambdaEnvDecrypt", ["kms:Decrypt"], [key_arn])])


@_calls(None)
def failure_destination(destination_arn: str) -> list[Statement]:
    """Let Lambda send records that failed to an on-failure destination (an SQS queue or an SNS topic).

    Lambda sends them (asynchronous invocations and stream event source mappings), not the code:
    a record Lambda cannot deliver shows as Lambda's ``DestinationDeliveryFailures`` metric.
    """
    match = _ARN.fullmatch(destination_arn) if isinstance(destination_arn, str) else None
    if match is not None and match["service"] == "sns":
        return on_behalf(topic_publish(destination_arn))
    if match is not None and match["service"] == "sqs":
        return on_behalf(queue_send(destination_arn))
    raise GrantError(f"on-failure destination must be an SQS queue or SNS topic ARN, got {destination_arn!r}")


@_calls("codedeploy", offers=["codedeploy:PutLifecycleEventHookExecutionStatus"])
def codedeploy_hook_status(deployment_group_arn: str) -> list[Statement]:
    """The one permission a CodeDeploy lifecycle hook needs: reporting its result to its deployment group."""
    _check_arn(deployment_group_arn, "codedeploy", "deployment_group_arn")
    return [_allow("CodeDeployHookStatus", ["codedeploy:PutLifecycleEventHookExecutionStatus"], [deployment_group_arn])]


@_calls("lambda", offers=["lambda:InvokeFunction"])
def function_invoke(function_arn: str) -> list[Statement]:
    """Invoke one function version or alias (a qualified ARN), never the whole function."""
    _check_arn(function_arn, "lambda", "function_arn")
    return [_allow("InvokeFunction", ["lambda:InvokeFunction"], [function_arn])]


__all__ += ["GrantError", "failure_destination", "narrowed", "offers_of"]
