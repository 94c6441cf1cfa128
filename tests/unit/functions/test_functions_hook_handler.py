"""The CodeDeploy traffic hook always reports, and reports Failed when the target misbehaves."""

from __future__ import annotations

import importlib
import io
import json

import boto3
import pytest
from botocore.stub import Stubber

EVENT = {"DeploymentId": "d-ABCDEFGHI", "LifecycleEventHookExecutionId": "eyJhbGciOi-example"}
TARGET = "arn:aws:lambda:eu-west-1:111111111111:function:arcbp-dev-orders:7"


@pytest.fixture
def hook():
    return importlib.import_module("arcblueprint.platform.functions.hooks.app")


@pytest.fixture
def clients():
    deploy = boto3.client("codedeploy", region_name="eu-west-1")
    invoke = boto3.client("lambda", region_name="eu-west-1")
    with Stubber(deploy) as deploy_stub, Stubber(invoke) as invoke_stub:
        yield deploy, deploy_stub, invoke, invoke_stub
        deploy_stub.assert_no_pending_responses()
        invoke_stub.assert_no_pending_responses()


def _expect_report(stub, status: str) -> None:
    stub.add_response(
        "put_lifecycle_event_hook_execution_status",
        {"lifecycleEventHookExecutionId": "x"},
        {
            "deploymentId": EVENT["DeploymentId"],
            "lifecycleEventHookExecutionId": EVENT["LifecycleEventHookExecutionId"],
            "status": status,
        },
    )


def test_dry_run_success_reports_succeeded(hook, clients) -> None:
    deploy, deploy_stub, invoke, invoke_stub = clients
    invoke_stub.add_response("invoke", {"StatusCode": 204}, {"FunctionName": TARGET, "InvocationType": "DryRun"})
    _expect_report(deploy_stub, "Succeeded")
    assert (
        hook.run_hook(EVENT, deploy_client=deploy, invoke_client=invoke, target_arn=TARGET, smoke_event=None)
        == "Succeeded"
    )


def test_a_function_error_in_the_smoke_test_reports_failed(hook, clients) -> None:
    deploy, deploy_stub, invoke, invoke_stub = clients
    smoke = json.dumps({"path": "/health"})
    invoke_stub.add_response(
        "invoke",
        {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": io.BytesIO(b"{}")},
        {"FunctionName": TARGET, "InvocationType": "RequestResponse", "Payload": smoke.encode()},
    )
    _expect_report(deploy_stub, "Failed")
    assert (
        hook.run_hook(EVENT, deploy_client=deploy, invoke_client=invoke, target_arn=TARGET, smoke_event=smoke)
        == "Failed"
    )


def test_an_aws_error_still_reports_failed(hook, clients) -> None:
    deploy, deploy_stub, invoke, invoke_stub = clients
    invoke_stub.add_client_error("invoke", "AccessDeniedException", http_status_code=403)
    _expect_report(deploy_stub, "Failed")
    assert (
        hook.run_hook(EVENT, deploy_client=deploy, invoke_client=invoke, target_arn=TARGET, smoke_event=None)
        == "Failed"
    )
