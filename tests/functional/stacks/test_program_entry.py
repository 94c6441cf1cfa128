"""The program starts the way the Pulumi CLI starts it, and nothing shadows the stdlib ``platform``.

The CLI's Python language host runs the ``main`` of Pulumi.yaml (``stacks/``) with ``runpy``,
which puts the program directory first on ``sys.path``; the working directory is the project
root, and config arrives in the ``PULUMI_CONFIG`` environment variable as JSON strings.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import sysconfig
from pathlib import Path

import yaml

from arcblueprint.config import engine_config, read_stack_file
from arcblueprint.preview.harness import REPO_ROOT

BOOTSTRAP = r"""
import json, os, runpy, sys
import pulumi
from pulumi.runtime.stack import wait_for_rpcs
from pulumi.runtime.sync_await import _sync_await
from arcblueprint.preview.mocks import AwsMocks

seen = {}

class ObserveProgramImports:
    # runpy looks up the program's ``__main__`` with the program directory already on sys.path:
    # record there what the program sees, and where a fresh lookup of ``platform`` resolves to.
    def find_spec(self, name, path=None, target=None):
        if name == "__main__" and not seen:
            import platform
            from importlib.machinery import PathFinder
            spec = PathFinder.find_spec("platform")
            seen.update(sys_path0=sys.path[0], system=platform.system(), platform_file=spec.origin)
        return None

sys.meta_path.insert(0, ObserveProgramImports())
mocks = AwsMocks(region="eu-west-1", account_id="222222222222", project="arcblueprint", stack="prod")
pulumi.runtime.set_mocks(mocks, project="arcblueprint", stack="prod", preview=True)
runpy.run_path(os.path.join(os.getcwd(), "stacks"), run_name="__main__")  # what the language host does
_sync_await(wait_for_rpcs())
root = pulumi.runtime.settings.get_root_resource()
outputs = {k: _sync_await(pulumi.Output.from_input(v).future()) for k, v in root.outputs.items()}
print(json.dumps({"outputs": outputs, "cwd": os.getcwd(), **seen}))
"""


def test_program_runs_as_the_cli_starts_it_and_stdlib_platform_still_works():
    config = engine_config(read_stack_file(REPO_ROOT, "prod"))
    env = {**os.environ, "PULUMI_CONFIG": json.dumps(config)}  # config only through the CLI's channel
    result = subprocess.run(
        [sys.executable, "-c", BOOTSTRAP],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(report["cwd"]) == REPO_ROOT
    assert Path(report["sys_path0"]) == REPO_ROOT / "stacks"
    assert report["system"] == platform.system()
    assert Path(report["platform_file"]).parent == Path(sysconfig.get_paths()["stdlib"])
    assert report["outputs"]["environment"] == "prod"


def test_runpy_on_the_program_dir_puts_it_first_on_sys_path(tmp_path):
    """The assumption above, checked against runpy itself (what the language host calls)."""
    (tmp_path / "__main__.py").write_text("import sys, json; print(json.dumps(sys.path[0]))")
    result = subprocess.run(
        [sys.executable, "-c", f"import runpy; runpy.run_path({str(tmp_path)!r}, run_name='__main__')"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(result.stdout) == str(tmp_path)


def test_stdlib_platform_is_not_shadowed_in_pytest_from_the_repo_root():
    assert Path(platform.__file__).parent == Path(sysconfig.get_paths()["stdlib"])
    assert platform.system()
    assert not (REPO_ROOT / "platform").exists() and not (REPO_ROOT / "platform.py").exists()
    assert not any((REPO_ROOT / "stacks").glob("platform*")), "stacks/ is on sys.path under the CLI"


def test_pulumi_yaml_main_and_runtime_are_what_the_cli_needs():
    project = yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == "arcblueprint"
    assert project["runtime"]["name"] == "python"
    assert (REPO_ROOT / project["main"] / "__main__.py").exists()
    assert project["runtime"]["options"]["virtualenv"] == ".venv"
