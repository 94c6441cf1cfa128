"""The allow-list next to each handler equals what its source calls; the scanner reads calls as boto3 makes them."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import arcblueprint
from arcblueprint.code_calls import (
    POWERTOOLS_CALLS,
    CodeCallsError,
    calls_in_sources,
    declared_calls,
    from_tags,
    scanned_calls,
    to_tags,
)
from arcblueprint.platform.functions.packaging import package_files

PACKAGE_ROOT = Path(arcblueprint.__file__).parent
#: Every handler folder the blueprint ships (each function's code_dir).
HANDLER_DIRS = sorted(
    {path.parent for path in PACKAGE_ROOT.rglob("app.py") if "handlers" in path.parts or path.parent.name == "hooks"}
)


@pytest.mark.parametrize("code_dir", HANDLER_DIRS, ids=lambda p: p.relative_to(PACKAGE_ROOT).as_posix())
def test_each_handler_declares_exactly_the_calls_its_source_makes(code_dir):
    assert set(declared_calls(code_dir)) == scanned_calls(code_dir), (
        f"update {code_dir / 'permissions.json'} to the calls its code (and shared.txt modules) makes"
    )


def test_the_allow_list_is_not_shipped_in_the_package():
    assert all(name != "permissions.json" for name, _ in package_files(HANDLER_DIRS[0]))


def test_the_idempotency_calls_are_those_of_the_installed_powertools():
    """Read from Powertools' own DynamoDB persistence layer, with the same scanner."""
    from aws_lambda_powertools.utilities.idempotency.persistence import dynamodb
    from aws_lambda_powertools.utilities.parameters import secrets

    module = [(dynamodb.__file__, inspect.getsource(dynamodb))]
    assert calls_in_sources(module) == POWERTOOLS_CALLS["DynamoDBPersistenceLayer"]
    assert POWERTOOLS_CALLS["SecretsProvider"] <= calls_in_sources([(secrets.__file__, inspect.getsource(secrets))])


def _calls(source: str) -> set[str]:
    return set(calls_in_sources([("app.py", source)]))


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # Clients: any call of an operation name, wherever the client was passed.
        (
            "import boto3\nddb = boto3.client('dynamodb')\ndef f(store=ddb):\n    store.update_item(Key={})\n",
            {"dynamodb:UpdateItem"},
        ),
        # The resource API: Table methods and the batch writer.
        (
            "import boto3\nt = boto3.resource('dynamodb').Table('x')\nt.query()\nwith t.batch_writer() as b: pass\n",
            {"dynamodb:Query", "dynamodb:BatchWriteItem"},
        ),
        # The IAM prefix is the signing name; some operations have an action of another name.
        (
            "import boto3\nsfn = boto3.client('stepfunctions')\nsfn.start_execution()\nl = boto3.client('lambda')\n"
            "l.invoke(FunctionName='f')\n",
            {"states:StartExecution", "lambda:InvokeFunction"},
        ),
        # A paginator pages through an operation.
        ("import boto3\nc = boto3.client('dynamodb')\nc.get_paginator('query').paginate()\n", {"dynamodb:Query"}),
        # Powertools utilities call AWS themselves; the batch processor does not.
        (
            "from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer\n"
            "from aws_lambda_powertools.utilities.batch import BatchProcessor\n",
            set(POWERTOOLS_CALLS["DynamoDBPersistenceLayer"]),
        ),
        (
            "from aws_lambda_powertools.utilities import parameters\nparameters.get_secret('s')\n",
            {"secretsmanager:GetSecretValue"},
        ),
        # A method named like an operation of a service the package never creates a client of is no call.
        ("def get_item(x): ...\nobj.put_item(1)\nget_item(2)\n", set()),
        # A local function called get_secret is not Powertools'.
        ("def get_secret(name): ...\nget_secret('x')\n", set()),
    ],
)
def test_the_scanner_reads_calls_as_boto3_makes_them(source, expected):
    assert _calls(source) == expected


def test_a_client_of_an_unknown_service_is_an_error():
    with pytest.raises(CodeCallsError, match="'nosuchservice'"):
        _calls("import boto3\nboto3.client('nosuchservice')\n")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"calls": ["dynamodb:PutItem", "dynamodb:GetItem"]}, "sorted"),
        ({"calls": ["dynamodb:*"]}, "IAM actions"),
        ({"actions": []}, "'calls' list"),
    ],
)
def test_a_malformed_allow_list_is_refused(tmp_path, content, message):
    (tmp_path / "permissions.json").write_text(json.dumps(content))
    with pytest.raises(CodeCallsError, match=message):
        declared_calls(tmp_path)


def test_a_missing_allow_list_is_refused(tmp_path):
    with pytest.raises(CodeCallsError, match="has no permissions.json"):
        declared_calls(tmp_path)


_ACTIONS = st.builds(
    "{}:{}".format,
    st.sampled_from(["dynamodb", "sqs", "states", "secretsmanager", "events"]),
    st.from_regex(r"[A-Z][a-zA-Z]{2,20}", fullmatch=True),
)


@given(st.sets(_ACTIONS, max_size=40))
def test_the_tags_round_trip_and_hold_only_what_tag_values_may(calls):
    tags = to_tags(calls)
    assert from_tags(tags) == calls
    for key, value in tags.items():
        assert key.startswith("code-calls") and len(value) <= 256
        assert all(c.isalnum() or c in " +:-" for c in value)


def test_no_tag_is_no_declaration_and_none_is_no_call():
    assert from_tags({"service": "orders"}) is None
    assert from_tags(to_tags([])) == frozenset()
