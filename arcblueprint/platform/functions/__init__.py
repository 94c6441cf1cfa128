"""The shared Lambda function component: one way to build, grant, trigger and release a function.

Services import from here only::

    from arcblueprint.platform.functions import ServerlessFunction, FunctionArgs, SqsSource

The names load on first use (PEP 562): config validation checks a team's ``codeDir`` with
:mod:`.packaging`, which is pure, and importing it must not run this package's Pulumi modules.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

#: Exported name -> the module of this package that defines it.
_EXPORTS = {
    "HOOKS_DIR": "component",
    "AsyncInvocation": "component",
    "FunctionArgs": "component",
    "ServerlessFunction": "component",
    "SqsSource": "component",
    "StreamSource": "component",
    "CodeDeployRelease": "deployment",
    "CodeDeployReleaseArgs": "deployment",
    "PackagingError": "packaging",
    "package_size": "packaging",
}

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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
