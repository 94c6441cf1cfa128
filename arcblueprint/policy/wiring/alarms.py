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

import fnmatch
from collections import defaultdict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from arcblueprint.policy.base import as_list, is_mapping, json_document, stack_policy
from arcblueprint.policy.graph import StackGraph
from arcblueprint.policy.wiring._props import UNKNOWN, known, known_list, service_allowed, service_denied

if TYPE_CHECKING:
    from pulumi_policy import PolicyResource, StackValidationArgs

    from arcblueprint.policy.base import ReportViolation

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
    return [
        t
        for t in graph.of_type(TOPIC)
        if known(t.props, "arn") in arns or any(a.rsplit(":", 1)[-1] == known(t.props, "name") for a in arns)
    ], value


def _check_alarm(graph: StackGraph, alarm: PolicyResource, report_violation: ReportViolation) -> list[PolicyResource]:
    """Report an alarm without working actions; return the topics it notifies."""
    kind = "Composite alarm" if alarm.resource_type == COMPOSITE_ALARM else "Alarm"
    if known(alarm.props, "actionsEnabled") is False:
        report_violation(
            f"{kind} '{alarm.name}' has actionsEnabled false, so it notifies nobody when it changes "
            "state; remove actionsEnabled (default true).",
            alarm.urn,
        )
    topics: list[PolicyResource] = []
    for prop in ACTION_PROPS:
        found, value = _topics_of(graph, alarm, prop)
        topics += found
        if found or value is UNKNOWN:
            continue
        if not value:
            report_violation(
                f"{kind} '{alarm.name}' has no {prop}, so nobody hears when it "
                f"{'fires' if prop == 'alarmActions' else 'recovers'}; give it the platform "
                "notification topic (Platform.alarm_actions.metric_alarm_args()).",
                alarm.urn,
            )
        else:
            report_violation(
                f"{kind} '{alarm.name}' has {prop} {value} but none is an SNS topic of this stack, "
                "whose key and policy could be checked; use the platform notification topic "
                "(Platform.alarm_actions.metric_alarm_args()).",
                alarm.urn,
            )
    return topics


def _account(*resources: PolicyResource) -> str | None:
    """The account id in the first known ARN of ``resources`` (``None`` while none is known)."""
    for resource in resources:
        arn = known(resource.props, "arn")
        if isinstance(arn, str) and arn.count(":") >= 5 and arn.split(":")[4].isdigit():
            return arn.split(":")[4]
    return None


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


#: Condition operators (``...IfExists`` too) under which the keys below can be tested against CloudWatch's request.
_STRING_TESTS = ("StringEquals", "StringLike", "ArnEquals", "ArnLike")


def _alarm_arn_pattern(value: Any, account: str | None) -> bool:
    """A SourceArn pattern an alarm of ``account`` (any account when not known) can match."""
    parts = str(value).split(":")
    return (
        len(parts) >= 7
        and parts[2] in ("cloudwatch", "*")
        and parts[5] in ("alarm", "*")
        and (account is None or fnmatch.fnmatchcase(account, parts[4]))
    )


def _cloudwatch_meets(statement: Mapping[str, Any], account: str | None) -> bool:
    """Whether CloudWatch's call for an alarm of ``account`` meets every condition of an Allow (provably, offline).

    CloudWatch sends ``aws:SourceAccount`` (its alarm's account) and ``aws:SourceArn`` (the alarm) with the
    KMS calls it makes to publish to an encrypted topic, so a key policy may test those (SNS guide, "Enable
    compatibility between event sources from AWS services and encrypted topics"). A condition on any other
    key, or with another operator, may not hold for that call: the Allow is not counted.
    """
    condition = statement.get("Condition")
    if not condition:
        return True
    if not is_mapping(condition):
        return False
    for operator, tests in condition.items():
        if not is_mapping(tests) or str(operator).removesuffix("IfExists") not in _STRING_TESTS:
            return False
        for key, values in tests.items():
            name = str(key).lower()
            if name == "aws:sourceaccount":
                ok = any(account is None or fnmatch.fnmatchcase(account, str(v)) for v in as_list(values))
            elif name == "aws:sourcearn":
                ok = any(_alarm_arn_pattern(v, account) for v in as_list(values))
            else:
                return False
            if not ok:
                return False
    return True


def _key_problem(documents: list[Any], account: str | None = None) -> str | None:
    def admits(statement: Mapping[str, Any]) -> bool:
        return _cloudwatch_meets(statement, account)

    missing = [
        a for a in KEY_ACTIONS if all(a in service_allowed(d, CLOUDWATCH, [a], admits=admits) for d in documents)
    ]
    denied = [sid for d in documents for sid in service_denied(d, CLOUDWATCH, KEY_ACTIONS)]
    if missing:
        return (
            f"does not allow {CLOUDWATCH} {', '.join(a + ('*' if a.endswith('DataKey') else '') for a in missing)}"
            " under conditions an alarm's request meets (none, or aws:SourceAccount / aws:SourceArn of the "
            "account's alarms)"
        )
    if denied:
        return f"denies {CLOUDWATCH} the key in {', '.join(denied)}"
    return None


def _names_an_alarm(statement: Mapping[str, Any]) -> bool:
    """An Allow whose aws:SourceArn condition (if any) can match a CloudWatch alarm's ARN."""
    condition = statement.get("Condition")
    patterns = [
        v
        for tests in (condition.values() if isinstance(condition, Mapping) else ())
        if isinstance(tests, Mapping)
        for k, values in tests.items()
        if k.lower() == "aws:sourcearn"
        for v in as_list(values)
    ]
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
            report_violation(
                f"{who} is encrypted with the AWS managed key {AWS_MANAGED_SNS_KEY}, whose policy "
                f"cannot let {CLOUDWATCH} use it, so no alarm notification is ever published. "
                "Encrypt the topic with a customer managed key whose policy allows it.",
                topic.urn,
            )
        elif key is not None and not isinstance(key, str) and key.urn not in checked_keys:
            checked_keys.add(key.urn)
            documents = _key_policies(graph, key)
            problem = _key_problem(documents, _account(topic, key)) if documents is not None else None
            if problem:
                report_violation(
                    f"KMS key '{key.name}' encrypts {who} but its key policy {problem}; CloudWatch encrypts each "
                    "alarm notification itself, so every alarm action fails with KMS AccessDenied. Add an Allow "
                    f"for the service principal {CLOUDWATCH} with kms:Decrypt and kms:GenerateDataKey*.",
                    key.urn,
                )
        for policy in graph.referrers(topic, TOPIC_POLICY, prop="arn"):
            value = known(policy.props, "policy")
            problem = _topic_policy_problem(json_document(value)) if value is not UNKNOWN else None
            if problem:
                report_violation(
                    f"{who} has a topic policy ('{policy.name}') that {problem}, so CloudWatch cannot deliver "
                    f"alarm notifications. Allow {CLOUDWATCH} sns:Publish with aws:SourceAccount (this account) "
                    "and aws:SourceArn (its alarms) conditions.",
                    topic.urn,
                )


ALARM_HAS_ACTIONS = stack_policy(
    "alarm-has-actions",
    "Every CloudWatch alarm notifies an SNS topic of the stack on ALARM and OK, and CloudWatch may publish to "
    "that topic and use its KMS key.",
    validate_alarm_has_actions,
    remediation_steps="Declare alarms with **platform.alarm_actions.metric_alarm_args(); the platform key and the "
    "notification topic's policy already admit CloudWatch.",
)

POLICIES = [ALARM_HAS_ACTIONS]
