"""arcblueprint: a Pulumi blueprint for a multi-environment AWS serverless platform.

The shared platform lives in :mod:`arcblueprint.platform`, the six ARC307 patterns in
:mod:`arcblueprint.services`, the stack config model in :mod:`arcblueprint.config` (validated with the pure
planners of :mod:`arcblueprint.planning`, which import no Pulumi), the offline
preview in :mod:`arcblueprint.preview` and the CrossGuard rules in :mod:`arcblueprint.policy`.
They live inside one import package because a top-level ``platform`` package would shadow the
standard library's ``platform`` module.
"""

__all__: list[str] = []
__version__ = "0.1.0"
