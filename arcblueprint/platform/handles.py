"""What services receive from the shared platform: typed handles, never raw config.

The stack program builds the platform components and hands one :class:`Platform` to every
service. Services and the function component depend on these small interfaces only, so the
platform can change how it builds things without touching them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol, TypedDict

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path
    from typing import Any

    import pulumi
    import pulumi_aws as aws

    from arcblueprint.platform.context import StackContext

__all__ = [
    "AlarmActions",
    "CodePackages",
    "EventRules",
    "InputTransformer",
    "InvokePermissions",
    "LogGroups",
    "MetricAlarmActions",
    "OnPremProxy",
    "Platform",
    "ReleaseRegistry",
    "RuleTarget",
    "SecretAccess",
    "ServerAccessLogs",
    "ServiceEndpoints",
    "VpcAttachment",
    "WebFirewalls",
]


class LogGroups(Protocol):
    """Creates log groups that follow the platform's logging rules."""

    def log_group(
        self, resource_name: str, log_group_name: pulumi.Input[str], *, service: str, parent: pulumi.Resource
    ) -> aws.cloudwatch.LogGroup:
        """A log group with the stack's retention, the platform KMS key and a subscription to the sink.

        ``log_group_name`` is the physical name (``/aws/lambda/<function>``); the group is a child of
        ``parent`` and protected like every stateful resource in stacks that protect them.
        """
        ...


class ServerAccessLogs(Protocol):
    """Turns on S3 server access logs of a bucket, into the platform's access-log bucket."""

    def log_requests(
        self, resource_name: str, bucket: aws.s3.Bucket, *, parent: pulumi.Resource
    ) -> aws.s3.BucketLogging | None:
        """A ``BucketLogging`` of ``bucket`` (``None`` where the stack keeps no access logs)."""
        ...


class WebFirewalls(Protocol):
    """Puts a WAFv2 web ACL in front of a public API (REST API stage or AppSync API)."""

    def protect(
        self,
        name: str,
        *,
        service: str,
        resource_arn: pulumi.Input[str],
        parent: pulumi.Resource,
        inspects_sql: bool,
        large_bodies: bool,
        allowed_source_ranges: Sequence[str] = (),
    ) -> pulumi.Resource | None:
        """The web ACL (rules, logging, association) of one API; ``None`` where the stack's ``waf`` turns it off.

        ``inspects_sql`` adds AWS's SQL injection rules; ``large_bodies`` lets bodies above the core rule
        set's 8 KB limit through (that rule counts only); ``allowed_source_ranges`` (CIDRs) blocks every
        other client address.
        """
        ...


class CodePackages(Protocol):
    """Where a function's code comes from, and the code signing config Lambda checks it against."""

    @property
    def code_signing_config_arn(self) -> pulumi.Input[str]:
        """The stack's Lambda code signing configuration."""
        ...

    def code(self, code_dir: Path, handler: str) -> Mapping[str, Any]:
        """``aws.lambda_.Function`` keyword arguments for the package of ``code_dir``: the local archive
        (``code``) where unsigned packages may deploy, else the signed object (``s3_bucket``, ``s3_key``)."""
        ...

    def layer(self, public_layer_arn: str, *, runtime: str, architecture: str) -> pulumi.Input[str]:
        """The layer version ARN a function uses for AWS's public layer: that one where unsigned code may
        deploy, else the stack's own copy signed by its profile (Lambda checks layers' signatures too)."""
        ...


class InvokePermissions(Protocol):
    """A function that can let a service principal invoke its ``live`` alias (``ServerlessFunction``)."""

    def allow_invoke(self, suffix: str, *, principal: str, source_arn: pulumi.Input[str]) -> aws.lambda_.Permission: ...


@dataclass(frozen=True, kw_only=True)
class InputTransformer:
    """EventBridge's input transformer: JSON paths into the event, and the template they fill."""

    paths: Mapping[str, str]
    template: str


@dataclass(frozen=True, kw_only=True)
class RuleTarget:
    """Where a rule delivers. The kind decides what EventBridge needs to deliver there:

    * ``sqs``: the queue's policy must admit ``events.amazonaws.com`` for the rule (the queue's owner
      declares it, with :meth:`EventRules.rule_arn`), and its key must let EventBridge encrypt;
    * ``kinesis`` / ``firehose`` / ``states``: a role EventBridge assumes that may put records / start
      executions (the bus declares it, with the key of an encrypted stream or state machine);
    * ``lambda``: a permission on the alias for the rule (the bus asks ``function`` for it).
    """

    kind: Literal["sqs", "kinesis", "firehose", "lambda", "states"]
    #: The queue, stream, delivery stream, state machine or function alias ARN.
    arn: pulumi.Input[str]
    #: What the routing table calls the target (``fan billing queue``).
    label: str
    input_transformer: InputTransformer | None = None
    #: Kinesis: the JSON path of the partition key; default: the event id (spreads events over shards).
    partition_key_path: str = "$.id"
    #: Kinesis and Step Functions: the key of the stream or state machine, which the role must be able to use
    #: (a Firehose stream's key needs none: Firehose encrypts with its own grant on the key).
    kms_key_arn: pulumi.Input[str] | None = None
    #: Lambda: the function whose alias ``arn`` is.
    function: InvokePermissions | None = None

    def __post_init__(self) -> None:
        if (self.kind == "lambda") != (self.function is not None):
            raise ValueError(f"RuleTarget {self.label!r}: a lambda target needs function, other kinds must not set it")


class EventRules(Protocol):
    """The shared bus's routes and producers.

    Every rule's target gets a DLQ and the stack's retry policy; a rule of a service whose kill switch
    (``triggersDisabled``) is on is declared ``DISABLED``.
    """

    def add_rule(
        self,
        key: str,
        *,
        service: str,
        event_pattern: Mapping[str, object],
        target: RuleTarget,
        parent: pulumi.Resource,
        description: str = "",
        on_default_bus: bool = False,
    ) -> aws.cloudwatch.EventRule:
        """A rule named ``<prefix>-<service>-<key>`` with one target, its DLQ, retries and permission."""
        ...

    def rule_arn(self, key: str, *, service: str, on_default_bus: bool = False) -> str:
        """The ARN the rule ``add_rule(key, service=...)`` will have, for policies declared before it."""
        ...

    def register_producer(self, *, service: str, role_arn: pulumi.Input[str]) -> str:
        """Let ``role_arn`` put the service's domain events (and no other source); returns the source."""
        ...


class SecretAccess(Protocol):
    """Adds roles to a secret's resource policy: only the roles named here may read the secret."""

    def allow_readers(self, name: str, role_arns: Sequence[pulumi.Input[str]]) -> None: ...


class ReleaseRegistry:
    """Collects what each function's release needs at deploy time (alias, versions, alarms).

    The function component records itself here; the stack program exports the collection so the
    CI driver can read the rollback alarms of weighted canaries and the CodeDeploy targets.
    """

    def __init__(self) -> None:
        self.releases: dict[str, pulumi.Input[Mapping[str, object]]] = {}
        self.weighted_alarm_names: list[pulumi.Input[str]] = []

    def record(
        self,
        function: str,
        info: pulumi.Input[Mapping[str, object]],
        *,
        weighted_alarm_names: Sequence[pulumi.Input[str]] = (),
    ) -> None:
        self.releases[function] = info
        self.weighted_alarm_names.extend(weighted_alarm_names)


class ServiceEndpoints(Protocol):
    """Gives VPC-attached functions a network path to the AWS APIs their roles let them call."""

    def require(self, api: str) -> None:
        """Make sure the VPC's functions reach the API of IAM prefix ``api`` (``lambda``, ``sqs``...).

        Idempotent: the first request declares the interface endpoint (private DNS, the shared
        subnets and endpoint security group); S3 and DynamoDB go through the gateway endpoints.
        """
        ...


class OnPremProxy(Protocol):
    """The forward proxy to on-prem that VPC-attached functions reach over PrivateLink (``onPrem``)."""

    #: ``http://proxy.<prefix>.internal:<port>``: what a client's ``HTTP_PROXY``/``HTTPS_PROXY`` is.
    url: str

    def allows(self, url: str) -> bool:
        """Whether the proxies let a request for ``url`` through (its host and port are destinations)."""
        ...

    def admit_functions(self) -> None:
        """Open the shared Lambda security group to the proxy endpoint on the proxy port (idempotent)."""
        ...


@dataclass(frozen=True, kw_only=True)
class VpcAttachment:
    """Where VPC-attached functions go: the same subnets and one shared security group, so that
    Lambda's Hyperplane ENIs (one per subnet + security group combination) are shared by all.

    A VPC function reaches AWS only through the VPC's endpoints (no NAT), so each grant that lets
    its code call an AWS API asks ``endpoints`` for that API's endpoint.
    """

    subnet_ids: pulumi.Input[Sequence[str]]
    security_group_id: pulumi.Input[str]
    endpoints: ServiceEndpoints


class MetricAlarmActions(TypedDict):
    """The action keywords of ``aws.cloudwatch.MetricAlarm``: typed, so ``**`` keeps the SDK's type checks."""

    alarm_actions: list[pulumi.Input[str]]
    ok_actions: list[pulumi.Input[str]]


@dataclass(frozen=True, kw_only=True)
class AlarmActions:
    """What every alarm does when its state changes: the one place that says so.

    An alarm without actions changes colour in the console and tells nobody; CodeDeploy reading
    the same alarms is no substitute, it only rolls back. Both ALARM and OK go to the platform's
    notification topic, so whoever was paged also learns that it is over.
    """

    #: The platform notification topic (KMS-encrypted; its key and policy let CloudWatch publish).
    topic_arn: pulumi.Input[str]

    def metric_alarm_args(self) -> MetricAlarmActions:
        """Keyword arguments for ``aws.cloudwatch.MetricAlarm`` (and ``CompositeAlarm``)."""
        return {"alarm_actions": [self.topic_arn], "ok_actions": [self.topic_arn]}


@dataclass(frozen=True, kw_only=True)
class Platform:
    """Everything a service needs from the shared platform."""

    context: StackContext
    kms_key_arn: pulumi.Input[str]
    log_groups: LogGroups
    #: Every alarm a service or the function component declares takes its actions from here.
    alarm_actions: AlarmActions
    vpc: VpcAttachment | None = None
    #: The proxy to on-prem (``onPrem.enabled``); functions opt in with ``FunctionArgs.use_onprem_proxy``.
    onprem_proxy: OnPremProxy | None = None
    event_rules: EventRules | None = None
    event_bus_name: pulumi.Input[str] | None = None
    event_bus_arn: pulumi.Input[str] | None = None
    #: Secret name (as in stack config) -> secret ARN.
    secret_arns: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    #: Where a function's ``grant_secret_read`` also registers its role as a reader of the secret.
    secret_access: SecretAccess | None = None
    #: Where each function records its release (exported as the ``releases`` stack output).
    releases: ReleaseRegistry = field(default_factory=ReleaseRegistry)
    #: What an API Gateway stage that writes CloudWatch logs (access logs, or method settings with a
    #: logging level) must be created after: the account-level CloudWatch role setting, which API
    #: Gateway requires before it accepts such a stage. Empty where the stack does not manage that
    #: setting (``logging.manageApiGatewayAccount: false``): the role must then already be set.
    api_logging_depends_on: Sequence[pulumi.Resource] = ()
    #: S3 server access logs of every bucket a service declares; ``None``: the stack keeps none.
    access_logs: ServerAccessLogs | None = None
    #: Web ACLs in front of the services' public APIs (``waf``); ``None``: no API is protected.
    firewall: WebFirewalls | None = None
    #: Signed function packages (``codeSigning``); ``None``: functions deploy their local archive unchecked.
    code_packages: CodePackages | None = None
