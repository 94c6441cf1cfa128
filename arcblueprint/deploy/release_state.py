"""Release state per function, derived from the last deployment: what the driver passes each update.

Lambda counts versions per function, so the way back is one number per function. Before an update the
driver reads the stack's ``releases`` output (what the last deployment recorded for every function) and
the version each ``live`` alias serves now (``GetAlias``; the output when it cannot be read), and passes
``releases.functions.<function>.{liveVersion, previousVersion}`` for that run only (never written to the
stack file). The program then picks each function's previous version by what the update publishes
(``releases.previous_version``). A function whose stack file sets ``previousVersion`` is pinned: nothing
is derived for it.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

from arcblueprint.deploy.errors import DeployError, ExitCode

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping

    from arcblueprint.config.model import StackConfig

__all__ = ["RELEASES_OUTPUT", "derive_release_state", "function_key", "live_version_in_output", "select_functions"]

#: The stack output where every function's release is recorded (``arcblueprint.platform.functions``).
RELEASES_OUTPUT = "releases"


def function_key(function: str, field: str) -> str:
    """The config path of one function's release setting, as ``pulumi config set --path`` takes it."""
    return f'arcblueprint:releases.functions["{function}"].{field}'


def _version(value: Any) -> int | None:
    text = str(value) if value is not None else ""
    return int(text) if text.isdigit() and int(text) > 0 else None


def live_version_in_output(info: Mapping[str, Any]) -> int | None:
    """The version ``live`` served after the recorded deployment, as far as the output tells.

    Exact for the strategies Pulumi moves (all-at-once, blue-green, weighted canary). For canary and
    linear, CodeDeploy moves ``live`` after the update and may have rolled it back, so the driver asks
    Lambda (``GetAlias``) first; this is only the fallback.
    """
    previous = _version(info.get("previousVersion"))
    if previous is not None and info.get("rollback"):
        return previous
    if info.get("strategy") == "weighted-canary" and not info.get("canaryWeightPercent") and previous is not None:
        return previous
    return _version(info.get("targetVersion"))


def derive_release_state(
    releases: Mapping[str, Mapping[str, Any]],
    config: StackConfig,
    *,
    live_version_of: Callable[[str], str | None] | None = None,
    skip: Collection[str] = (),
) -> dict[str, dict[str, int]]:
    """``releases.functions`` values for this run: ``liveVersion`` and ``previousVersion`` of each function.

    ``releases`` is the last deployment's output; functions the stack no longer declares, functions in
    ``skip`` and functions whose ``previousVersion`` the stack file pins are left out. ``live_version_of``
    reads the version a function's ``live`` alias serves (``None`` when it cannot tell).
    """
    known = config.function_names()
    state: dict[str, dict[str, int]] = {}
    for function, info in sorted(releases.items()):
        if function not in known or function in skip or not isinstance(info, dict):
            continue
        pinned = config.releases.functions.get(function)
        if pinned is not None and pinned.previous_version is not None:
            continue
        live = None
        if live_version_of is not None and info.get("functionName"):
            live = _version(live_version_of(str(info["functionName"])))
        if live is None:
            live = live_version_in_output(info)
        values: dict[str, int] = {}
        if live is not None:
            values["liveVersion"] = live
        previous = _version(info.get("previousVersion"))
        if previous is not None and previous != live:
            values["previousVersion"] = previous
        if values:
            state[function] = values
    return state


def select_functions(
    releases: Mapping[str, Mapping[str, Any]], *, function: str | None = None, service: str | None = None
) -> dict[str, Mapping[str, Any]]:
    """The functions a ``--function``/``--service`` selection names (all of them without one)."""
    if not releases:
        raise DeployError(
            f"the stack has no '{RELEASES_OUTPUT}' output yet: deploy it before rolling back", ExitCode.CONFIG
        )
    if function is not None:
        if function not in releases:
            close = difflib.get_close_matches(function, list(releases), n=1)
            hint = f"did you mean '{close[0]}'?" if close else "functions: " + ", ".join(sorted(releases))
            raise DeployError(f"--function {function} is not a function of the stack ({hint})", ExitCode.CONFIG)
        selected = {function: releases[function]}
        if service is not None and releases[function].get("service") != service:
            raise DeployError(f"--function {function} is not a function of --service {service}", ExitCode.CONFIG)
        return selected
    if service is not None:
        selected = {key: info for key, info in releases.items() if info.get("service") == service}
        if not selected:
            services = sorted({str(info.get("service")) for info in releases.values() if info.get("service")})
            raise DeployError(
                f"--service {service} has no function in the stack (services: {', '.join(services)})", ExitCode.CONFIG
            )
        return selected
    return dict(releases)
