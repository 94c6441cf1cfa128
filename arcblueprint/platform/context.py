"""What every component needs to know about the stack it belongs to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi

from arcblueprint.conventions import physical_name, resource_tags

if TYPE_CHECKING:
    from arcblueprint.config.model import StackConfig

__all__ = ["StackContext"]


@dataclass(frozen=True, kw_only=True)
class StackContext:
    """The validated stack config plus the conventions derived from it (names, tags, protection)."""

    stack: StackConfig

    def name(self, *parts: str, max_length: int = 64) -> str:
        """Physical name under the stack's prefix, e.g. ``arcbp-prod-orders-table``."""
        return physical_name(self.stack.naming_prefix, *parts, max_length=max_length)

    def tags(self, service: str) -> dict[str, str]:
        return resource_tags(self.stack.tags, environment=self.stack.environment, service=service)

    def stateful(self, opts: pulumi.ResourceOptions | None = None) -> pulumi.ResourceOptions:
        """Options for a stateful resource: protected and retained on delete where the stack says so.

        ``protect`` makes ``pulumi destroy`` and replacements fail until it is lifted on purpose;
        ``retain_on_delete`` keeps the data in AWS even if the resource leaves the program.
        """
        protect = self.stack.protect_stateful_resources
        return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=protect, retain_on_delete=protect))

    @property
    def partition(self) -> str:
        return "aws-us-gov" if "-gov-" in self.stack.region else "aws"
