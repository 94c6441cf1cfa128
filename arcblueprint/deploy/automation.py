"""The thin layer over ``pulumi.automation``: the only code here that needs the Pulumi CLI.

Everything it decides on (events, outcomes) goes back to the orchestration in :mod:`driver` as
plain data, so the orchestration is tested without the CLI and this layer stays a translation.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arcblueprint.deploy.engine import OnEvent, Outcome
from arcblueprint.deploy.errors import DeployError, ExitCode

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from arcblueprint.deploy.backend import BackendSettings

__all__ = ["AutomationEngine", "merge_config", "require_cli"]

INSTALL_HINT = (
    "the Pulumi CLI is not on PATH: install it with 'curl -fsSL https://get.pulumi.com | sh' "
    "(https://www.pulumi.com/docs/install/); 'blueprint preview --stack <stack>' works without it"
)


def require_cli(which: Callable[[str], str | None] = shutil.which) -> str:
    path = which("pulumi")
    if path is None:
        raise DeployError(INSTALL_HINT, ExitCode.ENVIRONMENT)
    return path


class AutomationEngine:
    """Runs the checked-in program (``Pulumi.yaml`` in ``repo``) through a LocalWorkspace.

    Config comes from the checked-in ``Pulumi.<stack>.yaml``; ``secret_config`` (from the CI
    environment) is set as secret config; the policy pack runs in every preview and update.
    """

    def __init__(
        self,
        repo: Path,
        backend: BackendSettings,
        *,
        commit: str,
        policy_pack: Path | None = None,
        policy_pack_config: Callable[[str], dict[str, Any]] | None = None,
        secret_config: Mapping[str, str] | None = None,
        lock_retries: int = 4,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.repo = repo
        self.backend = backend
        self.commit = commit
        self.policy_pack = policy_pack
        self.policy_pack_config = policy_pack_config
        self.secret_config = dict(secret_config or {})
        self.lock_retries = lock_retries
        self.sleep = sleep
        self._stacks: dict[str, Any] = {}
        self._run_config: dict[str, dict[str, Any]] = {}

    # -- the Engine protocol -------------------------------------------------------------------
    def preview(self, stack: str, *, on_event: OnEvent) -> Outcome:
        result = self._run(stack, "preview", ExitCode.PREVIEW, on_event=on_event, **self._policy_args(stack))
        return Outcome(succeeded=True, change_summary=_op_map(result.change_summary))

    def up(self, stack: str, *, on_event: OnEvent, targets: Sequence[str] | None = None) -> Outcome:
        extra: dict[str, Any] = {"target": list(targets)} if targets else {}
        result = self._run(stack, "up", ExitCode.UPDATE, on_event=on_event, **self._policy_args(stack), **extra)
        return self._update_outcome(result)

    def refresh(self, stack: str, *, on_event: OnEvent) -> Outcome:
        return self._update_outcome(self._run(stack, "refresh", ExitCode.UPDATE, on_event=on_event))

    def destroy(self, stack: str, *, on_event: OnEvent) -> Outcome:
        return self._update_outcome(self._run(stack, "destroy", ExitCode.UPDATE, on_event=on_event))

    def outputs(self, stack: str) -> dict[str, Any]:
        return {key: value.value for key, value in self._stack(stack).outputs().items()}

    def set_config(self, stack: str, key: str, value: str) -> None:
        from pulumi import automation as auto

        self._stack(stack).set_config(key, auto.ConfigValue(value=value), path=True)

    def with_config(self, stack: str, values: Mapping[str, Any]) -> None:
        self._run_config[stack] = dict(values)

    def _config_file(self, stack: str) -> str | None:
        """A copy of Pulumi.<stack>.yaml (as it is now, secrets and salt included) with this run's config merged
        in, for ``--config-file``: the checked-in file is left as the team wrote it."""
        values = self._run_config.get(stack)
        if not values:
            return None
        import yaml

        source = self.repo / f"Pulumi.{stack}.yaml"
        document = (yaml.safe_load(source.read_text(encoding="utf-8")) if source.exists() else None) or {}
        document["config"] = merge_config(document.get("config") or {}, values)
        path = Path(tempfile.mkdtemp(prefix="blueprint-config-")) / f"Pulumi.{stack}.yaml"
        path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        return str(path)

    # -- plumbing -------------------------------------------------------------------------------
    def _stack(self, name: str) -> Any:
        if name in self._stacks:
            return self._stacks[name]
        require_cli()
        from pulumi import automation as auto

        if self.backend.is_local:
            Path(self.backend.url.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
        options = auto.LocalWorkspaceOptions(
            work_dir=str(self.repo),
            secrets_provider=self.backend.secrets_provider,
            env_vars={**self.backend.env_vars, "BLUEPRINT_COMMIT": self.commit},
        )
        try:
            stack = auto.create_or_select_stack(name, work_dir=str(self.repo), opts=options)
            for key, value in self.secret_config.items():
                stack.set_config(key, auto.ConfigValue(value=value, secret=True))
        except auto.errors.CommandError as error:
            raise DeployError(f"cannot select stack '{name}': {_last_line(error)}", ExitCode.ENVIRONMENT) from None
        self._stacks[name] = stack
        return stack

    def _policy_args(self, stack: str) -> dict[str, Any]:
        if self.policy_pack is None:
            return {}
        args: dict[str, Any] = {"policy_packs": [str(self.policy_pack)]}
        if self.policy_pack_config is not None:
            import json

            path = Path(tempfile.mkdtemp(prefix="policy-config-")) / f"{stack}.json"
            path.write_text(json.dumps(self.policy_pack_config(stack)), encoding="utf-8")
            args["policy_pack_configs"] = [str(path)]
        return args

    def _run(self, stack: str, operation: str, failure: ExitCode, **kwargs: Any) -> Any:
        from pulumi import automation as auto

        target = self._stack(stack)
        config_file = self._config_file(stack)
        if config_file is not None:
            kwargs["config_file"] = config_file
        for attempt in range(self.lock_retries + 1):
            try:
                return getattr(target, operation)(**kwargs)
            except auto.errors.ConcurrentUpdateError:
                if attempt == self.lock_retries:
                    raise DeployError(
                        f"stack '{stack}' is locked by another update after {attempt + 1} tries; "
                        f"wait for it, or run 'pulumi cancel --stack {stack}' if it died",
                        ExitCode.ENVIRONMENT,
                    ) from None
                self.sleep(min(300.0, 15.0 * 2**attempt))
            except auto.errors.CommandError as error:
                raise DeployError(f"{operation} of stack '{stack}' failed: {_last_line(error)}", failure) from None
        raise AssertionError("unreachable")

    def _update_outcome(self, result: Any) -> Outcome:
        summary = result.summary
        return Outcome(
            succeeded=summary.result == "succeeded",
            change_summary=_op_map(summary.resource_changes or {}),
            outputs={k: v.value for k, v in getattr(result, "outputs", {}).items()},
            message=summary.message or "",
        )


def merge_config(base: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``values`` merged in: mappings key by key (recursively), anything else replaced."""
    merged = dict(base)
    for key, value in values.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            merged[key] = merge_config(current, value)
        else:
            merged[key] = value
    return merged


def _op_map(changes: Mapping[Any, int]) -> dict[str, int]:
    return {str(getattr(op, "value", op)): int(count) for op, count in (changes or {}).items()}


def _last_line(error: Exception) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip() and "error" in line.lower()]
    return lines[-1] if lines else str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
