"""Release strategies as data: which CodeDeploy config, what traffic steps, what the alias points at.

Pure (no Pulumi): the function component turns a :class:`ReleasePlan` into resources, and the CI
driver (``arcblueprint.deploy``) uses :func:`appspec`, :func:`schedule` and :func:`alias_weights`
to run a deployment. Invalid settings raise :class:`ConfigError` with the config key, in one line.

Limits used (AWS CodeDeploy, Lambda compute platform): a custom config shifts 1-99 percent per
step, every 1-2880 minutes (2 days); the predefined configs are the nine ``CodeDeployDefault.Lambda*``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from arcblueprint.planning.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from arcblueprint.config.model import ReleaseSpec

__all__ = [
    "CODEDEPLOY_STRATEGIES",
    "LIVE_ALIAS",
    "PREDEFINED_CONFIGS",
    "PREVIOUS_ALIAS",
    "CustomTrafficConfig",
    "ReleasePlan",
    "TrafficStep",
    "alias_weights",
    "appspec",
    "deployment_config_name",
    "live_version",
    "needs_deployment",
    "previous_version",
    "plan_release",
    "schedule",
]

LIVE_ALIAS = "live"
PREVIOUS_ALIAS = "previous"
CODEDEPLOY_STRATEGIES = frozenset({"canary", "linear"})
MIN_PERCENT, MAX_PERCENT = 1, 99
MIN_INTERVAL_MINUTES, MAX_INTERVAL_MINUTES = 1, 2880
_RESERVED_ALIASES = frozenset({LIVE_ALIAS, PREVIOUS_ALIAS})
_ALIAS_NAME = re.compile(r"(?!^[0-9]+$)[a-zA-Z0-9_-]{1,128}")
_VERSION = re.compile(r"[1-9][0-9]*")
HOOK_EVENTS = ("BeforeAllowTraffic", "AfterAllowTraffic")

Kind = Literal["canary", "linear", "all-at-once"]

#: Predefined config suffix -> (kind, percent per step, interval minutes); name is ``CodeDeployDefault.Lambda<suffix>``.
PREDEFINED_CONFIGS: dict[str, tuple[Kind, int, int]] = {
    "Canary10Percent5Minutes": ("canary", 10, 5),
    "Canary10Percent10Minutes": ("canary", 10, 10),
    "Canary10Percent15Minutes": ("canary", 10, 15),
    "Canary10Percent30Minutes": ("canary", 10, 30),
    "Linear10PercentEvery1Minute": ("linear", 10, 1),
    "Linear10PercentEvery2Minutes": ("linear", 10, 2),
    "Linear10PercentEvery3Minutes": ("linear", 10, 3),
    "Linear10PercentEvery10Minutes": ("linear", 10, 10),
    "AllAtOnce": ("all-at-once", 100, 0),
}


@dataclass(frozen=True)
class TrafficStep:
    """After this step, ``percent`` of the alias's traffic goes to the new version.

    ``at_minute`` counts from the start of the deployment; ``None`` means "when the CI driver promotes".
    """

    percent: int
    at_minute: int | None


@dataclass(frozen=True)
class CustomTrafficConfig:
    """A CodeDeploy ``TimeBasedCanary``/``TimeBasedLinear`` config declared from stack config."""

    type: Literal["TimeBasedCanary", "TimeBasedLinear"]
    percent: int
    interval_minutes: int


@dataclass(frozen=True)
class ReleasePlan:
    """How one function's new versions reach traffic."""

    strategy: str
    #: Predefined suffix (``Canary10Percent5Minutes``), ``custom``, or ``None`` without CodeDeploy.
    deployment_config: str | None
    custom: CustomTrafficConfig | None
    steps: tuple[TrafficStep, ...]
    #: As a string, the way Lambda names versions: the version to go back to if this update publishes none.
    previous_version: str | None
    #: The version ``live`` served when the update started; it becomes the previous one if a newer is published.
    live_version: str | None
    canary_weight_percent: int
    #: Blue-green only: ``live`` points back at ``previous_version``.
    rollback: bool
    extra_aliases: tuple[str, ...]

    @property
    def uses_codedeploy(self) -> bool:
        return self.strategy in CODEDEPLOY_STRATEGIES

    @property
    def has_previous(self) -> bool:
        """Whether some version may be the previous one (the ``previous`` alias, a canary's other weight)."""
        return self.previous_version is not None or self.live_version is not None


def schedule(kind: Kind, percent: int, interval_minutes: int) -> tuple[TrafficStep, ...]:
    """Traffic steps CodeDeploy takes for a config: canary = ``percent`` then 100 after one interval;
    linear = ``percent`` more every interval until 100; all-at-once = 100 at once."""
    if kind == "all-at-once":
        return (TrafficStep(100, 0),)
    _check_percent(percent, "customPercent")
    _check_interval(interval_minutes, "customIntervalMinutes")
    if kind == "canary":
        return (TrafficStep(percent, 0), TrafficStep(100, interval_minutes))
    count = math.ceil(100 / percent)
    return tuple(TrafficStep(min(100, percent * (i + 1)), interval_minutes * i) for i in range(count))


#: The CodeDeploy config a strategy uses when ``releases.deploymentConfig`` is not set.
DEFAULT_DEPLOYMENT_CONFIGS = {"canary": "Canary10Percent5Minutes", "linear": "Linear10PercentEvery1Minute"}


def _key(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def plan_release(spec: ReleaseSpec, *, key: str = "releases", per_function: bool = True) -> ReleasePlan:
    """Validate ``spec`` for its strategy and turn it into a plan; errors name ``<key>.<camelKey>``.

    ``per_function=False`` checks a stack-wide spec, whose versions are kept per function: whether a
    rollback has a version to go back to is then left to each function's plan.
    """
    strategy = spec.strategy
    deployment_config: str | None = None
    custom: CustomTrafficConfig | None = None
    rollback = bool(getattr(spec, "rollback", False))
    previous = None if spec.previous_version is None else str(spec.previous_version)
    if previous is not None and not _VERSION.fullmatch(previous):
        raise ConfigError(_key(key, "previousVersion"), spec.previous_version, "must be a published version number")
    live_before = getattr(spec, "live_version", None)
    live = None if live_before is None else str(live_before)
    if live is not None and not _VERSION.fullmatch(live):
        raise ConfigError(_key(key, "liveVersion"), live_before, "must be a published version number")
    for i, alias in enumerate(spec.extra_aliases):
        if not _ALIAS_NAME.fullmatch(alias) or alias in _RESERVED_ALIASES:
            raise ConfigError(
                _key(key, f"extraAliases[{i}]"),
                alias,
                "must be 1-128 letters, digits, - or _ (not only digits, not live or previous)",
            )
    if len(set(spec.extra_aliases)) != len(spec.extra_aliases):
        raise ConfigError(_key(key, "extraAliases"), list(spec.extra_aliases), "must not repeat a name")
    if rollback and strategy != "blue-green":
        raise ConfigError(
            _key(key, "rollback"), True, "is a blue-green setting (other strategies roll back by themselves)"
        )
    if rollback and per_function and previous is None and live is None:
        raise ConfigError(_key(key, "previousVersion"), None, "must be set to roll back to it", show_value=False)
    if strategy in CODEDEPLOY_STRATEGIES:
        deployment_config = spec.deployment_config or DEFAULT_DEPLOYMENT_CONFIGS[strategy]
        if deployment_config == "custom":
            _check_percent(spec.custom_percent, _key(key, "customPercent"))
            _check_interval(spec.custom_interval_minutes, _key(key, "customIntervalMinutes"))
            kind: Kind = "canary" if strategy == "canary" else "linear"
            custom = CustomTrafficConfig(
                "TimeBasedCanary" if kind == "canary" else "TimeBasedLinear",
                spec.custom_percent,
                spec.custom_interval_minutes,
            )
            steps = schedule(kind, spec.custom_percent, spec.custom_interval_minutes)
        elif deployment_config in PREDEFINED_CONFIGS:
            kind, percent, interval = PREDEFINED_CONFIGS[deployment_config]
            if kind not in (strategy, "all-at-once"):
                allowed = sorted(n for n, (k, _, _) in PREDEFINED_CONFIGS.items() if k in (strategy, "all-at-once"))
                raise ConfigError(
                    _key(key, "deploymentConfig"),
                    deployment_config,
                    f"is a {kind} config; strategy {strategy} takes {', '.join(allowed)} or custom",
                )
            steps = schedule(kind, percent, interval)
        else:
            raise ConfigError(
                _key(key, "deploymentConfig"),
                deployment_config,
                "must be custom or one of " + ", ".join(PREDEFINED_CONFIGS),
            )
    elif strategy == "weighted-canary":
        steps = tuple(TrafficStep(p, 0 if i == 0 else None) for i, p in enumerate(spec.weighted_steps))
    else:  # all-at-once, blue-green: the alias moves in one update
        steps = (TrafficStep(100, 0),)
    return ReleasePlan(
        strategy=strategy,
        deployment_config=deployment_config,
        custom=custom,
        steps=steps,
        previous_version=previous,
        live_version=live,
        canary_weight_percent=spec.canary_weight_percent,
        rollback=rollback,
        extra_aliases=tuple(spec.extra_aliases),
    )


def deployment_config_name(plan: ReleasePlan, custom_name: str) -> str | None:
    """The CodeDeploy config name a deployment group uses (``custom_name`` for a custom config)."""
    if not plan.uses_codedeploy:
        return None
    if plan.custom is not None:
        return custom_name
    return f"CodeDeployDefault.Lambda{plan.deployment_config}"


def previous_version(plan: ReleasePlan, new_version: str) -> str | None:
    """The version to go back to once this update published (or kept) ``new_version``.

    When the update published a version newer than the one ``live`` served (``plan.live_version``), that
    one is the previous version; when it published none (the function is unchanged), the previous version
    on record (``plan.previous_version``) stays, so an update of other functions loses no rollback target.
    """
    _check_version(new_version, "new_version")
    if plan.live_version is not None and int(new_version) > int(plan.live_version):
        return plan.live_version
    return plan.previous_version or plan.live_version


def live_version(plan: ReleasePlan, new_version: str) -> str:
    """The version ``live`` is declared with: the new one, or the previous one on a blue-green rollback
    or a weighted canary at 0 percent."""
    previous = previous_version(plan, new_version)
    if plan.rollback and previous is not None:
        return previous
    if plan.strategy == "weighted-canary" and plan.canary_weight_percent == 0 and previous is not None:
        return previous  # nothing on the new version yet (or rolled back): no routing needed
    return new_version


def alias_weights(plan: ReleasePlan, new_version: str) -> dict[str, float] | None:
    """Weighted canary: ``{previous_version: share}`` for the alias's routing config, or ``None``.

    The alias's primary version is the new one; the previous version keeps ``1 - weight`` of the
    traffic until the driver reaches 100 (then there is no routing config at all).
    """
    previous = previous_version(plan, new_version)
    if plan.strategy != "weighted-canary" or previous is None or previous == new_version:
        return None
    if plan.canary_weight_percent in (0, 100):
        return None  # 0: live points at the previous version itself; 100: all on the new one
    return {previous: round(1 - plan.canary_weight_percent / 100, 2)}


def needs_deployment(current_version: str, target_version: str) -> bool:
    """Whether a CodeDeploy deployment has anything to shift."""
    _check_version(current_version, "current_version")
    _check_version(target_version, "target_version")
    return current_version != target_version


def appspec(
    function_name: str, alias: str, current_version: str, target_version: str, hooks: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The AppSpec (as a dict; CodeDeploy takes it JSON-encoded) that shifts ``alias`` from current to target.

    ``hooks`` maps ``BeforeAllowTraffic``/``AfterAllowTraffic`` to the hook function (name or ARN).
    """
    if not function_name:
        raise ValueError("function_name must not be empty")
    if not _ALIAS_NAME.fullmatch(alias):
        raise ValueError(f"alias {alias!r} is not a Lambda alias name")
    _check_version(current_version, "current_version")
    _check_version(target_version, "target_version")
    unknown = set(hooks or {}) - set(HOOK_EVENTS)
    if unknown:
        raise ValueError(f"hooks {sorted(unknown)} must be among {', '.join(HOOK_EVENTS)}")
    resource = re.sub(r"[^A-Za-z0-9]", "", function_name.rsplit(":", 1)[-1]) or "Function"
    spec: dict[str, Any] = {
        "version": 0.0,
        "Resources": [
            {
                resource: {
                    "Type": "AWS::Lambda::Function",
                    "Properties": {
                        "Name": function_name,
                        "Alias": alias,
                        "CurrentVersion": current_version,
                        "TargetVersion": target_version,
                    },
                }
            }
        ],
    }
    if hooks:
        spec["Hooks"] = [{event: hooks[event]} for event in HOOK_EVENTS if event in hooks]
    return spec


def _check_percent(value: int, key: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_PERCENT <= value <= MAX_PERCENT:
        raise ConfigError(key, value, f"must be a whole number from {MIN_PERCENT} to {MAX_PERCENT}")


def _check_interval(value: int, key: str) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not MIN_INTERVAL_MINUTES <= value <= MAX_INTERVAL_MINUTES
    ):
        raise ConfigError(
            key,
            value,
            f"must be a whole number of minutes from {MIN_INTERVAL_MINUTES} "
            f"to {MAX_INTERVAL_MINUTES} (CodeDeploy's limit)",
        )


def _check_version(value: str, what: str) -> None:
    if not isinstance(value, str) or not _VERSION.fullmatch(value):
        raise ValueError(f"{what} must be a published version number, not {value!r} ($LATEST is never released)")
