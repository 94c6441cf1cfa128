"""This run's config (release state, the account pin) reaches the CLI as --config-file; the stack file stays."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import yaml

from arcblueprint.deploy.automation import AutomationEngine, merge_config
from arcblueprint.deploy.backend import BackendSettings

STACK_FILE = """\
encryptionsalt: v1:abc:def
config:
  aws:region: eu-west-1
  arcblueprint:releases:
    strategy: blue-green
    functions:
      fan-billing: {rollback: true, previousVersion: 11}
  arcblueprint:apiKey:
    secure: v1:AAAA
"""


def test_mappings_merge_key_by_key_and_the_rest_is_replaced():
    base = {"a:x": {"functions": {"f": {"rollback": True}}, "strategy": "canary"}, "a:y": [1]}
    merged = merge_config(base, {"a:x": {"functions": {"f": {"liveVersion": 4}, "g": {"liveVersion": 2}}}, "a:y": [2]})
    assert merged == {
        "a:x": {
            "functions": {"f": {"rollback": True, "liveVersion": 4}, "g": {"liveVersion": 2}},
            "strategy": "canary",
        },
        "a:y": [2],
    }
    assert base["a:x"]["functions"]["f"] == {"rollback": True}  # the input is not changed


def test_previews_and_updates_get_a_copy_of_the_stack_file_with_this_runs_config(tmp_path):
    (tmp_path / "Pulumi.prod.yaml").write_text(STACK_FILE)
    engine = AutomationEngine(tmp_path, BackendSettings(url="s3://b", secrets_provider="passphrase"), commit="c")
    calls = []
    engine._stacks["prod"] = SimpleNamespace(up=lambda **kwargs: calls.append(kwargs) or "done")
    assert engine._run("prod", "up", failure=None) == "done" and "config_file" not in calls[-1]  # nothing to add
    engine.with_config(
        "prod",
        {
            "aws:allowedAccountIds": ["222222222222"],
            "arcblueprint:releases": {"functions": {"fan-audit": {"liveVersion": 3}}},
        },
    )
    engine._run("prod", "up", failure=None)
    used = yaml.safe_load(Path(calls[-1]["config_file"]).read_text(encoding="utf-8"))
    assert used["encryptionsalt"] == "v1:abc:def" and used["config"]["arcblueprint:apiKey"] == {"secure": "v1:AAAA"}
    assert used["config"]["aws:allowedAccountIds"] == ["222222222222"]
    assert used["config"]["arcblueprint:releases"] == {
        "strategy": "blue-green",
        "functions": {"fan-billing": {"rollback": True, "previousVersion": 11}, "fan-audit": {"liveVersion": 3}},
    }
    assert (tmp_path / "Pulumi.prod.yaml").read_text() == STACK_FILE
