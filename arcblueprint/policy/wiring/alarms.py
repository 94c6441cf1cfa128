"""Alarms: every alarm tells someone, through a topic CloudWatch can actually publish to.

An alarm without actions changes state in the console and notifies nobody. An alarm whose
action is an SNS topic notifies nobody either when CloudWatch cannot publish there:

* the topic is encrypted with a key whose policy does not let ``cloudwatch.amazonaws.com``
  use it (``kms:Decrypt``, ``kms:GenerateDataKey*``): CloudWatch encrypts the notification
  itself, the publish fails with KMS AccessDenied, and only the alarm's history says so. The AWS
  managed key ``alias/aws/sns`` can never be used: its policy cannot be changed;
* the topic's policy does not allow ``cloudwatch.amazonaws.com`` to ``sns:Publish`` (a topic
  policy replaces SNS's default one), or denies it.

Each alarm needs ALARM and OK actions on a topic of the stack; each such topic and its key are
checked once and reported where the fix belongs (the alarm, the topic or the key).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from arcblueprint.policy.base import as_list, json_document, stack_policy
from arcblueprint.policy.graph import StackGraph
from arcblueprint.policy.wiring._props import UNKNOWN, known, known_list, service_allowed, service_denied

if TYPE_CHECKING:
    from pulumi_policy import PolicyResource, ReportViolation, StackValidationArgs

__all__ = ["ALARM_HAS_ACTIONS", "POLICIES"]

METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
COMPOSITE_ALARM = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
KEY = "aws:kms/key:Key"
ALIAS = "aws:kms/alias:Alias"
KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"

CLOUDWATCH = "cloudwatch.amazonaws.com"
#: What CloudWatch calls on the topic's key when it publishes an alarm notification.
KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")
ACTION_PROPS = ("alarmActions", "okActions")
#: The AWS managed key of SNS: its key policy cannot be edited, so CloudWatch can never use it.
AWS_MANAGED_SNS_KEY = "alias/aws/sns"


def _topics_of(graph: StackGraph, alarm: PolicyResource, prop: str) -> tuple[list[PolicyResource], Any]:
    """The stack's topics an action prop refers to (by dependency, else by ARN), and the prop's value."""
    value = known_list(alarm.props, prop)
    found = graph.refs(alarm, prop, TOPIC)
    if found or value is UNKNOWN:
        return found, value
    arns = [v for v in value if isinstance(v, str) and v.startswith("arn:") and ":sns:" in v]
    return [t for t in graph.of_type(TOPIC) if known(t.props, "arn") in arns
            or any(a.rsplit(":", 1)[-1] == known(t.props, "name") for a in arns)], value


def _check_alarm(graph: StackGraph, alarm: PolicyResource, report_violation: ReportViolation) -> list[PolicyResource]:
    """Report an alarm without working actions; return the topics it notifies."""
    kind = "Composite alarm" if alarm.resource_type == COMPOSITE_ALARM else "Alarm"
    if known(alarm.props, "actionsEnabled") is False:
        report_violation(f"{kind} '{alarm.name}' has actionsEnabled false, so it notifies nobody when it changes "
                         "state; remove actionsEnabled (default true).", alarm.urn)
    topics: list[PolicyResource] = []
    for prop in ACTION_PROPS:
        found, value = _topics_of(graph, alarm, prop)
        topics += found
        if found or value is UNKNOWN:
            continue
        if not value:
            report_violation(f"{kind} '{alarm.name}' has no {prop}, so nobody hears when it "
                             f"{'fires' if prop == 'alarmActions' else 'recovers'}; give it the platform "
                             "notification topic (Platform.alarm_actions.metric_alarm_args()).", alarm.urn)
        else:
            report_violation(f"{kind} '{alarm.name}' has {prop} {value} but none is an SNS topic of this stack, "
                             "whose key and policy could be checked; use the platform notification topic "
                             "(Platform.alarm_actions.metric_alarm_args()).", alarm.urn)
    return topics


def _key_of(graph: StackGraph, topic: PolicyResource) -> PolicyResource | str | None:
    """The stack key (through an alias too) encrypting the topic, else its literal key id, else None."""
    for target in graph.refs(topic, "kmsMasterKeyId", KEY, ALIAS):
        if target.resource_type == KEY:
            return target
        keys = graph.refs(target, "targetKeyId", KEY)
        if keys:
            return keys[0]
    value = known(topic.props, "kmsMasterKeyId")
    return value if isinstance(value, str) and value else None


def _key_policies(graph: StackGraph, key: PolicyResource) -> list[Any] | None:
    """The key's effective policy documents (a KeyPolicy resource replaces the key's own); None while unknown."""
    sources = [(p, "policy") for p in graph.referrers(key, KEY_POLICY, prop="keyId")] or [(key, "policy")]
    documents = []
    for resource, prop in sources:
        value = known(resource.props, prop)
        if value is UNKNOWN:
            return None
        # No policy means KMS's default one, which names only the account, never a service.
        documents.append(json_document(value) or {})
    return documents


def _key_problem(documents: list[Any]) -> str | None:
    missing = [a for a in KEY_ACTIONS if all(a in service_allowed(d, CLOUDWATCH, [a]) for d in documents)]
    denied = [sid for d in documents for sid in service_denied(d, CLOUDWATCH, KEY_ACTIONS)]
    if missing:
        return f"does not allow {CLOUDWATCH} {', '.join(a + ('*' if a.endswith('DataKey') else '') for a in missing)}"
    if denied:
        return f"denies {CLOUDWATCH} the key in {', '.join(denied)}"
    return None


def _names_an_alarm(statement: Mapping[str, Any]) -> bool:
    """An Allow whose aws:SourceArn condition (if any) can match a CloudWatch alarm's ARN."""
    condition = statement.get("Condition")
    patterns = [v for tests in (condition.values() if isinstance(condition, Mapping) else ())
                if isinstance(tests, Mapping)
                for k, values in tests.items() if k.lower() == "aws:sourcearn" for v in as_list(values)]
    return not patterns or any(p == "*" or (":cloudwatch:" in str(p) and ":alarm:" in str(p)) for p in patterns)


def _topic_policy_problem(document: Any) -> str | None:
    if service_allowed(document, CLOUDWATCH, ["sns:Publish"], admits=_names_an_alarm):
        return f"does not allow {CLOUDWATCH} sns:Publish for this account's alarms"
    denied = service_denied(document, CLOUDWATCH, ["sns:Publish"])
    return f"denies {CLOUDWATCH} sns:Publish in {', '.join(denied)}" if denied else None


def validate_alarm_has_actions(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Every alarm notifies a topic of the stack on ALARM and OK, and CloudWatch can publish to that topic."""
    graph = StackGraph(args.resources)
    notified: dict[str, list[PolicyResource]] = defaultdict(list)
    topics: dict[str, PolicyResource] = {}
    for alarm in graph.of_type(METRIC_ALARM, COMPOSITE_ALARM):
        for topic in _check_alarm(graph, alarm, report_violation):
            topics[topic.urn] = topic
            if alarm not in notified[topic.urn]:
                notified[topic.urn].append(alarm)

    checked_keys: set[str] = set()
    for urn, topic in topics.items():
        count = len(notified[urn])
        who = f"SNS topic '{topic.name}', which {count} alarm{'s notify' if count != 1 else ' notifies'},"
        key = _key_of(graph, topic)
        if isinstance(key, str) and key.split(":", 5)[-1] == AWS_MANAGED_SNS_KEY:
            report_violation(f"{who} is encrypted with the AWS managed key {AWS_MANAGED_SNS_KEY}, whose policy "
                             f"cannot let {CLOUDWATCH} use it, so no alarm notification is ever published. "
                             "Encrypt the topic with a customer managed key whose policy allows it.", topic.urn)
        elif key is not None and not isinstance(key, str) and key.urn not in checked_keys:
            checked_keys.add(key.urn)
            documents = _key_policies(graph, key)
            problem = _key_problem(documents) if documents is not None else None
            if problem:
                report_violation(
                    f"KMS key '{key.name}' encrypts {who} but its key policy {problem}; CloudWatch encrypts each "
                    "alarm notification itself, so every alarm action fails with KMS AccessDenied. Add an Allow "
                    f"for the service principal {CLOUDWATCH} with kms:Decrypt and kms:GenerateDataKey*.", key.urn)
        for policy in graph.referrers(topic, TOPIC_POLICY, prop="arn"):
            value = known(policy.props, "policy")
            problem = _topic_policy_problem(json_document(value)) if value is not UNKNOWN else None
            if problem:
                report_violation(
                    f"{who} has a topic policy ('{policy.name}') that {problem}, so CloudWatch cannot deliver "
                    f"alarm notifications. Allow {CLOUDWATCH} sns:Publish with aws:SourceAccount (this account) "
                    "and aws:SourceArn (its alarms) conditions.", topic.urn)


ALARM_HAS_ACTIONS = stack_policy(
    "alarm-has-actions",
    "Every CloudWatch alarm notifies an SNS topic of the stack on ALARM and OK, and CloudWatch may publish to "
    "that topic and use its KMS key.",
    validate_alarm_has_actions,
    remediation_steps="Declare alarms with **platform.alarm_actions.metric_alarm_args(); the platform key and the "
                      "notification topic's policy already admit CloudWatch.",
)

POLICIES = [ALARM_HAS_ACTIONS]
