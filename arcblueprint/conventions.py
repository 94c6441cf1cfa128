"""Naming and tagging conventions shared by every component (pure: no Pulumi here)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["physical_name", "resource_tags"]

_INVALID = re.compile(r"[^a-z0-9-]+")


def physical_name(prefix: str, *parts: str, max_length: int = 64) -> str:
    """A deterministic AWS name such as ``arcbp-prod-orders-api``, cut to ``max_length``.

    Names that AWS shows to people (log groups, functions, tables) are predictable so that
    dashboards and runbooks can refer to them; the prefix carries the environment.
    """
    name = "-".join(_INVALID.sub("-", part.lower()).strip("-") for part in (prefix, *parts) if part)
    if len(name) <= max_length:
        return name
    import hashlib

    digest = hashlib.sha256(name.encode()).hexdigest()[:6]
    return f"{name[: max_length - 7].rstrip('-')}-{digest}"


def resource_tags(stack_tags: Mapping[str, str], *, environment: str, service: str) -> dict[str, str]:
    """The tags every taggable resource gets: the stack's, plus environment and service."""
    return {**stack_tags, "environment": environment, "service": service, "managed-by": "pulumi"}
