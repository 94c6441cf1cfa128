"""The one Lambda function component every service uses: role, logs, tracing, layer, versions, aliases, releases.

Everything that targets the function (event sources, API integrations, permissions, async
invocation config) targets the ``live`` alias, never ``$LATEST``, so a release is a version
behind an alias that can shift gradually and roll back. See ``docs/releases.md``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws

from arcblueprint import code_calls
from arcblueprint.config.model import ReleaseSpec
from arcblueprint.events import source_of
from arcblueprint.planning.proxy_config import client_environment
from arcblueprint.planning.releases import (
    LIVE_ALIAS,
    PREVIOUS_ALIAS,
    alias_weights,
    live_version,
    plan_release,
    previous_version,
)
from arcblueprint.platform.functions import grants
from arcblueprint.platform.functions.archive import code_archive
from arcblueprint.platform.functions.deployment import CodeDeployRelease, CodeDeployReleaseArgs
from arcblueprint.platform.functions.layers import powertools_layer_arn
from arcblueprint.service_facts import ASYNC_INVOKERS, service_trust_policy

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from arcblueprint.platform.handles import Platform

__all__ = [
    "ASYNC_INVOKERS",
    "HOOKS_DIR",
    "AsyncInvocation",
    "FunctionArgs",
    "ServerlessFunction",
    "SqsSource",
    "StreamSource",
]

#: The generic CodeDeploy traffic hook shipped with the blueprint.
HOOKS_DIR = Path(__file__).resolve().parent / "hooks"
#: The package whose handlers are the blueprint's own (anything else is a team's ``codeDir``).
BLUEPRINT_PACKAGE = Path(__file__).resolve().parents[2]
#: AWSCodeDeployRoleForLambdaLimited lets CodeDeploy invoke only functions named like this.
HOOK_NAME_PREFIX = "CodeDeployHook_"
#: Environment variable names Lambda reserves for itself.
_RESERVED_ENV = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
        "AWS_LAMBDA_RUNTIME_API",
    }
)
_LAMBDA_LOG_LEVELS = {"DEBUG": "DEBUG", "INFO": "INFO", "WARNING": "WARN", "ERROR": "ERROR"}


def _check_range(owner: str, name: str, value: int | None, low: int, high: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{owner}.{name} = {value!r} is invalid: must be a whole number from {low} to {high}")


@dataclass(frozen=True, kw_only=True)
class AsyncInvocation:
    """Retries and failure destination for asynchronous invocations (EventBridge, SNS, S3, schedules, direct).

    Without them Lambda retries a failed event twice, keeps it queued up to six hours, then drops it.
    """

    #: default: the stack's ``functions.asyncMaximumRetryAttempts``.
    maximum_retry_attempts: int | None = None
    #: default: the stack's ``functions.asyncMaximumEventAgeSeconds``.
    maximum_event_age_seconds: int | None = None
    #: default: the component creates an SQS queue encrypted with the platform key.
    on_failure_queue_arn: pulumi.Input[str] | None = None

    def __post_init__(self) -> None:
        _check_range("AsyncInvocation", "maximum_retry_attempts", self.maximum_retry_attempts, 0, 2)
        _check_range("AsyncInvocation", "maximum_event_age_seconds", self.maximum_event_age_seconds, 60, 21600)


@dataclass(frozen=True, kw_only=True)
class SqsSource:
    """An SQS queue polled by the function's ``live`` alias, with partial batch responses."""

    queue_arn: pulumi.Input[str]
    batch_size: int = 10
    maximum_batching_window_seconds: int = 0
    #: default: no limit; set it to protect a downstream (the function is then tagged ``protected-downstream``).
    maximum_concurrency: int | None = None

    def __post_init__(self) -> None:
        _check_range("SqsSource", "batch_size", self.batch_size, 1, 10000)
        _check_range("SqsSource", "maximum_batching_window_seconds", self.maximum_batching_window_seconds, 0, 300)
        _check_range("SqsSource", "maximum_concurrency", self.maximum_concurrency, 2, 1000)
        if self.batch_size > 10 and self.maximum_batching_window_seconds < 1:
            raise ValueError(
                f"SqsSource.batch_size = {self.batch_size} is invalid: "
                "batches above 10 need maximum_batching_window_seconds of at least 1"
            )


@dataclass(frozen=True, kw_only=True)
class StreamSource:
    """A Kinesis stream (or enhanced fan-out consumer) or DynamoDB stream read by the ``live`` alias."""

    stream_arn: pulumi.Input[str]
    batch_size: int = 100
    starting_position: str = "LATEST"
    maximum_batching_window_seconds: int = 0
    parallelization_factor: int = 1
    bisect_batch_on_function_error: bool = True
    maximum_record_age_seconds: int = 3600
    maximum_retry_attempts: int = 3
    #: SQS queue or SNS topic for records that still fail (the policy pack requires one).
    on_failure_destination_arn: pulumi.Input[str] | None = None
    #: Lambda event filtering: only records matching one of these patterns (JSON) invoke the function;
    #: default: every record.
    filter_patterns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_range("StreamSource", "batch_size", self.batch_size, 1, 10000)
        _check_range("StreamSource", "maximum_batching_window_seconds", self.maximum_batching_window_seconds, 0, 300)
        _check_range("StreamSource", "parallelization_factor", self.parallelization_factor, 1, 10)
        _check_range("StreamSource", "maximum_retry_attempts", self.maximum_retry_attempts, -1, 10000)
        if self.maximum_record_age_seconds != -1:
            _check_range("StreamSource", "maximum_record_age_seconds", self.maximum_record_age_seconds, 60, 604800)
        for pattern in self.filter_patterns:
            json.loads(pattern)  # a malformed filter fails here, not in CreateEventSourceMapping
        if self.starting_position not in ("LATEST", "TRIM_HORIZON"):
            raise ValueError(
                f"StreamSource.starting_position = {self.starting_position!r} is invalid: "
                "must be LATEST or TRIM_HORIZON"
            )


@dataclass(frozen=True, kw_only=True)
class FunctionArgs:
    """What one function needs; everything else comes from the platform and the stack config."""

    platform: Platform
    #: Service name: tags, ``POWERTOOLS_SERVICE_NAME``, metrics namespace ``<namingPrefix>/<service>``.
    service: str
    #: Handler folder; only its own files are packaged.
    code_dir: Path
    handler: str = "app.lambda_handler"
    description: str = ""
    #: default: stack ``functions.memoryMib``.
    memory_mib: int | None = None
    #: default: stack ``functions.timeoutSeconds``.
    timeout_seconds: int | None = None
    #: default: unreserved. Reserving protects a downstream (tag ``protected-downstream=true``).
    reserved_concurrency: int | None = None
    #: Plain configuration only; secrets come from Secrets Manager through ``grant_secret_read``.
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    #: default: not in a VPC. ``True``: the platform's subnets and its one shared security group; each
    #: grant then asks the platform's network for the endpoint of the API it lets the code call.
    attach_to_vpc: bool = False
    #: default: no proxy. ``True`` (needs ``attach_to_vpc`` and ``onPrem.enabled``): the function's HTTP(S)
    #: goes through the on-prem proxy (``HTTP_PROXY``/``HTTPS_PROXY``; ``NO_PROXY`` keeps every AWS API,
    #: metadata and the runtime API direct) and the shared Lambda security group may reach the proxy
    #: endpoint. A flag rather than a method called later: the environment is an input of the function.
    use_onprem_proxy: bool = False
    #: default: the stack's ``releases``.
    release: ReleaseSpec | None = None
    #: default: no async config until something invokes the function asynchronously: the platform's
    #: event rules, :meth:`ServerlessFunction.allow_invoke` for an asynchronous caller and
    #: :meth:`ServerlessFunction.invoked_asynchronously` add one (with these settings when given).
    async_invocation: AsyncInvocation | None = None
    #: CodeDeploy hook functions (canary and linear only).
    pre_traffic_hook: bool = False
    post_traffic_hook: bool = False
    #: JSON event the hooks invoke the new version with; default: a ``DryRun`` invocation only.
    smoke_event: str | None = None
    #: default: ``<namingPrefix>-<resource name>``.
    function_name: str | None = None
    #: Set when an event source's ``maximum_concurrency`` (added later) protects a downstream.
    protects_downstream: bool = False
    #: The function publishes its service's domain events on the platform bus: ``PutEvents`` for the
    #: service's own source only (``arcblueprint.<service>``), its role named in the bus policy, and
    #: ``EVENT_BUS_NAME``/``EVENT_SOURCE`` set for ``handler_lib/domain_events.py``.
    publishes_domain_events: bool = False
    #: Lambda SnapStart on published versions (what ``live`` points at): init runs once when a version is
    #: published and new environments resume from its snapshot. Python 3.12+ only; AWS rejects it with
    #: provisioned concurrency, EFS or more than 512 MB of ephemeral storage (rule ``snapstart-supported``).
    #: The handler must create nothing unique at import (``handler_lib/snapstart.py`` reseeds ``random``).
    snap_start: bool = False
    #: Extra tags, added to the stack's tags on every child.
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_range("FunctionArgs", "memory_mib", self.memory_mib, 128, 10240)
        _check_range("FunctionArgs", "timeout_seconds", self.timeout_seconds, 1, 900)
        _check_range("FunctionArgs", "reserved_concurrency", self.reserved_concurrency, 0, 100000)
        for name in self.environment:
            if name in _RESERVED_ENV or not name or not name[0].isalpha():
                raise ValueError(
                    f"FunctionArgs.environment key {name!r} is invalid: Lambda reserves it "
                    "or it does not start with a letter"
                )
        if (self.pre_traffic_hook or self.post_traffic_hook) and self.smoke_event is not None:
            json.loads(self.smoke_event)  # fails here rather than in the hook


class ServerlessFunction(pulumi.ComponentResource):
    """A Lambda function released through versions and a ``live`` alias.

    Attributes
    ----------
    role : aws.iam.Role
        The function's own role; each grant adds one inline policy to it.
    log_group : aws.cloudwatch.LogGroup
        ``/aws/lambda/<name>`` from the platform: retention, KMS, subscription to the sink.
    function : aws.lambda_.Function
        ``publish=True``, tracing Active, Powertools public layer, JSON logs to ``log_group``.
    alias : aws.lambda_.Alias
        ``live``: what event sources, integrations and permissions target.
    alarms : list[aws.cloudwatch.MetricAlarm]
        Errors, throttles and p99 duration of the alias; CodeDeploy rolls back on them, and their
        ALARM and OK transitions notify the platform topic (``platform.alarm_actions``).
    release_info : pulumi.Output[dict]
        What the CI driver needs to run the release (see ``docs/releases.md``).
    """

    def __init__(self, name: str, args: FunctionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("arcblueprint:functions:ServerlessFunction", name, None, opts)
        platform = args.platform
        ctx = platform.context
        stack = ctx.stack
        defaults = stack.functions
        self._name = name
        self._platform = platform
        self._service = args.service
        self._policy_counts: dict[str, int] = {}
        #: Where grants ask for the endpoints of the APIs they let the code call (VPC functions only).
        self._endpoints = platform.vpc.endpoints if args.attach_to_vpc and platform.vpc is not None else None
        #: The stack's releases, the service's ``release`` block and this function's state (``releases.functions``).
        self.release_spec = args.release or stack.release_for(args.service, name)
        self.plan = plan_release(self.release_spec, key=f"releases.functions.{name}")
        plan = self.plan
        if (args.pre_traffic_hook or args.post_traffic_hook) and not plan.uses_codedeploy:
            raise ValueError(f"{name}: traffic hooks need a canary or linear release, not {plan.strategy!r}")
        if args.attach_to_vpc and platform.vpc is None:
            raise ValueError(f"{name}: attach_to_vpc is set but the platform has no VPC (platform.vpc is None)")
        if args.use_onprem_proxy and not args.attach_to_vpc:
            raise ValueError(f"{name}: use_onprem_proxy needs attach_to_vpc (the proxy endpoint is in the VPC)")
        if args.publishes_domain_events and (platform.event_rules is None or platform.event_bus_name is None):
            raise ValueError(f"{name}: publishes_domain_events is set but the platform has no event bus")
        protects_downstream = args.protects_downstream or args.reserved_concurrency is not None
        self.physical_name = args.function_name or ctx.name(name)
        #: The AWS actions the code calls (``permissions.json`` next to the handler): no grant exceeds them.
        self.code_calls: frozenset[str] = frozenset(code_calls.declared_calls(args.code_dir))
        self._runs_blueprint_code = Path(args.code_dir).resolve().is_relative_to(BLUEPRINT_PACKAGE)
        self.tags: dict[str, str] = {**ctx.tags(args.service), **args.tags, "release-strategy": plan.strategy}
        if protects_downstream:
            self.tags["protected-downstream"] = "true"
        child = pulumi.ResourceOptions(parent=self)

        self.log_group = platform.log_groups.log_group(
            f"{name}-logs", f"/aws/lambda/{self.physical_name}", service=args.service, parent=self
        )
        self.role = aws.iam.Role(
            f"{name}-role",
            name=ctx.name(name, "fn", max_length=64),
            description=f"Runs {self.physical_name}",
            assume_role_policy=service_trust_policy("lambda.amazonaws.com", account_id=stack.account_id),
            tags=self.tags,
            opts=child,
        )
        self.role_arn: pulumi.Output[str] = self.role.arn
        base_policies = [
            self._grant("logs", grants.log_write, self.log_group.arn),
            self._grant("xray", grants.xray_write),
            self._grant("env-key", grants.env_decrypt, platform.kms_key_arn),
        ]
        # A team's code that does not call PutEvents does not become a producer of the service's source.
        if args.publishes_domain_events and (self._runs_blueprint_code or "events:PutEvents" in self.code_calls):
            assert platform.event_rules is not None
            # The bus policy names this role, for this source only; the role's own policy says the same.
            source = platform.event_rules.register_producer(service=args.service, role_arn=self.role.arn)
            base_policies.append(self.grant_put_events(source=source))
        vpc_config = None
        if args.attach_to_vpc:
            assert platform.vpc is not None
            base_policies.append(self._grant("vpc", grants.vpc_network_interfaces))
            vpc_config = aws.lambda_.FunctionVpcConfigArgs(
                subnet_ids=platform.vpc.subnet_ids, security_group_ids=[platform.vpc.security_group_id]
            )

        environment = {
            **args.environment,
            # Required values last, so a caller cannot switch off what the platform relies on.
            **(self._use_onprem_proxy() if args.use_onprem_proxy else {}),
            "POWERTOOLS_SERVICE_NAME": args.service,
            "POWERTOOLS_METRICS_NAMESPACE": f"{stack.naming_prefix}/{args.service}",
            "POWERTOOLS_LOG_LEVEL": defaults.log_level,
            "POWERTOOLS_DEV": "false",
        }
        if args.publishes_domain_events:
            assert platform.event_bus_name is not None
            environment.update({"EVENT_BUS_NAME": platform.event_bus_name, "EVENT_SOURCE": source_of(args.service)})
        powertools = powertools_layer_arn(
            stack.region,
            architecture=defaults.architecture,
            runtime=defaults.runtime,
            version=defaults.powertools_layer_version,
        )
        self.function = aws.lambda_.Function(
            f"{name}-function",
            name=self.physical_name,
            description=args.description or f"{args.service}: {name}",
            role=self.role.arn,
            runtime=defaults.runtime,
            handler=args.handler,
            # Signed packages where the stack enforces code signing (platform/code_signing.py), else the archive.
            **(
                packages.code(args.code_dir, args.handler)
                if (packages := platform.code_packages) is not None
                else {"code": code_archive(args.code_dir, args.handler)}
            ),
            code_signing_config_arn=packages.code_signing_config_arn if packages is not None else None,
            architectures=[defaults.architecture],
            # A tuned per-function value (``blueprint tune``) wins over the service's and the stack's.
            memory_size=defaults.memory_mib_by_function.get(name) or args.memory_mib or defaults.memory_mib,
            timeout=args.timeout_seconds or defaults.timeout_seconds,
            reserved_concurrent_executions=args.reserved_concurrency,
            publish=True,
            # AWS's public layer is unsigned: where code signing enforces, the stack's signed copy of it.
            layers=[
                packages.layer(powertools, runtime=defaults.runtime, architecture=defaults.architecture)
                if packages is not None
                else powertools
            ],
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active"),
            snap_start=aws.lambda_.FunctionSnapStartArgs(apply_on="PublishedVersions") if args.snap_start else None,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=environment),
            kms_key_arn=platform.kms_key_arn,
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                log_format="JSON",
                log_group=self.log_group.name,
                application_log_level=_LAMBDA_LOG_LEVELS[defaults.log_level],
                system_log_level="WARN",
            ),
            vpc_config=vpc_config,
            # The allow-list travels with the function: the pack compares the role's grants with it.
            tags={**self.tags, **code_calls.to_tags(self.code_calls)},
            # The log group and the role's log permission exist before the first invocation, so
            # Lambda never creates an unencrypted, never-expiring group of its own.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[self.log_group, *(policy for policy in base_policies if policy)]
            ),
        )
        self.function_name: pulumi.Output[str] = self.function.name
        self.version: pulumi.Output[str] = self.function.version

        self.alias = self._live_alias(name)
        self.alias_arn: pulumi.Output[str] = self.alias.arn
        self.alias_invoke_arn: pulumi.Output[str] = self.alias.invoke_arn
        self.aliases: dict[str, aws.lambda_.Alias] = {LIVE_ALIAS: self.alias}
        if plan.strategy == "blue-green" and plan.has_previous:
            self.aliases[PREVIOUS_ALIAS] = aws.lambda_.Alias(
                f"{name}-alias-{PREVIOUS_ALIAS}",
                name=PREVIOUS_ALIAS,
                function_name=self.function.name,
                function_version=self.function.version.apply(lambda version: previous_version(plan, version)),
                description="the version live pointed at before this release (blue-green rollback target)",
                opts=child,
            )
        for extra in plan.extra_aliases:
            self.aliases[extra] = aws.lambda_.Alias(
                f"{name}-alias-{extra}",
                name=extra,
                function_name=self.function.name,
                function_version=self.function.version,
                description="the newest published version",
                opts=child,
            )

        self.alarms = self._alarms(name, self.release_spec)
        self.codedeploy: CodeDeployRelease | None = None
        self.hooks: dict[str, ServerlessFunction] = {}
        if plan.uses_codedeploy:
            self.codedeploy = CodeDeployRelease(
                f"{name}-release",
                CodeDeployReleaseArgs(
                    context=ctx,
                    service=args.service,
                    base_name=self.physical_name,
                    plan=plan,
                    alarm_names=[alarm.name for alarm in self.alarms],
                    tags=self.tags,
                ),
                opts=child,
            )
            if args.pre_traffic_hook:
                self.hooks["BeforeAllowTraffic"] = self._hook(name, args, "pre", self.function.qualified_arn)
            if args.post_traffic_hook:
                self.hooks["AfterAllowTraffic"] = self._hook(name, args, "post", self.alias.arn)

        self.dead_letter_queue: aws.sqs.Queue | None = None
        self.async_config: aws.lambda_.FunctionEventInvokeConfig | None = None
        self._async_settings = args.async_invocation
        if args.async_invocation is not None:
            self.invoked_asynchronously()

        self.release_info: pulumi.Output[dict[str, Any]] = self._release_info()
        # The CI driver reads these from the stack outputs: CodeDeploy targets, and the alarms that
        # gate a weighted canary's promotion.
        weighted = self.plan.strategy == "weighted-canary"
        platform.releases.record(
            name, self.release_info, weighted_alarm_names=[alarm.name for alarm in self.alarms] if weighted else []
        )
        self.register_outputs(
            {
                "functionName": self.function_name,
                "aliasArn": self.alias_arn,
                "roleArn": self.role_arn,
                "releaseInfo": self.release_info,
            }
        )

    def _use_onprem_proxy(self) -> dict[str, str]:
        """The proxy environment, after opening the shared Lambda security group to the proxy endpoint."""
        proxy = self._platform.onprem_proxy
        if proxy is None:
            raise ValueError(
                f"{self._name}: use_onprem_proxy is set but the platform has no on-prem proxy (onPrem.enabled is false)"
            )
        proxy.admit_functions()
        return client_environment(proxy.url)

    # ----------------------------------------------------------------------------------- releases

    def _live_alias(self, name: str) -> aws.lambda_.Alias:
        plan = self.plan
        description = f"live traffic ({plan.strategy})"
        if plan.uses_codedeploy:
            # Created at the first published version, then moved only by CodeDeploy deployments.
            return aws.lambda_.Alias(
                f"{name}-alias-{LIVE_ALIAS}",
                name=LIVE_ALIAS,
                function_name=self.function.name,
                function_version=self.function.version,
                description=description,
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=["function_version", "routing_config"]),
            )
        routing = None
        if plan.strategy == "weighted-canary":
            routing = self.function.version.apply(
                lambda version: (
                    aws.lambda_.AliasRoutingConfigArgs(additional_version_weights=weights)
                    if (weights := alias_weights(plan, version))
                    else None
                )
            )
        return aws.lambda_.Alias(
            f"{name}-alias-{LIVE_ALIAS}",
            name=LIVE_ALIAS,
            function_name=self.function.name,
            function_version=self.function.version.apply(lambda version: live_version(plan, version)),
            routing_config=routing,
            description=description,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _alarms(self, name: str, spec: ReleaseSpec) -> list[aws.cloudwatch.MetricAlarm]:
        dimensions = {
            "FunctionName": self.function.name,
            "Resource": self.function.name.apply(lambda fn: f"{fn}:{LIVE_ALIAS}"),
        }
        ctx = self._platform.context

        def alarm(
            suffix: str,
            metric_name: str,
            threshold: float,
            comparison_operator: str,
            *,
            statistic: str | None = None,
            extended_statistic: str | None = None,
        ) -> aws.cloudwatch.MetricAlarm:
            return aws.cloudwatch.MetricAlarm(
                f"{name}-alarm-{suffix}",
                name=ctx.name(name, suffix, max_length=255),
                alarm_description=f"{self.physical_name}:{LIVE_ALIAS} {suffix}; stops and rolls back a release",
                namespace="AWS/Lambda",
                metric_name=metric_name,
                statistic=statistic,
                extended_statistic=extended_statistic,
                threshold=threshold,
                comparison_operator=comparison_operator,
                period=60,
                evaluation_periods=1,
                datapoints_to_alarm=1,
                treat_missing_data="notBreaching",
                dimensions=dimensions,
                tags=self.tags,
                **self._platform.alarm_actions.metric_alarm_args(),
                opts=pulumi.ResourceOptions(parent=self),
            )

        return [
            alarm("errors", "Errors", spec.error_alarm_threshold, "GreaterThanOrEqualToThreshold", statistic="Sum"),
            alarm(
                "throttles",
                "Throttles",
                spec.throttle_alarm_threshold,
                "GreaterThanOrEqualToThreshold",
                statistic="Sum",
            ),
            alarm(
                "p99-duration", "Duration", spec.p99_duration_alarm_ms, "GreaterThanThreshold", extended_statistic="p99"
            ),
        ]

    def _hook(self, name: str, args: FunctionArgs, phase: str, target_arn: pulumi.Input[str]) -> ServerlessFunction:
        assert self.codedeploy is not None
        event = "BeforeAllowTraffic" if phase == "pre" else "AfterAllowTraffic"
        environment: dict[str, pulumi.Input[str]] = {"TARGET_FUNCTION_ARN": target_arn, "HOOK_EVENT": event}
        if args.smoke_event:
            environment["SMOKE_EVENT"] = args.smoke_event
        hook = ServerlessFunction(
            f"{name}-{phase}-hook",
            FunctionArgs(
                platform=self._platform,
                service=args.service,
                code_dir=HOOKS_DIR,
                handler="app.lambda_handler",
                description=f"CodeDeploy {event} hook of {self.physical_name}",
                timeout_seconds=60,
                environment=environment,
                release=ReleaseSpec(strategy="all-at-once"),
                attach_to_vpc=args.attach_to_vpc,
                function_name=HOOK_NAME_PREFIX
                + self._platform.context.name(name, phase, max_length=64 - len(HOOK_NAME_PREFIX)),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        hook._grant("hook-status", grants.codedeploy_hook_status, self.codedeploy.deployment_group_arn)
        hook.grant_invoke(target_arn)
        return hook

    def invoked_asynchronously(self) -> aws.lambda_.FunctionEventInvokeConfig:
        """Give asynchronous invocations of the ``live`` alias a failure path: bounded retries and event
        age, then the on-failure queue (idempotent: the first call creates it, later calls return it).

        Everything that invokes the function asynchronously calls this (the platform's event rules,
        :meth:`allow_invoke` for EventBridge, SNS, S3..., the schedules of a service); a caller the
        stack cannot see (another account, ``InvocationType=Event`` from code) passes
        ``FunctionArgs.async_invocation``.
        """
        if self.async_config is None:
            self._async_invocation(self._name, self._async_settings or AsyncInvocation())
        assert self.async_config is not None
        return self.async_config

    def _async_invocation(self, name: str, config: AsyncInvocation) -> None:
        ctx = self._platform.context
        defaults = ctx.stack.functions
        queue_arn = config.on_failure_queue_arn
        if queue_arn is None:
            self.dead_letter_queue = aws.sqs.Queue(
                f"{name}-dlq",
                name=ctx.name(name, "dlq", max_length=80),
                kms_master_key_id=self._platform.kms_key_arn,
                kms_data_key_reuse_period_seconds=300,
                message_retention_seconds=1209600,  # 14 days, the most SQS keeps
                tags=self.tags,
                opts=ctx.stateful(pulumi.ResourceOptions(parent=self)),
            )
            queue_arn = self.dead_letter_queue.arn
        # Lambda, not the code, sends failed events there (an on-behalf grant, no endpoint needed).
        send = self._grant("queue-send", grants.failure_destination, queue_arn, kms="encrypt")
        self.async_config = aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-async",
            function_name=self.function.name,
            qualifier=self.alias.name,
            maximum_retry_attempts=(
                config.maximum_retry_attempts
                if config.maximum_retry_attempts is not None
                else defaults.async_maximum_retry_attempts
            ),
            maximum_event_age_in_seconds=config.maximum_event_age_seconds or defaults.async_maximum_event_age_seconds,
            destination_config=aws.lambda_.FunctionEventInvokeConfigDestinationConfigArgs(
                on_failure=aws.lambda_.FunctionEventInvokeConfigDestinationConfigOnFailureArgs(destination=queue_arn)
            ),
            # Lambda checks the role may send to the destination when the config is saved.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[send] if send is not None else []),
        )

    def _release_info(self) -> pulumi.Output[dict[str, Any]]:
        plan, deploy = self.plan, self.codedeploy
        hooks = {event: hook.alias_arn for event, hook in self.hooks.items()}
        return pulumi.Output.all(
            function_name=self.function.name,
            version=self.function.version,
            alarms=pulumi.Output.all(*[alarm.name for alarm in self.alarms]),
            hooks=pulumi.Output.all(**hooks),
        ).apply(
            lambda v: {
                "service": self._service,
                "functionName": v["function_name"],
                "alias": LIVE_ALIAS,
                "targetVersion": v["version"],
                "strategy": plan.strategy,
                "applicationName": deploy.application_name if deploy else None,
                "deploymentGroupName": deploy.deployment_group_name if deploy else None,
                "deploymentConfigName": deploy.deployment_config_name if deploy else None,
                "alarmNames": list(v["alarms"]),
                "hooks": dict(v["hooks"]),
                "previousVersion": previous_version(plan, v["version"]),
                "rollback": plan.rollback,
                "canaryWeightPercent": plan.canary_weight_percent,
                "weightedSteps": [step.percent for step in plan.steps] if plan.strategy == "weighted-canary" else [],
                "extraAliases": list(plan.extra_aliases),
            }
        )

    # ------------------------------------------------------------------------------------- grants

    def _grant(
        self,
        suffix: str,
        build: Callable[..., list[grants.Statement]],
        *arns: pulumi.Input[str],
        kms: str | None = None,
        actions: Sequence[str] | None = None,
        **options: Any,
    ) -> aws.iam.RolePolicy | None:
        """One inline policy with the statements ``build`` makes from the resolved ``arns``.

        Of what a grant to the code offers (:func:`grants.offers_of`), the policy keeps only the
        actions the code declares in its ``permissions.json`` (and, with ``actions``, only those of
        them, for one resource the code uses less of): a grant of nothing the code calls is an error for the
        blueprint's own handlers and no policy (``None``) for a team's ``codeDir``.
        ``kms`` (``"decrypt"``/``"encrypt"``) adds the platform key for the service's server-side
        encryption (decrypt only when the kept actions only read); the service calls KMS, so those
        statements are marked on-behalf. In a VPC, the API ``build`` declares (:func:`grants.api_of`)
        gets its endpoint now, before any ARN is known.
        """
        keep = self._kept_actions(build, actions)
        if keep is not None and not keep:
            return None
        if keep is not None and kms == "encrypt" and keep <= frozenset(grants.TABLE_READ_ACTIONS):
            kms = "decrypt"  # reads need the key to decrypt, never to generate data keys
        api = grants.api_of(build)
        if api is not None and self._endpoints is not None:
            self._endpoints.require(api)
        count = self._policy_counts.get(suffix, 0) + 1
        self._policy_counts[suffix] = count
        policy_name = suffix if count == 1 else f"{suffix}-{count}"
        inputs = [*arns, self._platform.kms_key_arn] if kms else list(arns)

        def document(values: list[str]) -> str:
            statements = build(*values[: len(arns)], **options)
            if keep is not None:
                statements = grants.narrowed(statements, keep)
            if kms:
                statements = statements + grants.on_behalf(grants.kms_use(values[-1], encrypt=kms == "encrypt"))
            return json.dumps(grants.policy_document(statements))

        return aws.iam.RolePolicy(
            f"{self._name}-{policy_name}",
            name=policy_name,
            role=self.role.id,
            policy=pulumi.Output.all(*inputs).apply(document),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _kept_actions(
        self, build: Callable[..., list[grants.Statement]], actions: Sequence[str] | None
    ) -> frozenset[str] | None:
        """What a grant keeps of what ``build`` offers the code: the declared calls (``None``: not a grant to
        the code, kept whole)."""
        offers = grants.offers_of(build)
        if offers is None:
            if actions is not None:
                raise grants.GrantError(f"{self._name}: {build.__name__} is not a grant to the code; drop actions")
            return None
        if actions is not None and not set(actions) <= offers:
            raise grants.GrantError(
                f"{self._name}: actions {sorted(set(actions) - offers)} are not among what {build.__name__} offers "
                f"({', '.join(sorted(offers))})"
            )
        keep = offers & self.code_calls & (frozenset(actions) if actions is not None else offers)
        if not keep and not self._runs_blueprint_code:
            # A team's code in place of the pattern's handler calls less than the pattern grants: the role
            # simply gets none of it (least privilege), where the blueprint's own handler would be a drift.
            return frozenset()
        if not keep:
            raise grants.GrantError(
                f"{self._name}: {build.__name__} offers {', '.join(sorted(offers))}, none of which the code declares "
                f"in {code_calls.PERMISSIONS_FILE} (declared: {', '.join(sorted(self.code_calls)) or 'none'}); "
                "drop the grant or declare the call"
            )
        return keep

    def grant_table_read(
        self, table_arn: pulumi.Input[str], *, actions: Sequence[str] | None = None
    ) -> aws.iam.RolePolicy | None:
        """Read items of one table (and its indexes): the reads the code declares, or ``actions`` of them."""
        return self._grant("table-read", grants.table_read, table_arn, kms="decrypt", actions=actions)

    def grant_table_read_write(
        self, table_arn: pulumi.Input[str], *, actions: Sequence[str] | None = None
    ) -> aws.iam.RolePolicy | None:
        """Read and write items of one table: the item actions the code declares, or ``actions`` of them
        (a table the code only updates gets ``UpdateItem``, not the eight item actions)."""
        return self._grant("table-read-write", grants.table_read_write, table_arn, kms="encrypt", actions=actions)

    def grant_queue_send(self, queue_arn: pulumi.Input[str]) -> aws.iam.RolePolicy | None:
        return self._grant("queue-send", grants.queue_send, queue_arn, kms="encrypt")

    def grant_queue_consume(self, queue_arn: pulumi.Input[str]) -> aws.iam.RolePolicy:
        """What Lambda's poller needs for an SQS event source (used by :meth:`add_sqs_source`)."""
        policy = self._grant("queue-consume", grants.queue_consume, queue_arn, kms="decrypt")
        assert policy is not None, "Lambda's poller uses it, whatever the code calls: always declared"
        return policy

    def grant_topic_publish(self, topic_arn: pulumi.Input[str]) -> aws.iam.RolePolicy | None:
        return self._grant("topic-publish", grants.topic_publish, topic_arn, kms="encrypt")

    def grant_stream_read(self, stream_arn: pulumi.Input[str]) -> aws.iam.RolePolicy | None:
        """What Lambda's poller needs for a stream event source (used by :meth:`add_stream_source`)."""
        return self._grant("stream-read", grants.stream_read, stream_arn, kms="decrypt")

    def grant_stream_write(self, stream_arn: pulumi.Input[str]) -> aws.iam.RolePolicy | None:
        return self._grant("stream-write", grants.stream_write, stream_arn, kms="encrypt")

    def grant_put_events(
        self, bus_arn: pulumi.Input[str] | None = None, *, source: str | None = None
    ) -> aws.iam.RolePolicy | None:
        """Put events on ``bus_arn`` (default: the platform's bus), only of ``source`` when given."""
        bus = bus_arn if bus_arn is not None else self._platform.event_bus_arn
        if bus is None:
            raise ValueError(f"{self._name}: grant_put_events needs a bus ARN (the platform has no event bus)")
        return self._grant("put-events", grants.put_events, bus, kms="encrypt", source=source)

    def grant_secret_read(self, secret_name: str) -> aws.iam.RolePolicy | None:
        """Read the secret named ``secret_name`` in stack config (``secrets:``)."""
        secret_arns = self._platform.secret_arns
        if secret_name not in secret_arns:
            known = ", ".join(sorted(secret_arns)) or "none"
            raise ValueError(f"{self._name}: secret {secret_name!r} is not in the stack's secrets (known: {known})")
        if self._platform.secret_access is not None:  # the secret's resource policy names this role too
            self._platform.secret_access.allow_readers(secret_name, [self.role.arn])
        return self._grant("secret-read", grants.secret_read, secret_arns[secret_name], kms="decrypt")

    def grant_bucket_read(self, bucket_arn: pulumi.Input[str]) -> aws.iam.RolePolicy | None:
        return self._grant("bucket-read", grants.bucket_read, bucket_arn, kms="decrypt")

    def grant_bucket_write(self, bucket_arn: pulumi.Input[str]) -> aws.iam.RolePolicy | None:
        return self._grant("bucket-write", grants.bucket_write, bucket_arn, kms="encrypt")

    def grant_start_execution(self, state_machine_arn: pulumi.Input[str]) -> aws.iam.RolePolicy | None:
        return self._grant("start-execution", grants.start_execution, state_machine_arn, kms="encrypt")

    def grant_invoke(self, function_arn: pulumi.Input[str]) -> aws.iam.RolePolicy | None:
        """Invoke another function's version or alias (a qualified ARN)."""
        return self._grant("invoke", grants.function_invoke, function_arn)

    # ----------------------------------------------------------------------------------- triggers

    @property
    def triggers_enabled(self) -> bool:
        """False while the service's kill switch (``triggersDisabled``) is on: its event source mappings
        are declared disabled (Lambda stops polling; queues and streams keep what arrives)."""
        return not self._platform.context.stack.triggers_disabled(self._service)

    def allow_invoke(self, suffix: str, *, principal: str, source_arn: pulumi.Input[str]) -> aws.lambda_.Permission:
        """Let ``principal`` (``apigateway.amazonaws.com``, ``events.amazonaws.com``...) from ``source_arn``
        invoke the ``live`` alias; a service that invokes asynchronously also gets the function a
        failure path (:meth:`invoked_asynchronously`)."""
        if principal in ASYNC_INVOKERS or principal.startswith("logs."):
            self.invoked_asynchronously()
        return aws.lambda_.Permission(
            f"{self._name}-{suffix}",
            action="lambda:InvokeFunction",
            function=self.function.name,
            qualifier=self.alias.name,
            principal=principal,
            source_arn=source_arn,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def add_sqs_source(self, suffix: str, source: SqsSource) -> aws.lambda_.EventSourceMapping:
        consume = self.grant_queue_consume(source.queue_arn)
        tags = dict(self.tags)
        if source.maximum_concurrency is not None:
            tags["protected-downstream"] = "true"
        return aws.lambda_.EventSourceMapping(
            f"{self._name}-{suffix}",
            enabled=self.triggers_enabled,
            event_source_arn=source.queue_arn,
            function_name=self.alias.arn,
            batch_size=source.batch_size,
            maximum_batching_window_in_seconds=source.maximum_batching_window_seconds or None,
            function_response_types=["ReportBatchItemFailures"],
            scaling_config=aws.lambda_.EventSourceMappingScalingConfigArgs(
                maximum_concurrency=source.maximum_concurrency
            )
            if source.maximum_concurrency
            else None,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[consume]),
        )

    def add_stream_source(self, suffix: str, source: StreamSource) -> aws.lambda_.EventSourceMapping:
        # A grant of nothing is no policy (None): depends_on takes resources only.
        depends = [policy for policy in (self.grant_stream_read(source.stream_arn),) if policy is not None]
        destination = None
        if source.on_failure_destination_arn is not None:
            failure = self._grant(
                "failure-destination", grants.failure_destination, source.on_failure_destination_arn, kms="encrypt"
            )
            if failure is not None:
                depends.append(failure)
            destination = aws.lambda_.EventSourceMappingDestinationConfigArgs(
                on_failure=aws.lambda_.EventSourceMappingDestinationConfigOnFailureArgs(
                    destination_arn=source.on_failure_destination_arn
                )
            )
        return aws.lambda_.EventSourceMapping(
            f"{self._name}-{suffix}",
            enabled=self.triggers_enabled,
            event_source_arn=source.stream_arn,
            function_name=self.alias.arn,
            batch_size=source.batch_size,
            starting_position=source.starting_position,
            maximum_batching_window_in_seconds=source.maximum_batching_window_seconds or None,
            parallelization_factor=source.parallelization_factor,
            bisect_batch_on_function_error=source.bisect_batch_on_function_error,
            maximum_record_age_in_seconds=source.maximum_record_age_seconds,
            maximum_retry_attempts=source.maximum_retry_attempts,
            destination_config=destination,
            filter_criteria=aws.lambda_.EventSourceMappingFilterCriteriaArgs(
                filters=[
                    aws.lambda_.EventSourceMappingFilterCriteriaFilterArgs(pattern=p) for p in source.filter_patterns
                ]
            )
            if source.filter_patterns
            else None,
            function_response_types=["ReportBatchItemFailures"],
            tags=self.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends),
        )
