"""Big Fan: an API publishing straight to SNS, fanned out to filtered, independently failing consumers."""

from arcblueprint.services.big_fan.filter_policy import FilterPolicyError, validate_filter_policy
from arcblueprint.services.big_fan.spec import BigFanSpec, ConsumerSpec

__all__ = ["BigFanSpec", "ConsumerSpec", "FilterPolicyError", "validate_filter_policy"]
