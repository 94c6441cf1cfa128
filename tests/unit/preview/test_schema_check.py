"""Every input key of the synthesized stacks exists in pulumi-aws's input types, as the provider requires.

The mock runtime accepts any key; the provider does not ("Invalid or unknown key"). The checker
reads the installed pulumi_aws SDK's ``XxxArgs`` classes, so these tests run against the exact
schema ``pulumi up`` will use.
"""

from __future__ import annotations

import importlib.metadata

import pytest

from arcblueprint.policy.testing import mutated
from arcblueprint.preview.schema_check import check_resource, check_stack, input_properties

FIREHOSE = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"


def test_the_schema_is_the_pinned_provider():
    assert importlib.metadata.version("pulumi_aws") == "7.51.1"
    section = input_properties(FIREHOSE)["extendedS3Configuration"]
    assert section is not None and section[0] == "one"
    partitioning = input_properties(FIREHOSE)  # nested blocks are followed to their own Args class
    assert partitioning["extendedS3Configuration"][1].__name__ == "FirehoseDeliveryStreamExtendedS3ConfigurationArgs"
    assert input_properties("arcblueprint:services:StreamerService") is None  # components have no schema


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_input_key_of_the_shipped_stacks_is_in_the_schema(synthesized, stack):
    graph = synthesized(stack)
    assert [p.line() for p in check_stack(graph)] == []
    checked = [r for r in graph.resources if r.custom and r.type.startswith("aws:")]
    assert checked and all(input_properties(r.type) is not None for r in checked)  # no type left unchecked


def _cloudformation_spelling(stream):
    stream.inputs["extendedS3Configuration"]["dynamicPartitioningConfiguration"] = {
        "enabled": True,
        "retry_options": {"duration_in_seconds": 300},
    }


def test_a_key_spelled_the_cloudformation_way_is_reported_with_its_path(synthesized):
    broken = mutated(synthesized("prod"), "logging-stream", _cloudformation_spelling)
    [problem] = check_stack(broken)
    assert problem.urn.endswith("::logging-stream") and problem.resource_type == FIREHOSE
    assert problem.path == "extendedS3Configuration/dynamicPartitioningConfiguration/retry_options"
    assert "did you mean retryDuration?" in problem.line()


def test_keys_inside_lists_of_blocks_and_at_the_top_are_checked(synthesized):
    def typos(stream):
        processors = stream.inputs["extendedS3Configuration"]["processingConfiguration"]["processors"]
        processors[0]["parameters"][0]["parameterValu"] = "GZIP"
        stream.inputs["tag"] = {"owner": "platform-team"}

    [resource] = [
        r for r in mutated(synthesized("dev"), "logging-stream", typos).resources if r.name == "logging-stream"
    ]
    paths = sorted(p.path for p in check_resource(resource))
    assert paths == ["extendedS3Configuration/processingConfiguration/processors/0/parameters/0/parameterValu", "tag"]


def test_a_type_the_provider_does_not_have_is_reported(synthesized):
    def renamed(stream):
        stream.type = "aws:kinesis/firehoseDeliveryStreams:FirehoseDeliveryStreams"

    [resource] = [
        r for r in mutated(synthesized("dev"), "logging-stream", renamed).resources if r.name == "logging-stream"
    ]
    [problem] = check_resource(resource)
    assert problem.path == "(type)"


def test_preview_exits_4_naming_the_resource_and_the_key(synthesized, monkeypatch, capsys):
    from arcblueprint import cli

    broken = mutated(synthesized("prod"), "logging-stream", _cloudformation_spelling)
    monkeypatch.setattr(cli, "_synthesize", lambda stack, preview=True: broken)
    assert cli.main(["preview", "--stack", "prod"]) == cli.EXIT_SCHEMA == 4
    out = capsys.readouterr().err  # what failed goes to standard error
    assert (
        "[error] aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream 'logging-stream': input "
        "extendedS3Configuration/dynamicPartitioningConfiguration/retry_options is not in pulumi-aws's schema"
    ) in out
