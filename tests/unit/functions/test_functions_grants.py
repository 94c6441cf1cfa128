"""Grant builders: exactly the actions named, on exactly the resources given; never a `*` action."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arcblueprint.platform.functions import grants
from arcblueprint.platform.functions.grants import AWS_REQUIRES_ANY_RESOURCE, GrantError

names = st.from_regex(r"[a-z][a-z0-9-]{0,30}", fullmatch=True)
regions = st.sampled_from(["eu-west-1", "us-east-1", "ap-southeast-2"])
accounts = st.from_regex(r"\d{12}", fullmatch=True)


@st.composite
def resource_grants(draw):
    """(builder, arn) pairs with AWS-shaped ARNs of the kind each builder takes."""
    r, a, n = draw(regions), draw(accounts), draw(names)
    return draw(
        st.sampled_from(
            [
                (grants.table_read, f"arn:aws:dynamodb:{r}:{a}:table/{n}"),
                (grants.table_read_write, f"arn:aws:dynamodb:{r}:{a}:table/{n}"),
                (grants.queue_send, f"arn:aws:sqs:{r}:{a}:{n}"),
                (grants.queue_consume, f"arn:aws:sqs:{r}:{a}:{n}"),
                (grants.topic_publish, f"arn:aws:sns:{r}:{a}:{n}"),
                (grants.stream_read, f"arn:aws:kinesis:{r}:{a}:stream/{n}"),
                (grants.stream_read, f"arn:aws:kinesis:{r}:{a}:stream/{n}/consumer/c1:1700000000"),
                (grants.stream_read, f"arn:aws:dynamodb:{r}:{a}:table/{n}/stream/2026-01-01T00:00:00.000"),
                (grants.stream_write, f"arn:aws:kinesis:{r}:{a}:stream/{n}"),
                (grants.put_events, f"arn:aws:events:{r}:{a}:event-bus/{n}"),
                (grants.secret_read, f"arn:aws:secretsmanager:{r}:{a}:secret:{n}-AbCdEf"),
                (grants.bucket_read, f"arn:aws:s3:::{n}"),
                (grants.bucket_write, f"arn:aws:s3:::{n}"),
                (grants.start_execution, f"arn:aws:states:{r}:{a}:stateMachine:{n}"),
                (grants.log_write, f"arn:aws:logs:{r}:{a}:log-group:/aws/lambda/{n}"),
                (grants.codedeploy_hook_status, f"arn:aws:codedeploy:{r}:{a}:deploymentgroup:{n}/{n}-dg"),
                (grants.function_invoke, f"arn:aws:lambda:{r}:{a}:function:{n}:live"),
                (lambda arn: grants.kms_use(arn, encrypt=True), f"arn:aws:kms:{r}:{a}:key/{n}"),
                (grants.env_decrypt, f"arn:aws:kms:{r}:{a}:key/{n}"),
                (grants.failure_destination, f"arn:aws:sqs:{r}:{a}:{n}"),
                (grants.failure_destination, f"arn:aws:sns:{r}:{a}:{n}"),
            ]
        )
    )


def _assert_least_privilege(statements) -> None:
    assert statements
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert statement["Sid"].isalnum()
        for action in statement["Action"]:
            assert "*" not in action, statement
            assert action.count(":") == 1
        for resource in statement["Resource"]:
            if resource == "*":
                assert statement["Sid"].startswith(AWS_REQUIRES_ANY_RESOURCE), statement
            else:
                assert resource.startswith("arn:aws:"), statement


@given(resource_grants())
def test_resource_grants_never_use_a_star_action_or_resource(pair) -> None:
    builder, arn = pair
    statements = builder(arn)
    _assert_least_privilege(statements)
    for statement in statements:
        assert "*" not in statement["Resource"]
        assert all(res.startswith(arn.partition("/consumer/")[0]) for res in statement["Resource"])


def test_only_xray_and_the_lambda_eni_actions_need_any_resource() -> None:
    statements = grants.xray_write() + grants.vpc_network_interfaces()
    _assert_least_privilege(statements)
    starred = {a for s in statements if "*" in s["Resource"] for a in s["Action"]}
    assert starred == {"xray:PutTraceSegments", "xray:PutTelemetryRecords", *VPC_ACCESS_EC2_ACTIONS}


#: The EC2 actions of AWS's AWSLambdaVPCAccessExecutionRole, policy version v3 (edited 2024-01-05), as
#: published in the AWS Managed Policy Reference; all on "Resource": "*".
VPC_ACCESS_EC2_ACTIONS = {
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
}


def test_eni_permissions_are_those_of_the_aws_managed_vpc_policy() -> None:
    (statement,) = grants.vpc_network_interfaces()
    assert set(statement["Action"]) == VPC_ACCESS_EC2_ACTIONS and statement["Resource"] == ["*"]
    assert statement["Sid"].startswith(AWS_REQUIRES_ANY_RESOURCE)
    from arcblueprint.policy.iam import STAR_RESOURCE_ACTIONS

    assert VPC_ACCESS_EC2_ACTIONS <= set(STAR_RESOURCE_ACTIONS), "each '*' action has its reason in the IAM rule"


@given(resource_grants())
def test_each_builder_declares_exactly_the_api_its_code_calls(pair) -> None:
    """What a builder declares (the endpoint a VPC function gets) is what the reachability rule will demand."""
    from arcblueprint.policy.wiring.reachability import called_apis

    builder, arn = pair
    declared = grants.api_of(grants.kms_use if builder.__name__ == "<lambda>" else builder)
    demanded = set(called_apis([grants.policy_document(builder(arn))]))
    assert demanded == ({declared} if declared else set()), (builder.__name__, demanded)


def test_argument_free_builders_declare_their_api_too() -> None:
    from arcblueprint.policy.wiring.reachability import called_apis

    assert grants.api_of(grants.xray_write) == "xray" == next(iter(called_apis([{"Statement": grants.xray_write()}])))
    assert grants.api_of(grants.vpc_network_interfaces) is None
    assert called_apis([{"Statement": grants.vpc_network_interfaces()}]) == {}
    with pytest.raises(GrantError, match="does not declare the API"):
        grants.api_of(lambda arn: [])


def test_service_side_statements_are_marked_on_behalf_once() -> None:
    key = "arn:aws:kms:eu-west-1:111111111111:key/k"
    (decrypt,) = grants.env_decrypt(key)
    assert decrypt["Sid"] == "OnBehalfLambdaEnvDecrypt" and decrypt["Action"] == ["kms:Decrypt"]
    marked = grants.on_behalf(grants.kms_use(key, encrypt=True))
    assert grants.on_behalf(marked) == marked and marked[0]["Sid"] == "OnBehalfPlatformKeyEncrypt"
    (send,) = grants.failure_destination("arn:aws:sqs:eu-west-1:111111111111:dlq")
    assert send["Sid"].startswith("OnBehalf") and send["Action"] == ["sqs:SendMessage"]
    (code_send,) = grants.queue_send("arn:aws:sqs:eu-west-1:111111111111:dlq")
    assert code_send["Sid"] == "QueueSend"


def test_grants_name_exactly_the_documented_actions() -> None:
    table = "arn:aws:dynamodb:eu-west-1:111111111111:table/orders"
    (read,) = grants.table_read(table)
    assert read["Action"] == ["dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:Query"]
    assert read["Resource"] == [table, f"{table}/index/*"]
    (consume,) = grants.queue_consume("arn:aws:sqs:eu-west-1:111111111111:q")
    assert set(consume["Action"]) == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ChangeMessageVisibility",
    }
    stream, consumer = grants.stream_read("arn:aws:kinesis:eu-west-1:111111111111:stream/s/consumer/c:1")
    assert stream["Resource"] == ["arn:aws:kinesis:eu-west-1:111111111111:stream/s"]
    assert "kinesis:SubscribeToShard" in consumer["Action"]
    (logs,) = grants.log_write("arn:aws:logs:eu-west-1:111111111111:log-group:/aws/lambda/fn")
    assert logs["Resource"] == ["arn:aws:logs:eu-west-1:111111111111:log-group:/aws/lambda/fn:*"]
    (hook,) = grants.codedeploy_hook_status("arn:aws:codedeploy:eu-west-1:111111111111:deploymentgroup:app/dg")
    assert hook["Action"] == ["codedeploy:PutLifecycleEventHookExecutionStatus"]


@pytest.mark.parametrize(
    ("builder", "arn"),
    [
        (grants.table_read, "arn:aws:sqs:eu-west-1:111111111111:q"),
        (grants.queue_send, "*"),
        (grants.topic_publish, "arn:aws:sns:eu-west-1:111111111111:*"),
        (grants.stream_read, "arn:aws:dynamodb:eu-west-1:111111111111:table/t"),
        (grants.secret_read, "not-an-arn"),
    ],
)
def test_grants_reject_the_wrong_kind_of_arn(builder, arn) -> None:
    with pytest.raises(GrantError):
        builder(arn)
