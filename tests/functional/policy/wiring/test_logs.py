"""log-sink-decompresses: the central log sink unpacks CloudWatch Logs' gzipped batches."""

from __future__ import annotations

import pytest

from arcblueprint.policy.testing import mutated, violations_of

POLICY = "log-sink-decompresses"
STREAM = "logging-stream"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_shipped_stacks_decompress_at_the_sink(synthesized, stack):
    graph = synthesized(stack)
    assert violations_of(graph, POLICY) == []
    [stream] = [r for r in graph.resources if r.name == STREAM]
    feeding = [
        r
        for r in graph.resources
        if r.type.endswith("logSubscriptionFilter:LogSubscriptionFilter")
        and r.property_dependencies.get("destinationArn") == [stream.urn]
    ]
    assert len(feeding) > 10  # every function, stage and flow log: the rule has edges to follow


def _processors(*processors):
    def change(stream):
        for props in (stream.inputs, stream.outputs):
            if "extendedS3Configuration" in props:
                props["extendedS3Configuration"]["processingConfiguration"] = {
                    "enabled": True,
                    "processors": list(processors),
                }

    return change


def test_sink_that_gzips_gzipped_batches_is_reported_with_the_fix(synthesized):
    graph = synthesized("prod")

    def as_before(stream):  # the defect: no processing, GZIP on top of CloudWatch Logs' gzip
        for props in (stream.inputs, stream.outputs):
            props.get("extendedS3Configuration", {}).pop("processingConfiguration", None)

    [violation] = violations_of(mutated(graph, STREAM, as_before), POLICY)
    assert violation.urn.endswith(f"::{STREAM}") and violation.level == "mandatory"
    assert "arrive gzipped" in violation.message and "Decompression processor" in violation.message


GZIP = {"type": "Decompression", "parameters": [{"parameterName": "CompressionFormat", "parameterValue": "GZIP"}]}
NEWLINE = {"type": "AppendDelimiterToRecord"}
PARTITION = {
    "type": "MetadataExtraction",
    "parameters": [
        {"parameterName": "JsonParsingEngine", "parameterValue": "JQ-1.6"},
        {"parameterName": "MetadataExtractionQuery", "parameterValue": "{route: .messageType}"},
    ],
}


@pytest.mark.parametrize(
    ("processors", "reported"),
    [
        ([NEWLINE, PARTITION], "neither decompresses nor transforms"),  # a delimiter alone leaves the batches gzipped
        ([GZIP, PARTITION], "without a delimiter"),  # unpacked, but back-to-back JSON on one line
        ([GZIP, PARTITION, NEWLINE], None),
        (
            [{"type": "Lambda", "parameters": [{"parameterName": "LambdaArn", "parameterValue": "arn:aws:lambda:x"}]}],
            None,
        ),
    ],
)
def test_what_counts_as_unpacking(synthesized, processors, reported):
    broken = mutated(synthesized("dev"), STREAM, _processors(*processors))
    violations = violations_of(broken, POLICY)
    assert [reported in v.message for v in violations] == ([True] if reported else [])


def test_shipped_sink_appends_the_newline_after_decompressing(synthesized):
    [stream] = [r for r in synthesized("prod").resources if r.name == STREAM]
    kinds = [p["type"] for p in stream.inputs["extendedS3Configuration"]["processingConfiguration"]["processors"]]
    assert kinds.index("Decompression") < kinds.index("AppendDelimiterToRecord")

    def no_newline(stream):
        processors = stream.inputs["extendedS3Configuration"]["processingConfiguration"]["processors"]
        processors[:] = [p for p in processors if p["type"] != "AppendDelimiterToRecord"]

    [violation] = violations_of(mutated(synthesized("prod"), STREAM, no_newline), POLICY)
    assert violation.urn.endswith(f"::{STREAM}") and "Add the AppendDelimiterToRecord processor" in violation.message


def test_disabled_processing_does_not_count(synthesized):
    def disabled(stream):
        stream.inputs["extendedS3Configuration"]["processingConfiguration"]["enabled"] = False

    assert violations_of(mutated(synthesized("dev"), STREAM, disabled), POLICY)
