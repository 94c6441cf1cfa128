"""DynamoDB, S3 and protection of stateful resources."""

from __future__ import annotations

import copy
import json

import pytest

from arcblueprint.policy import data
from arcblueprint.policy.testing import COMPLIANT_PROPS, resource, run_resource, run_stack

TABLE = "aws:dynamodb/table:Table"
BUCKET = "aws:s3/bucket:Bucket"
TLS_ONLY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": ["arn:aws:s3:::lake", "arn:aws:s3:::lake/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
)


def test_dynamodb_pitr_and_encryption():
    good = COMPLIANT_PROPS[TABLE]
    assert run_resource(data.DYNAMODB_PITR_ENCRYPTED, TABLE, good).messages == []
    assert len(run_resource(data.DYNAMODB_PITR_ENCRYPTED, TABLE, {"hashKey": "pk"}).messages) == 2
    no_pitr = copy.deepcopy(good) | {"pointInTimeRecovery": {"enabled": False}}
    assert ["point-in-time" in m for m in run_resource(data.DYNAMODB_PITR_ENCRYPTED, TABLE, no_pitr).messages] == [True]


def bucket_stack(skip: str | None = None, **overrides):
    bucket = resource(BUCKET, "lake", {"bucket": "arcbp-prod-lake"})
    parts = {
        "block": resource(
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            "lake-block",
            overrides.get(
                "block",
                {
                    f: True
                    for f in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
                },
            ),
            depends={"bucket": [bucket]},
        ),
        "sse": resource(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            "lake-sse",
            {
                "bucket": "arcbp-prod-lake",
                "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}],
            },
        ),
        "versioning": resource(
            "aws:s3/bucketVersioning:BucketVersioning",
            "lake-versioning",
            {"versioningConfiguration": {"status": overrides.get("status", "Enabled")}},
            depends={"bucket": [bucket]},
        ),
        "policy": resource(
            "aws:s3/bucketPolicy:BucketPolicy",
            "lake-policy",
            {"policy": overrides.get("policy", TLS_ONLY)},
            depends={"bucket": [bucket]},
        ),
    }
    return bucket, [bucket, *(r for k, r in parts.items() if k != skip)]


def test_secured_bucket_passes():
    _, resources = bucket_stack()
    assert run_stack(data.S3_BUCKET_SECURED, resources).violations == []


@pytest.mark.parametrize(
    ("skip", "overrides", "expected"),
    [
        ("block", {}, "public access block"),
        (None, {"block": {"blockPublicAcls": True}}, "public access block"),
        ("sse", {}, "encryption"),
        ("versioning", {}, "not versioned"),
        (None, {"status": "Suspended"}, "not versioned"),
        ("policy", {}, "TLS"),
        (None, {"policy": json.dumps({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject"}]})}, "TLS"),
    ],
)
def test_bucket_gaps_are_caught(skip, overrides, expected):
    bucket, resources = bucket_stack(skip, **overrides)
    found = run_stack(data.S3_BUCKET_SECURED, resources)
    assert len(found.violations) == 1 and found.violations[0][0] == bucket.urn and expected in found.messages[0]


def test_stateful_resources_protected_in_prod_only():
    prod = {"environment": "prod"}
    assert run_resource(data.STATEFUL_PROTECTED, TABLE, {}, protect=True, config=prod).messages == []
    assert "'orders'" in run_resource(data.STATEFUL_PROTECTED, TABLE, {}, name="orders", config=prod).messages[0]
    assert run_resource(data.STATEFUL_PROTECTED, TABLE, {}, config={"environment": "dev"}).messages == []
    assert run_resource(data.STATEFUL_PROTECTED, "aws:lambda/function:Function", {}, config=prod).messages == []
