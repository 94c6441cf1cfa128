"""A function's grants keep only the actions its code declares (permissions.json), and the function carries them."""

from __future__ import annotations

import json

import pytest

from arcblueprint.code_calls import from_tags
from arcblueprint.platform.functions import FunctionArgs, ServerlessFunction

TABLE = "arn:aws:dynamodb:eu-west-1:111111111111:table/orders"
QUEUE = "arn:aws:sqs:eu-west-1:111111111111:orders"


def _handler(tmp_path, calls):
    (tmp_path / "app.py").write_text("def lambda_handler(event, context):\n    return None\n")
    if calls is not None:
        (tmp_path / "permissions.json").write_text(json.dumps({"calls": calls}))
    return tmp_path


def _statements(graph, name):
    [policy] = [p for p in graph.by_type("aws:iam/rolePolicy:RolePolicy") if p.name == name]
    return json.loads(policy.inputs["policy"])["Statement"]


def test_a_grant_keeps_the_declared_actions_and_reads_only_decrypt(run_component, fake_platform, tmp_path):
    code = _handler(tmp_path, ["dynamodb:GetItem", "dynamodb:UpdateItem"])

    def program(context):
        function = ServerlessFunction(
            "reader", FunctionArgs(platform=fake_platform(context), service="orders", code_dir=code)
        )
        function.grant_table_read_write(TABLE)
        function.grant_table_read_write(f"{TABLE}-archive", actions=["dynamodb:GetItem"])

    graph = run_component(program)
    table, key = _statements(graph, "reader-table-read-write")
    assert table["Action"] == ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    assert key["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    archive, archive_key = _statements(graph, "reader-table-read-write-2")
    assert archive["Action"] == ["dynamodb:GetItem"] and archive_key["Action"] == ["kms:Decrypt"]
    [function] = graph.by_type("aws:lambda/function:Function")
    assert from_tags(function.inputs["tags"]) == {"dynamodb:GetItem", "dynamodb:UpdateItem"}


@pytest.mark.parametrize(
    ("calls", "grant", "message"),
    [
        (["dynamodb:GetItem"], lambda f: f.grant_queue_send(QUEUE), "none of which the code declares"),
        (["dynamodb:GetItem"], lambda f: f.grant_table_read(TABLE, actions=["dynamodb:PutItem"]), "not among"),
        (None, lambda f: None, "has no permissions.json"),
    ],
)
def test_a_grant_of_nothing_the_code_calls_fails_at_construction(
    run_component, fake_platform, tmp_path, calls, grant, message
):
    code = _handler(tmp_path, calls)

    def program(context):
        grant(ServerlessFunction("f", FunctionArgs(platform=fake_platform(context), service="orders", code_dir=code)))

    with pytest.raises(Exception, match=message):
        run_component(program)
