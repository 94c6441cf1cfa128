"""The Strangler: an API Gateway facade that moves routes from a legacy backend to Lambda one by one."""

from __future__ import annotations

__all__ = ["StranglerService", "StranglerSpec"]


def __getattr__(name: str) -> object:
    # The component imports Pulumi; the spec does not. Config parsing imports only the spec.
    if name == "StranglerSpec":
        from arcblueprint.services.strangler.spec import StranglerSpec

        return StranglerSpec
    if name == "StranglerService":
        from arcblueprint.services.strangler import component

        return getattr(component, name)
    raise AttributeError(name)
