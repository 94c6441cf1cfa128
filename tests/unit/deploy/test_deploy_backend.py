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
