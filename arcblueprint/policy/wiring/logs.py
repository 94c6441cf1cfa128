"""Log sinks: a Firehose stream fed by CloudWatch Logs subscriptions writes what Athena can read.

CloudWatch Logs sends each subscription batch to Firehose gzipped. A stream that neither
decompresses it (the ``Decompression`` processor) nor hands it to a Lambda transform writes the
gzipped batches as they came, concatenated, and GZIP at the destination compresses them again:
objects that Athena, Glue and every JSON reader see as binary.

Decompressed, each batch is one JSON document, and Firehose "concatenates data without any
delimiters" (Firehose guide, "Understand data delivery"): an object of documents on one line,
which a line-oriented JSON reader (Athena's SerDes, ``jq -c``) reads as one malformed record.
The ``AppendDelimiterToRecord`` processor adds the newline (Firehose API reference,
``Processor``). A Lambda transform writes its own records and is trusted to delimit them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from arcblueprint.policy.base import UNKNOWN, as_list, is_mapping, known, known_dig, stack_policy, truthy
from arcblueprint.policy.graph import StackGraph

if TYPE_CHECKING:
    from pulumi_policy import StackValidationArgs

    from arcblueprint.policy.base import ReportViolation

__all__ = ["POLICIES", "SINK_DECOMPRESSES", "processor_types", "unpacks"]

FILTER = "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter"
STREAM = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
#: Where a delivery stream's processors live, per destination.
_CONFIGURATIONS = (
    "extendedS3Configuration",
    "httpEndpointConfiguration",
    "splunkConfiguration",
    "redshiftConfiguration",
    "elasticsearchConfiguration",
    "opensearchConfiguration",
    "opensearchserverlessConfiguration",
    "snowflakeConfiguration",
    "icebergConfiguration",
)


def processor_types(stream_props: Any) -> set[str] | Any:
    """The processor types of every enabled processing configuration, or ``UNKNOWN`` while one is not known.

    A GZIP ``Decompression`` counts as ``Decompression``; one of another format as ``Decompression:<format>``.
    """
    found: set[str] = set()
    for configuration in _CONFIGURATIONS:
        processing = known_dig(stream_props, configuration, "processingConfiguration")
        if processing is UNKNOWN:
            return UNKNOWN
        if not is_mapping(processing) or not truthy(known(processing, "enabled")):
            continue
        processors = known(processing, "processors")
        if processors is UNKNOWN:
            return UNKNOWN
        for processor in as_list(processors):
            kind = known(processor, "type")
            if kind is UNKNOWN:
                return UNKNOWN
            if kind == "Decompression":
                parameters = {
                    known(p, "parameterName"): known(p, "parameterValue")
                    for p in as_list(known(processor, "parameters"))
                    if is_mapping(p)
                }
                compression = parameters.get("CompressionFormat", "GZIP")
                kind = "Decompression" if compression == "GZIP" else f"Decompression:{compression}"
            if isinstance(kind, str):
                found.add(kind)
    return found


def unpacks(stream_props: Any) -> bool:
    """Whether the stream's processing decompresses records or runs a Lambda transform over them."""
    kinds = processor_types(stream_props)
    return kinds is UNKNOWN or bool(kinds & {"Lambda", "Decompression"})


def validate_sink_decompresses(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Each Firehose stream a subscription filter delivers to decompresses (and delimits) or transforms the batches."""
    graph = StackGraph(args.resources)
    for stream in graph.of_type(STREAM):
        filters = graph.referrers(stream, FILTER, prop="destinationArn")
        kinds = processor_types(stream.props)
        if not filters or kinds is UNKNOWN or "Lambda" in kinds:
            continue
        fed = f"receives CloudWatch Logs subscriptions ({len(filters)} filters, e.g. '{filters[0].name}')"
        if "Decompression" not in kinds:
            report_violation(
                f"Firehose stream '{stream.name}' {fed}, whose batches arrive gzipped, but it neither decompresses "
                "nor transforms them: S3 gets gzip inside gzip that Athena cannot read. Add the Decompression "
                "processor (CompressionFormat GZIP) and AppendDelimiterToRecord, or a Lambda processor.",
                stream.urn,
            )
        elif "AppendDelimiterToRecord" not in kinds:
            report_violation(
                f"Firehose stream '{stream.name}' {fed} and decompresses them, but Firehose concatenates records "
                "without a delimiter: each object is one line of back-to-back JSON batches, which Athena's JSON "
                "SerDe reads as one malformed record. Add the AppendDelimiterToRecord processor after "
                "Decompression.",
                stream.urn,
            )


SINK_DECOMPRESSES = stack_policy(
    "log-sink-decompresses",
    "A Firehose stream that is the destination of a CloudWatch Logs subscription filter decompresses the "
    "records (Decompression processor) and delimits them (AppendDelimiterToRecord), or transforms them with a "
    "Lambda processor.",
    validate_sink_decompresses,
    remediation_steps="Enable processing with the Decompression and AppendDelimiterToRecord processors on the sink.",
)

POLICIES = [SINK_DECOMPRESSES]
