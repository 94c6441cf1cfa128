"""Reusable, pattern-agnostic constructs: secure defaults, explicit overrides, one construct per module.

In the spirit of AWS Solutions Constructs' ``core``: what two patterns build the same way is built here
once, never imported from a sibling pattern. Import each from its module (``constructs.rest_stage``,
``constructs.user_pool``, ``constructs.durable_queue``, ``constructs.secure_bucket``, ``constructs.ttl_table``);
this package loads none of them, so the pure ``constructs.rest_conventions`` reaches config specs without Pulumi.
Their type tokens still read ``arcblueprint:services:<Noun>``: a type is part of every child's URN, and a new
one would make Pulumi replace the stateful resources under it.
"""

__all__: list[str] = []
