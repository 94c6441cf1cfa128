"""I'm a Streamer: a Kinesis stream delivered per domain into a Parquet data lake queried with Athena."""

from arcblueprint.services.streamer.spec import DomainSpec, StreamConsumerSpec, StreamerSpec

__all__ = ["DomainSpec", "StreamConsumerSpec", "StreamerSpec"]
