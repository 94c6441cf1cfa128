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

__all__ = [
    "HOOKS_DIR",
    "AsyncInvocation",
    "CodeDeployRelease",
    "CodeDeployReleaseArgs",
    "FunctionArgs",
    "PackagingError",
    "ServerlessFunction",
    "SqsSource",
    "StreamSource",
    "package_size",
]
