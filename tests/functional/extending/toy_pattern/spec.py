"""The toy pattern's config (pure: no Pulumi here, config validation imports it)."""

from __future__ import annotations

from dataclasses import dataclass

from arcblueprint.config.schema import setting
from arcblueprint.services.service_settings import ServiceSettings


@dataclass(frozen=True, kw_only=True)
class ToyQueueSpec(ServiceSettings):
    """One queue; ``retentionDays`` is how long a message waits to be read."""

    retention_days: int = setting(4, minimum=1, maximum=14, doc="1-14 days (SQS keeps messages up to 14)")
