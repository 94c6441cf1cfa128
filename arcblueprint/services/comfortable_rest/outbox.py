"""A transactional outbox on a DynamoDB table: its stream -> a publisher function -> domain events on the bus.

The REST handler only writes the item; DynamoDB records the change in the table's stream in the
same write, so an event is published if and only if the write happened (no dual write that can
half-fail). The publisher turns ``INSERT`` into ``<Entity>Created`` and ``MODIFY`` into
``<Entity>Updated`` (Lambda event filtering drops ``REMOVE``), validates each against its schema,
and is idempotent per change (Powertools idempotency on ``<id>:<version>:<change>``), so a
retried batch publishes nothing twice. Records it still cannot publish after the retries go,
described, to an alarmed on-failure queue.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pulumi

from arcblueprint.config.schema import ConfigError
from arcblueprint.events import event_types
from arcblueprint.platform.constructs.ttl_table import ttl_table
from arcblueprint.platform.functions import FunctionArgs, ServerlessFunction, StreamSource
from arcblueprint.platform.queues import dead_end_queue

if TYPE_CHECKING:
    import pulumi_aws as aws

    from arcblueprint.platform.function_code import FunctionCode
    from arcblueprint.platform.handles import Platform

__all__ = ["CHANGE_EVENTS", "TableOutbox", "TableOutboxArgs", "outbox_events"]

HANDLER = Path(__file__).resolve().parent / "handlers" / "outbox"
#: Stream change -> the suffix of the detail type it becomes.
CHANGE_EVENTS = {"INSERT": "Created", "MODIFY": "Updated"}
#: Lambda event filtering: only inserts and modifications invoke the publisher.
CHANGE_FILTER = json.dumps({"eventName": sorted(CHANGE_EVENTS)})


def outbox_events(service: str) -> dict[str, str]:
    """Stream change -> detail type, from the service's schemas (exactly one ``*Created`` and one ``*Updated``)."""
    found: dict[str, str] = {}
    for change, suffix in CHANGE_EVENTS.items():
        names = [e.detail_type for e in event_types(service) if e.detail_type.endswith(suffix)]
        if len(names) != 1:
            raise ConfigError(
                f"services.{service}",
                sorted(e.detail_type for e in event_types(service)),
                f"the outbox publishes one <Entity>{suffix} event per {change}: "
                f"arcblueprint/events/schemas/{service}/ must hold exactly one *{suffix}.json",
            )
        found[change] = names[0]
    return found


@dataclass(frozen=True, kw_only=True)
class TableOutboxArgs:
    platform: Platform
    service: str
    #: The table whose stream (``NEW_AND_OLD_IMAGES``) is the outbox.
    table: aws.dynamodb.Table
    #: Records per invocation; a record that fails is retried alone (bisect) before the on-failure queue.
    batch_size: int = 100
    maximum_retry_attempts: int = 5
    #: A change not published within a day is sent to the on-failure queue (the stream keeps 24 hours).
    maximum_record_age_seconds: int = 86400
    idempotency_ttl_seconds: int = 86400
    #: The team's own publisher code (``functions.outbox-publisher``); default: the built-in publisher.
    code: FunctionCode | None = None


class TableOutbox(pulumi.ComponentResource):
    """The publisher of a table's changes as domain events (one function, an idempotency table, a failure queue).

    Attributes
    ----------
    publisher : ServerlessFunction
    failures : aws.sqs.Queue
        Descriptions of the changes the publisher gave up on (Lambda's on-failure destination).
    events : dict[str, str]
        ``INSERT``/``MODIFY`` -> the detail type published.
    """

    def __init__(self, name: str, args: TableOutboxArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("arcblueprint:services:TableOutbox", name, None, opts)
        platform, service = args.platform, args.service
        ctx = platform.context
        tags = ctx.tags(service)
        child = pulumi.ResourceOptions(parent=self)
        self.events = outbox_events(service)

        self.idempotency_table = ttl_table(
            f"{name}-idempotency",
            platform=platform,
            service=service,
            suffix="outbox-idempotency",
            hash_key="id",
            ttl_attribute="expiration",
            parent=self,
        )
        # The stream's on-failure destination.
        self.failures = dead_end_queue(
            f"{name}-failures",
            platform=platform,
            physical_name=ctx.name(service, "outbox-failures"),
            description=f"{service}: table changes the outbox could not publish",
            tags=tags,
            parent=self,
        )

        self.publisher = ServerlessFunction(
            f"{name}-publisher",
            FunctionArgs(
                platform=platform,
                service=service,
                **ctx.code(args.code, HANDLER, key=f"services.{service}.functions.outbox-publisher"),
                description=f"{service}: publish table changes as {', '.join(self.events.values())}",
                timeout_seconds=60,
                publishes_domain_events=True,
                environment={
                    "OUTBOX_EVENTS": json.dumps(self.events, sort_keys=True),
                    "IDEMPOTENCY_TABLE": self.idempotency_table.name,
                    "IDEMPOTENCY_TTL_SECONDS": str(args.idempotency_ttl_seconds),
                },
            ),
            opts=child,
        )
        self.publisher.grant_table_read_write(self.idempotency_table.arn)
        self.source = self.publisher.add_stream_source(
            "stream",
            StreamSource(
                stream_arn=args.table.stream_arn,
                batch_size=args.batch_size,
                starting_position="TRIM_HORIZON",
                bisect_batch_on_function_error=True,
                maximum_retry_attempts=args.maximum_retry_attempts,
                maximum_record_age_seconds=args.maximum_record_age_seconds,
                on_failure_destination_arn=self.failures.arn,
                filter_patterns=(CHANGE_FILTER,),
            ),
        )
        self.register_outputs({"publisher": self.publisher.function_name, "failuresQueueUrl": self.failures.url})
