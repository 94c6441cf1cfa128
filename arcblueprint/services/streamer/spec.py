"""Config of an "I'm a Streamer" service (``pattern: streamer``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Literal

from arcblueprint.config.schema import ConfigError, setting
from arcblueprint.services.event_wiring import EventSubscriber, check_subscriptions

__all__ = ["PARTITION_COLUMNS", "SHARD_READS_PER_SECOND", "DomainSpec", "StreamConsumerSpec", "StreamerSpec"]

_NAME = re.compile(r"[a-z][a-z0-9-]{0,22}[a-z0-9]")
_COLUMN = re.compile(r"[a-z_][a-z0-9_]{0,127}")
_FIELD_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*")
#: Hive types Glue/Parquet conversion accepts (complex types are checked for balanced brackets only).
_PRIMITIVE = re.compile(
    r"string|boolean|tinyint|smallint|int|bigint|float|double|date|timestamp|binary"
    r"|decimal\(\d{1,2},\d{1,2}\)|(var)?char\(\d{1,5}\)"
)
_COMPLEX = re.compile(r"(array|map|struct)<.+>")
#: Partition columns the data lake adds from each record's date (dynamic partitioning).
PARTITION_COLUMNS = ("year", "month", "day")
#: Read transactions (GetRecords calls) a shard serves per second, shared by every reader without enhanced
#: fan-out (Kinesis Data Streams, "Quotas and limits"). Lambda's standard iterator polls each shard "at a
#: base rate of once per second"; Firehose adjusts its polling to the stream (AWS documents no rate), so
#: each reader is counted as one call a second per shard: more readers than this are throttled every second.
SHARD_READS_PER_SECOND = 5


def _check_type(type_name: str, key: str) -> None:
    if _PRIMITIVE.fullmatch(type_name):
        return
    if _COMPLEX.fullmatch(type_name) and type_name.count("<") == type_name.count(">"):
        return
    raise ConfigError(
        key,
        type_name,
        "must be a Hive type (string, int, bigint, double, boolean, timestamp, "
        "date, decimal(p,s), array<...>, map<...>, struct<...>)",
    )


@dataclass(frozen=True, kw_only=True)
class DomainSpec:
    """One business domain: its own Firehose, Glue table and S3 prefix (the talk: a Firehose per domain)."""

    #: Column name -> Hive type of the Parquet table; records are converted with this schema.
    columns: Mapping[str, str] = setting(doc="column name -> Hive type")
    #: Fields removed before the data lands in the lake (dotted paths).
    remove_fields: tuple[str, ...] = setting(default_factory=tuple)
    #: Fields kept but masked (``*****``).
    mask_fields: tuple[str, ...] = setting(default_factory=tuple)
    #: Record field holding the event time (ISO 8601 or epoch seconds); default: the arrival time.
    timestamp_field: str | None = setting(None, pattern=_FIELD_PATH.pattern)
    buffer_size_mib: int = setting(128, minimum=64, maximum=128, doc="Parquet conversion needs at least 64")
    buffer_interval_seconds: int = setting(300, minimum=60, maximum=900)
    parquet_compression: Literal["SNAPPY", "GZIP", "UNCOMPRESSED"] = "SNAPPY"
    backup_compression: Literal["GZIP", "Snappy", "ZIP", "HADOOP_SNAPPY", "UNCOMPRESSED"] = "GZIP"

    def __post_init__(self) -> None:
        if not self.columns:
            raise ConfigError("columns", {}, "must declare at least one column")
        for column, type_name in self.columns.items():
            if not _COLUMN.fullmatch(column):
                raise ConfigError(f"columns.{column}", column, "column names are lowercase letters, digits and _")
            if column in PARTITION_COLUMNS:
                raise ConfigError(f"columns.{column}", column, "year, month and day are the partition columns")
            if not isinstance(type_name, str):
                raise ConfigError(f"columns.{column}", type_name, "must be a Hive type name")
            _check_type(type_name, f"columns.{column}")
        for key, paths in (("removeFields", self.remove_fields), ("maskFields", self.mask_fields)):
            for i, path in enumerate(paths):
                if not _FIELD_PATH.fullmatch(path):
                    raise ConfigError(f"{key}[{i}]", path, "must be a dotted JSON field path like user.email")
        for i, path in enumerate(self.mask_fields):
            column_type = self.columns.get(path)
            if column_type is not None and column_type != "string" and not column_type.startswith(("char", "varchar")):
                raise ConfigError(
                    f"maskFields[{i}]",
                    path,
                    f"a masked column must be a string (it is {column_type}); remove it instead",
                )


@dataclass(frozen=True, kw_only=True)
class StreamConsumerSpec:
    """A Lambda reading the stream directly (besides the Firehoses)."""

    #: A dedicated 2 MiB/s per shard, pushed; without it the consumer shares each shard's 5 reads/s and 2 MiB/s
    #: with the domains' Firehose streams.
    enhanced_fan_out: bool = setting(False, doc="dedicated 2 MB/s per shard and lower latency, at a cost")
    #: Domains whose records the consumer receives (Lambda event filtering); default: all.
    domains: tuple[str, ...] = setting(default_factory=tuple)
    batch_size: int = setting(100, minimum=1, maximum=10000)
    maximum_batching_window_seconds: int = setting(0, minimum=0, maximum=300)
    parallelization_factor: int = setting(1, minimum=1, maximum=10)
    maximum_record_age_seconds: int = setting(3600, minimum=60, maximum=604800)
    maximum_retry_attempts: int = setting(3, minimum=0, maximum=10000)
    reserved_concurrency: int | None = setting(None, minimum=1, maximum=10000)


@dataclass(frozen=True, kw_only=True)
class StreamerSpec(EventSubscriber):
    """A Kinesis stream, a Firehose per domain into a Parquet data lake, and Athena to query it.

    A domain named by a ``subscribe`` route is fed by the bus: EventBridge puts its events straight on
    the domain's own Firehose stream (Direct PUT), so it neither reads the Kinesis stream nor shares
    its shards' read budget. The other domains' Firehose streams read the Kinesis stream.
    """

    #: The functions ``functions.<name>`` can point at the team's own code.
    FUNCTION_NAMES: ClassVar[tuple[str, ...]] = ("transform", "consumer")

    def function_names(self) -> tuple[str, ...]:
        return ("transform", "consumer") if self.consumer is not None else ("transform",)

    domains: Mapping[str, DomainSpec] = setting(doc="domain name -> its schema and delivery settings")
    #: Record field naming the domain; each domain's Firehose drops the other domains' records.
    domain_field: str = setting("domain", pattern=_FIELD_PATH.pattern)
    shard_count: int | None = setting(None, minimum=1, maximum=500, doc="default: on-demand capacity")
    retention_hours: int = setting(24, minimum=24, maximum=8760)
    #: raw/ (the source backup) and errors/ hold records as produced, before removeFields and masking:
    #: they expire within a week (their old versions a day later); raw/ is under its own KMS key.
    raw_backup_expire_days: int = setting(
        7, minimum=1, maximum=7, doc="raw/ and errors/ keep unmasked records: at most 7 days"
    )
    transition_to_ia_days: int = setting(30, minimum=30, maximum=3650)
    noncurrent_version_expire_days: int = setting(30, minimum=1, maximum=3650)
    athena_bytes_scanned_cutoff_mib: int = setting(1024, minimum=10, maximum=1_048_576)
    athena_results_expire_days: int = setting(7, minimum=1, maximum=365)
    transform_timeout_seconds: int = setting(60, minimum=1, maximum=900)
    consumer: StreamConsumerSpec | None = None

    def __post_init__(self) -> None:
        if not self.domains:
            raise ConfigError("domains", {}, "must name at least one domain")
        for name in self.domains:
            if not _NAME.fullmatch(name):
                raise ConfigError(f"domains.{name}", name, "domain names are 2-24 lowercase letters, digits or -")
        # A domain event goes onto the stream as a record of one domain (its Firehose, table and prefix).
        check_subscriptions(self.subscribe, targets=self.domains, default_target=None, what="domain")
        if self.consumer is not None:
            for i, domain in enumerate(self.consumer.domains):
                if domain not in self.domains:
                    raise ConfigError(
                        f"consumer.domains[{i}]",
                        domain,
                        "unknown domain (known: " + ", ".join(sorted(self.domains)) + ")",
                    )
                if domain in self.event_domains:
                    raise ConfigError(
                        f"consumer.domains[{i}]",
                        domain,
                        "is fed by the bus (subscribe) straight to its Firehose stream and never is on the Kinesis "
                        "stream the consumer reads (stream domains: "
                        + (", ".join(self.stream_domains) or "none")
                        + ")",
                    )
        self._check_read_budget()

    @property
    def event_domains(self) -> tuple[str, ...]:
        """Domains fed by the bus (a ``subscribe`` route's target): their Firehose streams are Direct PUT."""
        return tuple(sorted({s.target for s in self.subscribe if s.target is not None}))

    @property
    def stream_domains(self) -> tuple[str, ...]:
        """Domains whose Firehose streams read the Kinesis stream."""
        return tuple(sorted(set(self.domains) - set(self.event_domains)))

    @property
    def shared_readers(self) -> int:
        """Readers sharing each shard's read budget: the stream domains' Firehoses, a consumer without EFO."""
        shared_consumer = self.consumer is not None and not self.consumer.enhanced_fan_out
        return len(self.stream_domains) + int(shared_consumer)

    def _check_read_budget(self) -> None:
        readers = self.shared_readers
        if readers <= SHARD_READS_PER_SECOND:
            return
        firehoses = len(self.stream_domains)
        shared_consumer = readers > firehoses
        raise ConfigError(
            "consumer.enhancedFanOut" if shared_consumer else "domains",
            False if shared_consumer else firehoses,
            f"{readers} readers would share each shard of the stream ({firehoses} domains' Firehose streams"
            f"{' and the consumer' if shared_consumer else ''}), but a shard serves {SHARD_READS_PER_SECOND} "
            "reads/s and 2 MiB/s to all readers without enhanced fan-out, so reads throttle: "
            + ("set consumer.enhancedFanOut: true, " if shared_consumer else "")
            + "feed domains from the bus (subscribe) or split the domains over two streamer services",
        )
