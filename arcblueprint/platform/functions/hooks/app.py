"""CodeDeploy traffic hook: check the new version (before traffic) or the alias (after), then report.

CodeDeploy waits for ``PutLifecycleEventHookExecutionStatus``; a ``Failed`` status (or no report
within an hour) rolls the deployment back. Without ``SMOKE_EVENT`` the check is a ``DryRun``
invocation (the version exists and may be invoked); with it, the target is invoked with that event
and any function error fails the deployment.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from botocore.exceptions import BotoCoreError, ClientError

logger = Logger()
tracer = Tracer()
codedeploy = boto3.client("codedeploy")
lambda_client = boto3.client("lambda")


def check_target(client: Any, target_arn: str, smoke_event: str | None) -> str:
    """``Succeeded`` if ``target_arn`` answers as expected, else ``Failed``."""
    if not smoke_event:
        response = client.invoke(FunctionName=target_arn, InvocationType="DryRun")
        return "Succeeded" if response.get("StatusCode") == 204 else "Failed"
    response = client.invoke(
        FunctionName=target_arn, InvocationType="RequestResponse", Payload=json.dumps(json.loads(smoke_event)).encode()
    )
    if response.get("FunctionError"):
        logger.error("smoke test failed", extra={"target": target_arn, "error": response.get("FunctionError")})
        return "Failed"
    return "Succeeded"


def report(client: Any, event: dict[str, Any], status: str) -> None:
    client.put_lifecycle_event_hook_execution_status(
        deploymentId=event["DeploymentId"],
        lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
        status=status,
    )


def run_hook(
    event: dict[str, Any], *, deploy_client: Any, invoke_client: Any, target_arn: str, smoke_event: str | None
) -> str:
    """Check, then always report (a hook that never reports stalls the deployment for an hour)."""
    status = "Failed"
    try:
        status = check_target(invoke_client, target_arn, smoke_event)
    except (ClientError, BotoCoreError, ValueError):
        logger.exception("target check raised", extra={"target": target_arn})
    report(deploy_client, event, status)
    logger.info("hook reported", extra={"status": status, "deployment": event.get("DeploymentId")})
    return status


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    status = run_hook(
        event,
        deploy_client=codedeploy,
        invoke_client=lambda_client,
        target_arn=os.environ["TARGET_FUNCTION_ARN"],
        smoke_event=os.environ.get("SMOKE_EVENT"),
    )
    return {"status": status}
