"""``blueprint replay`` through the driver, against moto's EventBridge archive and replay."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from arcblueprint.config import load
from arcblueprint.deploy.driver import Driver
from arcblueprint.deploy.errors import DeployError, ExitCode
from arcblueprint.deploy.replay import NO_COUNT, parse_time, replay, resolve_rules
from arcblueprint.preview.harness import REPO_ROOT

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's account
BUS = "arcbp-dev-bus"
LIB = Path(__file__).resolve().parents[3] / "arcblueprint" / "services" / "handler_lib"


@dataclass
class OutputsOnly:
    """The engine's ``outputs`` (what ``pulumi stack output`` gives); replay needs nothing else from it."""

    values: dict[str, Any]
    calls: list[str] = field(default_factory=list)

    def outputs(self, stack: str) -> dict[str, Any]:
        self.calls.append(f"outputs {stack}")
        return self.values


@pytest.fixture
def archived(monkeypatch):
    """A bus with an archive and one rule to a queue; three webhooks published through the publishing library."""
    import importlib.util

    with mock_aws():
        monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
        events = boto3.client("events", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        bus_arn = events.create_event_bus(Name=BUS)["EventBusArn"]
        archive_arn = events.create_archive(ArchiveName="arcbp-dev-bus-archive", EventSourceArn=bus_arn)["ArchiveArn"]
        url = sqs.create_queue(QueueName="audit")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        rule_arn = events.put_rule(
            Name="arcbp-dev-ops-hooks-audit",
            EventBusName=BUS,
            EventPattern=json.dumps({"source": ["arcblueprint.hooks"]}),
        )["RuleArn"]
        events.put_targets(Rule="arcbp-dev-ops-hooks-audit", EventBusName=BUS, Targets=[{"Id": "q", "Arn": queue_arn}])
        spec = importlib.util.spec_from_file_location("replay_domain_events", LIB / "domain_events.py")
        library = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(library)
        publisher = library.DomainEvents(source="arcblueprint.hooks", bus_name=BUS, client=events)
        publisher.publish_all(
            [
                ("WebhookReceived", {"webhookId": f"w-{i}", "receivedAt": 1769853600 + i, "payload": {"n": i}})
                for i in range(3)
            ]
        )

        def drain() -> list[dict[str, Any]]:
            found = []
            while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
                found += [json.loads(m["Body"]) for m in batch]
                for m in batch:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            return found

        assert len(drain()) == 3  # delivered once when published
        outputs = {
            "eventBusArn": bus_arn,
            "eventArchiveArn": archive_arn,
            "eventRules": {
                "ops-hooks-audit": rule_arn,
                "ops-alarm-changes": f"arn:aws:events:{REGION}:{ACCOUNT}:rule/arcbp-dev-ops-alarm-changes",
            },
        }
        yield events, outputs, drain


def driver(outputs: dict[str, Any], stream: io.StringIO) -> Driver:
    return Driver(
        OutputsOnly(outputs),
        load_config=lambda stack: load(REPO_ROOT, stack),
        offline_gate=lambda s: None,
        commit="c0ffee",
        stream=stream,
        firing_alarms=lambda names, region: [],
        sleep=lambda s: None,
        events_client=lambda region: boto3.client("events", region_name=region),
    )


def test_a_replay_resends_the_archived_events_to_the_named_rule_and_reports_what_it_knows(archived):
    events, outputs, drain = archived
    stream = io.StringIO()
    summary = driver(outputs, stream).replay(
        "dev", start="2020-01-01T00:00:00Z", end="2099-01-01", rules=["ops-hooks-audit"]
    )
    assert (summary.operation, summary.result, summary.exit_code) == ("replay", "succeeded", ExitCode.OK)
    result = summary.replay
    assert result["state"] == "COMPLETED" and result["rules"] == [outputs["eventRules"]["ops-hooks-audit"]]
    assert result["archiveEventCount"] == 3  # the archive's own count (all of it, not only the window)
    assert result["replayedEventCount"] is None and result["replayedEventCountNote"] == NO_COUNT
    described = events.describe_replay(ReplayName=result["name"])
    assert described["Destination"] == {"Arn": outputs["eventBusArn"], "FilterArns": result["rules"]}
    assert described["EventSourceArn"] == outputs["eventArchiveArn"]
    replayed = drain()
    # Delivered again, marked as a replay (what the targets see, and what counting them would count).
    assert sorted(e["detail"]["webhookId"] for e in replayed) == ["w-0", "w-1", "w-2"]
    text = stream.getvalue()
    assert "COMPLETED" in text and "Archive: 3 events" in text and "does not report how many events" in text
    assert json.dumps(summary.as_json())  # the CI artifact serializes


def test_rules_must_be_of_the_archived_bus_and_times_in_order(archived):
    _, outputs, _ = archived
    stream = io.StringIO()
    on_default_bus = driver(outputs, stream).replay(
        "dev", start="2026-01-01", end="2026-02-01", rules=["ops-alarm-changes"]
    )
    assert on_default_bus.exit_code == ExitCode.CONFIG and "not on the archived bus" in on_default_bus.message
    unknown = driver(outputs, stream).replay("dev", start="2026-01-01", end="2026-02-01", rules=["nope"])
    assert unknown.exit_code == ExitCode.CONFIG and "ops-hooks-audit" in unknown.message
    backwards = driver(outputs, stream).replay("dev", start="2026-02-01", end="2026-01-01")
    assert backwards.exit_code == ExitCode.CONFIG and "must be before" in backwards.message
    assert driver(outputs, stream).replay("dev", start="yesterday", end="2026-01-01").exit_code == ExitCode.CONFIG
    assert driver({}, stream).replay("dev", start="2026-01-01", end="2026-02-01").exit_code == ExitCode.CONFIG


def test_progress_is_the_share_of_the_window_replayed_and_a_failed_replay_fails_the_run():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    states = iter(
        [
            ("RUNNING", None),
            ("RUNNING", start + timedelta(hours=6)),
            ("RUNNING", start + timedelta(hours=18)),
            ("FAILED", start + timedelta(hours=18)),
        ]
    )

    class Client:
        def describe_archive(self, ArchiveName):  # noqa: N803 - boto3's parameter names
            return {"EventCount": 42, "SizeBytes": 4200}

        def start_replay(self, **kwargs):
            self.started = kwargs

        def describe_replay(self, ReplayName):  # noqa: N803
            state, last = next(states)
            return {
                "State": state,
                "EventLastReplayedTime": last,
                "StateReason": "KMS access denied" if state == "FAILED" else "",
            }

    lines: list[str] = []
    outputs = {
        "eventBusArn": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{BUS}",
        "eventArchiveArn": f"arn:aws:events:{REGION}:{ACCOUNT}:archive/a",
    }
    result = replay(
        Client(),
        outputs,
        stack="dev",
        start=start,
        end=start + timedelta(days=1),
        say=lines.append,
        sleep=lambda s: None,
    )
    assert [line.split(" (")[-1] for line in lines[1:4]] == [
        "RUNNING: no event of the window replayed yet",
        "25% of the window)",
        "75% of the window)",
    ]
    assert result.state == "FAILED" and result.state_reason == "KMS access denied"
    assert result.archive_event_count == 42


def test_times_and_rule_names_are_read_as_documented():
    assert parse_time("2026-01-31T10:00:00Z", "--from") == datetime(2026, 1, 31, 10, tzinfo=UTC)
    assert parse_time("2026-01-31", "--to") == datetime(2026, 1, 31, tzinfo=UTC)
    with pytest.raises(DeployError):
        parse_time("31/01/2026", "--to")
    bus = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{BUS}"
    arn = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{BUS}/arcbp-dev-lake-orders-order-events"
    rules = {"eventRules": {"lake-orders-order-events": arn}}
    assert resolve_rules(["lake-orders-order-events"], rules, bus) == [arn]
    assert resolve_rules(["arcbp-dev-lake-orders-order-events"], rules, bus) == [arn]
    assert resolve_rules([arn], {}, bus) == [arn]
