"""Log sinks: a Firehose stream fed by CloudWatch Logs subscriptions unpacks what it receives.

CloudWatch Logs sends each subscription batch to Firehose gzipped. A stream that neither
decompresses it (the ``Decompression`` processor) nor hands it to a Lambda transform writes the
gzipped batches as they came, concatenated, and GZIP at the destination compresses them again:
objects that Athena, Glue and every JSON reader see as binary.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from arcblueprint.policy.base import as_list, dig, stack_policy, truthy
from arcblueprint.policy.graph import StackGraph

if TYPE_CHECKING:
    from pulumi_policy import ReportViolation, StackValidationArgs

__all__ = ["POLICIES", "SINK_DECOMPRESSES", "unpacks"]

FILTER = "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter"
STREAM = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
#: Where a delivery stream's processors live, per destination.
_CONFIGURATIONS = ("extendedS3Configuration", "httpEndpointConfiguration", "splunkConfiguration",
                   "redshiftConfiguration", "elasticsearchConfiguration", "opensearchConfiguration",
                   "opensearchserverlessConfiguration", "snowflakeConfiguration", "icebergConfiguration")


def unpacks(stream_props: dict[str, Any]) -> bool:
    """Whether the stream's processing decompresses records or runs a Lambda transform over them."""
    for configuration in _CONFIGURATIONS:
        processing = dig(stream_props, configuration, "processingConfiguration")
        if not isinstance(processing, dict) or not truthy(processing.get("enabled")):
            continue
        for processor in as_list(processing.get("processors")):
            kind = processor.get("type") if isinstance(processor, dict) else None
            if kind == "Lambda":
                return True
            if kind == "Decompression":
                parameters = {p.get("parameterName"): p.get("parameterValue")
                              for p in as_list(processor.get("parameters")) if isinstance(p, dict)}
                if parameters.get("CompressionFormat", "GZIP") == "GZIP":
                    return True
    return False


def validate_sink_decompresses(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Each Firehose stream a subscription filter delivers to decompresses or transforms the batches."""
    graph = StackGraph(args.resources)
    for stream in graph.of_type(STREAM):
        filters = graph.referrers(stream, FILTER, prop="destinationArn")
        if not filters or unpacks(stream.props):
            continue
        report_violation(
            f"Firehose stream '{stream.name}' receives CloudWatch Logs subscriptions ({len(filters)} filters, e.g. "
            f"'{filters[0].name}'), whose batches arrive gzipped, but it neither decompresses nor transforms them: "
            "S3 gets gzip inside gzip that Athena cannot read. Add the Decompression processor "
            "(CompressionFormat GZIP) and AppendDelimiterToRecord, or a Lambda processor.", stream.urn)


SINK_DECOMPRESSES = stack_policy(
    "log-sink-decompresses",
    "A Firehose stream that is the destination of a CloudWatch Logs subscription filter decompresses the "
    "records (Decompression processor) or transforms them with a Lambda processor.",
    validate_sink_decompresses,
    remediation_steps="Enable processing with the Decompression processor (and AppendDelimiterToRecord) on the sink.",
)

POLICIES = [SINK_DECOMPRESSES]
