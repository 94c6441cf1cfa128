"""Which AWS actions a function's code calls: declared next to the handler, derived from its source (pure).

The vocabulary the function component and the policy pack share (like :mod:`arcblueprint.vpc_access`).

Each handler folder holds ``permissions.json``, ``{"calls": ["dynamodb:UpdateItem", ...]}``: every
AWS action the packaged code (the handler and the shared modules its ``shared.txt`` ships) may
call, on any code path. It is the function's allow-list:

* the function component grants no action outside it (each grant keeps only the declared actions
  of what it offers; ``grants.narrowed``) and tags the function with it (``code-calls``), so the
  policy pack can check the synthesized role (``lambda-role-within-code-calls``);
* a test derives the same set from the source with :func:`scanned_calls` and wants it equal, so
  the declaration cannot drift from the code.

How the source is read (:func:`calls_in_sources`): the AWS SDK clients and resources the package
creates (``boto3.client("dynamodb")``, ``boto3.resource("dynamodb").Table(...)``, any
``<session>.client("stepfunctions")``), then every method called anywhere in the package whose
name is an operation of one of those services (``put_item`` -> ``PutItem``, from botocore's own
service model; the IAM prefix is the model's signing name, ``stepfunctions`` -> ``states``), with
the few operations whose IAM action has another name (:data:`IAM_ACTION_OF`); and the Powertools
utilities the package imports, which call AWS themselves (:data:`POWERTOOLS_CALLS`). Matching by
method name over the whole package follows clients passed around as arguments (``store.put_item``
where ``store`` defaults to the module's table); it may count a same-named method of another
object as a call, never miss one made through a created client.
"""

from __future__ import annotations

import ast
import json
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = [
    "IAM_ACTION_OF",
    "PERMISSIONS_FILE",
    "POWERTOOLS_CALLS",
    "TAG",
    "CodeCallsError",
    "calls_in_sources",
    "declared_calls",
    "from_tags",
    "scanned_calls",
    "to_tags",
]

#: The allow-list file of a handler folder (read at build time, not packaged).
PERMISSIONS_FILE = "permissions.json"
#: The function tag that carries the allow-list into the stack (and so to the policy pack).
TAG = "code-calls"
_TAG_VALUE_LENGTH = 256

_ACTION = re.compile(r"[a-z0-9-]+:[A-Z][A-Za-z0-9]+")

#: (IAM prefix, operation) -> the IAM action that authorizes it, where the two names differ
#: (Service Authorization Reference: each service's "Actions defined by" table).
IAM_ACTION_OF: dict[tuple[str, str], str] = {
    ("lambda", "Invoke"): "InvokeFunction",
    ("lambda", "InvokeWithResponseStream"): "InvokeFunction",
    ("s3", "ListObjectsV2"): "ListBucket",
    ("s3", "ListObjects"): "ListBucket",
    ("s3", "HeadObject"): "GetObject",
    ("s3", "HeadBucket"): "ListBucket",
    ("sns", "PublishBatch"): "Publish",
    ("sqs", "SendMessageBatch"): "SendMessage",
    ("sqs", "DeleteMessageBatch"): "DeleteMessage",
    ("sqs", "ChangeMessageVisibilityBatch"): "ChangeMessageVisibility",
}

#: Methods of the DynamoDB ``Table`` resource that are not operation names.
_TABLE_RESOURCE_METHODS = {"batch_writer": "dynamodb:BatchWriteItem"}

#: Powertools utilities that call AWS themselves -> the actions (from the installed Powertools source,
#: checked by a test: ``utilities/idempotency/persistence/dynamodb.py`` calls get_item, put_item,
#: update_item and delete_item; the parameters providers call GetSecretValue / GetParameter...). The
#: batch processors make no call: they return ``batchItemFailures`` and Lambda deletes the rest.
POWERTOOLS_CALLS: dict[str, frozenset[str]] = {
    "DynamoDBPersistenceLayer": frozenset(
        {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
    ),
    "SecretsProvider": frozenset({"secretsmanager:GetSecretValue"}),
    "get_secret": frozenset({"secretsmanager:GetSecretValue"}),
    "SSMProvider": frozenset({"ssm:GetParameter", "ssm:GetParametersByPath"}),
    "get_parameter": frozenset({"ssm:GetParameter"}),
    "get_parameters": frozenset({"ssm:GetParametersByPath"}),
    "get_parameters_by_name": frozenset({"ssm:GetParameters"}),
    "AppConfigProvider": frozenset({"appconfig:StartConfigurationSession", "appconfig:GetLatestConfiguration"}),
    "get_app_config": frozenset({"appconfig:StartConfigurationSession", "appconfig:GetLatestConfiguration"}),
    "BatchProcessor": frozenset(),
    "SqsFifoPartialProcessor": frozenset(),
}
_POWERTOOLS = "aws_lambda_powertools"


class CodeCallsError(ValueError):
    """A handler folder's allow-list is missing or malformed."""


def declared_calls(code_dir: Path) -> tuple[str, ...]:
    """The actions ``code_dir/permissions.json`` declares, sorted; a missing or malformed file is an error."""
    path = Path(code_dir) / PERMISSIONS_FILE
    if not path.is_file():
        raise CodeCallsError(
            f"{str(code_dir)!r} has no {PERMISSIONS_FILE}: declare the AWS actions its code calls, "
            '{"calls": ["dynamodb:GetItem", ...]} ([] for none)'
        )
    try:
        calls = json.loads(path.read_text(encoding="utf-8"))["calls"]
    except (ValueError, KeyError, TypeError) as error:
        raise CodeCallsError(f"{path} must be a JSON object with a 'calls' list ({error})") from None
    if not isinstance(calls, list) or not all(isinstance(c, str) and _ACTION.fullmatch(c) for c in calls):
        raise CodeCallsError(f"{path}: 'calls' must list IAM actions such as 'dynamodb:GetItem', got {calls!r}")
    if calls != sorted(set(calls)):
        raise CodeCallsError(f"{path}: list each action once, sorted, so a review sees what changed")
    return tuple(calls)


def to_tags(calls: Iterable[str]) -> dict[str, str]:
    """The tags carrying ``calls``: ``code-calls: dynamodb:GetItem+UpdateItem sqs:SendMessage`` (tag values
    allow ``+ : space``, not commas), ``none`` for no call; a list longer than one value's 256 characters
    continues in ``code-calls-2``, ``code-calls-3``..."""
    tokens: list[str] = []
    by_prefix: dict[str, list[str]] = {}
    for call in sorted(set(calls)):
        prefix, action = call.split(":", 1)
        by_prefix.setdefault(prefix, []).append(action)
    for prefix, actions in by_prefix.items():
        token = f"{prefix}:"
        for action in actions:
            if len(token) + len(action) + 1 > _TAG_VALUE_LENGTH:
                tokens.append(token.rstrip("+"))
                token = f"{prefix}:"
            token += f"{action}+"
        tokens.append(token.rstrip("+"))
    values: list[str] = []
    for token in tokens:
        if values and len(values[-1]) + 1 + len(token) <= _TAG_VALUE_LENGTH:
            values[-1] += f" {token}"
        else:
            values.append(token)
    values = values or ["none"]
    return {TAG if i == 0 else f"{TAG}-{i + 1}": value for i, value in enumerate(values)}


def from_tags(tags: Mapping[str, Any]) -> frozenset[str] | None:
    """The actions :func:`to_tags` tags name; ``None`` when there is no ``code-calls`` tag."""
    if tags.get(TAG) is None:
        return None
    calls: set[str] = set()
    for key, value in tags.items():
        if (key == TAG or re.fullmatch(rf"{TAG}-\d+", str(key))) and isinstance(value, str) and value != "none":
            for group in value.split():
                prefix, _, actions = group.partition(":")
                calls.update(f"{prefix}:{action}" for action in actions.split("+") if action)
    return frozenset(calls)


def scanned_calls(code_dir: Path) -> frozenset[str]:
    """The actions the packaged code of ``code_dir`` calls, read from its source (for tests and reviews)."""
    from arcblueprint.platform.functions.packaging import package_files

    sources = [
        (name, path.read_text(encoding="utf-8")) for name, path in package_files(code_dir) if name.endswith(".py")
    ]
    return calls_in_sources(sources)


def calls_in_sources(sources: Iterable[tuple[str, str]]) -> frozenset[str]:
    """The AWS actions the modules ``sources`` (``(file name, source)``) call, as one package."""
    services: set[tuple[str, str]] = set()
    methods: set[str] = set()
    powertools: set[str] = set()
    for name, source in sources:
        reader = _Reader()
        reader.visit(ast.parse(source, filename=name))
        services |= reader.services
        methods |= reader.methods
        powertools |= reader.powertools
    actions: set[str] = set()
    for kind, service in services:
        prefix, operations = _operations(service)
        for method in methods:
            if method in operations:
                operation = operations[method]
                actions.add(f"{prefix}:{IAM_ACTION_OF.get((prefix, operation), operation)}")
            elif kind == "resource" and method in _TABLE_RESOURCE_METHODS and prefix == "dynamodb":
                actions.add(_TABLE_RESOURCE_METHODS[method])
    for utility in powertools:
        actions |= POWERTOOLS_CALLS.get(utility, frozenset())
    return frozenset(actions)


@cache
def _operations(service: str) -> tuple[str, dict[str, str]]:
    """The IAM prefix of ``service`` (botocore's signing name) and its method name -> operation name map."""
    import botocore.session  # only the scanner needs botocore; the policy pack reads tags
    from botocore import xform_name

    try:
        model = botocore.session.get_session().get_service_model(service)
    except Exception as error:  # botocore raises UnknownServiceError, DataNotFoundError...
        raise CodeCallsError(f"the code creates a client for {service!r}, which botocore does not know") from error
    return model.signing_name, {xform_name(op): op for op in model.operation_names}


class _Reader(ast.NodeVisitor):
    """What one module creates (clients, resources), calls (method names) and imports from Powertools."""

    def __init__(self) -> None:
        self.services: set[tuple[str, str]] = set()
        self.methods: set[str] = set()
        self.powertools: set[str] = set()
        #: Names bound to Powertools modules (``from aws_lambda_powertools.utilities import parameters``).
        self._modules: set[str] = set()

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:  # noqa: N802 - ast's visitor names
        if node.module and node.module.split(".", 1)[0] == _POWERTOOLS:
            for alias in node.names:
                self.powertools.add(alias.name)
                self._modules.add(alias.asname or alias.name)
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:  # noqa: N802
        for alias in node.names:
            if alias.name.split(".", 1)[0] == _POWERTOOLS and alias.asname:
                self._modules.add(alias.asname)
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:  # noqa: N802
        if isinstance(node.value, ast.Name) and node.value.id in self._modules:
            self.powertools.add(node.attr)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:  # noqa: N802
        if isinstance(node.func, ast.Attribute):
            method = node.func.attr
            self.methods.add(method)
            service = _service_argument(node)
            if method in ("client", "resource") and service is not None:
                self.services.add((method, service))
            elif method in ("get_paginator", "get_waiter") and service is not None:
                self.methods.add(service)  # the operation a paginator pages through
        self.generic_visit(node)


def _service_argument(node: ast.Call) -> str | None:
    """The first positional string argument (or ``service_name=``) of a call, if it is a literal."""
    if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
        return node.args[0].value
    for keyword in node.keywords:
        if keyword.arg in ("service_name", "operation_name") and isinstance(keyword.value, ast.Constant):
            return str(keyword.value.value)
    return None
