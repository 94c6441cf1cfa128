"""Planning: the pure computation the stack config is validated with and the components declare from.

CIDR plans, release plans, zone choice, the on-prem proxy's configuration and the operand grammar of
event patterns and filter policies. Nothing here imports Pulumi or the AWS SDK, so the config model
(:mod:`arcblueprint.config`) imports these planners at the top of its module and validating a stack
file loads no provider; :mod:`arcblueprint.platform` turns the plans into resources.
"""

__all__: list[str] = []
