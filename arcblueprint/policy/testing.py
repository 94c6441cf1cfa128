"""Build CrossGuard args by hand and run one policy on them (for policy tests and component tests).

Uses pulumi_policy's own classes, so a policy sees exactly the objects the engine would build:
props go through :func:`arcblueprint.policy.offline.engine_props` (floats, behind the engine's
unknown-checking proxy), so a rule that expects a ``dict`` or ``list`` fails here as it would
under ``pulumi preview``. A value that reads as unknown (``UnknownValueError``) is recorded in
``Recorder.skipped``, as the engine records its "can't run policy" note.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import TYPE_CHECKING, Any

from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import UnknownValueError

from arcblueprint.policy.offline import engine_props

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from pulumi_policy import ResourceValidationPolicy, StackValidationPolicy

    from arcblueprint.policy.offline import PolicyReport, Violation
    from arcblueprint.preview.harness import GraphResource, SynthesizedStack

__all__ = [
    "Recorder",
    "first_preview_report",
    "mutated",
    "options",
    "resource",
    "run_resource",
    "run_stack",
    "urn_of",
    "violations_of",
]


def urn_of(resource_type: str, name: str, stack: str = "test") -> str:
    return f"urn:pulumi:{stack}::arcblueprint::{resource_type}::{name}"


def options(*, protect: bool = False) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)


class Recorder:
    """A ``report_violation`` that keeps messages (and, via ``waived``, what a waiver silenced)."""

    def __init__(self) -> None:
        self.violations: list[tuple[str | None, str]] = []
        self.waived_violations: list[tuple[str | None, str, str]] = []
        #: Why the policy could not run (it read a value that is unknown during preview), if it could not.
        self.skipped: list[str] = []

    def __call__(self, message: str, urn: str | None = None) -> None:
        self.violations.append((urn, message))

    def waived(self, message: str, urn: str | None, reason: str) -> None:
        self.waived_violations.append((urn, message, reason))

    @property
    def messages(self) -> list[str]:
        return [m for _, m in self.violations]


def run_resource(
    policy: ResourceValidationPolicy,
    resource_type: str,
    props: Mapping[str, Any],
    *,
    name: str = "subject",
    protect: bool = False,
    config: Mapping[str, Any] | None = None,
) -> Recorder:
    """Validate one resource with ``policy``; the recorder holds what it reported."""
    args = ResourceValidationArgs(
        resource_type,
        engine_props(props),
        urn_of(resource_type, name),
        name,
        options(protect=protect),
        None,
        dict(config or {}),
        {},
    )
    recorder = Recorder()
    _validate(policy, args, recorder)
    return recorder


def _validate(policy: ResourceValidationPolicy | StackValidationPolicy, args: Any, recorder: Recorder) -> None:
    try:
        policy.validate(args, recorder)
    except UnknownValueError as error:
        recorder.skipped.append(error.message)
    except _NotApplicableError:
        pass


def resource(
    resource_type: str,
    name: str,
    props: Mapping[str, Any],
    *,
    protect: bool = False,
    depends: Mapping[str, Sequence[PolicyResource]] | None = None,
) -> PolicyResource:
    """A stack resource; ``depends`` maps a prop to the resources it was computed from."""
    return PolicyResource(
        resource_type,
        engine_props(props),
        urn_of(resource_type, name),
        name,
        options(protect=protect),
        None,
        None,
        [r for rs in (depends or {}).values() for r in rs],
        {k: list(v) for k, v in (depends or {}).items()},
    )


def run_stack(
    policy: StackValidationPolicy, resources: Sequence[PolicyResource], config: Mapping[str, Any] | None = None
) -> Recorder:
    """Validate a stack of hand-built resources with ``policy``; not-applicable reports nothing."""
    recorder = Recorder()
    _validate(policy, StackValidationArgs(list(resources), dict(config or {}), {}), recorder)
    return recorder


def mutated(
    graph: SynthesizedStack, name: str, change: Callable[[GraphResource], None], *, resource_type: str | None = None
) -> SynthesizedStack:
    """A copy of ``graph`` in which ``change`` edited the resource with logical name ``name``.

    ``change`` receives the copied :class:`GraphResource` and may edit its inputs, outputs or
    dependencies in place. This is how correctness rules are tested: the real synthesized stack,
    turned back into the defect the rule exists for, must fail; the stack as shipped must pass.
    """
    resources = list(graph.resources)
    matches = [i for i, r in enumerate(resources) if r.name == name and resource_type in (None, r.type)]
    if len(matches) != 1:
        raise LookupError(f"{len(matches)} resources named {name!r} in stack {graph.stack!r}")
    # Only the changed resource is copied: the others (and the immutable config) are shared with ``graph``,
    # which nothing edits (a deep copy of a whole stack took longer than the policy run it was made for).
    [index] = matches
    resources[index] = copy.deepcopy(resources[index])
    change(resources[index])
    return dataclasses.replace(graph, resources=resources)


def _report(graph: SynthesizedStack, policy_name: str, *, first_preview: bool) -> PolicyReport:
    from arcblueprint.policy.config import pack_config_for
    from arcblueprint.policy.offline import evaluate
    from arcblueprint.policy.pack import all_policies

    policies = [p for p in all_policies() if p.name == policy_name]
    if not policies:
        raise LookupError(f"no policy named {policy_name!r} in the pack")
    return evaluate(graph, policies=policies, config=pack_config_for(graph.config), first_preview=first_preview)


def violations_of(graph: SynthesizedStack, policy_name: str, *, first_preview: bool = False) -> list[Violation]:
    """What one policy of the pack reports on ``graph`` with the stack's own pack config (waivers included).

    With ``first_preview``, as the first ``pulumi preview`` of a new stack sees the graph; a policy
    that could not run there (it read an unknown value) raises ``AssertionError`` naming the value,
    since an empty list would then claim a verdict the engine never gave.
    """
    report = _report(graph, policy_name, first_preview=first_preview)
    if report.skipped:
        raise AssertionError("; ".join(s.line() for s in report.skipped))
    return [*report.mandatory, *report.advisory]


def first_preview_report(graph: SynthesizedStack, policy_name: str) -> PolicyReport:
    """The whole report of one policy in first-preview mode (violations and what it could not judge)."""
    return _report(graph, policy_name, first_preview=True)


_KEY = "arn:aws:kms:eu-west-1:222222222222:key/0a1b2c3d-0000-4000-8000-000000000000"
_TAGS = {"owner": "platform-team", "environment": "prod", "service": "orders", "cost-center": "cc-1001"}
_FN = "arn:aws:lambda:eu-west-1:222222222222:function:arcbp-prod-orders"

#: Props (camelCase, as the engine passes them) of one resource per type that passes every policy.
COMPLIANT_PROPS: dict[str, dict[str, Any]] = {
    "aws:lambda/function:Function": {
        "name": "arcbp-prod-orders",
        "runtime": "python3.13",
        "handler": "app.handler",
        "timeout": 10.0,
        "tracingConfig": {"mode": "Active"},
        "loggingConfig": {"logFormat": "JSON", "logGroup": "/aws/lambda/x"},
        "environment": {
            "variables": {
                "POWERTOOLS_SERVICE_NAME": "orders",
                "TABLE_NAME": "arcbp-prod-orders",
                "DB_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:222222222222:secret:db",
            }
        },
        "tags": _TAGS,
    },
    "aws:cloudwatch/logGroup:LogGroup": {
        "name": "/aws/lambda/x",
        "retentionInDays": 365.0,
        "kmsKeyId": _KEY,
        "tags": _TAGS,
    },
    "aws:lambda/eventSourceMapping:EventSourceMapping": {
        "functionName": f"{_FN}:live",
        "eventSourceArn": "arn:aws:sqs:eu-west-1:222222222222:orders",
        "scalingConfig": {"maximumConcurrency": 5.0},
        "tags": _TAGS,
    },
    "aws:lambda/permission:Permission": {
        "function": "arcbp-prod-orders",
        "qualifier": "live",
        "action": "lambda:InvokeFunction",
        "principal": "sns.amazonaws.com",
    },
    "aws:apigateway/integration:Integration": {
        "type": "AWS_PROXY",
        "integrationHttpMethod": "POST",
        "uri": f"arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/{_FN}:live/invocations",
    },
    "aws:apigateway/method:Method": {
        "httpMethod": "GET",
        "authorization": "COGNITO_USER_POOLS",
        "authorizerId": "abc123",
        "restApi": "a1",
        "resourceId": "r1",
    },
    "aws:apigateway/stage:Stage": {
        "stageName": "live",
        "restApi": "a1",
        "xrayTracingEnabled": True,
        "accessLogSettings": {"destinationArn": "arn:aws:logs:eu-west-1:2:log-group:a", "format": "{}"},
        "tags": _TAGS,
    },
    "aws:apigateway/methodSettings:MethodSettings": {
        "restApi": "a1",
        "stageName": "live",
        "methodPath": "*/*",
        "settings": {
            "throttlingBurstLimit": 100.0,
            "throttlingRateLimit": 50.0,
            "cachingEnabled": True,
            "cacheDataEncrypted": True,
            "loggingLevel": "INFO",
            "metricsEnabled": True,
        },
    },
    "aws:apigatewayv2/route:Route": {
        "apiId": "a2",
        "routeKey": "GET /orders",
        "authorizationType": "JWT",
        "authorizerId": "z",
    },
    "aws:appsync/graphQLApi:GraphQLApi": {
        "name": "orders",
        "authenticationType": "AMAZON_COGNITO_USER_POOLS",
        "xrayEnabled": True,
        "logConfig": {"fieldLogLevel": "ERROR", "cloudwatchLogsRoleArn": "arn:aws:iam::2:role/logs"},
        "additionalAuthenticationProviders": [{"authenticationType": "AWS_IAM"}],
        "tags": _TAGS,
    },
    "aws:appsync/apiCache:ApiCache": {
        "apiId": "g1",
        "type": "SMALL",
        "ttl": 60.0,
        "apiCachingBehavior": "FULL_REQUEST_CACHING",
        "atRestEncryptionEnabled": True,
        "transitEncryptionEnabled": True,
    },
    "aws:sqs/queue:Queue": {
        "name": "arcbp-prod-orders",
        "kmsMasterKeyId": _KEY,
        "visibilityTimeoutSeconds": 60.0,
        "redrivePolicy": '{"deadLetterTargetArn": "arn:aws:sqs:eu-west-1:2:orders-dlq", "maxReceiveCount": 15}',
        "tags": _TAGS,
    },
    "aws:sns/topic:Topic": {"name": "orders", "kmsMasterKeyId": _KEY, "tags": _TAGS},
    "aws:sns/topicSubscription:TopicSubscription": {
        "topic": "arn:aws:sns:eu-west-1:2:orders",
        "protocol": "sqs",
        "endpoint": "arn:aws:sqs:eu-west-1:2:q",
        "redrivePolicy": '{"deadLetterTargetArn": "arn:aws:sqs:eu-west-1:2:q-dlq"}',
    },
    "aws:kinesis/stream:Stream": {"name": "clicks", "encryptionType": "KMS", "kmsKeyId": _KEY, "tags": _TAGS},
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": {
        "destination": "extended_s3",
        "serverSideEncryption": {"enabled": True, "keyType": "CUSTOMER_MANAGED_CMK", "keyArn": _KEY},
        "extendedS3Configuration": {
            "bucketArn": "arn:aws:s3:::lake",
            "roleArn": "r",
            "s3BackupMode": "Enabled",
            "processingConfiguration": {
                "enabled": True,
                "processors": [
                    {"type": "Lambda", "parameters": [{"parameterName": "LambdaArn", "parameterValue": f"{_FN}:live"}]}
                ],
            },
            "s3BackupConfiguration": {"bucketArn": "arn:aws:s3:::raw", "roleArn": "r"},
        },
        "tags": _TAGS,
    },
    "aws:dynamodb/table:Table": {
        "hashKey": "pk",
        "pointInTimeRecovery": {"enabled": True},
        "serverSideEncryption": {"enabled": True, "kmsKeyArn": _KEY},
        "tags": _TAGS,
    },
    "aws:ec2/securityGroup:SecurityGroup": {
        "vpcId": "vpc-1",
        "ingress": [
            {"protocol": "tcp", "fromPort": 443.0, "toPort": 443.0, "cidrBlocks": ["10.0.0.0/16"], "ipv6CidrBlocks": []}
        ],
        "tags": _TAGS,
    },
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": {
        "securityGroupId": "sg-1",
        "cidrIpv4": "10.0.0.0/16",
        "ipProtocol": "tcp",
        "fromPort": 443.0,
        "toPort": 443.0,
        "tags": _TAGS,
    },
    "aws:ec2/securityGroupRule:SecurityGroupRule": {
        "type": "ingress",
        "securityGroupId": "sg-1",
        "protocol": "tcp",
        "fromPort": 443.0,
        "toPort": 443.0,
        "cidrBlocks": ["10.0.0.0/8"],
    },
    "aws:iam/rolePolicy:RolePolicy": {
        "role": "r",
        "policy": (
            '{"Version": "2012-10-17", "Statement": ['
            '{"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem"], '
            '"Resource": "arn:aws:dynamodb:eu-west-1:2:table/orders"}, '
            '{"Effect": "Allow", "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "Resource": "*"}, '
            '{"Effect": "Deny", "Action": "*", "Resource": "*", '
            '"Condition": {"Bool": {"aws:SecureTransport": "false"}}}'
            "]}"
        ),
    },
}
