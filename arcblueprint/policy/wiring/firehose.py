"""Firehose dynamic partitioning: the settings ``CreateDeliveryStream`` insists on.

With dynamic partitioning on an S3 destination, Firehose rejects the stream (the messages are
CloudFormation's, recorded by the AWS CDK's Firehose module, which checks the same before
synthesis):

* a buffer under 64 MiB ("BufferingHints.SizeInMBs must be at least 64 when Dynamic Partitioning
  is enabled"; the provider's default is 5) or under 60 seconds ("... IntervalInSeconds must be
  at least 60 seconds ..."; zero buffering "is not available for dynamic partitioning");
* no error output prefix ("You must specify an S3 error bucket prefix ... if you want to enable
  dynamic partitioning"), or one with expressions but without ``!{firehose:error-output-type}``,
  or with a partition key (Firehose guide, "Custom prefixes", prefix rules);
* a data prefix with ``!{firehose:error-output-type}``, or with ``partitionKeyFromQuery`` keys and
  no ``MetadataExtraction`` processor, or ``partitionKeyFromLambda`` keys and no Lambda processor;
  and no processor that computes a key at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from arcblueprint.policy.base import UNKNOWN, known, known_dig, number, stack_policy, truthy
from arcblueprint.policy.graph import StackGraph
from arcblueprint.policy.wiring.logs import processor_types

if TYPE_CHECKING:
    from pulumi_policy import StackValidationArgs

    from arcblueprint.policy.base import ReportViolation

__all__ = ["DYNAMIC_PARTITIONING_ACCEPTED", "POLICIES", "partitioning_problems"]

STREAM = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
SECTION = "extendedS3Configuration"
#: The smallest buffer Firehose accepts with dynamic partitioning, and the provider's defaults.
MIN_BUFFER_MIB = 64
MIN_BUFFER_SECONDS = 60
DEFAULT_BUFFER_MIB = 5
DEFAULT_BUFFER_SECONDS = 300
ERROR_OUTPUT_TYPE = "!{firehose:error-output-type}"
FROM_QUERY = "!{partitionKeyFromQuery:"
FROM_LAMBDA = "!{partitionKeyFromLambda:"


def _setting(section: Any, key: str, default: float) -> float | None:
    value = known(section, key)
    if value is UNKNOWN:
        return None
    given = number(value)
    return default if given is None else given  # 0 is a value (zero buffering), not "unset"


def partitioning_problems(stream_props: Any) -> list[str]:
    """What Firehose rejects in a stream's dynamic partitioning settings (empty: none, or not partitioned)."""
    section = known(stream_props, SECTION)
    if section is UNKNOWN or not truthy(known_dig(section, "dynamicPartitioningConfiguration", "enabled")):
        return []
    problems: list[str] = []
    size = _setting(section, "bufferingSize", DEFAULT_BUFFER_MIB)
    if size is not None and size < MIN_BUFFER_MIB:
        problems.append(f"bufferingSize is {size:g} MiB (at least {MIN_BUFFER_MIB})")
    interval = _setting(section, "bufferingInterval", DEFAULT_BUFFER_SECONDS)
    if interval is not None and interval < MIN_BUFFER_SECONDS:
        problems.append(f"bufferingInterval is {interval:g} s (at least {MIN_BUFFER_SECONDS})")
    errors, prefix = known(section, "errorOutputPrefix"), known(section, "prefix")
    if errors is not UNKNOWN:
        if not errors:
            problems.append("there is no errorOutputPrefix (required with dynamic partitioning)")
        elif "!{" in errors and ERROR_OUTPUT_TYPE not in errors:
            problems.append(f"errorOutputPrefix {errors!r} has expressions but no {ERROR_OUTPUT_TYPE}")
        elif FROM_QUERY in errors or FROM_LAMBDA in errors:
            problems.append(f"errorOutputPrefix {errors!r} uses a partition key")
    kinds = processor_types(stream_props)
    if isinstance(prefix, str) and kinds is not UNKNOWN:
        if ERROR_OUTPUT_TYPE in prefix:
            problems.append(f"prefix {prefix!r} contains {ERROR_OUTPUT_TYPE}")
        if FROM_QUERY in prefix and "MetadataExtraction" not in kinds:
            problems.append(f"prefix {prefix!r} uses partitionKeyFromQuery without a MetadataExtraction processor")
        if FROM_LAMBDA in prefix and "Lambda" not in kinds:
            problems.append(f"prefix {prefix!r} uses partitionKeyFromLambda without a Lambda processor")
    if kinds is not UNKNOWN and not kinds & {"MetadataExtraction", "Lambda"}:
        problems.append("no enabled MetadataExtraction or Lambda processor computes a partition key")
    return problems


def validate_dynamic_partitioning(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Each stream with dynamic partitioning has the buffer, prefixes and processors Firehose requires."""
    for stream in StackGraph(args.resources).of_type(STREAM):
        problems = partitioning_problems(stream.props)
        if problems:
            report_violation(
                f"Firehose stream '{stream.name}' enables dynamic partitioning but {'; '.join(problems)}: "
                "CreateDeliveryStream rejects it. With dynamic partitioning, buffer at least 64 MiB and 60 s, give "
                f"an errorOutputPrefix with {ERROR_OUTPUT_TYPE}, and a processor for each kind of partition key "
                "the prefix uses.",
                stream.urn,
            )


DYNAMIC_PARTITIONING_ACCEPTED = stack_policy(
    "firehose-dynamic-partitioning-accepted",
    "A Firehose stream with dynamic partitioning buffers at least 64 MiB and 60 s, has an error output prefix "
    "with !{firehose:error-output-type}, and a processor for the partition keys its prefix uses.",
    validate_dynamic_partitioning,
    remediation_steps="Set bufferingSize >= 64, bufferingInterval >= 60, errorOutputPrefix with "
    "!{firehose:error-output-type}, and a MetadataExtraction or Lambda processor.",
)

POLICIES = [DYNAMIC_PARTITIONING_ACCEPTED]
