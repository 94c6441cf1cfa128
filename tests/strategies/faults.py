"""Fault injection for the consumers against moto, and the redelivery of their event sources.

A consumer is run the way its event source runs it, while a seeded fraction of its downstream
calls fail, and afterwards every message is accounted for:

- **Faults** (:class:`Faults`): a ``before-call`` hook on a boto3 client answers a chosen share of
  the calls to the chosen operations with a throttling error or raises a connection error. Both
  happen before the request is sent, so a failed call had no effect: what AWS returns for a throttle
  and what botocore raises when it cannot connect (a lost *response* to a call that did take effect
  is another fault, that no consumer can tell from these; see docs/handlers.md).
- **SQS** (:class:`SimulatedQueue`, :func:`poll_queue`): the Lambda poller receives a batch, invokes,
  deletes what succeeded; failed items become visible again and a message received
  ``maxReceiveCount`` times moves to the DLQ at its next receive. A message comes back only after the
  visibility timeout, six times the function timeout, so an idempotency record left in progress by
  an earlier attempt has expired by then: :func:`expire_in_progress` does that between receives.
- **Kinesis** (:func:`run_stream`): Lambda checkpoints at the lowest sequence number reported
  failed and retries from there; a function error (or no progress) bisects the batch, which does
  not count as a retry; after ``maximumRetryAttempts`` retries of one record it is discarded to
  the on-failure destination and the shard moves on.
- **Tally** (:class:`Tally`): sent / effects / duplicates / dead-lettered / lost, by key.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import random
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import EndpointConnectionError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

__all__ = [
    "Faults",
    "SimulatedQueue",
    "StreamRun",
    "Tally",
    "body_key",
    "count_effects",
    "expire_in_progress",
    "kinesis_records",
    "poll_queue",
    "run_stream",
    "sqs_event",
]

#: Error codes AWS answers when it throttles, by service (all retryable, none took effect).
THROTTLING = {
    "dynamodb": "ProvisionedThroughputExceededException",
    "sqs": "RequestThrottled",
    "eventbridge": "ThrottlingException",
    "s3": "SlowDown",
    "kinesis": "ProvisionedThroughputExceededException",
}


class _HttpResponse:
    status_code = 400
    headers: dict[str, str] = {}  # noqa: RUF012 - read-only stand-in for botocore's AWSResponse


@dataclass
class Faults:
    """Fails ``rate`` of the calls to the attached operations, half throttles and half connection errors.

    With ``outage_rate``, a call may also start an outage of its operation: that call and the next
    ``outage_calls - 1`` calls of the operation fail, which is longer than a consumer's in-place
    retries of one call (8), so the failure reaches the event source and the idempotency records.
    """

    seed: int
    rate: float
    outage_rate: float = 0.0
    outage_calls: int = 12
    calls: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    outages: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._failing: Counter[str] = Counter()

    def _fails(self, operation: str, rate: float) -> bool:
        if self._failing[operation] > 0:
            self._failing[operation] -= 1
            return True
        if self._random.random() < self.outage_rate:
            self.outages[operation] += 1
            self._failing[operation] = self.outage_calls - 1
            return True
        return self._random.random() < rate

    def attach(self, client: Any, *operations: str, rate: float | None = None) -> Any:
        """Inject faults into ``operations`` of ``client`` (all of them if none is named); returns the client."""
        wanted = frozenset(operations)
        chance = self.rate if rate is None else rate
        service = client.meta.service_model.service_id.hyphenize()

        def before_call(model: Any, **_: Any) -> tuple[_HttpResponse, dict[str, Any]] | None:
            if wanted and model.name not in wanted:
                return None
            self.calls[model.name] += 1
            if not self._fails(f"{service}.{model.name}", chance):
                return None
            self.failed[model.name] += 1
            if self._random.random() < 0.5:
                raise EndpointConnectionError(endpoint_url=f"https://{service}.eu-west-1.amazonaws.com")
            code = THROTTLING.get(service, "ThrottlingException")
            return _HttpResponse(), {
                "Error": {"Code": code, "Message": "Rate exceeded"},
                "ResponseMetadata": {"HTTPStatusCode": 400},
            }

        client.meta.events.register("before-call", before_call)
        return client

    @property
    def summary(self) -> str:
        calls = ", ".join(f"{op} {self.failed[op]}/{n}" for op, n in sorted(self.calls.items()))
        return calls + (f"; outages of {self.outage_calls} calls: {dict(self.outages)}" if self.outages else "")


# --- SQS ------------------------------------------------------------------------------------------


@dataclass
class QueuedMessage:
    body: str
    attributes: dict[str, dict[str, str]]
    message_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    receive_count: int = 0


class SimulatedQueue:
    """A standard queue with a redrive policy, as the Lambda poller sees it.

    moto's queue is exact but computes every queue attribute for every message it hands out, which
    makes a few hundred receives take seconds; this one keeps only what the poller depends on: a
    message is delivered at most ``max_receive_count`` times, and the receive that would exceed that
    moves it to the dead-letter queue instead (SQS: "when the ReceiveCount for a message exceeds the
    maxReceiveCount for a queue, Amazon SQS moves the message to the dead-letter queue").
    """

    def __init__(self, *, max_receive_count: int, arn: str = "arn:aws:sqs:eu-west-1:111111111111:buffer") -> None:
        self.max_receive_count = max_receive_count
        self.arn = arn
        self.visible: deque[QueuedMessage] = deque()
        self.dead: list[QueuedMessage] = []

    def send(self, body: str, attributes: dict[str, dict[str, str]] | None = None) -> None:
        """``attributes`` as the SQS event carries them: ``{name: {"stringValue": ..., "dataType": ...}}``."""
        self.visible.append(QueuedMessage(body=body, attributes=attributes or {}))

    def receive(self, batch_size: int) -> list[QueuedMessage]:
        batch: list[QueuedMessage] = []
        while self.visible and len(batch) < batch_size:
            message = self.visible.popleft()
            if message.receive_count >= self.max_receive_count:
                self.dead.append(message)
                continue
            message.receive_count += 1
            batch.append(message)
        return batch


def sqs_event(template: dict[str, Any], messages: Iterable[QueuedMessage], queue_arn: str) -> dict[str, Any]:
    """The Lambda SQS event for ``messages``, shaped like the real sample ``template`` record."""
    records = []
    for m in messages:
        record = copy.deepcopy(template)
        record.update(
            messageId=m.message_id,
            receiptHandle=base64.b64encode(uuid.uuid4().bytes).decode(),
            body=m.body,
            eventSourceARN=queue_arn,
            md5OfBody=hashlib.md5(m.body.encode()).hexdigest(),
            attributes={**template["attributes"], "ApproximateReceiveCount": str(m.receive_count)},
            messageAttributes=copy.deepcopy(m.attributes),
        )
        records.append(record)
    return {"Records": records}


def expire_in_progress(ddb: Any, table: str) -> None:
    """What the visibility timeout does to Powertools' in-progress records: they expire before a redelivery."""
    pages = ddb.get_paginator("scan").paginate(
        TableName=table,
        ProjectionExpression="id",
        FilterExpression="#s = :in_progress AND #e > :past",
        ExpressionAttributeNames={"#s": "status", "#e": "in_progress_expiration"},
        ExpressionAttributeValues={":in_progress": {"S": "INPROGRESS"}, ":past": {"N": "0"}},
    )
    for item in (item for page in pages for item in page["Items"]):
        ddb.update_item(
            TableName=table,
            Key={"id": item["id"]},
            UpdateExpression="SET #e = :past",
            ExpressionAttributeNames={"#e": "in_progress_expiration"},
            ExpressionAttributeValues={":past": {"N": "0"}},
        )


def poll_queue(
    queue: SimulatedQueue,
    invoke: Callable[[dict[str, Any]], dict[str, Any]],
    template: dict[str, Any],
    *,
    batch_size: int = 10,
    after_failure: Callable[[], None] | None = None,
    max_invocations: int = 5000,
) -> int:
    """Run the Lambda SQS poller until the queue is empty; returns the number of invocations.

    What succeeded is deleted; what the response lists as failed (or everything, on a function
    error) becomes visible again, behind the messages already waiting (its visibility timeout), and
    ``after_failure`` lets that time pass (e.g. :func:`expire_in_progress`).
    """
    invocations = 0
    while invocations < max_invocations:
        messages = queue.receive(batch_size)
        if not messages:
            return invocations
        invocations += 1
        try:
            response = invoke(sqs_event(template, messages, queue.arn))
            failed = {item["itemIdentifier"] for item in (response or {}).get("batchItemFailures") or []}
        except Exception:  # a function error: nothing is deleted, the whole batch comes back
            failed = {m.message_id for m in messages}
        queue.visible.extend(m for m in messages if m.message_id in failed)
        if failed and after_failure is not None:
            after_failure()
    raise AssertionError(f"queue not drained after {max_invocations} invocations")


# --- Kinesis --------------------------------------------------------------------------------------


def kinesis_records(kinesis: Any, stream: str, template: dict[str, Any]) -> list[dict[str, Any]]:
    """Every record of ``stream`` (one shard) as Lambda delivers it, shaped like the sample ``template``."""
    description = kinesis.describe_stream(StreamName=stream)["StreamDescription"]
    [shard] = description["Shards"]
    iterator = kinesis.get_shard_iterator(
        StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = []
    while iterator:
        page = kinesis.get_records(ShardIterator=iterator, Limit=1000)
        if not page["Records"]:
            break
        for r in page["Records"]:
            record = copy.deepcopy(template)
            record["kinesis"].update(
                partitionKey=r["PartitionKey"],
                sequenceNumber=r["SequenceNumber"],
                data=base64.b64encode(r["Data"]).decode(),
                approximateArrivalTimestamp=r["ApproximateArrivalTimestamp"].timestamp(),
            )
            record.update(eventID=f"{shard['ShardId']}:{r['SequenceNumber']}", eventSourceARN=description["StreamARN"])
            records.append(record)
        iterator = page.get("NextShardIterator")
    return records


@dataclass
class StreamRun:
    invocations: int = 0
    bisections: int = 0
    discarded: list[dict[str, Any]] = field(default_factory=list)


def run_stream(
    records: list[dict[str, Any]],
    invoke: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    batch_size: int,
    maximum_retry_attempts: int,
    bisect_on_error: bool = True,
    after_failure: Callable[[], None] | None = None,
    max_invocations: int = 20000,
) -> StreamRun:
    """Lambda's Kinesis event source on one shard, with ReportBatchItemFailures and BisectBatchOnFunctionError.

    ``after_failure`` runs after an invocation that failed a record, before the retry.
    """
    run = StreamRun()
    position, size, retries = 0, batch_size, 0
    while position < len(records):
        if run.invocations >= max_invocations:
            raise AssertionError(f"shard not drained after {max_invocations} invocations")
        batch = records[position : position + size]
        run.invocations += 1
        try:
            response = invoke({"Records": [copy.deepcopy(r) for r in batch]})
            reported = [item.get("itemIdentifier") for item in (response or {}).get("batchItemFailures") or []]
            sequence = [r["kinesis"]["sequenceNumber"] for r in batch]
            # An unknown or empty itemIdentifier makes the whole batch a failure.
            failed_at = min((sequence.index(i) if i in sequence else 0 for i in reported), default=None)
        except Exception:  # a function error
            failed_at = 0
        if failed_at is None:  # success: checkpoint after the batch
            position, size, retries = position + len(batch), batch_size, 0
            continue
        if after_failure is not None:
            after_failure()
        if failed_at > 0:  # partial success: checkpoint before the lowest failed record, retry the rest
            position, size, retries = position + failed_at, len(batch) - failed_at, 0
            continue
        if bisect_on_error and len(batch) > 1:  # no progress: split the batch (not a retry)
            run.bisections += 1
            size = (len(batch) + 1) // 2
            continue
        retries += 1
        if retries > maximum_retry_attempts:  # give the record(s) up to the on-failure destination
            run.discarded += batch
            position, size, retries = position + len(batch), batch_size, 0
    return run


# --- effects --------------------------------------------------------------------------------------


def count_effects(client: Any, operation: str, effects: Counter[str], key: Callable[[dict[str, Any]], str]) -> None:
    """Count each entry of ``operation`` that AWS accepted, under ``key(entry)``: the effects, seen from outside.

    ``PutEvents``-shaped: ``Entries`` in, per-entry ``ErrorCode`` out. A call the fault hook failed
    is not counted (it never reached AWS), nor is an entry AWS rejected.
    """

    def remember(params: dict[str, Any], context: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == operation:
            context["harness_entries"] = copy.deepcopy(params.get("Entries") or [])

    def tally(http_response: Any, parsed: dict[str, Any], context: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name != operation or http_response.status_code >= 300:
            return
        results = parsed.get("Entries") or []
        for i, entry in enumerate(context.get("harness_entries", [])):
            if i < len(results) and results[i].get("ErrorCode"):
                continue
            effects.update([key(entry)])

    client.meta.events.register("before-parameter-build", remember)
    client.meta.events.register("after-call", tally)


# --- accounting -----------------------------------------------------------------------------------


@dataclass
class Tally:
    """Where each sent key ended: processed (counting each effect), dead-lettered, or lost."""

    name: str
    sent: list[str]
    poison: set[str] = field(default_factory=set)
    effects: Counter[str] = field(default_factory=Counter)
    dead: Counter[str] = field(default_factory=Counter)
    left: set[str] = field(default_factory=set)
    invocations: int = 0
    faults: str = ""

    @property
    def duplicates(self) -> int:
        return sum(self.effects.values()) - len(self.effects)

    @property
    def lost(self) -> set[str]:
        return set(self.sent) - set(self.effects) - set(self.dead) - self.left

    @property
    def both(self) -> set[str]:
        """Messages whose effect happened and that also sit in the dead-letter destination (sent once)."""
        copies = Counter(self.sent)
        return {key for key in set(self.effects) & set(self.dead) if copies[key] == 1}

    @property
    def dead_copies_of_delivered(self) -> set[str]:
        """Keys sent twice, delivered by one copy while the other was dead-lettered: e.g. the idempotency
        store was down for all of that copy's receives. Redriving it is a no-op (the key is completed)."""
        copies = Counter(self.sent)
        return {key for key in set(self.effects) & set(self.dead) if copies[key] > 1}

    @property
    def poison_effected(self) -> set[str]:
        return self.poison & set(self.effects)

    def report(self) -> str:
        unique = len(set(self.sent))
        return (
            f"[{self.name}] sent={len(self.sent)} (unique keys {unique}, poison {len(self.poison)}) "
            f"invocations={self.invocations} effects={sum(self.effects.values())} duplicates={self.duplicates} "
            f"dead_lettered={len(self.dead)} delivered_and_dead_lettered={len(self.both)} "
            f"lost={len(self.lost)} (dead-lettered second copies of delivered keys: "
            f"{len(self.dead_copies_of_delivered)}) | injected faults: {self.faults}"
        )

    def assert_exactly_once(self) -> None:
        repeated = [k for k, n in self.effects.items() if n > 1]
        assert self.duplicates == 0, f"{self.name}: duplicated effects {repeated}"
        assert not self.lost, f"{self.name}: lost {sorted(self.lost)}"
        assert not self.both, f"{self.name}: delivered and dead-lettered {sorted(self.both)}"
        assert not self.poison_effected, f"{self.name}: poison processed {sorted(self.poison_effected)}"
        missing = sorted(self.poison - set(self.dead))
        assert not missing, f"{self.name}: poison not dead-lettered {missing}"


def body_key(text: str, *path: str) -> str | None:
    """``path`` inside a JSON text, or None when it is not there."""
    try:
        value: Any = json.loads(text)
        for part in path:
            value = value[part]
    except (ValueError, KeyError, TypeError, IndexError):
        return None
    return value if isinstance(value, str) else None
