"""Correctness rules: what AWS rejects at deploy time or what deploys but cannot work at run time.

The hardening rules beside this package judge each resource on its own (encrypted, logged,
least privilege). These judge the relationships between resources across the whole graph: an
endpoint placed in a zone its service does not serve, a stage that logs before the account may,
a role whose trust policy waits for a key its caller never sends. Each module exports
``POLICIES``; every rule here is mandatory in every stack (a stack may waive one resource with a
reason, never weaken the rule), because a violation is a broken deploy, not a weaker one.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pulumi_policy import Policy

__all__ = ["correctness_modules", "correctness_policies"]


def correctness_modules() -> list[str]:
    """The rule modules of this package (helpers start with ``_``), sorted; found without importing them."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def correctness_policies() -> list[Policy]:
    """The rules of every module in this package, by module name then order in the module."""
    policies: list[Policy] = []
    for module in correctness_modules():
        policies.extend(importlib.import_module(f"{__name__}.{module}").POLICIES)
    return policies
