"""firehose-dynamic-partitioning-accepted: what CreateDeliveryStream requires of a dynamically partitioned stream."""

from __future__ import annotations

import pytest

from arcblueprint.policy.testing import mutated, violations_of

POLICY = "firehose-dynamic-partitioning-accepted"
STREAMS = {"prod": ["logging-stream", "lake-orders-delivery", "lake-payments-delivery"], "dev": ["logging-stream"]}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_shipped_partitioned_streams_pass(synthesized, stack):
    graph = synthesized(stack)
    assert violations_of(graph, POLICY) == []
    partitioned = [
        r.name
        for r in graph.by_type("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream")
        if r.inputs.get("extendedS3Configuration", {}).get("dynamicPartitioningConfiguration", {}).get("enabled")
    ]
    assert set(STREAMS[stack]) <= set(partitioned)  # not vacuous: the sink and the lake streams partition


def _section(**changes):
    def change(stream):
        section = stream.inputs["extendedS3Configuration"]
        for key, value in changes.items():
            if value is None:
                section.pop(key, None)
            else:
                section[key] = value
        stream.outputs.pop("extendedS3Configuration", None)

    return change


@pytest.mark.parametrize(
    ("stream", "change", "problem"),
    [
        ("logging-stream", _section(bufferingSize=32.0), "bufferingSize is 32 MiB (at least 64)"),
        ("logging-stream", _section(bufferingSize=None), "bufferingSize is 5 MiB"),  # the provider's default
        ("logging-stream", _section(bufferingInterval=0.0), "bufferingInterval is 0 s (at least 60)"),
        ("logging-stream", _section(errorOutputPrefix=None), "there is no errorOutputPrefix"),
        ("logging-stream", _section(errorOutputPrefix="errors/!{timestamp:yyyy}/"), "has expressions but no"),
        (
            "logging-stream",
            _section(prefix="!{partitionKeyFromLambda:route}/"),
            "partitionKeyFromLambda without a Lambda",
        ),
        (
            "lake-orders-delivery",
            _section(prefix="data/!{partitionKeyFromQuery:day}/"),
            "partitionKeyFromQuery without a MetadataExtraction",
        ),
        (
            "lake-orders-delivery",
            _section(processingConfiguration={"enabled": False, "processors": []}),
            "no enabled MetadataExtraction or Lambda processor",
        ),
    ],
)
def test_each_rejected_setting_is_reported_with_the_fix(synthesized, stream, change, problem):
    [violation] = violations_of(mutated(synthesized("prod"), stream, change), POLICY)
    assert violation.urn.endswith(f"::{stream}") and violation.level == "mandatory"
    assert problem in violation.message and "CreateDeliveryStream rejects it" in violation.message


def test_a_stream_without_dynamic_partitioning_is_not_judged(synthesized):
    change = _section(dynamicPartitioningConfiguration={"enabled": False}, bufferingSize=1.0, errorOutputPrefix=None)
    assert violations_of(mutated(synthesized("dev"), "logging-stream", change), POLICY) == []


def test_dev_cannot_weaken_the_rule(synthesized):
    from arcblueprint.policy.config import pack_config_for

    assert pack_config_for(synthesized("dev").config)[POLICY]["enforcementLevel"] == "mandatory"
