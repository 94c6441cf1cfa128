"""The driver's orchestration against an in-memory engine that speaks the real event types."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from pulumi.automation.events import EngineEvent

from arcblueprint.config import stack_config
from arcblueprint.deploy.driver import COMMIT_OUTPUT, WEIGHT_KEY, Driver, write_summary
from arcblueprint.deploy.engine import Outcome
from arcblueprint.deploy.errors import ExitCode

COMMIT = "0f1e2d3c4b5a69788796a5b4c3d2e1f001122334"


def step(op: str, name: str, typ: str = "aws:sqs/queue:Queue", *, protect: bool = False) -> dict[str, Any]:
    urn = f"urn:pulumi:prod::arcblueprint::{typ}::{name}"
    state = {"type": typ, "urn": urn, "id": "", "parent": "", "provider": "", "protect": protect}
    return {"op": op, "urn": urn, "type": typ, "provider": "", "old": state, "new": state}


def pre(meta: dict[str, Any]) -> EngineEvent:
    return EngineEvent.from_json({"sequence": 1, "timestamp": 0, "resourcePreEvent": {"metadata": meta}})


def done(meta: dict[str, Any]) -> EngineEvent:
    return EngineEvent.from_json({"sequence": 2, "timestamp": 0, "resOutputsEvent": {"metadata": meta}})


def failed(meta: dict[str, Any]) -> EngineEvent:
    return EngineEvent.from_json(
        {"sequence": 3, "timestamp": 0, "resOpFailedEvent": {"metadata": meta, "status": 1, "steps": 1}}
    )


def policy(level: str) -> EngineEvent:
    return EngineEvent.from_json(
        {
            "sequence": 4,
            "timestamp": 0,
            "policyEvent": {
                "message": "Queue has no DLQ.",
                "color": "never",
                "policyName": "sqs-has-dlq",
                "policyPackName": "arcblueprint",
                "policyPackVersion": "1",
                "policyPackVersionTag": "1",
                "enforcementLevel": level,
                "resourceUrn": "urn:pulumi:prod::arcblueprint::aws:sqs/queue:Queue::q",
            },
        }
    )


@dataclass
class FakeEngine:
    preview_events: list[EngineEvent] = field(default_factory=list)
    up_events: list[EngineEvent] = field(default_factory=list)
    preview_ok: bool = True
    up_ok: bool = True
    stack_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    config_sets: list[tuple[str, str]] = field(default_factory=list)
    run_config: dict[str, dict[str, Any]] = field(default_factory=dict)

    def preview(self, stack, *, on_event):
        self.calls.append(f"preview {stack}")
        for event in self.preview_events:
            on_event(event)
        return Outcome(
            succeeded=self.preview_ok,
            change_summary={"create": 2, "same": 5},
            message="" if self.preview_ok else "program failed",
        )

    def up(self, stack, *, on_event):
        self.calls.append(f"up {stack}")
        for event in self.up_events:
            on_event(event)
        return Outcome(succeeded=self.up_ok, change_summary={"create": 2}, outputs={"region": "eu-west-1"})

    refresh = up
    destroy = up

    def outputs(self, stack):
        self.calls.append(f"outputs {stack}")
        return self.stack_outputs.get(stack, {})

    def set_config(self, stack, key, value):
        self.config_sets.append((key, value))

    def with_config(self, stack, values):
        self.run_config[stack] = dict(values)


@dataclass
class Report:
    mandatory: list[str] = field(default_factory=list)

    def summary_lines(self):
        return [f"[mandatory] {m}" for m in self.mandatory]

    def as_json(self):
        return {"mandatory": self.mandatory}


@pytest.fixture
def make_driver(stack_values):
    def make(
        engine: FakeEngine,
        *,
        offline: Report | None = None,
        releases: dict | None = None,
        alarms: list[str] | None = None,
        run_releases=None,
    ):
        def load(stack):
            overrides = {"arcblueprint:releases": releases} if releases else None
            return stack_config(stack_values(stack, overrides), stack)

        out = io.StringIO()
        checked: list[list[str]] = []

        def firing(names, region):
            checked.append(list(names))
            return list(alarms or [])

        driver = Driver(
            engine,
            load_config=load,
            offline_gate=lambda stack: offline or Report(),
            commit=COMMIT,
            stream=out,
            firing_alarms=firing,
            sleep=lambda s: None,
            interactive=False,
            run_releases=run_releases,
        )
        driver.out, driver.checked = out, checked
        return driver

    return make


def test_dev_deploy_runs_offline_gate_then_preview_then_up(make_driver, tmp_path):
    meta = step("create", "orders-dlq")
    engine = FakeEngine(preview_events=[pre(meta)], up_events=[pre(meta), done(meta)])
    summary = make_driver(engine).deploy("dev")
    assert summary.exit_code == ExitCode.OK and summary.result == "succeeded"
    # dev has no upstream gate; the driver reads dev's last releases (none yet) before the preview.
    assert engine.calls == ["outputs dev", "preview dev", "up dev"]
    assert engine.run_config["dev"] == {"aws:allowedAccountIds": ["111111111111"]}
    assert summary.changes_by_type == {"aws:sqs/queue:Queue": {"create": 1}}
    assert summary.outputs == {"region": "eu-west-1"}
    write_summary(summary, tmp_path / "summary.json")
    document = json.loads((tmp_path / "summary.json").read_text())
    assert document["result"] == "succeeded" and document["exitCode"] == 0 and document["commit"] == COMMIT


def test_offline_mandatory_violation_stops_before_the_engine(make_driver):
    engine = FakeEngine()
    driver = make_driver(engine, offline=Report(mandatory=["sqs-has-dlq urn:...:q"]))
    summary = driver.deploy("dev")
    assert summary.exit_code == ExitCode.POLICY and engine.calls == []
    assert "  [mandatory] sqs-has-dlq urn:...:q" in driver.out.getvalue()
    assert summary.offline_policy == {"mandatory": ["sqs-has-dlq urn:...:q"]}


def test_prod_refuses_a_commit_dev_does_not_run(make_driver):
    engine = FakeEngine(stack_outputs={"dev": {COMMIT_OUTPUT: "1111111111111111111111111111111111111111"}})
    summary = make_driver(engine).deploy("prod")
    assert summary.exit_code == ExitCode.GATE
    assert engine.calls == ["outputs dev"] and "deployed to 'dev'" in summary.message


def test_prod_force_needs_a_reason_and_records_it(make_driver):
    engine = FakeEngine(stack_outputs={"dev": {COMMIT_OUTPUT: "unknown"}})
    summary = make_driver(engine).deploy("prod", force_reason="hotfix for INC-42, dev is down")
    assert summary.exit_code == ExitCode.OK
    assert engine.calls == ["outputs dev", "outputs prod", "preview prod", "up prod"]
    assert summary.as_json()["forcedReason"] == "hotfix for INC-42, dev is down"


def test_prod_stops_on_replacements_and_lists_them(make_driver):
    engine = FakeEngine(
        stack_outputs={"dev": {COMMIT_OUTPUT: COMMIT}},
        preview_events=[
            pre(step("replace", "orders-table", "aws:dynamodb/table:Table", protect=True)),
            pre(step("create", "new-queue")),
        ],
    )
    summary = make_driver(engine).deploy("prod")
    assert summary.exit_code == ExitCode.GATE and "up prod" not in engine.calls
    assert summary.replacements == [
        {
            "urn": "urn:pulumi:prod::arcblueprint::aws:dynamodb/table:Table::orders-table",
            "type": "aws:dynamodb/table:Table",
            "op": "replace",
            "protected": True,
        }
    ]
    assert "(protected)" in summary.message


def test_dev_allows_replacements(make_driver):
    engine = FakeEngine(preview_events=[pre(step("replace", "q"))])
    assert make_driver(engine).deploy("dev").exit_code == ExitCode.OK


@pytest.mark.parametrize(("level", "code"), [("mandatory", ExitCode.POLICY), ("advisory", ExitCode.OK)])
def test_engine_policy_results_gate_by_enforcement_level(make_driver, level, code):
    engine = FakeEngine(preview_events=[policy(level)])
    summary = make_driver(engine).deploy("dev")
    assert summary.exit_code == code
    assert summary.engine_policy[0]["policy"] == "sqs-has-dlq"
    assert ("up dev" in engine.calls) is (code == ExitCode.OK)


def test_preview_failure_and_update_failure_have_their_own_exit_codes(make_driver):
    assert make_driver(FakeEngine(preview_ok=False)).deploy("dev").exit_code == ExitCode.PREVIEW
    meta = step("create", "q")
    summary = make_driver(FakeEngine(up_events=[pre(meta), failed(meta)])).deploy("dev")
    assert summary.exit_code == ExitCode.UPDATE and "create urn:pulumi" in summary.message


def test_progress_counts_steps_against_the_preview_total(make_driver):
    a, b = step("create", "a"), step("update", "b")
    summary_event = EngineEvent.from_json(
        {
            "sequence": 9,
            "timestamp": 0,
            "summaryEvent": {
                "maybeCorrupt": False,
                "durationSeconds": 1,
                "resourceChanges": {"create": 1, "update": 1},
                "PolicyPacks": {},
            },
        }
    )
    driver = make_driver(FakeEngine(up_events=[pre(a), done(a), pre(b), done(b), summary_event]))
    driver.deploy("dev")
    lines = [line for line in driver.out.getvalue().splitlines() if line.startswith("[")]
    assert lines[0].startswith("[0/2]") and "create aws:sqs/queue:Queue" in lines[0]
    assert lines[-2].startswith("[2/2]") and "done aws:sqs/queue:Queue" in lines[-2]
    assert lines[-1].startswith("[2/2]") and lines[-1].endswith("finished: 2 resource steps, 0 failed")


WEIGHTED = {
    "strategy": "weighted-canary",
    "weightedSteps": [10, 50, 100],
    "canaryWeightPercent": 10,
    "functions": {"orders-api": {"previousVersion": 3}},  # versions count per function
}


def test_promote_moves_through_the_steps_with_one_update_each(make_driver):
    engine = FakeEngine(stack_outputs={"dev": {"rollbackAlarmNames": ["fn-errors"]}})
    driver = make_driver(engine, releases=WEIGHTED)
    summary = driver.promote("dev", bake_seconds=0)
    assert summary.exit_code == ExitCode.OK, summary.message
    assert engine.config_sets == [(WEIGHT_KEY, "50"), (WEIGHT_KEY, "100")]
    assert engine.calls.count("up dev") == 2 and summary.promotion["status"] == "promoted"
    assert driver.checked and all(names == ["fn-errors"] for names in driver.checked)


def test_promote_rolls_back_on_alarm(make_driver):
    engine = FakeEngine(stack_outputs={"dev": {"rollbackAlarmNames": ["fn-errors"]}})
    summary = make_driver(engine, releases=WEIGHTED, alarms=["fn-errors"]).promote("dev", bake_seconds=0)
    assert summary.exit_code == ExitCode.UPDATE and engine.config_sets == [(WEIGHT_KEY, "0")]
    assert summary.promotion == {"status": "rolled-back", "applied": [0], "alarms": ["fn-errors"], "finalWeight": 0}


def test_promote_without_rollback_alarms_is_refused(make_driver):
    summary = make_driver(FakeEngine(), releases=WEIGHTED).promote("dev")
    assert summary.exit_code == ExitCode.GATE and "rollbackAlarmNames" in summary.message


def test_promote_on_a_codedeploy_strategy_is_a_config_error(make_driver):
    summary = make_driver(FakeEngine()).promote("prod")
    assert summary.exit_code == ExitCode.CONFIG and "weighted" in summary.message


def test_rollback_sets_weight_zero_and_updates(make_driver):
    engine = FakeEngine()
    summary = make_driver(engine, releases=WEIGHTED).rollback("dev")
    assert summary.exit_code == ExitCode.OK and engine.config_sets == [(WEIGHT_KEY, "0")] and "up dev" in engine.calls


def test_destroy_needs_the_stack_name_confirmed(make_driver):
    engine = FakeEngine()
    assert make_driver(engine).destroy("dev", confirm=None).exit_code == ExitCode.CONFIG and engine.calls == []
    assert make_driver(engine).destroy("dev", confirm="dev").exit_code == ExitCode.OK


def test_codedeploy_releases_run_after_a_successful_update(make_driver):
    engine = FakeEngine()
    engine.up = lambda stack, *, on_event: Outcome(
        succeeded=True, outputs={"releases": {"api": {"targetVersion": "4"}}}
    )
    seen = []

    def run_releases(stack, config, releases):
        seen.append((stack, config.environment, releases))
        return [{"function": "api", "status": "Succeeded"}]

    summary = make_driver(engine, run_releases=run_releases).deploy("dev")
    assert summary.exit_code == ExitCode.OK and seen == [("dev", "dev", {"api": {"targetVersion": "4"}})]
    assert summary.as_json()["deployments"] == [{"function": "api", "status": "Succeeded"}]
