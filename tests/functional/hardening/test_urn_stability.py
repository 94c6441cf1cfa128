"""Changing a tuning value never replaces stateful resources: same URNs, same physical names.

A URN change is a delete + create in Pulumi; for a table, bucket, stream, queue, secret, key or
log group that loses data. Tuning values (retention, memory, timeouts, weights, alarm thresholds,
buffering) must only ever update resources in place.
"""

from __future__ import annotations

import copy

import pytest

from arcblueprint.config import read_stack_file
from arcblueprint.preview.harness import REPO_ROOT, synthesize

STATEFUL_TYPES = {
    "aws:dynamodb/table:Table",
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketV2:BucketV2",
    "aws:kinesis/stream:Stream",
    "aws:sqs/queue:Queue",
    "aws:secretsmanager/secret:Secret",
    "aws:kms/key:Key",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:sns/topic:Topic",
    "aws:cloudwatch/eventArchive:EventArchive",
    "aws:cloudwatch/eventBus:EventBus",
    "aws:glue/catalogDatabase:CatalogDatabase",
    "aws:glue/catalogTable:CatalogTable",
    "aws:cognito/userPool:UserPool",
}
#: Inputs that name a resource in AWS: changing one replaces it.
NAME_INPUTS = ("name", "bucket", "tableName", "streamName", "namePrefix", "databaseName")


def tuned(stack: str) -> dict:
    """The stack's config with every tuning value changed (and nothing structural)."""
    values = copy.deepcopy(read_stack_file(REPO_ROOT, stack))
    ns = "arcblueprint:"
    values[ns + "functions"] = {
        **values.get(ns + "functions", {}),
        "memoryMib": 1024,
        "timeoutSeconds": 20,
        "logLevel": "DEBUG",
    }
    values[ns + "logging"] = {
        **values.get(ns + "logging", {}),
        "retentionDays": 30 if stack == "dev" else 731,
        "sinkBufferSeconds": 120,
        "sinkBufferMib": 96,
    }
    values[ns + "releases"] = {
        **values.get(ns + "releases", {}),
        "errorAlarmThreshold": 5,
        "throttleAlarmThreshold": 7,
        "p99DurationAlarmMs": 2500,
    }
    values[ns + "eventBus"] = {
        **values.get(ns + "eventBus", {}),
        "archiveRetentionDays": 90,
        "targetMaximumRetryAttempts": 3,
    }
    return values


def stateful(graph) -> dict[str, dict]:
    return {r.urn: {k: r.inputs.get(k) for k in NAME_INPUTS} for r in graph.resources if r.type in STATEFUL_TYPES}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_tuning_values_keep_every_stateful_urn_and_name(stack, synthesized):
    before = synthesized(stack)
    original = read_stack_file(REPO_ROOT, stack)
    changed = tuned(stack)
    after = synthesize(stack, overrides={k: v for k, v in changed.items() if v != original.get(k)})
    assert len(stateful(before)) >= 5
    assert stateful(after) == stateful(before)
    # The tuning did reach the resources (the test would be empty otherwise).
    retention = {r.inputs.get("retentionInDays") for r in after.by_type("aws:cloudwatch/logGroup:LogGroup")}
    assert 30 in retention or 731 in retention
