"""What the config of any service behind a REST API stage can say: its throttles (pure: no Pulumi here).

Shared by the patterns that front Lambda with an API Gateway REST API (Comfortable REST, Strangler); each
maps a :class:`ThrottleSpec` onto the stage's throttles (``constructs.rest_stage.MethodThrottle``).
"""

from __future__ import annotations

from dataclasses import dataclass

from arcblueprint.config.schema import ConfigError, setting

__all__ = ["ThrottleSpec"]


@dataclass(frozen=True, kw_only=True)
class ThrottleSpec:
    """A token bucket: ``rateLimit`` requests per second refilled, ``burstLimit`` requests at once."""

    rate_limit: float = setting(minimum=1, maximum=10000, doc="steady requests per second")
    burst_limit: int = setting(minimum=1, maximum=5000, doc="bucket size (concurrent requests)")

    def __post_init__(self) -> None:
        if self.burst_limit < self.rate_limit / 10:
            # A bucket smaller than a tenth of a second of traffic throttles even steady load.
            raise ConfigError(
                "burstLimit", self.burst_limit, f"must be at least rateLimit/10 ({self.rate_limit / 10:g})"
            )
