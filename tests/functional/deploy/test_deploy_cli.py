"""The deployment commands as CI calls them, where no Pulumi CLI is installed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from arcblueprint.cli import main
from arcblueprint.deploy.cli import secret_config_from_env
from arcblueprint.deploy.errors import DeployError, ExitCode
from arcblueprint.preview.harness import REPO_ROOT


@pytest.mark.parametrize("command", ["deploy", "plan", "promote", "rollback", "refresh", "outputs"])
def test_without_the_cli_every_command_says_how_to_install_it(command, monkeypatch, capsys):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert main([command, "--stack", "dev"]) == ExitCode.ENVIRONMENT
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "get.pulumi.com" in err and "blueprint preview" in err


def test_console_script_exit_code_in_a_fresh_process():
    result = subprocess.run(
        [sys.executable, "-m", "arcblueprint.cli", "deploy", "--stack", "prod"],
        cwd=REPO_ROOT,
        env={"PATH": "/nonexistent", "HOME": "/tmp"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,  # the exit code is what the test checks
    )
    assert result.returncode == ExitCode.ENVIRONMENT and "Traceback" not in result.stderr


def test_secret_config_comes_from_one_json_variable():
    values = secret_config_from_env({"BLUEPRINT_SECRET_CONFIG": json.dumps({"arcblueprint:apiKey": "s3cr3t"})})
    assert values == {"arcblueprint:apiKey": "s3cr3t"}
    for bad in ("not json", json.dumps(["a"]), json.dumps({"noNamespace": "x"}), json.dumps({"a:b": 1})):
        with pytest.raises(DeployError) as caught:
            secret_config_from_env({"BLUEPRINT_SECRET_CONFIG": bad})
        assert caught.value.exit_code == ExitCode.CONFIG and "s3cr3t" not in str(caught.value)


def test_stack_info_gives_ci_the_region_and_account_before_any_credentials(capsys):
    assert main(["stack-info", "--stack", "prod"]) == ExitCode.OK
    lines = capsys.readouterr().out.splitlines()
    assert "region=eu-west-1" in lines and "account-id=222222222222" in lines and "environment=prod" in lines
    assert main(["stack-info", "--stack", "nope"]) == ExitCode.CONFIG


def test_rollback_takes_a_function_or_a_service(monkeypatch, capsys):
    monkeypatch.setenv("PATH", "/nonexistent")
    for selection in (["--function", "fan-billing"], ["--service", "fan"]):
        assert main(["rollback", "--stack", "prod", *selection]) == ExitCode.ENVIRONMENT  # parsed, then no CLI
    assert "get.pulumi.com" in capsys.readouterr().err
