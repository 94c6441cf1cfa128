"""Lambda: tracing, log retention, concurrency for protected downstreams, async failure handling,
no ``$LATEST`` behind event sources and integrations, supported runtimes, no plaintext secrets."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from arcblueprint.policy.base import (
    ALIAS,
    FUNCTION,
    UNKNOWN,
    dig,
    function_base_name,
    function_reference_is_qualified,
    functions_behind,
    known,
    known_dig,
    known_list,
    number,
    resource_policy,
    resources_of,
    stack_policy,
    tags_of,
)
from arcblueprint.policy.graph import StackGraph
from arcblueprint.service_facts import ASYNC_INVOKERS

if TYPE_CHECKING:
    from pulumi_policy import PolicyResource, ResourceValidationArgs, StackValidationArgs

    from arcblueprint.policy.base import ReportViolation

__all__ = [
    "ASYNC_FAILURE_DESTINATION",
    "CONCURRENCY_FOR_PROTECTED_DOWNSTREAM",
    "FUNCTION_LOG_GROUPS",
    "LOG_GROUP_RETENTION",
    "NO_PLAINTEXT_SECRETS",
    "NO_UNQUALIFIED_INVOCATION",
    "POLICIES",
    "RUNTIME_SUPPORTED",
    "TRACING_ACTIVE",
    "secret_findings",
]

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
EVENT_SOURCE_MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
EVENT_INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
PERMISSION = "aws:lambda/permission:Permission"

#: Runtimes AWS has not deprecated (Lambda runtime deprecation schedule); override via config.
SUPPORTED_RUNTIMES = (
    "python3.12",
    "python3.13",
    "python3.14",
    "nodejs20.x",
    "nodejs22.x",
    "java21",
    "java17",
    "dotnet8",
    "ruby3.3",
    "ruby3.4",
    "provided.al2023",
    "provided.al2",
)


# --- tracing -------------------------------------------------------------------------------------


def validate_tracing_active(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """X-Ray active tracing: every invocation is sampled and traced end to end (Serverless Lens OPS)."""
    mode = dig(args.props, "tracingConfig", "mode")
    if mode != "Active":
        report_violation(f"Lambda function '{args.name}' has tracingConfig.mode {mode!r}; set it to 'Active'.")


TRACING_ACTIVE = resource_policy(
    "lambda-tracing-active",
    "Lambda functions have X-Ray active tracing.",
    validate_tracing_active,
    types=[FUNCTION],
)


# --- log retention -------------------------------------------------------------------------------


def validate_log_group_retention(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Log groups keep logs for a finite number of days (never-expire logs grow cost without bound)."""
    days = number(args.props.get("retentionInDays"))
    if not days:
        report_violation(f"Log group '{args.name}' has no finite retentionInDays; set one (e.g. 30, 90, 365).")
    if not known(args.props, "kmsKeyId"):  # computed from the platform key: set, even while unknown
        report_violation(f"Log group '{args.name}' is not encrypted with a KMS key; set kmsKeyId.")


LOG_GROUP_RETENTION = resource_policy(
    "log-group-retention",
    "CloudWatch log groups have a finite retention and a KMS key.",
    validate_log_group_retention,
    types=[LOG_GROUP],
)


def validate_function_log_groups(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Each function writes to a log group the stack declares, with a finite retention.

    Without it Lambda creates ``/aws/lambda/<name>`` itself on first invocation, with no
    retention and no KMS key, outside the program.
    """
    groups = {
        name: g for g in resources_of(args, LOG_GROUP) if isinstance(name := known(g.props, "name"), str) and name
    }
    unknown_groups = any(known(g.props, "name") is UNKNOWN for g in resources_of(args, LOG_GROUP))
    for function in resources_of(args, FUNCTION):
        custom, own = known_dig(function.props, "loggingConfig", "logGroup"), known(function.props, "name")
        if custom is UNKNOWN or (not custom and own is UNKNOWN):
            continue  # computed at deploy time: judged when it is known
        name = custom or (f"/aws/lambda/{own}" if own else None)
        if name is None:
            report_violation(
                f"Lambda function '{function.name}' has no name, so its log group cannot be "
                "declared; set name or loggingConfig.logGroup.",
                function.urn,
            )
            continue
        group = groups.get(name)
        if group is None and unknown_groups:
            continue  # it may be one of the groups whose name is not known yet
        if group is None:
            report_violation(
                f"Lambda function '{function.name}' logs to '{name}', which the stack does not "
                "declare; declare it with a retention.",
                function.urn,
            )
        elif (days := known(group.props, "retentionInDays")) is not UNKNOWN and not number(days):
            report_violation(
                f"Lambda function '{function.name}' logs to '{name}', which never expires; set retentionInDays.",
                function.urn,
            )


FUNCTION_LOG_GROUPS = stack_policy(
    "lambda-log-group-declared",
    "Every Lambda function's log group is declared with a finite retention.",
    validate_function_log_groups,
)


# --- concurrency for protected downstreams -------------------------------------------------------


def _mappings_of(function: Any, args: StackValidationArgs) -> list[Any]:
    return [
        m
        for m in resources_of(args, EVENT_SOURCE_MAPPING)
        if function in functions_behind(m, "functionName", args.resources)
    ]


def validate_protected_downstream_concurrency(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """A function tagged ``protected-downstream=true`` (it drains a buffer into something that must not be
    flooded: a database, an on-prem system) has reserved concurrency, or every event source
    mapping feeding it caps ``scalingConfig.maximumConcurrency``."""
    for function in resources_of(args, FUNCTION):
        if tags_of(function.props).get("protected-downstream") != "true":
            continue
        reserved = known(function.props, "reservedConcurrentExecutions")
        if reserved is UNKNOWN or (number(reserved) or 0) > 0:
            continue
        mappings = _mappings_of(function, args)
        if mappings and all(
            (number(known_dig(m.props, "scalingConfig", "maximumConcurrency")) or 0) > 0 for m in mappings
        ):
            continue
        report_violation(
            f"Lambda function '{function.name}' protects a downstream but has neither "
            "reservedConcurrentExecutions nor a maximumConcurrency on every event source mapping.",
            function.urn,
        )


CONCURRENCY_FOR_PROTECTED_DOWNSTREAM = stack_policy(
    "lambda-protected-downstream-concurrency",
    "Functions that feed a protected downstream have their concurrency capped.",
    validate_protected_downstream_concurrency,
)


# --- async failure paths ------------------------------------------------------------------------

SCHEDULE = "aws:scheduler/schedule:Schedule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
BUCKET_NOTIFICATION = "aws:s3/bucketNotification:BucketNotification"
LOG_SUBSCRIPTION = "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter"
QUEUE = "aws:sqs/queue:Queue"


@dataclass(frozen=True)
class _AsyncCall:
    """One way the stack invokes a function asynchronously: who, which function, which qualifier."""

    invoker: PolicyResource
    what: str
    function: PolicyResource
    #: The alias invoked (its resource), if the reference goes through one of the stack.
    alias: PolicyResource | None
    #: The qualifier invoked, from the reference's text (``live``), when known.
    qualifier: str | None


def _qualifier_of(reference: Any) -> str | None:
    if not isinstance(reference, str) or not reference:
        return None
    tail = reference.split(":function:", 1)[1] if ":function:" in reference else reference
    parts = tail.split(":")
    return parts[1] if len(parts) >= 2 and parts[1] else None


def _calls_through(
    graph: StackGraph, invoker: PolicyResource, what: str, prop: str, reference: Any
) -> list[_AsyncCall]:
    """The functions ``invoker``'s ``prop`` (a function or alias, by edge or by ARN text) invokes."""
    calls: list[_AsyncCall] = []
    for target in graph.refs(invoker, prop, FUNCTION, ALIAS):
        if target.resource_type == ALIAS:
            for function in graph.refs(target, "functionName", FUNCTION) or functions_behind(
                target, "functionName", graph.resources
            ):
                name = known(target.props, "name")
                calls.append(_AsyncCall(invoker, what, function, target, name if isinstance(name, str) else None))
        else:
            calls.append(_AsyncCall(invoker, what, target, None, _qualifier_of(reference)))
    if calls:
        return calls
    if not (isinstance(reference, str) and ":function:" in reference):
        return []  # an unknown ARN (judged when known) or no function at all
    name = function_base_name(reference)
    return [
        _AsyncCall(invoker, what, function, None, _qualifier_of(reference))
        for function in graph.of_type(FUNCTION)
        if name and known(function.props, "name") == name
    ]


def _async_calls(graph: StackGraph) -> list[_AsyncCall]:
    """Every asynchronous invocation the graph shows (permissions, rule targets, subscriptions, schedules,
    bucket notifications, log subscriptions), plus functions tagged ``invocation=async`` (callers the
    stack cannot show: another account, ``InvocationType=Event`` from code)."""
    calls: list[_AsyncCall] = []
    for permission in graph.of_type(PERMISSION):
        principal = known(permission.props, "principal")
        if not isinstance(principal, str) or not (principal in ASYNC_INVOKERS or principal.startswith("logs.")):
            continue
        qualifier = known(permission.props, "qualifier")
        for function in functions_behind(permission, "function", graph.resources):
            aliases = graph.refs(permission, "qualifier", ALIAS)
            calls.append(
                _AsyncCall(
                    permission,
                    f"its permission for {principal}",
                    function,
                    aliases[0] if aliases else None,
                    qualifier if isinstance(qualifier, str) else None,
                )
            )
    for target in graph.of_type(EVENT_TARGET):
        calls += _calls_through(graph, target, "an EventBridge rule target", "arn", known(target.props, "arn"))
    for subscription in graph.of_type(SUBSCRIPTION):
        if known(subscription.props, "protocol") == "lambda":
            endpoint = known(subscription.props, "endpoint")
            calls += _calls_through(graph, subscription, "an SNS subscription", "endpoint", endpoint)
    for schedule in graph.of_type(SCHEDULE):
        calls += _calls_through(
            graph, schedule, "an EventBridge Scheduler schedule", "target", known_dig(schedule.props, "target", "arn")
        )
    for notification in graph.of_type(BUCKET_NOTIFICATION):
        entries = known_list(notification.props, "lambdaFunctions")
        for entry in entries if entries is not UNKNOWN else []:
            arn = known(entry, "lambdaFunctionArn")
            calls += _calls_through(graph, notification, "an S3 event notification", "lambdaFunctions", arn)
    for log_subscription in graph.of_type(LOG_SUBSCRIPTION):
        destination = known(log_subscription.props, "destinationArn")
        calls += _calls_through(graph, log_subscription, "a log subscription filter", "destinationArn", destination)
    for function in graph.of_type(FUNCTION):
        if tags_of(function.props).get("invocation") == "async":
            calls.append(_AsyncCall(function, "its tag invocation=async", function, None, None))
    return calls


def _configs_for(graph: StackGraph, call: _AsyncCall, behind: dict[str, list[PolicyResource]]) -> list[PolicyResource]:
    """The event invoke configs that apply to ``call``: same function, same qualifier (Lambda keeps one
    config per function, version or alias, and applies the one of the qualifier invoked). ``behind``:
    each config's functions, by URN (resolved once per stack)."""
    found = []
    for config in graph.of_type(EVENT_INVOKE_CONFIG):
        if call.function not in behind[config.urn]:
            continue
        qualifier = known(config.props, "qualifier")
        if call.invoker is call.function:  # declared by tag: any qualifier it is configured for
            found.append(config)
        elif call.alias is not None and call.alias in graph.refs(config, "qualifier", ALIAS):
            found.append(config)
        elif qualifier is UNKNOWN or (call.qualifier or "$LATEST") == (qualifier or "$LATEST"):
            found.append(config)
    return found


def _config_gaps(graph: StackGraph, config: PolicyResource) -> list[str]:
    """What ``config`` lacks: an SQS on-failure destination, a retry limit, an event age limit."""
    gaps = []
    destination = known_dig(config.props, "destinationConfig", "onFailure", "destination")
    if not destination:
        gaps.append("an on-failure destination (destinationConfig.onFailure)")
    elif destination is not UNKNOWN and not graph.refs(config, "destinationConfig", QUEUE):
        if not (isinstance(destination, str) and destination.startswith("arn:") and ":sqs:" in destination):
            gaps.append(f"an SQS queue as on-failure destination (not {destination!r})")
    if known(config.props, "maximumRetryAttempts") is None:
        gaps.append("maximumRetryAttempts")
    if known(config.props, "maximumEventAgeInSeconds") is None:
        gaps.append("maximumEventAgeInSeconds")
    return gaps


def validate_async_failure_destination(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """A function the stack invokes asynchronously has, for the qualifier invoked, an event invoke config
    with bounded retries and event age and an SQS on-failure queue.

    Lambda keeps an asynchronous event up to six hours and retries it twice by default, then drops
    it silently: the on-failure queue is the only record of it. A rule target's or a schedule's own
    DLQ covers only delivery to Lambda, not a function that fails once invoked.
    """
    graph = StackGraph(args.resources)
    for config in graph.of_type(EVENT_INVOKE_CONFIG):
        gaps = _config_gaps(graph, config)
        if gaps:
            report_violation(
                f"Event invoke config '{config.name}' has no {', no '.join(gaps)}; failed asynchronous events "
                "would be retried by Lambda's defaults and then dropped.",
                config.urn,
            )
    behind = {
        config.urn: functions_behind(config, "functionName", graph.resources)
        for config in graph.of_type(EVENT_INVOKE_CONFIG)
    }
    reported: set[str] = set()
    for call in _async_calls(graph):
        key = f"{call.function.urn}|{call.alias.urn if call.alias else call.qualifier}"
        if key in reported or _configs_for(graph, call, behind):
            continue
        reported.add(key)
        qualifier = f"'{call.qualifier}'" if call.qualifier else "the qualifier it is invoked with"
        report_violation(
            f"Lambda function '{call.function.name}' is invoked asynchronously ({call.what}: "
            f"'{call.invoker.name}') but has no event invoke config for {qualifier}: add one with "
            "maximumRetryAttempts, maximumEventAgeInSeconds and an SQS on-failure destination "
            "(ServerlessFunction.invoked_asynchronously()), or failed events are dropped.",
            call.function.urn,
        )


ASYNC_FAILURE_DESTINATION = stack_policy(
    "lambda-async-failure-destination",
    "Functions invoked asynchronously (EventBridge, SNS, S3, schedules, log subscriptions) have an event invoke "
    "config for the invoked alias with bounded retries and event age and an SQS on-failure destination.",
    validate_async_failure_destination,
    remediation_steps="Call ServerlessFunction.invoked_asynchronously() (the platform's event rules and "
    "allow_invoke do it for EventBridge, SNS and S3 callers).",
)


# --- no $LATEST ----------------------------------------------------------------------------------

_INVOKE_ARN = re.compile(r":lambda:path/[^/]+/functions/(?P<function>.+)/invocations$")


def _lambda_reference(args: ResourceValidationArgs) -> tuple[str | None, Any, Any]:
    """(what is wired, the function reference, a separate qualifier) for resources that invoke Lambda."""
    props, kind = args.props, args.resource_type
    if kind == EVENT_SOURCE_MAPPING:
        return "event source mapping", props.get("functionName"), None
    if kind == PERMISSION:
        return "permission", props.get("function"), props.get("qualifier")
    if kind == EVENT_INVOKE_CONFIG:
        return "event invoke config", props.get("functionName"), props.get("qualifier") or "$LATEST"
    if kind in ("aws:apigateway/integration:Integration", "aws:apigatewayv2/integration:Integration"):
        uri = props.get("uri") if kind.startswith("aws:apigateway/") else props.get("integrationUri")
        if not isinstance(uri, str) or ":lambda:" not in uri:
            return None, None, None
        match = _INVOKE_ARN.search(uri)
        return "API integration", match.group("function") if match else uri, None
    if kind == "aws:cloudwatch/eventTarget:EventTarget":
        arn = props.get("arn")
        return ("EventBridge target", arn, None) if isinstance(arn, str) and ":function:" in arn else (None, None, None)
    if kind == "aws:sns/topicSubscription:TopicSubscription":
        return (
            ("SNS subscription", props.get("endpoint"), None)
            if props.get("protocol") == "lambda"
            else (None, None, None)
        )
    if kind == "aws:appsync/dataSource:DataSource":
        arn = dig(props, "lambdaConfig", "functionArn")
        return ("AppSync data source", arn, None) if arn else (None, None, None)
    return None, None, None


def validate_no_unqualified_invocation(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Event sources and integrations invoke an alias (or version), never ``$LATEST``: otherwise a deploy
    changes live traffic at once and the alias-based canary and rollback do not apply."""
    what, reference, qualifier = _lambda_reference(args)
    if what is None or reference is None:
        return
    if not function_reference_is_qualified(reference, qualifier):
        report_violation(
            f"The {what} '{args.name}' invokes {reference!r} without an alias or version "
            "(that is $LATEST); point it at the function's alias."
        )


NO_UNQUALIFIED_INVOCATION = resource_policy(
    "lambda-no-latest-invocation",
    "Event sources, permissions and integrations target a Lambda alias or version, never $LATEST.",
    validate_no_unqualified_invocation,
    types=[
        EVENT_SOURCE_MAPPING,
        PERMISSION,
        EVENT_INVOKE_CONFIG,
        "aws:apigateway/integration:Integration",
        "aws:apigatewayv2/integration:Integration",
        "aws:cloudwatch/eventTarget:EventTarget",
        "aws:sns/topicSubscription:TopicSubscription",
        "aws:appsync/dataSource:DataSource",
    ],
)


# --- runtime -------------------------------------------------------------------------------------


def validate_runtime_supported(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Runtimes past deprecation get no security patches and eventually block updates."""
    runtime = args.props.get("runtime")
    if runtime is None:  # container images bring their own runtime
        return
    supported = args.get_config().get("supportedRuntimes") or SUPPORTED_RUNTIMES
    if runtime not in supported:
        report_violation(
            f"Lambda function '{args.name}' uses runtime {runtime!r}, which is not supported; "
            f"use one of {', '.join(supported)}."
        )


RUNTIME_SUPPORTED = resource_policy(
    "lambda-runtime-supported",
    "Lambda functions use a runtime AWS still supports.",
    validate_runtime_supported,
    types=[FUNCTION],
    parameters={
        "supportedRuntimes": {"type": "array", "items": {"type": "string"}, "default": list(SUPPORTED_RUNTIMES)}
    },
)


# --- plaintext secrets ---------------------------------------------------------------------------

_SECRET_NAME = re.compile(
    r"SECRET|PASSW(OR)?D|PASSPHRASE|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL|AUTH", re.IGNORECASE
)
#: Names that hold a pointer to a secret, not the secret (``DB_SECRET_ARN``, ``TOKEN_TABLE_NAME``).
_REFERENCE_SUFFIXES = ("_ARN", "_NAME", "_ID", "_URL", "_PATH", "_PARAMETER", "_REGION", "_TTL", "_SECONDS")
_AWS_ACCESS_KEY = re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")
_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
_REFERENCE_VALUE = re.compile(r"^(arn:|https?://|/|\{\{resolve:)")
#: A comma-separated list of lowercase host names, domains and addresses (``NO_PROXY``): a routing
#: setting, however varied its characters.
_HOST_LIST = re.compile(r"^\.?[a-z0-9-]+(\.[a-z0-9-]+)*(,\.?[a-z0-9-]+(\.[a-z0-9-]+)*)+$")
_MIN_ENTROPY_LENGTH = 24
_MIN_ENTROPY_BITS_PER_CHAR = 4.0


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _character_classes(text: str) -> int:
    """Random tokens mix lower, upper, digits and symbols; names like ``arcbp-prod-orders`` do not."""
    return sum(
        (
            any(c.islower() for c in text),
            any(c.isupper() for c in text),
            any(c.isdigit() for c in text),
            any(not c.isalnum() for c in text),
        )
    )


def secret_findings(name: str, value: Any) -> list[str]:
    """Why an environment variable looks like a plaintext secret (empty list: it does not)."""
    findings: list[str] = []
    text = value if isinstance(value, str) else ""
    if _AWS_ACCESS_KEY.search(text):
        findings.append("its value contains an AWS access key id")
    if _PRIVATE_KEY.search(text):
        findings.append("its value contains a private key")
    upper = name.upper()
    if (
        _SECRET_NAME.search(upper)
        and not upper.endswith(_REFERENCE_SUFFIXES)
        and text
        and not _REFERENCE_VALUE.match(text)
    ):
        findings.append("its name says it holds a secret")
    if (
        len(text) >= _MIN_ENTROPY_LENGTH
        and " " not in text
        and not _REFERENCE_VALUE.match(text)
        and not _HOST_LIST.match(text)
        and _character_classes(text) >= 3
        and _entropy(text) >= _MIN_ENTROPY_BITS_PER_CHAR
    ):
        findings.append("its value is a long high-entropy string")
    return findings


def validate_no_plaintext_secrets(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Secrets come from Secrets Manager/Parameter Store at run time (Powertools parameters), never from
    environment variables, which anyone with ``lambda:GetFunctionConfiguration`` can read."""
    variables = known_dig(args.props, "environment", "variables")
    for name in sorted(variables if variables and variables is not UNKNOWN else ()):
        value = known(variables, name)
        if value is UNKNOWN:
            continue  # computed from another resource (an ARN, a name): not a literal in the program
        findings = secret_findings(str(name), value)
        if findings:
            report_violation(
                f"Lambda function '{args.name}' sets environment variable {name} in plaintext and "
                f"{' and '.join(findings)}; pass the secret's ARN and read it at run time."
            )


NO_PLAINTEXT_SECRETS = resource_policy(
    "lambda-no-plaintext-secrets",
    "Lambda environment variables hold no plaintext secrets.",
    validate_no_plaintext_secrets,
    types=[FUNCTION],
)

POLICIES = [
    TRACING_ACTIVE,
    LOG_GROUP_RETENTION,
    FUNCTION_LOG_GROUPS,
    CONCURRENCY_FOR_PROTECTED_DOWNSTREAM,
    ASYNC_FAILURE_DESTINATION,
    NO_UNQUALIFIED_INVOCATION,
    RUNTIME_SUPPORTED,
    NO_PLAINTEXT_SECRETS,
]
