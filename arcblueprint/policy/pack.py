"""The list of policies the pack enforces; ``policies/__main__.py`` hands it to ``PolicyPack``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pulumi_policy import Policy

__all__ = ["PACK_NAME", "all_policies", "correctness_policy_names"]

PACK_NAME = "arcblueprint"


def all_policies() -> list[Policy]:
    """Every policy of the pack, in a stable order (the same objects the offline preview runs)."""
    from arcblueprint.policy import (
        access_logs,
        api,
        code_signing,
        data,
        edge,
        iam,
        lambda_,
        least_privilege,
        messaging,
        network,
        release,
        tagging,
    )
    from arcblueprint.policy.wiring import correctness_policies

    policies: list[Policy] = [
        *lambda_.POLICIES,
        *release.POLICIES,
        *api.POLICIES,
        *messaging.POLICIES,
        *data.POLICIES,
        *network.POLICIES,
        *iam.POLICIES,
        *least_privilege.POLICIES,
        *tagging.POLICIES,
        *edge.POLICIES,
        *code_signing.POLICIES,
        *access_logs.POLICIES,
        *correctness_policies(),
    ]
    names = [p.name for p in policies]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:  # the engine keys config and results by name
        raise ValueError(f"duplicate policy names: {', '.join(duplicates)}")
    return policies


def correctness_policy_names() -> frozenset[str]:
    """The rules no stack may weaken (see :mod:`arcblueprint.policy.wiring`)."""
    from arcblueprint.policy.wiring import correctness_policies

    return frozenset(p.name for p in correctness_policies())
