"""CodeDeploy deployments after an update: started only where live lags, watched until done (moto + fakes)."""

from __future__ import annotations

import io
import json
import zipfile

import boto3
import pytest
from moto import mock_aws

from arcblueprint.deploy.codedeploy import start_deployments, wait_for_deployments
from arcblueprint.deploy.errors import DeployError, ExitCode


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def lambda_handler(event, context):\n    return 1\n")
    return buffer.getvalue()


@pytest.fixture
def aws():
    with mock_aws():
        iam = boto3.client("iam", region_name="eu-west-1")
        role = iam.create_role(
            RoleName="fn",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )
        lam = boto3.client("lambda", region_name="eu-west-1")
        for name in ("orders", "payments"):
            lam.create_function(
                FunctionName=name,
                Runtime="python3.13",
                Role=role["Role"]["Arn"],
                Handler="app.lambda_handler",
                Code={"ZipFile": _zip()},
            )
            lam.publish_version(FunctionName=name)  # 1
            lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
        lam.update_function_code(FunctionName="orders", ZipFile=_zip() + b"")
        lam.publish_version(FunctionName="orders", Description="v2")
        codedeploy = boto3.client("codedeploy", region_name="eu-west-1")
        codedeploy.create_application(applicationName="orders-app", computePlatform="Lambda")
        codedeploy.create_deployment_group(
            applicationName="orders-app",
            deploymentGroupName="orders-group",
            serviceRoleArn=role["Role"]["Arn"],
            deploymentStyle={"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        )
        yield lam, codedeploy


def release(function: str, target: str, *, codedeploy: bool = True) -> dict:
    return {
        "functionName": function,
        "alias": "live",
        "targetVersion": target,
        "strategy": "canary",
        "applicationName": "orders-app" if codedeploy else None,
        "deploymentGroupName": "orders-group" if codedeploy else None,
        "hooks": {"BeforeAllowTraffic": "arn:aws:lambda:eu-west-1:123456789012:function:CodeDeployHook_pre:live"},
    }


def test_deploys_only_functions_whose_live_alias_lags(aws):
    lam, codedeploy = aws
    releases = {
        "orders-api": release("orders", "2"),
        "payments-api": release("payments", "1"),
        "audit": release("orders", "2", codedeploy=False),
    }
    started = start_deployments(releases, lambda_client=lam, codedeploy_client=codedeploy, description="dev abc")
    assert [(d["function"], d["from"], d["to"]) for d in started] == [("orders-api", "1", "2")]
    info = codedeploy.get_deployment(deploymentId=started[0]["deploymentId"])["deploymentInfo"]
    assert info["applicationName"] == "orders-app" and info["deploymentGroupName"] == "orders-group"
    spec = json.loads(info["revision"]["appSpecContent"]["content"])
    props = next(iter(spec["Resources"][0].values()))["Properties"]
    assert props == {"Name": "orders", "Alias": "live", "CurrentVersion": "1", "TargetVersion": "2"}
    assert spec["Hooks"] == [{"BeforeAllowTraffic": releases["orders-api"]["hooks"]["BeforeAllowTraffic"]}]


def test_waits_until_every_deployment_is_done():
    statuses = {"d-1": iter(["InProgress", "InProgress", "Succeeded"]), "d-2": iter(["Succeeded"])}
    deployments = [
        {"function": "a", "deploymentId": "d-1", "status": "Created"},
        {"function": "b", "deploymentId": "d-2", "status": "Created"},
    ]
    sleeps: list[float] = []
    done = wait_for_deployments(deployments, status_of=lambda i: next(statuses[i]), sleep=sleeps.append, poll_seconds=5)
    assert [d["status"] for d in done] == ["Succeeded", "Succeeded"] and sleeps == [5, 5]


def test_a_rolled_back_deployment_fails_the_run_with_its_id():
    deployments = [{"function": "a", "deploymentId": "d-9", "status": "Created"}]
    with pytest.raises(DeployError) as caught:
        wait_for_deployments(deployments, status_of=lambda i: "Stopped", sleep=lambda s: None)
    assert caught.value.exit_code == ExitCode.UPDATE and "d-9: Stopped" in str(caught.value)


def test_a_deployment_that_never_ends_times_out():
    now = iter(range(0, 100000, 60))
    with pytest.raises(DeployError, match="still running"):
        wait_for_deployments(
            [{"function": "a", "deploymentId": "d-1", "status": "Created"}],
            status_of=lambda i: "InProgress",
            sleep=lambda s: None,
            timeout_seconds=600,
            clock=lambda: next(now),
        )
