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
    run_component, fake_platform, tmp_path, monkeypatch, calls, grant, message
):
    from arcblueprint.platform.functions import component

    code = _handler(tmp_path, calls)
    # The blueprint's own handler: a grant its code does not use is a drift to fix, not to drop.
    monkeypatch.setattr(component, "BLUEPRINT_PACKAGE", tmp_path.resolve())

    def program(context):
        grant(ServerlessFunction("f", FunctionArgs(platform=fake_platform(context), service="orders", code_dir=code)))

    with pytest.raises(Exception, match=message):
        run_component(program)


def test_a_team_codes_role_gets_none_of_a_pattern_grant_it_does_not_call(run_component, fake_platform, tmp_path):
    """A team's codeDir in place of a pattern's handler: what the pattern would grant and the code does not
    call is left out (the queue), what it does call is kept (the table)."""
    code = _handler(tmp_path, ["dynamodb:PutItem"])

    def program(context):
        function = ServerlessFunction(
            "team", FunctionArgs(platform=fake_platform(context), service="orders", code_dir=code)
        )
        assert function.grant_queue_send(QUEUE) is None
        function.grant_table_read_write(TABLE)

    graph = run_component(program)
    names = {policy.name for policy in graph.by_type("aws:iam/rolePolicy:RolePolicy")}
    assert "team-table-read-write" in names and not any("queue-send" in name for name in names), names
    table, _key = _statements(graph, "team-table-read-write")
    assert table["Action"] == ["dynamodb:PutItem"]
