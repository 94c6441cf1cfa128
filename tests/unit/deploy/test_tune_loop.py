"""The tuning loop against a fake Lambda API whose durations behave like a real CPU-bound function.

The fake follows Lambda's model: CPU share grows with memory up to one vCPU at 1,769 MB (a
single-threaded handler gains nothing above it), each new version's first invocation is a cold
start, updates and new versions take a poll or two to become ready, and 128 MB runs out of memory.
Reports come back as the JSON ``platform.report`` lines the functions log (``logFormat: JSON``).
"""

from __future__ import annotations

import base64
import io
import json
import random

import pytest

from arcblueprint.cost.prices import load_prices
from arcblueprint.deploy.tune import DEFAULT_MEMORY, tune_function
from arcblueprint.tuning.analysis import TuningError, choose

PRICES = load_prices("eu-west-1")
ONE_VCPU_MB = 1769
CPU_MS_AT_ONE_VCPU = 400.0
IO_MS = 30.0
USED_MB = 110


class RevisionMismatchError(Exception):
    """What Lambda raises (PreconditionFailedException) when RevisionId is stale."""


class FakeLambda:
    def __init__(self, memory: int = 512, *, fail_invoke_at: int | None = None) -> None:
        self.latest = {"MemorySize": memory, "RevisionId": "r0", "Architectures": ["arm64"], "State": "Active"}
        self.latest["LastUpdateStatus"] = "Successful"
        self.versions: dict[str, dict] = {"6": dict(self.latest)}
        self.alias_version = "6"
        self.next_version = 7
        self.invoked: list[dict] = []
        self.cold: set[str] = set()
        self.pending_polls = 0
        self.fail_invoke_at = fail_invoke_at
        self.random = random.Random(7)
        self.deleted: list[str] = []

    # --- the Lambda API calls the loop makes
    def get_function_configuration(self, FunctionName, Qualifier=None):  # noqa: N803 - boto3's names
        if Qualifier is None:
            if self.pending_polls:
                self.pending_polls -= 1
                return {**self.latest, "LastUpdateStatus": "InProgress"}
            return dict(self.latest)
        version = self.versions[Qualifier]
        if version.pop("pending", False):  # a new version is Pending once (SnapStart: while snapshotting)
            return {**version, "State": "Pending"}
        return dict(version)

    def update_function_configuration(self, FunctionName, MemorySize, RevisionId=None):  # noqa: N803
        if RevisionId is not None and RevisionId != self.latest["RevisionId"]:
            raise RevisionMismatchError(RevisionId)
        self.latest.update(MemorySize=MemorySize, RevisionId=f"r{int(self.latest['RevisionId'][1:]) + 1}")
        self.pending_polls = 1
        return dict(self.latest)

    def publish_version(self, FunctionName, Description, RevisionId):  # noqa: N803
        assert RevisionId == self.latest["RevisionId"], "publishes exactly the configuration it set"
        version = str(self.next_version)
        self.next_version += 1
        self.versions[version] = {**self.latest, "Version": version, "pending": True}
        return {"Version": version}

    def get_alias(self, FunctionName, Name):  # noqa: N803
        assert Name == "live"
        return {"FunctionVersion": self.alias_version}

    def delete_function(self, FunctionName, Qualifier):  # noqa: N803
        assert Qualifier != self.alias_version, "never deletes what live points at"
        del self.versions[Qualifier]
        self.deleted.append(Qualifier)

    def invoke(self, FunctionName, Qualifier, LogType, Payload):  # noqa: N803
        self.invoked.append({"Qualifier": Qualifier, "LogType": LogType, "Payload": Payload})
        memory = self.versions[Qualifier]["MemorySize"]
        if memory == self.fail_invoke_at:
            raise ConnectionError("the network dropped mid-run")
        share = min(memory, ONE_VCPU_MB) / ONE_VCPU_MB
        duration = (IO_MS + CPU_MS_AT_ONE_VCPU / share) * self.random.uniform(0.97, 1.03)
        metrics = {
            "durationMs": round(duration, 2),
            "billedDurationMs": int(duration) + 1,
            "memorySizeMB": memory,
            "maxMemoryUsedMB": min(USED_MB, memory),
        }
        if Qualifier not in self.cold:
            self.cold.add(Qualifier)
            metrics["initDurationMs"] = round(450 * (ONE_VCPU_MB / memory) ** 0.5, 2)
        out_of_memory = memory < USED_MB + 20
        tail = "\n".join(
            [
                json.dumps({"time": "t", "level": "INFO", "message": "handled", "service": "orders"}),
                json.dumps({"time": "t", "type": "platform.report", "record": {"metrics": metrics}}),
            ]
        )
        response = {
            "StatusCode": 200,
            "LogResult": base64.b64encode(tail.encode()).decode(),
            "Payload": io.BytesIO(b'{"statusCode": 200}'),
        }
        if out_of_memory:
            response["FunctionError"] = "Unhandled"
        return response


def _run(fake: FakeLambda, **kwargs):
    sleeps: list[float] = []
    run = tune_function(
        fake,
        "arcbp-dev-orders-api",
        DEFAULT_MEMORY,
        invocations=kwargs.pop("invocations", 6),
        payload={"httpMethod": "GET", "path": "/orders/1"},
        sleep=sleeps.append,
        **kwargs,
    )
    return run, sleeps


def test_every_setting_runs_on_its_own_temporary_version_and_live_is_never_touched():
    fake = FakeLambda()
    run, sleeps = _run(fake)
    assert [m.memory_mib for m in run.measurements] == list(DEFAULT_MEMORY)
    assert run.temporary_versions == ["7", "8", "9", "10", "11", "12"]
    assert {call["Qualifier"] for call in fake.invoked} == set(run.temporary_versions)
    assert all(call["LogType"] == "Tail" for call in fake.invoked)
    assert all(json.loads(call["Payload"]) == {"httpMethod": "GET", "path": "/orders/1"} for call in fake.invoked)
    assert len(fake.invoked) == 6 * len(DEFAULT_MEMORY)
    # left as found: original memory on $LATEST, temporary versions deleted, live where it was
    assert fake.latest["MemorySize"] == 512 and set(fake.versions) == {"6"} and fake.alias_version == "6"
    assert sleeps, "it waited for updates and new versions to become ready"


def test_the_measurements_follow_the_cpu_share_and_the_choice_follows_the_strategy():
    run, _ = _run(FakeLambda(), invocations=8)
    by_memory = {m.memory_mib: m for m in run.measurements}
    assert not by_memory[128].usable  # ran out of memory: never chosen
    assert all(len(m.cold_starts) == 1 for m in run.measurements)  # one cold start per new version, left out
    assert by_memory[256].median_ms > by_memory[1024].median_ms > by_memory[3008].median_ms
    # above one vCPU a single-threaded handler gains nothing: 3008 MB is barely faster than 1,769 MB would be
    assert by_memory[3008].median_ms == pytest.approx(IO_MS + CPU_MS_AT_ONE_VCPU, rel=0.05)
    assert choose(run.measurements, "speed", PRICES).memory_mib == 3008
    # GB-seconds (30 m + 707,600)/1,024,000 grow with memory: the smallest setting that works is cheapest
    assert choose(run.measurements, "cost", PRICES).memory_mib == 256
    balanced = choose(run.measurements, "balanced", PRICES).memory_mib
    assert 256 < balanced < 3008


def test_a_failure_mid_run_still_restores_the_function():
    fake = FakeLambda(fail_invoke_at=1024)
    with pytest.raises(ConnectionError):
        _run(fake)
    assert fake.latest["MemorySize"] == 512
    assert set(fake.versions) == {"6"} and fake.deleted == ["7", "8", "9", "10"]


def test_a_version_that_fails_to_become_ready_stops_the_run_and_cleans_up():
    fake = FakeLambda()
    original = fake.publish_version

    def failing_publish(**kwargs):
        result = original(**kwargs)
        fake.versions[result["Version"]].update(State="Failed", StateReason="snapshot failed")
        fake.versions[result["Version"]].pop("pending")
        return result

    fake.publish_version = failing_publish
    with pytest.raises(TuningError, match="failed to become ready: snapshot failed"):
        _run(fake)
    assert set(fake.versions) == {"6"} and fake.latest["MemorySize"] == 512


def test_the_command_refuses_prod_without_allow_prod(capsys):
    from arcblueprint.cli import main

    assert main(["tune", "--stack", "prod", "--function", "orders-api"]) == 2
    assert "refusing to tune in 'prod'" in capsys.readouterr().err
