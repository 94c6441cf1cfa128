"""Tagging: required tags on taggable types; the taggable list matches the SDK."""

from __future__ import annotations

import importlib
import inspect

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from arcblueprint.policy import tagging
from arcblueprint.policy.testing import run_resource

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # importing pulumi_aws.s3 warns about V2 types

TAGS = {"owner": "o", "environment": "prod", "service": "orders", "cost-center": "cc-1"}


def test_tagged_resource_passes_and_missing_tags_are_named():
    assert run_resource(tagging.TAGS_REQUIRED, "aws:sqs/queue:Queue", {"tags": TAGS}).messages == []
    found = run_resource(tagging.TAGS_REQUIRED, "aws:sqs/queue:Queue", {"tags": {"owner": "o"}}, name="orders-queue")
    assert "'orders-queue'" in found.messages[0] and "environment, service, cost-center" in found.messages[0]


def test_listed_type_without_tags_is_caught_and_untaggable_type_is_not():
    assert run_resource(tagging.TAGS_REQUIRED, "aws:dynamodb/table:Table", {}).messages
    assert run_resource(tagging.TAGS_REQUIRED, "aws:kms/alias:Alias", {}).messages == []
    assert run_resource(tagging.TAGS_REQUIRED, "arcblueprint:platform:EncryptionKey", {}).messages == []


def test_provider_default_tags_count():
    assert run_resource(tagging.TAGS_REQUIRED, "aws:sns/topic:Topic", {"tagsAll": TAGS}).messages == []


def test_auto_scaling_group_tags_are_a_list_of_key_value_pairs():
    group = "aws:autoscaling/group:Group"
    listed = [{"key": k, "value": v, "propagateAtLaunch": False} for k, v in TAGS.items()]
    assert run_resource(tagging.TAGS_REQUIRED, group, {"tags": listed}).messages == []
    found = run_resource(tagging.TAGS_REQUIRED, group, {"tags": listed[:1]}, name="proxies")
    assert "'proxies'" in found.messages[0] and "environment, service, cost-center" in found.messages[0]


def test_auto_scaling_group_tags_computed_at_deploy_time():
    """A tag value unknown in preview is set; an entry whose key is unknown names no tag (and is no crash)."""
    group = "aws:autoscaling/group:Group"
    listed = [{"key": k, "value": v, "propagateAtLaunch": False} for k, v in TAGS.items()]
    listed[0]["value"] = UNKNOWN_STRING_VALUE
    assert run_resource(tagging.TAGS_REQUIRED, group, {"tags": listed}).messages == []
    listed[1]["key"] = UNKNOWN_STRING_VALUE
    found = run_resource(tagging.TAGS_REQUIRED, group, {"tags": listed})
    assert found.skipped == [] and "missing the tags environment" in found.messages[0]


def test_required_tags_come_from_config():
    found = run_resource(
        tagging.TAGS_REQUIRED,
        "aws:sns/topic:Topic",
        {"tags": TAGS},
        config={"requiredTags": ["owner", "data-classification"]},
    )
    assert "data-classification" in found.messages[0]


def sdk_class(token: str):
    module = token.split(":")[1].split("/", maxsplit=1)[0]
    module = {"lambda": "lambda_"}.get(module, module)
    return getattr(importlib.import_module(f"pulumi_aws.{module}"), token.rsplit(":", 1)[1])


@pytest.mark.parametrize("token", sorted(tagging.TAGGABLE_TYPES))
def test_listed_types_take_a_tags_map_in_the_sdk(token):
    assert "tags" in inspect.signature(sdk_class(token)._internal_init).parameters
