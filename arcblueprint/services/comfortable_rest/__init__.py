"""Comfortable REST: API Gateway (REST) -> Lambda -> DynamoDB, authorized, throttled and logged."""

from __future__ import annotations

__all__ = ["ComfortableRestService", "ComfortableRestSpec"]


def __getattr__(name: str) -> object:
    # The component imports Pulumi; the spec does not. Config parsing imports only the spec.
    if name == "ComfortableRestSpec":
        from arcblueprint.services.comfortable_rest.spec import ComfortableRestSpec

        return ComfortableRestSpec
    if name == "ComfortableRestService":
        from arcblueprint.services.comfortable_rest import component

        return getattr(component, name)
    raise AttributeError(name)
