"""Backend and secrets-provider choice from the CI environment."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from arcblueprint.deploy.backend import backend_settings
from arcblueprint.deploy.errors import DeployError, ExitCode

if TYPE_CHECKING:
    from pathlib import Path


def test_default_is_a_file_backend_in_the_repo_with_a_passphrase(tmp_path: Path):
    settings = backend_settings({"PULUMI_CONFIG_PASSPHRASE": "pw"}, tmp_path)
    assert settings.url == (tmp_path / ".pulumi").resolve().as_uri() and settings.is_local
    assert settings.secrets_provider == "passphrase"
    assert settings.env_vars["PULUMI_CONFIG_PASSPHRASE"] == "pw"


def test_backend_url_from_the_environment_wins(tmp_path: Path):
    settings = backend_settings(
        {"PULUMI_BACKEND_URL": "s3://state-bucket/blueprint", "PULUMI_CONFIG_PASSPHRASE_FILE": "/run/secrets/pp"},
        tmp_path,
    )
    assert settings.url == "s3://state-bucket/blueprint" and not settings.is_local
    assert settings.env_vars["PULUMI_CONFIG_PASSPHRASE_FILE"] == "/run/secrets/pp"


def test_missing_passphrase_is_one_clear_error(tmp_path: Path):
    with pytest.raises(DeployError) as caught:
        backend_settings({"PULUMI_BACKEND_URL": "s3://b"}, tmp_path)
    assert caught.value.exit_code == ExitCode.ENVIRONMENT
    assert "PULUMI_CONFIG_PASSPHRASE" in str(caught.value) and "\n" not in str(caught.value)


def test_pulumi_cloud_needs_a_token_and_manages_secrets(tmp_path: Path):
    with pytest.raises(DeployError, match="PULUMI_ACCESS_TOKEN"):
        backend_settings({"PULUMI_BACKEND_URL": "https://api.pulumi.com"}, tmp_path)
    settings = backend_settings({"PULUMI_BACKEND_URL": "https://api.pulumi.com", "PULUMI_ACCESS_TOKEN": "t"}, tmp_path)
    assert settings.secrets_provider is None


CI = {"CI": "true"}


@pytest.mark.parametrize(
    ("environ", "says"),
    [
        ({"PULUMI_CONFIG_PASSPHRASE": "pw"}, "thrown away after the job"),  # default: a file backend in the repo
        ({"PULUMI_BACKEND_URL": "file:///tmp/state", "PULUMI_CONFIG_PASSPHRASE": "pw"}, "file:///tmp/state"),
        ({"PULUMI_BACKEND_URL": "s3://state/blueprint", "PULUMI_CONFIG_PASSPHRASE": ""}, "empty or unset"),
        ({"PULUMI_BACKEND_URL": "s3://state/blueprint", "PULUMI_CONFIG_PASSPHRASE": "  "}, "empty or unset"),
        ({"PULUMI_BACKEND_URL": "s3://state/blueprint"}, "empty or unset"),
    ],
)
def test_in_ci_state_on_the_runner_and_an_empty_passphrase_are_refused(tmp_path: Path, environ, says):
    with pytest.raises(DeployError) as caught:
        backend_settings({**CI, **environ}, tmp_path)
    assert caught.value.exit_code == ExitCode.CONFIG and says in str(caught.value)
    assert "\n" not in str(caught.value)


def test_in_ci_a_passphrase_file_must_hold_a_passphrase(tmp_path: Path):
    empty, filled = tmp_path / "empty", tmp_path / "filled"
    empty.write_text("\n")
    filled.write_text("s3cr3t\n")
    s3 = {**CI, "PULUMI_BACKEND_URL": "s3://state/blueprint"}
    for missing in (empty, tmp_path / "absent"):
        with pytest.raises(DeployError) as caught:
            backend_settings({**s3, "PULUMI_CONFIG_PASSPHRASE_FILE": str(missing)}, tmp_path)
        assert caught.value.exit_code == ExitCode.CONFIG and "s3cr3t" not in str(caught.value)
    settings = backend_settings({**s3, "PULUMI_CONFIG_PASSPHRASE_FILE": str(filled)}, tmp_path)
    assert settings.secrets_provider == "passphrase"


def test_in_ci_a_shared_backend_with_a_passphrase_or_pulumi_cloud_is_fine(tmp_path: Path):
    s3 = backend_settings({**CI, "PULUMI_BACKEND_URL": "s3://state/bp", "PULUMI_CONFIG_PASSPHRASE": "pw"}, tmp_path)
    assert s3.url == "s3://state/bp"
    cloud = backend_settings(
        {**CI, "PULUMI_BACKEND_URL": "https://api.pulumi.com", "PULUMI_ACCESS_TOKEN": "t"}, tmp_path
    )
    assert cloud.secrets_provider is None


def test_outside_ci_a_local_backend_and_an_empty_passphrase_still_work(tmp_path: Path):
    """A laptop keeps its state; Pulumi accepts an empty passphrase there, and so does the driver."""
    settings = backend_settings({"PULUMI_CONFIG_PASSPHRASE": ""}, tmp_path)
    assert settings.is_local and settings.env_vars["PULUMI_CONFIG_PASSPHRASE"] == ""


def test_the_ci_refusal_is_exit_2_from_the_command_line(monkeypatch, capsys, tmp_path: Path):
    from arcblueprint.cli import main
    from arcblueprint.deploy import automation

    monkeypatch.setattr(automation, "require_cli", lambda: "/usr/local/bin/pulumi")  # as if installed
    monkeypatch.setenv("CI", "true")
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "pw")
    assert main(["deploy", "--stack", "dev"]) == ExitCode.CONFIG
    err = capsys.readouterr().err.strip()
    assert err.startswith("blueprint: CI=true but the state backend is file://") and "\n" not in err
