"""The list of policies the pack enforces; ``policies/__main__.py`` hands it to ``PolicyPack``."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pulumi_policy import Policy

__all__ = ["HARDENING_MODULES", "PACK_NAME", "all_policies", "correctness_policy_names"]

PACK_NAME = "arcblueprint"
#: The modules of the hardening rules, in the pack's order; the correctness rules follow (``policy.wiring``).
HARDENING_MODULES = (
    "lambda_",
    "release",
    "api",
    "messaging",
    "data",
    "network",
    "iam",
    "least_privilege",
    "tagging",
    "edge",
    "code_signing",
    "access_logs",
)


def all_policies() -> list[Policy]:
    """Every policy of the pack, in a stable order (the same objects the offline preview runs)."""
    from arcblueprint.policy.wiring import correctness_policies

    policies: list[Policy] = [
        *(p for module in HARDENING_MODULES for p in importlib.import_module(f"arcblueprint.policy.{module}").POLICIES),
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
