"""The six ARC307 patterns and operations automation, one folder each: component, handlers, README.

:func:`build_service` is what the stack program calls for each entry of ``arcblueprint:services``;
a pattern's component is imported only when a stack uses it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pulumi

    from arcblueprint.platform.handles import Platform

__all__ = ["SERVICE_COMPONENTS", "build_service"]

#: Pattern name -> ("module", "ComponentClass", "ArgsClass").
SERVICE_COMPONENTS: dict[str, tuple[str, str, str]] = {
    "comfortable-rest": (
        "arcblueprint.services.comfortable_rest.component",
        "ComfortableRestService",
        "ComfortableRestServiceArgs",
    ),
    "cherry-pick": ("arcblueprint.services.cherry_pick.component", "CherryPickService", "CherryPickServiceArgs"),
    "strangler": ("arcblueprint.services.strangler.component", "StranglerService", "StranglerServiceArgs"),
    "call-me-maybe": ("arcblueprint.services.call_me_maybe.component", "CallMeMaybeService", "CallMeMaybeServiceArgs"),
    "big-fan": ("arcblueprint.services.big_fan.component", "BigFanService", "BigFanServiceArgs"),
    "streamer": ("arcblueprint.services.streamer.component", "StreamerService", "StreamerServiceArgs"),
    "ops-automation": (
        "arcblueprint.services.ops_automation.component",
        "OpsAutomationService",
        "OpsAutomationServiceArgs",
    ),
}


def pattern_of(spec: Any) -> str:
    """The pattern name of a parsed service spec (its class is registered in the config model)."""
    from arcblueprint.config.model import SERVICE_PATTERNS

    target = f"{type(spec).__module__}:{type(spec).__name__}"
    for pattern, path in SERVICE_PATTERNS.items():
        if path == target:
            return pattern
    raise KeyError(f"{target} is not a registered service spec")


def build_service(name: str, spec: Any, platform: Platform) -> pulumi.ComponentResource:
    """Declare the component of ``spec``'s pattern for the service called ``name``."""
    module_name, component_name, args_name = SERVICE_COMPONENTS[pattern_of(spec)]
    module = importlib.import_module(module_name)
    args = getattr(module, args_name)(platform=platform, spec=spec)
    return getattr(module, component_name)(name, args)
