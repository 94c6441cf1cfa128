"""Cherry-pick: AppSync GraphQL with direct DynamoDB reads, a Lambda resolver and a saga state machine."""

from __future__ import annotations

__all__ = ["CherryPickService", "CherryPickSpec"]


def __getattr__(name: str) -> object:
    # The component imports Pulumi; the spec does not. Config parsing imports only the spec.
    if name == "CherryPickSpec":
        from arcblueprint.services.cherry_pick.spec import CherryPickSpec

        return CherryPickSpec
    if name == "CherryPickService":
        from arcblueprint.services.cherry_pick import component

        return getattr(component, name)
    raise AttributeError(name)
