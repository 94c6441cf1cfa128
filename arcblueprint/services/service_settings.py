"""What every service's config can say whatever its pattern: its functions' code and its release strategy.

Pure (no Pulumi). Every pattern's spec derives from :class:`ServiceSettings` (through
``event_wiring.ServiceTriggers``). ``functions`` points a function the pattern declares at the team's own
handler folder; patterns whose functions are entries of their own config (Big Fan consumers, Strangler
routes) take ``codeDir``/``handler`` on the entry instead. ``release`` overrides the stack's
``releases`` for every function of the service.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import ClassVar

from arcblueprint.config.model import ReleaseOverride
from arcblueprint.config.schema import ConfigError, setting
from arcblueprint.platform.function_code import FunctionCode

__all__ = ["ServiceSettings"]


@dataclass(frozen=True, kw_only=True)
class ServiceSettings:
    """Code and release settings every service accepts."""

    #: The names of the functions the pattern always may declare (the service's function ``<service>-<name>``);
    #: ``functions`` keys must be among them.
    FUNCTION_NAMES: ClassVar[tuple[str, ...]] = ()

    #: Function name -> the team's own code for it (``codeDir``, ``handler``); default: the built-in handler.
    functions: Mapping[str, FunctionCode] = setting(default_factory=dict)
    #: Overrides the stack's ``releases`` for this service's functions (strategy, deployment config, alarm
    #: thresholds, ...); checked by the same release planner. Release state stays per function.
    release: ReleaseOverride | None = None

    def code(self, function: str) -> FunctionCode | None:
        """The team's code for the pattern's function ``function``, if the config names one."""
        return self.functions.get(function)

    def function_code(self) -> Iterator[tuple[str, FunctionCode]]:
        """``(config key, code)`` of every function whose config can name code (relative to the service)."""
        for name, code in self.functions.items():
            yield f"functions.{name}", code

    def function_names(self) -> tuple[str, ...]:
        """Names of the functions this service may declare (its release keys are ``<service>-<name>``)."""
        return self.FUNCTION_NAMES

    def check_settings(self) -> None:
        """``functions`` names only functions of the pattern (a typo would silently keep the built-in code)."""
        for name in self.functions:
            if name not in self.FUNCTION_NAMES:
                allowed = ", ".join(self.FUNCTION_NAMES) or "none: this pattern's functions take codeDir on their entry"
                raise ConfigError(
                    f"functions.{name}", name, f"is not a function of this pattern (functions: {allowed})"
                )
