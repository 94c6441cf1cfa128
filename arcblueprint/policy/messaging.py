"""Queues, topics and streams: dead-letter queues, encryption, visibility timeouts, backups."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from arcblueprint.policy.base import (
    UNKNOWN,
    as_list,
    dig,
    functions_behind,
    is_mapping,
    json_document,
    known,
    linked,
    number,
    resource_policy,
    resources_of,
    stack_policy,
    truthy,
)

if TYPE_CHECKING:
    from pulumi_policy import PolicyResource, ResourceValidationArgs, StackValidationArgs

    from arcblueprint.policy.base import ReportViolation

__all__ = [
    "FIREHOSE_ENCRYPTED_BACKED_UP",
    "KINESIS_ENCRYPTED",
    "POLICIES",
    "SNS_ENCRYPTED",
    "SNS_SUBSCRIPTION_DLQ",
    "SQS_ENCRYPTED",
    "SQS_REDRIVE",
    "SQS_VISIBILITY_TIMEOUT",
    "is_dead_letter_queue",
]

QUEUE = "aws:sqs/queue:Queue"
TOPIC = "aws:sns/topic:Topic"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
STREAM = "aws:kinesis/stream:Stream"
FIREHOSE = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
EVENT_SOURCE_MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"

#: SQS's default visibility timeout and Lambda's default function timeout, in seconds.
SQS_DEFAULT_VISIBILITY_SECONDS = 30
LAMBDA_DEFAULT_TIMEOUT_SECONDS = 3
#: AWS: "set the source queue's visibility timeout to at least six times the timeout of your function".
VISIBILITY_TIMEOUT_FACTOR = 6


def is_dead_letter_queue(name: str, props: Any) -> bool:
    """A queue that *is* a DLQ: it says who may redrive into it, or its name ends in ``-dlq``."""
    physical = str(known(props, "name") or known(props, "namePrefix") or "")
    return bool(known(props, "redriveAllowPolicy")) or any(
        n.removesuffix(".fifo").endswith(("-dlq", "-deadletter")) for n in (name, physical)
    )


def validate_sqs_redrive(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Messages that keep failing move to a DLQ instead of blocking the queue until they expire."""
    if is_dead_letter_queue(args.name, args.props):
        return
    policy = json_document(args.props.get("redrivePolicy"))
    if not dig(policy, "deadLetterTargetArn") or not (number(dig(policy, "maxReceiveCount")) or 0) > 0:
        report_violation(
            f"SQS queue '{args.name}' has no redrivePolicy with a deadLetterTargetArn and "
            "maxReceiveCount; add a dead-letter queue."
        )


SQS_REDRIVE = resource_policy(
    "sqs-redrive-policy",
    "SQS queues (other than dead-letter queues) have a redrive policy to a DLQ.",
    validate_sqs_redrive,
    types=[QUEUE],
)


def validate_sqs_encrypted(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    # A key id computed from the platform key is unknown in a first preview: it is set, so it counts.
    if not known(args.props, "kmsMasterKeyId") and not truthy(known(args.props, "sqsManagedSseEnabled")):
        report_violation(f"SQS queue '{args.name}' is not encrypted; set kmsMasterKeyId to the platform key.")


SQS_ENCRYPTED = resource_policy(
    "sqs-encrypted",
    "SQS queues use server-side encryption.",
    validate_sqs_encrypted,
    types=[QUEUE],
)


def _queue_behind(mapping: PolicyResource, args: StackValidationArgs) -> PolicyResource | None:
    queues = linked(mapping, "eventSourceArn", QUEUE)
    if queues:
        return queues[0]
    arn = known(mapping.props, "eventSourceArn")
    if not isinstance(arn, str) or not arn:
        return None  # computed from a queue outside the dependencies, or not known yet: nothing to match
    return next((q for q in resources_of(args, QUEUE) if known(q.props, "arn") == arn), None)


def validate_sqs_visibility_timeout(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """A queue's visibility timeout is at least six times its consumer function's timeout, so a batch still
    being processed (or retried after throttling) is not handed to a second consumer."""
    for mapping in resources_of(args, EVENT_SOURCE_MAPPING):
        queue = _queue_behind(mapping, args)
        if queue is None:
            continue
        visibility_value = known(queue.props, "visibilityTimeoutSeconds")
        if visibility_value is UNKNOWN:
            continue
        visibility = number(visibility_value) or SQS_DEFAULT_VISIBILITY_SECONDS
        for function in functions_behind(mapping, "functionName", args.resources):
            timeout_value = known(function.props, "timeout")
            if timeout_value is UNKNOWN:
                continue
            timeout = number(timeout_value) or LAMBDA_DEFAULT_TIMEOUT_SECONDS
            if visibility < VISIBILITY_TIMEOUT_FACTOR * timeout:
                report_violation(
                    f"SQS queue '{queue.name}' has a visibility timeout of {visibility:g}s but its consumer "
                    f"'{function.name}' may run {timeout:g}s; set it to at least "
                    f"{VISIBILITY_TIMEOUT_FACTOR * timeout:g}s.",
                    queue.urn,
                )


SQS_VISIBILITY_TIMEOUT = stack_policy(
    "sqs-visibility-timeout",
    "SQS queues consumed by Lambda have a visibility timeout of at least 6x the function timeout.",
    validate_sqs_visibility_timeout,
)


def validate_sns_encrypted(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if not known(args.props, "kmsMasterKeyId"):
        report_violation(f"SNS topic '{args.name}' is not encrypted; set kmsMasterKeyId to the platform key.")


SNS_ENCRYPTED = resource_policy(
    "sns-encrypted",
    "SNS topics are encrypted with KMS.",
    validate_sns_encrypted,
    types=[TOPIC],
)


def validate_sns_subscription_dlq(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """SNS drops a message after its delivery retries unless the subscription has a DLQ."""
    if not dig(json_document(args.props.get("redrivePolicy")), "deadLetterTargetArn"):
        report_violation(f"SNS subscription '{args.name}' has no redrivePolicy with a deadLetterTargetArn.")


SNS_SUBSCRIPTION_DLQ = resource_policy(
    "sns-subscription-dlq",
    "SNS subscriptions have a dead-letter queue.",
    validate_sns_subscription_dlq,
    types=[SUBSCRIPTION],
)


def validate_kinesis_encrypted(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if known(args.props, "encryptionType") != "KMS" or not known(args.props, "kmsKeyId"):
        report_violation(f"Kinesis stream '{args.name}' is not encrypted; set encryptionType KMS and kmsKeyId.")


KINESIS_ENCRYPTED = resource_policy(
    "kinesis-encrypted",
    "Kinesis data streams are encrypted with KMS.",
    validate_kinesis_encrypted,
    types=[STREAM],
)

#: Destination -> (its configuration key, the s3BackupMode that keeps every source record).
_FULL_BACKUP = {
    "extended_s3": ("extendedS3Configuration", "Enabled"),
    "redshift": ("redshiftConfiguration", "Enabled"),
    "http_endpoint": ("httpEndpointConfiguration", "AllData"),
    "opensearch": ("opensearchConfiguration", "AllDocuments"),
    "elasticsearch": ("elasticsearchConfiguration", "AllDocuments"),
    "opensearchserverless": ("opensearchserverlessConfiguration", "AllDocuments"),
    "splunk": ("splunkConfiguration", "AllEvents"),
}


#: Built-in processors that change only the encoding of a record or where it is written, never its
#: content: what they deliver is the source record (one Firehose cannot decompress goes to the error
#: prefix as it came; MetadataExtraction only computes the dynamic-partitioning key).
_LOSSLESS_PROCESSORS = frozenset({"Decompression", "AppendDelimiterToRecord", "MetadataExtraction"})


def _transforms(section: Any) -> bool:
    processing = dig(section, "processingConfiguration")
    if truthy(dig(processing, "enabled")):
        kinds = {p.get("type") for p in as_list(dig(processing, "processors")) if is_mapping(p)}
        if not kinds or not kinds <= _LOSSLESS_PROCESSORS:
            return True
    return truthy(dig(section, "dataFormatConversionConfiguration", "enabled"))


def validate_firehose(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Firehose encrypts what it buffers and keeps a copy of every source record, so a bad transform or
    a destination outage can be replayed. A stream read from Kinesis is encrypted by its source stream;
    an S3 destination without a transform needs no backup (what it delivers is the source record)."""
    props = args.props
    if not props.get("kinesisSourceConfiguration") and not truthy(dig(props, "serverSideEncryption", "enabled")):
        report_violation(f"Firehose delivery stream '{args.name}' has no server-side encryption.")
    section, mode = _FULL_BACKUP.get(str(props.get("destination")), (None, None))
    if section == "extendedS3Configuration" and not _transforms(props[section] if section in props else {}):
        # Without a transform or format conversion, the objects delivered to S3 *are* the source
        # records: AWS only offers source record backup for S3 when records are transformed.
        return
    if section is not None and dig(props, section, "s3BackupMode") != mode:
        report_violation(
            f"Firehose delivery stream '{args.name}' does not back up source records; set "
            f"{section}.s3BackupMode to {mode!r}."
        )


FIREHOSE_ENCRYPTED_BACKED_UP = resource_policy(
    "firehose-encrypted-backed-up",
    "Firehose delivery streams are encrypted and back up source records.",
    validate_firehose,
    types=[FIREHOSE],
)

POLICIES = [
    SQS_REDRIVE,
    SQS_ENCRYPTED,
    SQS_VISIBILITY_TIMEOUT,
    SNS_ENCRYPTED,
    SNS_SUBSCRIPTION_DLQ,
    KINESIS_ENCRYPTED,
    FIREHOSE_ENCRYPTED_BACKED_UP,
]
