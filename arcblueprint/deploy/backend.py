"""Where stack state lives and how its secrets are encrypted, from the CI environment."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from arcblueprint.deploy.errors import DeployError, ExitCode

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

__all__ = ["BackendSettings", "backend_settings", "in_ci"]

_CLOUD_PREFIXES = ("https://api.pulumi.com", "https://app.pulumi.com")


@dataclass(frozen=True, kw_only=True)
class BackendSettings:
    url: str
    #: ``passphrase`` for self-managed backends; None lets Pulumi Cloud manage secrets.
    secrets_provider: str | None
    env_vars: dict[str, str] = field(default_factory=dict)

    @property
    def is_local(self) -> bool:
        return self.url.startswith("file://")


def in_ci(environ: Mapping[str, str]) -> bool:
    """``CI=true``: what GitHub Actions (and most CI services) set on every runner."""
    return environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def backend_settings(environ: Mapping[str, str], repo: Path) -> BackendSettings:
    """``PULUMI_BACKEND_URL`` when set (S3, Pulumi Cloud, ...), else a file backend in ``<repo>/.pulumi``.

    Self-managed backends encrypt stack secrets with a passphrase: it must come from
    ``PULUMI_CONFIG_PASSPHRASE`` or ``PULUMI_CONFIG_PASSPHRASE_FILE`` (never from a file in the repo).
    In CI (``CI=true``) a ``file://`` backend and an empty passphrase are refused: on a runner thrown away
    after the job, both lose the state (or the means to read its secrets) without a word.
    """
    url = environ.get("PULUMI_BACKEND_URL", "").strip() or (repo / ".pulumi").resolve().as_uri()
    ci = in_ci(environ)
    if ci and url.startswith("file://"):
        raise DeployError(
            f"CI=true but the state backend is {url}, a folder of this runner that is thrown away after the "
            "job: set PULUMI_BACKEND_URL to a shared backend (s3://..., see docs/deploy.md 'GitHub setup')",
            ExitCode.CONFIG,
        )
    if url.startswith(_CLOUD_PREFIXES):
        if not environ.get("PULUMI_ACCESS_TOKEN"):
            raise DeployError(
                f"PULUMI_BACKEND_URL is Pulumi Cloud ({url}) but PULUMI_ACCESS_TOKEN is not set", ExitCode.ENVIRONMENT
            )
        return BackendSettings(url=url, secrets_provider=None, env_vars={"PULUMI_BACKEND_URL": url})
    passphrase = {k: environ[k] for k in ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE") if k in environ}
    if ci:
        _check_ci_passphrase(passphrase)
    if not passphrase:
        raise DeployError(
            f"backend {url} needs PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) "
            "to encrypt stack secrets; set it from your CI secret store",
            ExitCode.ENVIRONMENT,
        )
    return BackendSettings(url=url, secrets_provider="passphrase", env_vars={"PULUMI_BACKEND_URL": url, **passphrase})


def _check_ci_passphrase(passphrase: Mapping[str, str]) -> None:
    """In CI the passphrase must be there and not empty: an unset Actions secret expands to an empty string,
    which Pulumi accepts, so the stack's secrets would be encrypted with a key nobody holds."""
    if passphrase.get("PULUMI_CONFIG_PASSPHRASE", "").strip():
        return
    path = passphrase.get("PULUMI_CONFIG_PASSPHRASE_FILE", "").strip()
    if path:
        from pathlib import Path

        file = Path(path)
        if file.is_file() and file.read_text(encoding="utf-8").strip():
            return
        raise DeployError(
            f"CI=true but PULUMI_CONFIG_PASSPHRASE_FILE ({path}) is missing or empty: the stack's secrets "
            "would be encrypted with an empty passphrase",
            ExitCode.CONFIG,
        )
    raise DeployError(
        "CI=true but PULUMI_CONFIG_PASSPHRASE is empty or unset (an Actions secret that is not set expands to ''): "
        "set it for the deploy jobs from the environment's secrets",
        ExitCode.CONFIG,
    )
