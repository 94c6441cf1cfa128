"""Start and watch the CodeDeploy deployments of canary/linear functions after ``pulumi up``.

Pulumi publishes the new version and leaves the ``live`` alias where CodeDeploy last put it (the
alias ignores version changes after creation). This step asks CodeDeploy to shift ``live`` from
its current version to the new one with the function's deployment config, and waits: CodeDeploy
rolls back by itself on an alarm, a failed hook or a stop request.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from arcblueprint.deploy.errors import DeployError, ExitCode
from arcblueprint.planning.releases import appspec, needs_deployment

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["start_deployments", "start_rollbacks", "wait_for_deployments"]

_DONE = {"Succeeded", "Failed", "Stopped"}


def start_deployments(
    releases: Mapping[str, Mapping[str, Any]], *, lambda_client: Any, codedeploy_client: Any, description: str
) -> list[dict[str, Any]]:
    """One deployment per CodeDeploy-managed function whose ``live`` alias is not at the new version."""
    started = []
    for name, info in sorted(releases.items()):
        if not info.get("applicationName") or not info.get("deploymentGroupName"):
            continue  # all-at-once, blue-green and weighted canaries are moved by pulumi up itself
        function, alias, target = info["functionName"], info.get("alias", "live"), str(info["targetVersion"])
        current = lambda_client.get_alias(FunctionName=function, Name=alias)["FunctionVersion"]
        if not needs_deployment(current, target):
            continue
        hooks = {event: arn for event, arn in (info.get("hooks") or {}).items() if arn}
        content = json.dumps(appspec(function, alias, current, target, hooks))
        response = codedeploy_client.create_deployment(
            applicationName=info["applicationName"],
            deploymentGroupName=info["deploymentGroupName"],
            revision={"revisionType": "AppSpecContent", "appSpecContent": {"content": content}},
            description=description[:100],
        )
        started.append(
            {
                "function": name,
                "functionName": function,
                "deploymentId": response["deploymentId"],
                "from": current,
                "to": target,
                "status": "Created",
            }
        )
    return started


def start_rollbacks(
    releases: Mapping[str, Mapping[str, Any]], *, lambda_client: Any, codedeploy_client: Any, description: str
) -> list[dict[str, Any]]:
    """One deployment per canary/linear function that shifts ``live`` back to its previous version.

    The same deployment group, config and alarms as a release, in the other direction (AppSpec current ->
    previous), so the way back is as gradual and as guarded as the way forward and its hooks smoke-test
    the version it returns to. A function already serving its previous version is left alone.
    """
    started = []
    for name, info in sorted(releases.items()):
        previous = info.get("previousVersion")
        if not previous:
            raise DeployError(
                f"{name} has no previous version on record (its first release?): nothing to roll back to",
                ExitCode.CONFIG,
            )
        function, alias = info["functionName"], info.get("alias", "live")
        current = lambda_client.get_alias(FunctionName=function, Name=alias)["FunctionVersion"]
        if not needs_deployment(current, str(previous)):
            continue
        hooks = {event: arn for event, arn in (info.get("hooks") or {}).items() if arn}
        content = json.dumps(appspec(function, alias, current, str(previous), hooks))
        response = codedeploy_client.create_deployment(
            applicationName=info["applicationName"],
            deploymentGroupName=info["deploymentGroupName"],
            revision={"revisionType": "AppSpecContent", "appSpecContent": {"content": content}},
            description=description[:100],
        )
        started.append(
            {
                "function": name,
                "functionName": function,
                "deploymentId": response["deploymentId"],
                "from": current,
                "to": str(previous),
                "status": "Created",
            }
        )
    return started


def wait_for_deployments(
    deployments: list[dict[str, Any]],
    *,
    status_of: Callable[[str], str],
    poll_seconds: float = 15.0,
    timeout_seconds: float = 7200.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[dict[str, Any]]:
    """Poll until every deployment is done; raise with the ones that failed (CodeDeploy rolled them back)."""
    deadline = clock() + timeout_seconds
    pending = [d for d in deployments if d["status"] not in _DONE]
    while pending:
        for deployment in pending:
            deployment["status"] = status_of(deployment["deploymentId"])
        pending = [d for d in pending if d["status"] not in _DONE]
        if pending and clock() >= deadline:
            names = ", ".join(d["function"] for d in pending)
            raise DeployError(
                f"CodeDeploy deployments still running after {timeout_seconds:.0f}s: {names}", ExitCode.UPDATE
            )
        if pending:
            sleep(poll_seconds)
    failed = [d for d in deployments if d["status"] != "Succeeded"]
    if failed:
        listed = ", ".join(f"{d['function']} ({d['deploymentId']}: {d['status']})" for d in failed)
        raise DeployError(f"CodeDeploy rolled back: {listed}", ExitCode.UPDATE)
    return deployments


def run(
    releases: Mapping[str, Mapping[str, Any]],
    *,
    region: str,
    description: str,
    say: Callable[[str], None],
    rollback: bool = False,
) -> list[dict[str, Any]]:
    """The production wiring: boto3 clients for the stack's region (``rollback``: back to the previous versions)."""
    import boto3

    codedeploy = boto3.client("codedeploy", region_name=region)
    deployments = (start_rollbacks if rollback else start_deployments)(
        releases,
        lambda_client=boto3.client("lambda", region_name=region),
        codedeploy_client=codedeploy,
        description=description,
    )
    for d in deployments:
        say(f"CodeDeploy {d['deploymentId']}: {d['functionName']} live {d['from']} -> {d['to']}")
    return wait_for_deployments(
        deployments, status_of=lambda i: codedeploy.get_deployment(deploymentId=i)["deploymentInfo"]["status"]
    )
