"""Least privilege beyond "no ``*``": who may assume a service role, who may use the key, what a function's
role may do, and that topics refuse plain HTTP for every action.

Hardening rules (mandatory in prod, advisory in dev through the stack's enforcement). The AWS facts
they rest on (which services send source keys, which use a key themselves, which actions a topic
policy may name) live in :mod:`arcblueprint.service_facts`, shared with the components that follow them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from arcblueprint.code_calls import TAG as CODE_CALLS_TAG
from arcblueprint.code_calls import from_tags
from arcblueprint.policy.base import (
    FUNCTION,
    UNKNOWN,
    as_list,
    is_mapping,
    json_document,
    known,
    resource_policy,
    stack_policy,
    tags_of,
)
from arcblueprint.policy.graph import ROLE_POLICY, StackGraph, role_policy_documents
from arcblueprint.policy.wiring._props import statements
from arcblueprint.policy.wiring.reachability import called_apis, on_behalf_uses
from arcblueprint.service_facts import (
    CALLER_KEY_SERVICES,
    KEY_USING_SERVICES,
    SOURCE_KEY_SERVICES,
    TOPIC_POLICY_ACTIONS,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pulumi_policy import PolicyResource, ResourceValidationArgs, StackValidationArgs

    from arcblueprint.policy.base import ReportViolation

__all__ = [
    "CODE_CALLS_WITHIN",
    "KEY_SERVICE_PRINCIPALS",
    "POLICIES",
    "SERVICE_ROLE_SOURCE_CONDITION",
    "TOPIC_TLS_ONLY",
]

ROLE = "aws:iam/role:Role"
KEY = "aws:kms/key:Key"
KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"


def _services(statement: Any) -> list[str]:
    principal = statement.get("Principal")
    return [str(s) for s in as_list(principal.get("Service"))] if is_mapping(principal) else []


# --- service role trust: aws:SourceAccount / aws:SourceArn ---------------------------------------

#: Operators under which a source key pins the caller (an ``...IfExists`` test is met by a missing key).
_PINNING = ("StringEquals", "StringLike", "ArnEquals", "ArnLike")


def _pins_source(condition: Any) -> bool:
    """Whether ``condition`` requires ``aws:SourceAccount`` or ``aws:SourceArn`` to name an account."""
    for operator in _PINNING:
        tests = condition.get(operator) if is_mapping(condition) else None
        for key, value in tests.items() if is_mapping(tests) else ():
            if str(key).lower() not in ("aws:sourceaccount", "aws:sourcearn"):
                continue
            values = [str(v) for v in as_list(value)]
            if values and all(v not in ("", "*") and any(part.isdigit() for part in v.split(":")) for v in values):
                return True
    return False


def validate_service_role_source_condition(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """A role a service assumes on the stack's behalf names the account (and resource) it acts for, where
    the service sends ``aws:SourceAccount``/``aws:SourceArn``: otherwise another account's resource
    of that service could be pointed at the role (the cross-service confused deputy)."""
    value = known(args.props, "assumeRolePolicy")
    document = json_document(value)
    for statement in statements(document):
        if statement.get("Effect", "Allow") != "Allow":
            continue
        for service in _services(statement):
            if service in SOURCE_KEY_SERVICES and not _pins_source(statement.get("Condition")):
                source, where = SOURCE_KEY_SERVICES[service]
                report_violation(
                    f"Role '{args.name}' lets {service} assume it for any account's resources; the service sends "
                    f"aws:SourceAccount and aws:SourceArn ({where}), so condition the trust on this account "
                    f"(StringEquals aws:SourceAccount) and on {source} (ArnLike aws:SourceArn)."
                )


SERVICE_ROLE_SOURCE_CONDITION = resource_policy(
    "iam-service-role-source-condition",
    "Roles assumed by services that send aws:SourceAccount/aws:SourceArn (Step Functions, EventBridge, "
    "Scheduler, CloudWatch Logs, VPC flow logs, CodeDeploy) trust them only for this account's resources.",
    validate_service_role_source_condition,
    types=[ROLE],
    remediation_steps="Build the trust policy with arcblueprint.service_facts.service_trust_policy(service, "
    "account_id=..., source_arn=...).",
)


# --- the key policy names only services that use the key themselves ------------------------------


def _key_documents(args: ResourceValidationArgs) -> Iterator[Any]:
    value = known(args.props, "policy")
    if value is not UNKNOWN:
        yield json_document(value)


def validate_key_service_principals(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """A key policy lets a service principal use the key only if that service uses keys itself (it
    delivers to encrypted queues, encrypts a bus or log groups); services that use a key with their
    caller's permissions gain nothing from it, and it only widens who the key policy admits."""
    allowed = set(args.get_config().get("allowedServicePrincipals") or KEY_USING_SERVICES)
    for document in _key_documents(args):
        for statement in statements(document):
            if statement.get("Effect", "Allow") != "Allow":
                continue
            for service in _services(statement):
                # CloudWatch Logs is named per region (logs.<region>.amazonaws.com) and uses the key itself.
                if service in allowed or (service.startswith("logs.") and service.endswith(".amazonaws.com")):
                    continue
                why = CALLER_KEY_SERVICES.get(service, f"{service} is not known to use a key itself")
                report_violation(
                    f"Key '{args.name}' lets {service} use it, but {why}; grant the key to the roles that call "
                    "the service (kms:ViaService) and remove the service principal from the key policy."
                )


KEY_SERVICE_PRINCIPALS = resource_policy(
    "kms-key-service-principals",
    "KMS key policies name only service principals that use the key themselves (EventBridge, SNS, "
    "CloudWatch alarms and Logs, S3 notifications), not services that act with the caller's permissions.",
    validate_key_service_principals,
    types=[KEY, KEY_POLICY],
    parameters={
        "allowedServicePrincipals": {
            "type": "array",
            "items": {"type": "string"},
            "default": sorted(KEY_USING_SERVICES),
        }
    },
)


# --- topics: TLS for every action ----------------------------------------------------------------


def _refuses_plain_http(statement: Any) -> set[str]:
    """The topic actions a Deny statement refuses to everyone without TLS (empty: it is no such deny)."""
    principal = statement.get("Principal")
    everyone = principal == "*" or (is_mapping(principal) and "*" in as_list(principal.get("AWS")))
    condition = statement.get("Condition")
    tls = is_mapping(condition) and is_mapping(condition.get("Bool"))
    if statement.get("Effect") != "Deny" or not everyone or not tls:
        return set()
    if str(condition["Bool"].get("aws:SecureTransport", "")).lower() != "false":
        return set()
    return {str(a) for a in as_list(statement.get("Action"))}


def validate_topic_tls_only(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Every topic's policy denies each topic action to everyone without TLS: not only Publish, but Subscribe,
    SetTopicAttributes, AddPermission... (any of which over plain HTTP exposes credentials or the topic)."""
    graph = StackGraph(args.resources)
    for topic in graph.of_type(TOPIC):
        documents = [known(topic.props, "policy")] if known(topic.props, "policy") else []
        documents += [known(p.props, "policy") for p in graph.referrers(topic, TOPIC_POLICY, prop="arn")]
        if any(d is UNKNOWN for d in documents):
            continue  # computed from the topic's ARN in a first preview: judged at `pulumi up`
        refused: set[str] = set()
        for document in documents:
            for statement in statements(json_document(document)):
                refused |= _refuses_plain_http(statement)
        missing = [a for a in TOPIC_POLICY_ACTIONS if a not in refused and "*" not in refused]
        if missing:
            report_violation(
                f"Topic '{topic.name}' does not deny {', '.join(missing)} without TLS; add a Deny for every topic "
                "action (service_facts.topic_tls_only_statement) to its topic policy, with Principal '*' and "
                "Bool aws:SecureTransport false.",
                topic.urn,
            )


TOPIC_TLS_ONLY = stack_policy(
    "sns-topic-tls-only",
    "Every SNS topic's policy denies every topic action (SNS's list of valid policy actions) without TLS.",
    validate_topic_tls_only,
)


# --- a function's role grants only what its code calls -------------------------------------------

#: Actions a function's role holds for Lambda itself, whatever the code calls: active tracing (Lambda's
#: X-Ray daemon sends the segments). Lambda's log and ENI actions and on-behalf statements are exempt
#: through ``reachability.exempt``.
PLATFORM_ACTIONS = frozenset({"xray:PutTraceSegments", "xray:PutTelemetryRecords"})


def _role_policies(graph: StackGraph, role: PolicyResource) -> Iterator[tuple[str, PolicyResource, Any]]:
    """(what, holder, document or UNKNOWN) for each identity policy of ``role`` in the stack."""
    for holder, _, document in role_policy_documents(graph, role):
        if holder is role:
            what = f"an inline policy of role '{role.name}'"
        elif holder.resource_type == ROLE_POLICY:
            what = f"role policy '{holder.name}'"
        else:
            what = f"managed policy '{holder.name}'"
        yield what, holder, document


def validate_code_calls_within(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """A function's role lets its code call only the actions the code declares (tag ``code-calls``, from the
    handler's ``permissions.json``, which a test keeps equal to the calls its source makes).

    Actions AWS uses with the role on the function's behalf (pollers, destinations, KMS, logs, ENIs)
    and active tracing are not the code's. A policy unknown in a first preview is judged when known.
    """
    graph = StackGraph(args.resources)
    for function in graph.of_type(FUNCTION):
        tags = tags_of(function.props)
        if any(value is UNKNOWN for key, value in tags.items() if key.startswith(CODE_CALLS_TAG)):
            continue
        declared = from_tags(tags)
        if declared is None:
            report_violation(
                f"Lambda function '{function.name}' declares no allow-list of the AWS actions its code calls "
                f"(tag {CODE_CALLS_TAG}, from permissions.json next to its handler), so its role cannot be "
                "checked against it; build it with ServerlessFunction.",
                function.urn,
            )
            continue
        uses = on_behalf_uses(graph, function)
        for role in graph.refs(function, "role", ROLE):
            for what, _, policy in _role_policies(graph, role):
                document = json_document(policy)
                if document is None:
                    continue
                granted = {a for actions in called_apis([document], uses).values() for a in actions}
                extra = sorted(granted - declared - PLATFORM_ACTIONS)
                if extra:
                    report_violation(
                        f"Lambda function '{function.name}': {what} allows {', '.join(extra)}, which its code does "
                        f"not call (it declares {', '.join(sorted(declared)) or 'no call'}); remove them from the "
                        "grant (grant methods keep only declared calls; actions= narrows one resource further).",
                        function.urn,
                    )


CODE_CALLS_WITHIN = stack_policy(
    "lambda-role-within-code-calls",
    "A function's role grants its code no action outside the allow-list declared next to its handler "
    "(permissions.json, tag code-calls).",
    validate_code_calls_within,
)

POLICIES = [SERVICE_ROLE_SOURCE_CONDITION, KEY_SERVICE_PRINCIPALS, TOPIC_TLS_ONLY, CODE_CALLS_WITHIN]
