"""Where stack state lives and how its secrets are encrypted, from the CI environment."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from arcblueprint.deploy.errors import DeployError, ExitCode

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

__all__ = ["BackendSettings", "backend_settings"]

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


def backend_settings(environ: Mapping[str, str], repo: Path) -> BackendSettings:
    """``PULUMI_BACKEND_URL`` when set (S3, Pulumi Cloud, ...), else a file backend in ``<repo>/.pulumi``.

    Self-managed backends encrypt stack secrets with a passphrase: it must come from
    ``PULUMI_CONFIG_PASSPHRASE`` or ``PULUMI_CONFIG_PASSPHRASE_FILE`` (never from a file in the repo).
    """
    url = environ.get("PULUMI_BACKEND_URL", "").strip() or (repo / ".pulumi").resolve().as_uri()
    if url.startswith(_CLOUD_PREFIXES):
        if not environ.get("PULUMI_ACCESS_TOKEN"):
            raise DeployError(
                f"PULUMI_BACKEND_URL is Pulumi Cloud ({url}) but PULUMI_ACCESS_TOKEN is not set", ExitCode.ENVIRONMENT
            )
        return BackendSettings(url=url, secrets_provider=None, env_vars={"PULUMI_BACKEND_URL": url})
    passphrase = {k: environ[k] for k in ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE") if k in environ}
    if not passphrase:
        raise DeployError(
            f"backend {url} needs PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) "
            "to encrypt stack secrets; set it from your CI secret store",
            ExitCode.ENVIRONMENT,
        )
    return BackendSettings(url=url, secrets_provider="passphrase", env_vars={"PULUMI_BACKEND_URL": url, **passphrase})
