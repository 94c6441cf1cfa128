"""EventBridge: every rule delivers what it matches, and what it cannot deliver is kept.

A rule without a target, on any bus, drops every event it matches, silently. A target without a
dead-letter queue drops what it still cannot deliver after its retries; one without a retry
policy takes the defaults (185 attempts over 24 hours) nobody chose. And EventBridge must be
allowed to deliver, differently for each kind of target (EventBridge user guide, "Using
resource-based policies" and "IAM roles for sending events to targets"):

* an SQS queue (a target or a DLQ): the queue's policy must allow ``events.amazonaws.com`` to
  ``sqs:SendMessage``, for this rule when it tests ``aws:SourceArn``; a queue encrypted with a
  customer managed key needs that key's policy to let ``events.amazonaws.com`` use it
  (``kms:GenerateDataKey``, ``kms:Decrypt``), and the AWS managed key ``alias/aws/sqs`` never can;
* a Kinesis stream, a Firehose stream or a Step Functions state machine: a role EventBridge can
  assume (``events.amazonaws.com``), allowed to ``kinesis:PutRecord`` / ``firehose:PutRecordBatch``
  (what EventBridge calls, "Amazon Data Firehose stream target") / ``states:StartExecution`` on it;
  a stream or state machine encrypted with a customer managed key also needs the role to be
  allowed ``kms:GenerateDataKey`` on that key, by its own policies and the key's (Kinesis: "Your
  Kinesis stream producers must have the kms:GenerateDataKey permission"). A Firehose stream's key
  needs nothing of its producers: Firehose encrypts with the grant it made on the key;
* a Lambda function: a permission for ``events.amazonaws.com`` from this rule on the invoked
  alias (or function);
* an input transformer: every ``<placeholder>`` of the template must be a key of ``inputPaths``
  or a predefined variable (``aws.events.rule-arn``, ...): PutTargets refuses the target otherwise
  ("InputTemplate for target ... contains invalid placeholder ...").

The bus and its archive, encrypted with a customer managed key, need that key to let EventBridge
``kms:DescribeKey``, ``kms:GenerateDataKey`` and ``kms:Decrypt`` ("Authorizing EventBridge to use a
customer managed key"), the archive ``kms:ReEncrypt*`` too ("Encrypting EventBridge archives");
such a bus needs a dead-letter queue of its own, which AWS strongly recommends so an event it
cannot encrypt or decrypt is kept, and which EventBridge must be able to send to.

EventBridge Scheduler's schedules are checked with their execution role (``_scheduler``).

Relationships are followed through the graph's edges, which exist in ``pulumi preview`` when ARNs
of new resources are not known; where a document is still unknown the rule judges nothing.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from arcblueprint.policy.base import as_list, is_mapping, json_document, known_dig, number, stack_policy
from arcblueprint.policy.graph import StackGraph
from arcblueprint.policy.wiring._delivery import key_problems, role_grants, target_key
from arcblueprint.policy.wiring._props import UNKNOWN, known, service_allowed
from arcblueprint.policy.wiring._scheduler import SCHEDULE, schedule_problems

if TYPE_CHECKING:
    from pulumi_policy import PolicyResource, StackValidationArgs

    from arcblueprint.policy.base import ReportViolation

__all__ = ["POLICIES", "RULES_DELIVER"]

RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
QUEUE = "aws:sqs/queue:Queue"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
KEY = "aws:kms/key:Key"
STREAM = "aws:kinesis/stream:Stream"
FIREHOSE = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
EVENT_BUS = "aws:cloudwatch/eventBus:EventBus"
ARCHIVE = "aws:cloudwatch/eventArchive:EventArchive"
FUNCTION = "aws:lambda/function:Function"
ALIAS = "aws:lambda/alias:Alias"
PERMISSION = "aws:lambda/permission:Permission"
ROLE = "aws:iam/role:Role"
EVENTS = "events.amazonaws.com"
_TARGET_TYPES = (QUEUE, STREAM, FIREHOSE, STATE_MACHINE, FUNCTION, ALIAS)
#: Target kind -> the action its role must allow (EventBridge calls PutRecordBatch on a Firehose stream).
_ROLE_ACTIONS = {
    STREAM: "kinesis:PutRecord",
    FIREHOSE: "firehose:PutRecordBatch",
    STATE_MACHINE: "states:StartExecution",
}
_ARN_SERVICES = {"sqs": QUEUE, "kinesis": STREAM, "firehose": FIREHOSE, "states": STATE_MACHINE, "lambda": FUNCTION}
#: What EventBridge needs of a bus's customer managed key, and of an archive's.
BUS_KEY_ACTIONS = ["kms:DescribeKey", "kms:GenerateDataKey", "kms:Decrypt"]
ARCHIVE_KEY_ACTIONS = [*BUS_KEY_ACTIONS, "kms:ReEncryptFrom", "kms:ReEncryptTo"]
#: Input transformer variables EventBridge defines itself ("Predefined variables").
PREDEFINED_VARIABLES = frozenset(
    {
        "aws.events.rule-arn",
        "aws.events.rule-name",
        "aws.events.event.ingestion-time",
        "aws.events.event",
        "aws.events.event.json",
    }
)
_PLACEHOLDER = re.compile(r"<(.*?)>")


def _rule_arn_matches(rule: PolicyResource, value: Any) -> bool:
    """Whether an ``aws:SourceArn`` value (``*`` wildcards allowed) names this rule."""
    if not isinstance(value, str):
        return False
    arn = known(rule.props, "arn")
    if isinstance(arn, str) and arn and fnmatch.fnmatchcase(arn, value):
        return True
    name, bus = known(rule.props, "name"), known(rule.props, "eventBusName")
    if not isinstance(name, str) or not name:
        return False
    suffix = (
        f":rule/{name}"
        if not isinstance(bus, str) or bus in ("", "default")
        else f":rule/{bus.rsplit('/', 1)[-1]}/{name}"
    )
    return value.endswith(suffix) or fnmatch.fnmatchcase("arn:aws:events:region:000000000000" + suffix, value)


def _bus_arn_matches(bus: PolicyResource, value: Any) -> bool:
    """Whether an ``aws:SourceArn`` value (``*`` wildcards allowed) names this bus."""
    if not isinstance(value, str):
        return False
    arn, name = known(bus.props, "arn"), known(bus.props, "name")
    if isinstance(arn, str) and arn and fnmatch.fnmatchcase(arn, value):
        return True
    return isinstance(name, str) and bool(name) and (value.endswith(f":event-bus/{name}"))


def _admits_source(
    source: PolicyResource, matches: Callable[[Any], bool], policy_resource: PolicyResource | None, graph: StackGraph
) -> Any:
    """An ``admits`` test for :func:`service_allowed`: the statement's source condition lets ``source`` in."""

    def admits(statement: Mapping[str, Any]) -> bool:
        condition = statement.get("Condition")
        if not condition:
            return True
        for operator, tests in condition.items() if isinstance(condition, Mapping) else ():
            if not isinstance(tests, Mapping):
                return False
            for key, values in tests.items():
                if str(key).lower() != "aws:sourcearn":
                    continue  # aws:SourceAccount and others: EventBridge sends them with the rule's account
                if str(operator).startswith(("ArnNot", "StringNot")):
                    return False
                if not any(matches(v) for v in as_list(values)):
                    # The value may be the source's ARN, unknown in a preview: the policy was computed from it.
                    if isinstance(known(source.props, "arn"), str):
                        return False  # the ARN is known, and the condition names another
                    computed_from = {r.urn for r in graph.refs(policy_resource, "policy")} if policy_resource else set()
                    if source.urn not in computed_from:
                        return False
        return True

    return admits


def _target_resource(graph: StackGraph, target: PolicyResource) -> PolicyResource | None:
    found = graph.refs(target, "arn", *_TARGET_TYPES)
    if found:
        return found[0]
    arn = known(target.props, "arn")
    if not isinstance(arn, str):
        return None
    return next((r for r in graph.of_type(*_TARGET_TYPES) if known(r.props, "arn") == arn), None)


def _kind(graph: StackGraph, target: PolicyResource) -> tuple[str | None, PolicyResource | None]:
    """(resource type of what the target delivers to, that resource if it is in the stack)."""
    resource = _target_resource(graph, target)
    if resource is not None:
        return (FUNCTION if resource.resource_type == ALIAS else resource.resource_type), resource
    arn = known(target.props, "arn")
    service = arn.split(":")[2] if isinstance(arn, str) and arn.count(":") >= 5 else None
    return _ARN_SERVICES.get(service or ""), None


def _queue_problems(
    graph: StackGraph, source: PolicyResource, queue: PolicyResource, role: str, matches: Callable[[Any], bool]
) -> list[str]:
    """What stops EventBridge sending ``source``'s events to ``queue`` (the target or the DLQ, per ``role``)."""
    what = "bus" if source.resource_type == EVENT_BUS else "rule"
    problems: list[str] = []
    policies = graph.referrers(queue, QUEUE_POLICY, prop="queueUrl")
    documents = [(p, known(p.props, "policy")) for p in policies]
    if not any(doc is UNKNOWN for _, doc in documents):
        admitted = any(
            not service_allowed(
                json_document(doc), EVENTS, ["sqs:SendMessage"], _admits_source(source, matches, p, graph)
            )
            for p, doc in documents
        )
        if not admitted:
            problems.append(
                f"the policy of its {role} queue '{queue.name}' does not allow {EVENTS} to "
                f"sqs:SendMessage from this {what} (add a statement for the service with aws:SourceArn = the "
                f"{what}'s ARN)"
            )
    key_id = known(queue.props, "kmsMasterKeyId")
    if isinstance(key_id, str) and key_id.endswith("alias/aws/sqs"):
        problems.append(
            f"its {role} queue '{queue.name}' is encrypted with the AWS managed key alias/aws/sqs, whose "
            "policy cannot let EventBridge encrypt; use a customer managed key that allows it"
        )
    for key in graph.refs(queue, "kmsMasterKeyId", KEY):
        document = known(key.props, "policy")
        if document is UNKNOWN:
            continue
        missing = service_allowed(json_document(document), EVENTS, ["kms:GenerateDataKey", "kms:Decrypt"])
        if missing:
            problems.append(
                f"its {role} queue '{queue.name}' is encrypted with key '{key.name}', whose policy "
                f"does not let {EVENTS} {' and '.join(missing)}"
            )
    return problems


def _role_problems(graph: StackGraph, target: PolicyResource, kind: str, resource: PolicyResource | None) -> list[str]:
    roles = graph.refs(target, "roleArn", ROLE)
    action = _ROLE_ACTIONS[kind]
    if not roles:
        if known(target.props, "roleArn") in (None, ""):
            return [f"it has no roleArn: EventBridge needs a role that may {action} to deliver to this target"]
        return []  # a role from outside the stack: nothing to judge
    role = roles[0]
    problems: list[str] = []
    trust = known(role.props, "assumeRolePolicy")
    if trust is not UNKNOWN and service_allowed(json_document(trust), EVENTS, ["sts:AssumeRole"]):
        problems.append(f"its role '{role.name}' does not trust {EVENTS} (sts:AssumeRole)")
    target_arn = known(resource.props, "arn") if resource is not None else known(target.props, "arn")
    if role_grants(graph, role, action, target_arn, resource) is False:
        problems.append(f"its role '{role.name}' has no policy that allows {action} on the target")
    key, key_id = target_key(graph, resource)
    what = f"the target '{resource.name}'" if resource is not None else "the target"
    problems += key_problems(graph, role, key, key_id, ["kms:GenerateDataKey"], what)
    return problems


def _transformer_problems(target: PolicyResource) -> list[str]:
    """Placeholders of the input template that neither ``inputPaths`` nor EventBridge defines."""
    transformer = known(target.props, "inputTransformer")
    if not is_mapping(transformer):
        return []
    template, paths = known(transformer, "inputTemplate"), known(transformer, "inputPaths")
    if not isinstance(template, str) or paths is UNKNOWN:
        return []
    defined = {str(k) for k in paths} if is_mapping(paths) else set()
    undefined = sorted({p for p in _PLACEHOLDER.findall(template) if p not in defined | PREDEFINED_VARIABLES})
    if not undefined:
        return []
    return [
        f"its input template uses {', '.join(f'<{p}>' for p in undefined)}, which inputPaths does not define (nor "
        "is it a predefined variable): PutTargets refuses it (InputTemplate ... contains invalid placeholder)"
    ]


def _permission_problems(graph: StackGraph, rule: PolicyResource, resource: PolicyResource | None) -> list[str]:
    if resource is None:
        return []  # a function outside the stack: its owner grants the permission
    function = resource if resource.resource_type == FUNCTION else graph.ref(resource, "functionName", FUNCTION)
    alias_name = known(resource.props, "name") if resource.resource_type == ALIAS else None
    for permission in graph.of_type(PERMISSION):
        if known(permission.props, "principal") != EVENTS:
            continue
        if str(known(permission.props, "action") or "").lower() not in ("lambda:invokefunction", "lambda:*"):
            continue
        function_refs = {r.urn for r in graph.refs(permission, "function")}
        if function is not None and function.urn not in function_refs and resource.urn not in function_refs:
            continue
        if alias_name is not None:
            qualifier = known(permission.props, "qualifier")
            if qualifier != alias_name and resource.urn not in {r.urn for r in graph.refs(permission, "qualifier")}:
                continue
        source = known(permission.props, "sourceArn")
        if rule.urn in {r.urn for r in graph.refs(permission, "sourceArn")} or _rule_arn_matches(rule, source):
            return []
    where = f"alias '{resource.name}'" if alias_name is not None else f"function '{resource.name}'"
    return [
        f"no Lambda permission lets {EVENTS} invoke {where} from this rule (add one with source_arn = the "
        f"rule's ARN on the alias the target names)"
    ]


def _bus_problems(graph: StackGraph, bus: PolicyResource) -> list[str]:
    """A bus encrypted with a customer managed key: the key must admit EventBridge, and a DLQ must keep failures."""
    keys = graph.refs(bus, "kmsKeyIdentifier", KEY)
    key_id = known(bus.props, "kmsKeyIdentifier")
    if not keys and not key_id:
        return []  # an AWS owned key: nothing to admit, nothing that can fail
    problems: list[str] = []
    for key in keys:
        document = known(key.props, "policy")
        missing = [] if document is UNKNOWN else service_allowed(json_document(document), EVENTS, BUS_KEY_ACTIONS)
        if missing:
            problems.append(
                f"it is encrypted with key '{key.name}', whose policy does not let {EVENTS} {', '.join(missing)}: "
                "EventBridge cannot encrypt or decrypt its events (add a statement for the service, with "
                "aws:SourceAccount or the bus's aws:SourceArn)"
            )
    config = known(bus.props, "deadLetterConfig")
    dlq_arn = UNKNOWN if config is UNKNOWN else known_dig(config, "arn") if config is not None else None
    dlqs = graph.refs(bus, "deadLetterConfig", QUEUE)
    if not dlqs and isinstance(dlq_arn, str) and dlq_arn:
        dlqs = [q for q in graph.of_type(QUEUE) if known(q.props, "arn") == dlq_arn]
    if not dlqs and dlq_arn in (None, ""):
        problems.append(
            "it is encrypted with a customer managed key and has no dead-letter queue (deadLetterConfig): an event "
            "it cannot encrypt or decrypt (the key disabled, its policy changed) is lost; AWS strongly recommends one"
        )
    for dlq in dlqs:
        problems += _queue_problems(graph, bus, dlq, "dead-letter", lambda value: _bus_arn_matches(bus, value))
    return problems


def _archive_problems(graph: StackGraph, archive: PolicyResource) -> list[str]:
    problems: list[str] = []
    for key in graph.refs(archive, "kmsKeyIdentifier", KEY):
        document = known(key.props, "policy")
        missing = [] if document is UNKNOWN else service_allowed(json_document(document), EVENTS, ARCHIVE_KEY_ACTIONS)
        if missing:
            problems.append(
                f"it is encrypted with key '{key.name}', whose policy does not let {EVENTS} {', '.join(missing)}: "
                "EventBridge needs kms:DescribeKey, kms:GenerateDataKey, kms:Decrypt and kms:ReEncrypt* to archive "
                "and replay with it"
            )
    return problems


def validate_rules_deliver(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Every rule has a target; every target (and schedule) a DLQ, retries and the permission it needs to deliver."""
    graph = StackGraph(args.resources)
    targets_of: dict[str, list[PolicyResource]] = {}
    rule_names = {
        (known(r.props, "name"), str(known(r.props, "eventBusName") or "default")): r for r in graph.of_type(RULE)
    }
    for target in graph.of_type(TARGET):
        rules = graph.refs(target, "rule", RULE) or [
            r
            for (name, bus), r in rule_names.items()
            if name == known(target.props, "rule") and bus == str(known(target.props, "eventBusName") or "default")
        ]
        for rule in rules:
            targets_of.setdefault(rule.urn, []).append(target)
    for rule in graph.of_type(RULE):
        targets = targets_of.get(rule.urn, [])
        if not targets and (known(rule.props, "eventPattern") or known(rule.props, "scheduleExpression")):
            bus = known(rule.props, "eventBusName")
            named = "(computed)" if bus is UNKNOWN else repr(bus or "default")
            report_violation(
                f"EventBridge rule '{rule.name}' on bus {named} has no target: every event it matches is "
                "dropped. Add a target (with a DLQ and a retry policy) or remove the rule.",
                rule.urn,
            )
        for target in targets:
            for problem in _target_problems(graph, rule, target):
                report_violation(
                    f"EventBridge target '{target.name}' of rule '{rule.name}' cannot deliver as declared: {problem}.",
                    target.urn,
                )
    for bus in graph.of_type(EVENT_BUS):
        for problem in _bus_problems(graph, bus):
            report_violation(f"EventBridge bus '{bus.name}' cannot keep its events as declared: {problem}.", bus.urn)
    for archive in graph.of_type(ARCHIVE):
        for problem in _archive_problems(graph, archive):
            report_violation(f"EventBridge archive '{archive.name}' cannot archive: {problem}.", archive.urn)
    for schedule in graph.of_type(SCHEDULE):
        for problem in schedule_problems(graph, schedule):
            report_violation(
                f"EventBridge Scheduler schedule '{schedule.name}' cannot run as declared: {problem}.", schedule.urn
            )


def _target_problems(graph: StackGraph, rule: PolicyResource, target: PolicyResource) -> list[str]:
    problems: list[str] = []
    config = known(target.props, "deadLetterConfig")
    dlq_arn = UNKNOWN if config is UNKNOWN else known_dig(config, "arn") if config is not None else None
    dlqs = graph.refs(target, "deadLetterConfig", QUEUE)
    if not dlqs and isinstance(dlq_arn, str) and dlq_arn:
        dlqs = [q for q in graph.of_type(QUEUE) if known(q.props, "arn") == dlq_arn]
    if not dlqs and dlq_arn in (None, ""):
        problems.append(
            "it has no dead-letter queue (deadLetterConfig): events it cannot deliver after its retries are dropped"
        )
    retry = known(target.props, "retryPolicy")
    values = (
        [known(retry, key) for key in ("maximumRetryAttempts", "maximumEventAgeInSeconds")]
        if is_mapping(retry)
        else [None]
    )
    if retry is not UNKNOWN and any(v is not UNKNOWN and number(v) is None for v in values):
        problems.append("it has no retry policy (maximumRetryAttempts and maximumEventAgeInSeconds)")
    problems += _transformer_problems(target)

    def from_rule(value: Any) -> bool:
        return _rule_arn_matches(rule, value)

    for dlq in dlqs:
        problems += _queue_problems(graph, rule, dlq, "dead-letter", from_rule)
    kind, resource = _kind(graph, target)
    if kind == QUEUE and resource is not None:
        problems += _queue_problems(graph, rule, resource, "target", from_rule)
    elif kind in _ROLE_ACTIONS:
        problems += _role_problems(graph, target, kind, resource)
    elif kind == FUNCTION:
        problems += _permission_problems(graph, rule, resource)
    return problems


RULES_DELIVER = stack_policy(
    "eventbridge-rules-deliver",
    "Every EventBridge rule has a target; every target has a DLQ, a retry policy, a valid input template and the "
    "permission EventBridge needs to deliver to it (queue policy and key, role and the target's key, or Lambda "
    "permission); an encrypted bus has a DLQ and, like its archive, a key EventBridge may use; every Scheduler "
    "schedule's role is trusted by Scheduler for its group and may call the target, its DLQ and their keys.",
    validate_rules_deliver,
    remediation_steps="Declare rules with EventBus.add_rule: it adds the DLQ, the retry policy, the role or Lambda "
    "permission; a queue target admits the rule in its own policy (EventRules.rule_arn). Give the bus a "
    "deadLetterConfig, its key and the archive's a statement for events.amazonaws.com, and each schedule's role the "
    "trust, actions and key grants it needs.",
)

POLICIES = [RULES_DELIVER]
