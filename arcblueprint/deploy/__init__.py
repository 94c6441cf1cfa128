"""The CI/CD deployment driver: offline gate, engine preview with the policy pack, update, promotion.

The orchestration (ordering, gates, promotion, summary, exit codes) is plain Python over the
:class:`~arcblueprint.deploy.engine.Engine` protocol; :mod:`arcblueprint.deploy.automation` is the
thin layer that implements it with ``pulumi.automation`` and the real Pulumi CLI.
"""

from arcblueprint.deploy.errors import DeployError, ExitCode

__all__ = ["DeployError", "ExitCode"]
