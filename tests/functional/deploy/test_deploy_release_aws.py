"""The driver's AWS reads for releases and accounts, against moto: STS caller, live aliases, CodeDeploy rollbacks."""

from __future__ import annotations

import io
import json
import zipfile

import boto3
import pytest
from moto import mock_aws

from arcblueprint.deploy.cli import caller_account, live_alias_version
from arcblueprint.deploy.codedeploy import start_rollbacks
from arcblueprint.deploy.errors import DeployError, ExitCode

REGION = "eu-west-1"


def _zip(body: str = "1") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", f"def lambda_handler(event, context):\n    return {body}\n")
    return buffer.getvalue()


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("MOTO_ACCOUNT_ID", "222222222222")
    with mock_aws():
        role = boto3.client("iam", region_name=REGION).create_role(
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
        lam = boto3.client("lambda", region_name=REGION)
        for name in ("orders", "payments"):
            lam.create_function(
                FunctionName=name,
                Runtime="python3.13",
                Role=role["Role"]["Arn"],
                Handler="app.lambda_handler",
                Code={"ZipFile": _zip()},
            )
            lam.publish_version(FunctionName=name)  # 1
        lam.update_function_code(FunctionName="orders", ZipFile=_zip("2"))
        lam.publish_version(FunctionName="orders")  # 2
        lam.create_alias(FunctionName="orders", Name="live", FunctionVersion="2")
        lam.create_alias(FunctionName="payments", Name="live", FunctionVersion="1")
        codedeploy = boto3.client("codedeploy", region_name=REGION)
        codedeploy.create_application(applicationName="orders-app", computePlatform="Lambda")
        codedeploy.create_deployment_group(
            applicationName="orders-app",
            deploymentGroupName="orders-group",
            serviceRoleArn=role["Role"]["Arn"],
            deploymentStyle={"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        )
        yield lam, codedeploy


def test_the_caller_account_comes_from_sts(aws):
    assert caller_account(REGION) == "222222222222"


def test_the_live_version_is_read_from_the_alias(aws):
    assert live_alias_version(REGION, "orders") == "2"
    assert live_alias_version(REGION, "payments") == "1"
    assert live_alias_version(REGION, "never-deployed") is None


def release(function: str, previous: str | None) -> dict:
    return {
        "functionName": function,
        "alias": "live",
        "strategy": "canary",
        "previousVersion": previous,
        "applicationName": "orders-app",
        "deploymentGroupName": "orders-group",
        "hooks": {},
    }


def test_a_codedeploy_rollback_shifts_live_back_to_the_previous_version(aws):
    lam, codedeploy = aws
    releases = {"orders-api": release("orders", "1"), "payments-api": release("payments", "1")}
    started = start_rollbacks(releases, lambda_client=lam, codedeploy_client=codedeploy, description="rollback")
    # payments already serves its previous version: nothing to shift.
    assert [(d["function"], d["from"], d["to"]) for d in started] == [("orders-api", "2", "1")]
    info = codedeploy.get_deployment(deploymentId=started[0]["deploymentId"])["deploymentInfo"]
    spec = json.loads(info["revision"]["appSpecContent"]["content"])
    props = next(iter(spec["Resources"][0].values()))["Properties"]
    assert props == {"Name": "orders", "Alias": "live", "CurrentVersion": "2", "TargetVersion": "1"}


def test_a_codedeploy_rollback_without_a_previous_version_is_refused(aws):
    lam, codedeploy = aws
    with pytest.raises(DeployError) as caught:
        start_rollbacks(
            {"orders-api": release("orders", None)}, lambda_client=lam, codedeploy_client=codedeploy, description="x"
        )
    assert caught.value.exit_code == ExitCode.CONFIG and "orders-api" in str(caught.value)
