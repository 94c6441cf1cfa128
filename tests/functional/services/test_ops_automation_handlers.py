"""Operations automation handlers against moto: audit once, respond to alarms, clean up on schedule."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from arcblueprint.services.ops_automation.workflow import build_workflow
from arcblueprint.services.testing import load_handler

HANDLERS = Path(__file__).resolve().parents[3] / "arcblueprint" / "services" / "ops_automation" / "handlers"
REGION = "eu-west-1"
TABLE = "arcbp-dev-ops-log"
NOW = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


def alarm_event(name: str, state: str, previous: str, when: str = "2026-01-31T12:00:00Z") -> dict:
    return {
        "version": "0",
        "id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": "111111111111",
        "time": when,
        "region": REGION,
        "resources": [f"arn:aws:cloudwatch:{REGION}:111111111111:alarm:{name}"],
        "detail": {
            "alarmName": name,
            "state": {"value": state, "reason": "Threshold Crossed: 1 datapoint"},
            "previousState": {"value": previous},
            "configuration": {"metrics": []},
        },
    }


@pytest.fixture
def aws(monkeypatch):
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("id", "kind", "recordedAt")],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "byKind",
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                    "KeySchema": [
                        {"AttributeName": "kind", "KeyType": "HASH"},
                        {"AttributeName": "recordedAt", "KeyType": "RANGE"},
                    ],
                }
            ],
        )
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        topic = sns.create_topic(Name="arcbp-dev-alarms")["TopicArn"]
        inbox = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn, Attributes={"RawMessageDelivery": "true"})
        for key, value in {
            "OPS_TABLE": TABLE,
            "KIND_INDEX": "byKind",
            "RECORD_RETENTION_DAYS": "30",
            "TOPIC_ARN": topic,
            "NOTIFY_STATES": "ALARM",
            "RUNBOOK_URL": "https://runbooks.example.com/x",
            "ALARM_NAME_PREFIX": "arcbp-dev-",
        }.items():
            monkeypatch.setenv(key, value)
        yield ddb, sqs, inbox


def notifications(sqs, url):
    found = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        found += [m["Body"] for m in batch]
        for m in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return found


def test_the_audit_records_each_event_once(lambda_context, aws):
    ddb, _, _ = aws
    audit = load_handler(HANDLERS / "audit", "ops_audit_once")
    event = {
        "id": "e-1",
        "source": "arcblueprint.hooks",
        "detail-type": "WebhookReceived",
        "time": "2026-01-31T12:00:00Z",
        "detail": {"webhookId": "w-1", "receivedAt": 1, "payload": {}},
    }
    assert audit.lambda_handler(event, lambda_context()) == {"recorded": True, "id": "event#e-1"}
    assert audit.lambda_handler(event, lambda_context())["recorded"] is False  # redelivered: no second record
    item = ddb.get_item(TableName=TABLE, Key={"id": {"S": "event#e-1"}})["Item"]
    assert (item["kind"]["S"], item["source"]["S"], item["detailType"]["S"]) == (
        "EVENT",
        "arcblueprint.hooks",
        "WebhookReceived",
    )
    with pytest.raises(audit.NotAnEventError):
        audit.record({"detail": {}})


def test_the_alarm_responder_records_every_change_and_notifies_alarms_with_history(aws):
    ddb, sqs, inbox = aws
    alarms = load_handler(HANDLERS / "alarms", "ops_alarms_notify")
    name = "arcbp-dev-orders-api-errors"
    first = alarms.respond(alarm_event(name, "ALARM", "OK", "2026-01-31T11:00:00Z"), now=NOW - timedelta(hours=1))
    recovered = alarms.respond(
        alarm_event(name, "OK", "ALARM", "2026-01-31T11:30:00Z"), now=NOW - timedelta(minutes=30)
    )
    again = alarms.respond(alarm_event(name, "ALARM", "OK"), now=NOW)
    repeat = alarms.respond(alarm_event(name, "ALARM", "OK"), now=NOW)  # EventBridge redelivered it
    assert [r["notified"] for r in (first, recovered, again, repeat)] == [True, False, True, False]
    assert repeat["recorded"] is False
    sent = notifications(sqs, inbox)
    assert len(sent) == 2 and "Times in ALARM in the last 24 hours: 2" in sent[1]
    assert "Runbook: https://runbooks.example.com/x" in sent[0] and "went from OK to ALARM" in sent[0]
    assert ddb.scan(TableName=TABLE)["Count"] == 3
    with pytest.raises(alarms.NotAnAlarmChangeError, match="not one of this stack's"):
        alarms.respond(alarm_event("arcbp-prod-orders-api-errors", "ALARM", "OK"), now=NOW)


def test_the_cleanup_job_deletes_exactly_the_records_past_retention(aws):
    ddb, _, _ = aws
    jobs = load_handler(HANDLERS / "jobs", "ops_jobs_cleanup")
    for i, age_days in enumerate([1, 29, 31, 45, 400]):
        recorded = (NOW - timedelta(days=age_days)).isoformat(timespec="milliseconds")
        for kind in ("ALARM", "EVENT"):
            ddb.put_item(
                TableName=TABLE, Item={"id": {"S": f"{kind}-{i}"}, "kind": {"S": kind}, "recordedAt": {"S": recorded}}
            )
    result = jobs.run({"job": "cleanup", "action": "cleanup", "retentionDays": 30}, now=NOW)
    assert result == {"job": "cleanup", "action": "cleanup", "deleted": 6}
    left = sorted(item["id"]["S"] for item in ddb.scan(TableName=TABLE)["Items"])
    assert left == ["ALARM-0", "ALARM-1", "EVENT-0", "EVENT-1"]
    with pytest.raises(jobs.UnknownJobError):
        jobs.run({"action": "reboot-everything"})


def test_the_workflow_records_then_notifies_and_fails_visibly():
    definition = build_workflow(
        "arn:aws:lambda:eu-west-1:111111111111:function:ops-audit:live",
        "arn:aws:sns:eu-west-1:111111111111:arcbp-dev-alarms",
    )
    states = definition["States"]
    assert definition["StartAt"] == "RecordEvent" and states["RecordEvent"]["Next"] == "Notify"
    assert states["Notify"]["Parameters"]["TopicArn"].endswith(":arcbp-dev-alarms")
    for name in ("RecordEvent", "Notify"):
        assert states[name]["Retry"] and states[name]["Catch"][0]["Next"] == "WorkflowFailed"
    assert states["WorkflowFailed"]["Type"] == "Fail"
    json.dumps(definition)
