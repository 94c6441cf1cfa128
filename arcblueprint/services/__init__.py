"""The six ARC307 patterns and operations automation, one folder each: spec, component, handlers, README.

:func:`build_service` is what the stack program calls for each entry of ``arcblueprint:services``; the
pattern is looked up in :mod:`arcblueprint.services.registry`, and its component is imported only when a
stack uses it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from arcblueprint.services.registry import PATTERNS, pattern_of

if TYPE_CHECKING:
    import pulumi

    from arcblueprint.platform.handles import Platform
    from arcblueprint.services.base import Service
    from arcblueprint.services.service_settings import ServiceSettings

__all__ = ["build_service", "pattern_of"]


def build_service(
    name: str, spec: ServiceSettings, platform: Platform, opts: pulumi.ResourceOptions | None = None
) -> Service[Any]:
    """Declare the component of ``spec``'s pattern for the service called ``name`` (``opts`` passed through)."""
    from arcblueprint.services.base import ServiceArgs  # imports Pulumi: only the stack program builds services

    component = PATTERNS[pattern_of(spec)].component_type()
    return component(name, ServiceArgs(platform=platform, spec=spec), opts)
