"""Lambda SnapStart: only where AWS accepts it.

``CreateFunction``/``UpdateFunctionConfiguration`` reject SnapStart on a runtime that does not
support it (Python 3.12 and later, Java 11 and later, .NET 8 and later; no OS-only runtime and no
container image), with Amazon EFS, or with ephemeral storage above 512 MB, and a provisioned
concurrency config on a SnapStart version is refused. Source: "Improving startup performance with
Lambda SnapStart", supported features and limitations
(https://docs.aws.amazon.com/lambda/latest/dg/snapstart.html).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from arcblueprint.policy.base import function_base_name, known, known_dig, known_list, number, stack_policy
from arcblueprint.policy.graph import StackGraph
from arcblueprint.policy.wiring._props import UNKNOWN

if TYPE_CHECKING:
    from pulumi_policy import PolicyResource, StackValidationArgs

    from arcblueprint.policy.base import ReportViolation

__all__ = ["POLICIES", "SNAPSTART_ARCHITECTURES", "SNAPSTART_SUPPORTED", "snapstart_runtime_supported"]

FUNCTION = "aws:lambda/function:Function"
PROVISIONED = "aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig"
#: Managed runtimes with SnapStart: family and the first supported version.
_RUNTIMES = (
    (re.compile(r"python3\.(\d+)"), 12),
    (re.compile(r"java(\d+)"), 11),
    (re.compile(r"dotnet(\d+)"), 8),
)
#: The page's limitations list no architecture (it named arm64 as unsupported when SnapStart was Java-only).
SNAPSTART_ARCHITECTURES = frozenset({"x86_64", "arm64"})
SNAPSTART_MAX_EPHEMERAL_MB = 512
SNAPSTART_SUPPORTED = "Python 3.12+, Java 11+ and .NET 8+ managed runtimes"


def snapstart_runtime_supported(runtime: str) -> bool:
    """Whether a managed runtime identifier (``python3.13``, ``java21``) supports SnapStart."""
    for pattern, first in _RUNTIMES:
        match = pattern.fullmatch(runtime)
        if match:
            return int(match.group(1)) >= first
    return False


def _snapstart_on(function: PolicyResource) -> bool:
    return known_dig(function.props, "snapStart", "applyOn") == "PublishedVersions"


def _problems(function: PolicyResource) -> list[str]:
    """What AWS rejects about this SnapStart function on its own."""
    props = function.props
    problems = []
    if known(props, "packageType") == "Image":
        problems.append("it is a container image (SnapStart needs a managed runtime)")
    runtime = known(props, "runtime")
    if isinstance(runtime, str) and not snapstart_runtime_supported(runtime):
        problems.append(f"runtime {runtime} has no SnapStart ({SNAPSTART_SUPPORTED} only)")
    architectures = known_list(props, "architectures")
    if architectures is not UNKNOWN:
        unsupported = sorted(str(a) for a in architectures if a not in SNAPSTART_ARCHITECTURES)
        if unsupported:
            problems.append(f"architecture {', '.join(unsupported)} has no SnapStart")
    if known(props, "fileSystemConfig"):
        problems.append("it mounts Amazon EFS (fileSystemConfig), which SnapStart does not support")
    size = number(known_dig(props, "ephemeralStorage", "size"))
    if size is not None and size > SNAPSTART_MAX_EPHEMERAL_MB:
        problems.append(f"its ephemeral storage is {size:g} MB (SnapStart allows at most {SNAPSTART_MAX_EPHEMERAL_MB})")
    return problems


def _provisioned_for(graph: StackGraph, function: PolicyResource) -> list[PolicyResource]:
    """Provisioned concurrency configs of the stack on this function (by dependency, else by name)."""
    found = []
    name = known(function.props, "name")
    for config in graph.of_type(PROVISIONED):
        targets = {t.urn for t in graph.refs(config, "functionName", FUNCTION)}
        if function.urn in targets or (
            not targets and isinstance(name, str) and function_base_name(known(config.props, "functionName")) == name
        ):
            found.append(config)
    return found


def validate_snapstart(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Each function with SnapStart on is one AWS accepts it for, with no provisioned concurrency."""
    graph = StackGraph(args.resources)
    for function in graph.of_type(FUNCTION):
        if not _snapstart_on(function):
            continue
        for problem in _problems(function):
            report_violation(
                f"Lambda function '{function.name}' turns SnapStart on but {problem}; AWS rejects the function. "
                "Turn snapStart off for this service or change what stands in the way.",
                function.urn,
            )
        for config in _provisioned_for(graph, function):
            report_violation(
                f"Provisioned concurrency config '{config.name}' targets Lambda function '{function.name}', which has "
                "SnapStart on; AWS does not support SnapStart with provisioned concurrency. Keep one of the two.",
                config.urn,
            )


SNAPSTART_SUPPORTED_RULE = stack_policy(
    "snapstart-supported",
    "Lambda SnapStart is turned on only for managed runtimes and settings AWS supports it with (Python 3.12+, no "
    "EFS, at most 512 MB ephemeral storage, no provisioned concurrency).",
    validate_snapstart,
    remediation_steps="Turn the service's snapStart off, or remove the EFS mount, the larger ephemeral storage or "
    "the provisioned concurrency config.",
)

POLICIES = [SNAPSTART_SUPPORTED_RULE]
