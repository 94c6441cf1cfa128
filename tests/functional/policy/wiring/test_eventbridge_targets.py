"""eventbridge-rules-deliver: every rule has a target, every target a DLQ, retries and EventBridge's permission."""

from __future__ import annotations

import json

import pytest

from arcblueprint.policy.testing import mutated, violations_of

POLICY = "eventbridge-rules-deliver"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
KEY = "aws:kms/key:Key"
#: The statement the platform key needs so EventBridge can archive with it (encryption-archives.html); the lead
#: adds it to arcblueprint/platform/encryption.py at merge. ``_with_archive_statement`` adds it to a graph whose
#: key lacks it, so these tests hold before and after.
ARCHIVE_STATEMENT = {
    "Sid": "EventBridgeReEncryptsArchivedEvents",
    "Effect": "Allow",
    "Principal": {"Service": "events.amazonaws.com"},
    "Action": "kms:ReEncrypt*",  # kms:DescribeKey, GenerateDataKey* and Decrypt: ServicesUseTheKeyForThisAccount
    "Resource": "*",
    "Condition": {"StringEquals": {"aws:SourceAccount": "<account>"}},
}


def _edit(*keys, value=None, remove=False):
    def change(resource):
        for props in (resource.inputs, resource.outputs):
            node = props
            for key in keys[:-1]:
                node = node.get(key, {})
            if remove:
                node.pop(keys[-1], None)
            elif keys[-1] in node or props is resource.inputs:
                node[keys[-1]] = value
        if remove and len(keys) == 1:
            resource.property_dependencies.pop(keys[0], None)

    return change


def _policy(change_document):
    """Edit the JSON document in ``policy`` (inputs and outputs)."""

    def change(resource):
        for props in (resource.inputs, resource.outputs):
            if "policy" in props:
                props["policy"] = json.dumps(change_document(json.loads(props["policy"])))

    return change


_SHIPPED: dict[str, object] = {}


def _shipped(synthesized, stack):
    """The shipped stack's graph as the lead merges it: the platform key with the archive statement."""
    if stack not in _SHIPPED:
        _SHIPPED[stack] = _with_archive_statement(synthesized(stack))
    return _SHIPPED[stack]


def _with_archive_statement(graph):
    """The graph with the platform key's archive statement (a no-op once encryption.py declares it)."""
    account = graph.config.account_id

    def add(document):
        if not any(
            "kms:ReEncrypt*" in s.get("Action", []) and "events.amazonaws.com" in str(s) for s in document["Statement"]
        ):
            statement = json.loads(json.dumps(ARCHIVE_STATEMENT).replace("<account>", account))
            document["Statement"].append(statement)
        return document

    return mutated(graph, "platform-key", _policy(add), resource_type=KEY)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_shipped_stacks_deliver_every_route(synthesized, stack):
    graph = synthesized(stack)
    # Until the platform key admits EventBridge's re-encryption, the archive is the one thing reported.
    assert all(
        v.urn.endswith("::events-archive") and "kms:ReEncryptFrom" in v.message for v in violations_of(graph, POLICY)
    )
    assert violations_of(_with_archive_statement(graph), POLICY) == []
    targets = graph.by_type(TARGET)
    kinds = {t.inputs["arn"].split(":")[2] for t in targets}
    # The kinds of target the shipped stacks use, so each check runs on real wiring (Kinesis: mutated below).
    assert kinds == {"sqs", "firehose", "lambda", "states"}
    rules = {r.urn for r in graph.by_type("aws:cloudwatch/eventRule:EventRule")}
    assert rules == {u for t in targets for u in t.property_dependencies["rule"]}  # the edge the rule follows


def test_a_rule_without_a_target_is_reported(synthesized):
    def detach(target):
        target.property_dependencies["rule"] = []
        target.inputs["rule"] = "some-other-rule"

    broken = mutated(_shipped(synthesized, "prod"), "fan-orders-billing-target", detach, resource_type=TARGET)
    [violation] = violations_of(broken, POLICY)
    assert violation.urn.endswith("::fan-orders-billing-rule") and violation.level == "mandatory"
    assert "has no target" in violation.message and "every event it matches is dropped" in violation.message


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (("deadLetterConfig",), "no dead-letter queue"),
        (("retryPolicy",), "no retry policy"),
    ],
)
def test_a_target_without_dlq_or_retry_policy_is_reported(synthesized, keys, expected):
    broken = mutated(
        _shipped(synthesized, "dev"), "lake-orders-order-events-target", _edit(*keys, remove=True), resource_type=TARGET
    )
    [violation] = violations_of(broken, POLICY)
    assert violation.urn.endswith("::lake-orders-order-events-target")
    assert expected in violation.message and "cannot deliver as declared" in violation.message
    assert "rule 'lake-orders-order-events-rule'" in violation.message


def test_a_queue_target_whose_policy_does_not_admit_the_rule_is_reported(synthesized):
    def drop_rule_statement(document):
        document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != "TheseRulesSend"]
        return document

    broken = mutated(_shipped(synthesized, "prod"), "fan-billing-policy", _policy(drop_rule_statement))
    [violation] = violations_of(broken, POLICY)
    assert violation.urn.endswith("::fan-orders-billing-target")
    assert (
        "target queue 'fan-billing-queue' does not allow events.amazonaws.com to sqs:SendMessage" in violation.message
    )
    assert "aws:SourceArn" in violation.message


def test_a_queue_policy_naming_another_rule_is_reported(synthesized):
    def other_rule(document):
        for statement in document["Statement"]:
            if statement.get("Sid") == "TheseRulesSend":
                statement["Condition"]["ArnEquals"]["aws:SourceArn"] = [
                    "arn:aws:events:eu-west-1:222222222222:rule/arcbp-prod-bus/arcbp-prod-fan-something-else"
                ]
        return document

    broken = mutated(_shipped(synthesized, "prod"), "fan-billing-policy", _policy(other_rule))
    assert [v.urn.rsplit("::", 1)[-1] for v in violations_of(broken, POLICY)] == ["fan-orders-billing-target"]


def test_a_dead_letter_queue_with_the_aws_managed_key_is_reported(synthesized):
    broken = mutated(
        _shipped(synthesized, "dev"),
        "ops-hooks-audit-dlq",
        _edit("kmsMasterKeyId", value="alias/aws/sqs"),
        resource_type="aws:sqs/queue:Queue",
    )
    [violation] = violations_of(broken, POLICY)
    assert violation.urn.endswith("::ops-hooks-audit-target")
    assert (
        "dead-letter queue 'ops-hooks-audit-dlq' is encrypted with the AWS managed key alias/aws/sqs"
        in violation.message
    )


def test_a_key_that_does_not_let_eventbridge_encrypt_fails_every_queue_it_protects(synthesized):
    def without_events(document):
        document["Statement"] = [
            s for s in document["Statement"] if s.get("Principal", {}).get("Service") != "events.amazonaws.com"
        ]
        for statement in document["Statement"]:
            services = statement.get("Principal", {}).get("Service")
            if isinstance(services, list) and "events.amazonaws.com" in services:
                services.remove("events.amazonaws.com")
        return document

    graph = _shipped(synthesized, "prod")
    broken = mutated(graph, "platform-key", _policy(without_events), resource_type=KEY)
    violations = violations_of(broken, POLICY)
    on_targets = [v for v in violations if "::" in v.urn and v.urn.rsplit("::", 1)[0].endswith(TARGET)]
    # Each target's DLQ, and the queue target itself, is encrypted with the platform key.
    assert len(on_targets) == len(graph.by_type(TARGET)) + 1
    assert all(
        "with key 'platform-key', whose policy does not let events.amazonaws.com kms:GenerateDataKey and "
        "kms:Decrypt" in v.message
        for v in on_targets
    )
    # So are the bus (which EventBridge can no longer encrypt with) and its dead-letter queue.
    bus = " | ".join(v.message for v in violations if v.urn.endswith("::events-bus"))
    assert "whose policy does not let events.amazonaws.com kms:DescribeKey, kms:GenerateDataKey, kms:Decrypt" in bus
    assert "dead-letter queue 'events-dlq' is encrypted with key 'platform-key'" in bus


def test_a_delivery_stream_target_whose_role_eventbridge_cannot_assume_is_reported(synthesized):
    def trust_lambda(role):
        role.inputs["assumeRolePolicy"] = json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        )

    broken = mutated(_shipped(synthesized, "dev"), "lake-hooks-webhook-events-events-role", trust_lambda)
    [violation] = violations_of(broken, POLICY)
    assert violation.urn.endswith("::lake-hooks-webhook-events-target")
    assert "role 'lake-hooks-webhook-events-events-role' does not trust events.amazonaws.com" in violation.message


def test_a_state_machine_target_whose_role_may_not_start_it_is_reported(synthesized):
    def read_only(document):
        for statement in document["Statement"]:
            if statement.get("Sid") == "StartTheStateMachine":
                statement["Action"] = ["states:DescribeExecution"]
        return document

    broken = mutated(_shipped(synthesized, "prod"), "ops-bookings-workflow-events-policy", _policy(read_only))
    [violation] = violations_of(broken, POLICY)
    assert violation.urn.endswith("::ops-bookings-workflow-target")
    assert "has no policy that allows states:StartExecution on the target" in violation.message


def test_a_function_target_without_a_permission_for_the_rule_is_reported(synthesized):
    def other_source(permission):
        permission.inputs["sourceArn"] = "arn:aws:events:eu-west-1:222222222222:rule/arcbp-prod-bus/another-rule"
        permission.outputs["sourceArn"] = permission.inputs["sourceArn"]
        permission.property_dependencies["sourceArn"] = []

    broken = mutated(_shipped(synthesized, "prod"), "ops-audit-events-hooks-audit", other_source)
    [violation] = violations_of(broken, POLICY)
    assert violation.urn.endswith("::ops-hooks-audit-target")
    assert (
        "no Lambda permission lets events.amazonaws.com invoke alias 'ops-audit-alias-live' from this rule"
        in violation.message
    )


def _only(violations, name):
    """The messages of the violations reported on the resource with logical name ``name`` (and that all are)."""
    assert violations and all(v.urn.endswith(f"::{name}") for v in violations), [v.line() for v in violations]
    return " | ".join(v.message for v in violations)


def _mandatory(graph):
    """What the rule reports on a graph derived from ``_shipped`` (the archive statement already in the key)."""
    return [v for v in violations_of(graph, POLICY) if v.level == "mandatory"]


def test_a_rule_on_the_default_bus_without_a_target_is_reported(synthesized):
    """The alarm responder's rule is on the default bus: without its target it drops every alarm change."""

    def detach(target):
        target.property_dependencies["rule"] = []
        target.inputs["rule"] = "some-other-rule"

    broken = mutated(_shipped(synthesized, "prod"), "ops-alarm-changes-target", detach, resource_type=TARGET)
    message = _only(_mandatory(broken), "ops-alarm-changes-rule")
    assert "on bus 'default' has no target" in message


def _kinesis_target(graph):
    """The lake's order-events route turned back into the old one: the target is the shared Kinesis stream."""
    [stream] = graph.by_type("aws:kinesis/stream:Stream")

    def to_stream(target):
        target.inputs["arn"] = stream.outputs["arn"]
        target.property_dependencies["arn"] = [stream.urn]

    def put_records(policy):
        document = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "PutRecordsOnTheStream",
                    "Effect": "Allow",
                    "Action": ["kinesis:PutRecord", "kinesis:PutRecords"],
                    "Resource": stream.outputs["arn"],
                }
            ],
        }
        policy.inputs["policy"] = policy.outputs["policy"] = json.dumps(document)
        policy.property_dependencies["policy"] = [stream.urn]

    graph = mutated(graph, "lake-orders-order-events-target", to_stream, resource_type=TARGET)
    return mutated(graph, "lake-orders-order-events-events-policy", put_records)


def test_a_kinesis_target_whose_role_may_not_use_the_streams_key_is_reported(synthesized):
    """Kinesis SSE: a producer needs kms:GenerateDataKey on the stream's key, or every PutRecord is refused."""
    broken = _kinesis_target(_shipped(synthesized, "prod"))
    message = _only(_mandatory(broken), "lake-orders-order-events-target")
    assert (
        "role 'lake-orders-order-events-events-role' may not kms:GenerateDataKey with the key the target "
        "'lake-stream' is encrypted with (platform-key)" in message
    )

    def with_key(policy):
        document = json.loads(policy.inputs["policy"])
        key = json.loads(json.dumps(document["Statement"][0]))
        key.update(Sid="UseTheTargetsKey", Action=["kms:GenerateDataKey"], Resource="*")
        document["Statement"].append(key)
        policy.inputs["policy"] = policy.outputs["policy"] = json.dumps(document)

    assert _mandatory(mutated(broken, "lake-orders-order-events-events-policy", with_key)) == []


def test_a_state_machine_target_whose_role_may_not_use_its_key_is_reported(synthesized):
    def without_key(document):
        document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != "UseTheTargetsKey"]
        return document

    broken = mutated(_shipped(synthesized, "prod"), "ops-bookings-workflow-events-policy", _policy(without_key))
    message = _only(_mandatory(broken), "ops-bookings-workflow-target")
    assert "may not kms:GenerateDataKey with the key the target 'ops-workflow' is encrypted with" in message


def test_a_firehose_target_whose_role_may_not_put_record_batches_is_reported(synthesized):
    """EventBridge calls PutRecordBatch on a Firehose target; PutRecord alone is not enough."""

    def put_record_only(document):
        document["Statement"][0]["Action"] = ["firehose:PutRecord"]
        return document

    broken = mutated(_shipped(synthesized, "dev"), "lake-hooks-webhook-events-events-policy", _policy(put_record_only))
    message = _only(_mandatory(broken), "lake-hooks-webhook-events-target")
    assert "has no policy that allows firehose:PutRecordBatch on the target" in message


def test_an_input_template_placeholder_that_input_paths_does_not_define_is_reported(synthesized):
    def drop_detail(target):
        del target.inputs["inputTransformer"]["inputPaths"]["detail"]

    broken = mutated(
        _shipped(synthesized, "prod"), "lake-orders-order-events-target", drop_detail, resource_type=TARGET
    )
    message = _only(_mandatory(broken), "lake-orders-order-events-target")
    assert "input template uses <detail>, which inputPaths does not define" in message

    def predefined(target):
        transformer = target.inputs["inputTransformer"]
        transformer["inputTemplate"] = transformer["inputTemplate"].replace("<detail>", '"<aws.events.rule-arn>"')

    # A predefined variable needs no path.
    assert _mandatory(mutated(broken, "lake-orders-order-events-target", predefined, resource_type=TARGET)) == []


def test_an_encrypted_bus_without_a_dead_letter_queue_is_reported(synthesized):
    def no_dlq(bus):
        bus.inputs.pop("deadLetterConfig")
        bus.outputs.pop("deadLetterConfig", None)
        bus.property_dependencies.pop("deadLetterConfig")

    broken = mutated(_shipped(synthesized, "prod"), "events-bus", no_dlq)
    message = _only(_mandatory(broken), "events-bus")
    assert "encrypted with a customer managed key and has no dead-letter queue" in message


def test_a_bus_dead_letter_queue_that_admits_another_bus_is_reported(synthesized):
    def other_bus(document):
        document["Statement"][0]["Condition"] = {
            "ArnEquals": {"aws:SourceArn": "arn:aws:events:eu-west-1:222222222222:event-bus/someone-else"}
        }
        return document

    broken = mutated(_shipped(synthesized, "prod"), "events-dlq-policy", _policy(other_bus))
    message = _only(_mandatory(broken), "events-bus")
    assert (
        "policy of its dead-letter queue 'events-dlq' does not allow events.amazonaws.com to sqs:SendMessage" in message
    )
    assert "from this bus" in message


def test_the_archive_needs_its_key_to_allow_reencryption(synthesized):
    """EventBridge archives with DescribeKey, GenerateDataKey, Decrypt and ReEncrypt* (encryption-archives.html)."""
    graph = synthesized("dev")

    def without_reencrypt(document):
        for statement in document["Statement"]:
            if "events.amazonaws.com" in str(statement.get("Principal")):
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                statement["Action"] = [a for a in actions if not a.startswith("kms:ReEncrypt")]
        return document

    broken = mutated(_with_archive_statement(graph), "platform-key", _policy(without_reencrypt), resource_type=KEY)
    message = _only([v for v in violations_of(broken, POLICY)], "events-archive")
    assert "does not let events.amazonaws.com kms:ReEncryptFrom, kms:ReEncryptTo" in message


SCHEDULE = "ops-job-cleanup"


def test_the_scheduler_role_is_trusted_by_scheduler_for_its_group_only(synthesized):
    """Confused deputy: Scheduler sends aws:SourceAccount and the schedule *group*'s ARN as aws:SourceArn."""
    graph = _shipped(synthesized, "prod")
    [role] = [r for r in graph.by_type("aws:iam/role:Role") if r.name == "ops-scheduler-role"]
    [statement] = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    [group] = graph.by_type("aws:scheduler/scheduleGroup:ScheduleGroup")
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": graph.config.account_id},
        "ArnLike": {"aws:SourceArn": group.outputs["arn"]},  # no wildcard: the group's ARN exactly
    }

    def trust(condition=None, service="scheduler.amazonaws.com"):
        def change(resource):
            document = {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
            }
            if condition:
                document["Statement"][0]["Condition"] = condition
            resource.inputs["assumeRolePolicy"] = json.dumps(document)

        return change

    schedule_arn = group.outputs["arn"].replace(":schedule-group/", ":schedule/") + "/" + SCHEDULE
    for change in (
        trust({"ArnEquals": {"aws:SourceArn": schedule_arn}}),  # a schedule's ARN never matches: the group's does
        trust({"StringEquals": {"aws:SourceAccount": "999999999999"}}, service=["scheduler.amazonaws.com"]),
    ):
        message = _only(_mandatory(mutated(graph, "ops-scheduler-role", change)), SCHEDULE)
        assert "role 'ops-scheduler-role' does not let scheduler.amazonaws.com sts:AssumeRole" in message
    wildcard = trust({"ArnLike": {"aws:SourceArn": group.outputs["arn"].rsplit("/", 1)[0] + "/*"}})
    assert _mandatory(mutated(graph, "ops-scheduler-role", wildcard)) == []


@pytest.mark.parametrize(
    ("sid", "expected"),
    [
        ("InvokeTheJobs", "has no policy that allows lambda:InvokeFunction on the target"),
        ("DeadLetter", "has no policy that allows sqs:SendMessage on its dead-letter queue"),
        (
            "EncryptDeadLetters",
            "may not kms:GenerateDataKey and kms:Decrypt with the key its dead-letter queue 'ops-schedules-dlq' is "
            "encrypted with (platform-key)",
        ),
    ],
)
def test_a_schedule_whose_role_may_not_do_what_it_asks_is_reported(synthesized, sid, expected):
    def without(document):
        document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != sid]
        return document

    broken = mutated(_shipped(synthesized, "dev"), "ops-scheduler-policy", _policy(without))
    assert expected in _only(_mandatory(broken), SCHEDULE)


def test_a_schedule_dead_letter_key_that_does_not_admit_the_account_is_reported(synthesized):
    """A key policy naming neither the account nor the role refuses it, whatever the role's own policy says."""

    def no_account(document):
        document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != "AccountAdministers"]
        return document

    broken = mutated(_shipped(synthesized, "prod"), "platform-key", _policy(no_account), resource_type=KEY)
    scheduled = [v for v in violations_of(broken, POLICY) if v.urn.endswith(f"::{SCHEDULE}")]
    assert (
        "the policy of key 'platform-key' (its dead-letter queue 'ops-schedules-dlq') admits neither the account "
        "nor role 'ops-scheduler-role' for kms:GenerateDataKey and kms:Decrypt" in _only(scheduled, SCHEDULE)
    )


def test_input_and_trust_defects_are_caught_in_the_first_preview(synthesized):
    """Template and trust policy are inputs the program writes: known when nothing exists yet."""

    def drop_detail(target):
        del target.inputs["inputTransformer"]["inputPaths"]["detail"]

    def trust_lambda(role):
        document = json.loads(role.inputs["assumeRolePolicy"])
        document["Statement"][0]["Principal"] = {"Service": "lambda.amazonaws.com"}
        role.inputs["assumeRolePolicy"] = json.dumps(document)

    broken = mutated(
        _shipped(synthesized, "prod"), "lake-orders-order-events-target", drop_detail, resource_type=TARGET
    )
    broken = mutated(broken, "ops-scheduler-role", trust_lambda)
    found = {v.urn.rsplit("::", 1)[-1] for v in violations_of(broken, POLICY, first_preview=True)}
    assert found == {"lake-orders-order-events-target", SCHEDULE}
