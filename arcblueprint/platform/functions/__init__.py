"""The shared Lambda function component: one way to build, grant, trigger and release a function.

Services import from here only::

    from arcblueprint.platform.functions import ServerlessFunction, FunctionArgs, SqsSource
"""

from arcblueprint.platform.functions.component import (
    HOOKS_DIR,
    AsyncInvocation,
    FunctionArgs,
    ServerlessFunction,
    SqsSource,
    StreamSource,
)
from arcblueprint.platform.functions.deployment import CodeDeployRelease, CodeDeployReleaseArgs
from arcblueprint.platform.functions.packaging import PackagingError, package_size
from arcblueprint.platform.functions.releases import LIVE_ALIAS, ReleasePlan, appspec, plan_release

__all__ = [
    "HOOKS_DIR",
    "LIVE_ALIAS",
    "AsyncInvocation",
    "CodeDeployRelease",
    "CodeDeployReleaseArgs",
    "FunctionArgs",
    "PackagingError",
    "ReleasePlan",
    "ServerlessFunction",
    "SqsSource",
    "StreamSource",
    "appspec",
    "package_size",
    "plan_release",
]
