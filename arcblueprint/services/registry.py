"""The one pattern registry: pattern name -> where its spec (pure) and its component (Pulumi) live.

Config parsing reads a service's ``pattern`` here to pick its spec; the stack program reads it to pick the
component. Nothing is imported until a stack uses the pattern, so config validation never loads Pulumi.
Adding a pattern is one line in :data:`PATTERNS` plus the pattern's own folder (``spec.py``, ``component.py``,
``handlers/``); see docs/extending.md.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from arcblueprint.services.base import ServiceFactory
    from arcblueprint.services.service_settings import ServiceSettings

__all__ = ["PATTERNS", "Pattern", "pattern_of", "register"]


@dataclass(frozen=True)
class Pattern:
    """A pattern's package (``<package>.spec`` is Pulumi-free, ``<package>.component`` declares resources)."""

    name: str
    package: str
    spec_class: str
    component_class: str

    def spec_type(self) -> type[ServiceSettings]:
        return getattr(importlib.import_module(f"{self.package}.spec"), self.spec_class)

    def component_type(self) -> ServiceFactory:
        module = importlib.import_module(f"{self.package}.component")
        return getattr(module, self.component_class)

    def owns(self, spec: object) -> bool:
        """Whether ``spec`` was parsed by this pattern's spec class (compared by name: imports nothing)."""
        kind = type(spec)
        return kind.__module__ == f"{self.package}.spec" and kind.__name__ == self.spec_class


#: Pattern name -> its package. The order is the order ``pattern`` choices are listed in errors.
PATTERNS: dict[str, Pattern] = {}


def register(pattern: Pattern) -> Pattern:
    """Add ``pattern`` to the registry (a name registered twice is an error: it would hide the first)."""
    if pattern.name in PATTERNS and PATTERNS[pattern.name] != pattern:
        raise ValueError(f"pattern {pattern.name!r} is already registered by {PATTERNS[pattern.name].package}")
    PATTERNS[pattern.name] = pattern
    return pattern


def pattern_of(spec: object) -> str:
    """The pattern name of a parsed service spec."""
    for pattern in PATTERNS.values():
        if pattern.owns(spec):
            return pattern.name
    raise KeyError(f"{type(spec).__module__}:{type(spec).__name__} is not a registered service spec")


_SERVICES = "arcblueprint.services"
register(Pattern("comfortable-rest", f"{_SERVICES}.comfortable_rest", "ComfortableRestSpec", "ComfortableRestService"))
register(Pattern("cherry-pick", f"{_SERVICES}.cherry_pick", "CherryPickSpec", "CherryPickService"))
register(Pattern("strangler", f"{_SERVICES}.strangler", "StranglerSpec", "StranglerService"))
register(Pattern("call-me-maybe", f"{_SERVICES}.call_me_maybe", "CallMeMaybeSpec", "CallMeMaybeService"))
register(Pattern("big-fan", f"{_SERVICES}.big_fan", "BigFanSpec", "BigFanService"))
register(Pattern("streamer", f"{_SERVICES}.streamer", "StreamerSpec", "StreamerService"))
register(Pattern("ops-automation", f"{_SERVICES}.ops_automation", "OpsAutomationSpec", "OpsAutomationService"))
