"""What one request costs along each service's main path, priced per million requests.

A path is the chain of billed operations one typical request causes (an API request, each Lambda
invocation at its memory and architecture, each DynamoDB write, each queue request, each event),
read from the synthesized graph: memory sizes, secondary indexes, state machine definitions and
subscriptions are the ones ``pulumi up`` would create. What a request does inside a function
(its duration, its item and payload sizes) is an assumption, stated by :class:`Workload` and
printed with every result; ``blueprint tune`` measures the real duration of a function.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from arcblueprint.services import pattern_of

if TYPE_CHECKING:
    from arcblueprint.cost.prices import Price, PriceTable
    from arcblueprint.preview.harness import GraphResource, SynthesizedStack

__all__ = ["PathCost", "Step", "Workload", "happy_path", "lambda_invocation_usd", "request_paths"]

MIB_PER_GB = 1024
KB_PER_GB = 1024 * 1024
#: Firehose bills each record in 5 KB increments; SQS, SNS and EventBridge in 64 KB chunks.
FIREHOSE_RECORD_KB = 5
MESSAGE_CHUNK_KB = 64


@dataclass(frozen=True, kw_only=True)
class Workload:
    """What the price of a request depends on but the graph does not say (printed with every result)."""

    #: Billed duration of one invocation (``blueprint tune`` measures it per function).
    duration_ms: float = 100.0
    #: Size of one stored item (a DynamoDB write costs one unit per KB).
    item_kb: float = 1.0
    #: Size of one message or event.
    payload_kb: float = 1.0
    #: Records per Firehose transform invocation (Firehose batches up to its buffer).
    transform_batch: int = 100

    def as_json(self) -> dict[str, Any]:
        return {
            "durationMs": self.duration_ms,
            "itemKb": self.item_kb,
            "payloadKb": self.payload_kb,
            "transformBatch": self.transform_batch,
        }


@dataclass(frozen=True, kw_only=True)
class Step:
    """``count`` x ``quantity`` units of ``price`` per request (``quantity`` is GB-seconds, GB, chunks...)."""

    what: str
    count: float
    price: Price
    quantity: float = 1.0

    @property
    def usd(self) -> float:
        return self.count * self.quantity * self.price.usd

    def as_json(self) -> dict[str, Any]:
        return {
            "what": self.what,
            "count": self.count,
            "quantity": self.quantity,
            "unit": self.price.unit,
            "price": self.price.name,
            "confirmed": self.price.confirmed,
            "perMillion": round(self.usd * 1e6, 4),
        }


@dataclass(frozen=True, kw_only=True)
class PathCost:
    service: str
    pattern: str
    path: str
    steps: tuple[Step, ...] = field(default_factory=tuple)

    @property
    def per_million(self) -> float:
        return sum(step.usd for step in self.steps) * 1e6

    def as_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "pattern": self.pattern,
            "path": self.path,
            "perMillion": round(self.per_million, 4),
            "steps": [s.as_json() for s in self.steps],
        }


def lambda_invocation_usd(memory_mib: float, billed_ms: float, architecture: str, prices: PriceTable) -> float:
    """One invocation: the request plus ``memory x billed duration`` GB-seconds at the architecture's rate."""
    gb_seconds = memory_mib / MIB_PER_GB * billed_ms / 1000
    return prices.usd("lambda_request") + gb_seconds * prices.usd(f"lambda_gb_second_{architecture}")


def happy_path(definition: str | Mapping[str, Any]) -> list[dict[str, Any]]:
    """The states a Step Functions execution passes through when nothing fails (``StartAt`` along ``Next``)."""
    document = json.loads(definition) if isinstance(definition, str) else definition
    states = document.get("States", {})
    path: list[dict[str, Any]] = []
    name = document.get("StartAt")
    seen: set[str] = set()
    while name and name in states and name not in seen:
        seen.add(name)
        state = states[name]
        path.append(state)
        if state.get("End") or state.get("Type") in ("Succeed", "Fail"):
            break
        if state.get("Type") == "Choice":
            name = state.get("Default") or next((c.get("Next") for c in state.get("Choices", [])), None)
        else:
            name = state.get("Next")
    return path


class _Graph:
    """Lookups the paths need: a function's memory and architecture, a table's indexes, a service's resources."""

    def __init__(self, graph: SynthesizedStack) -> None:
        self.by_name: dict[str, GraphResource] = {r.name: r for r in graph.resources if r.custom}
        self.resources = graph.resources

    def function(self, logical: str) -> GraphResource | None:
        return self.by_name.get(f"{logical}-function")

    def of_service(self, service: str, resource_type: str) -> list[GraphResource]:
        return [
            r
            for r in self.resources
            if r.type == resource_type
            and isinstance(r.inputs.get("tags"), Mapping)
            and r.inputs["tags"].get("service") == service
        ]


@dataclass(frozen=True, kw_only=True)
class _Builder:
    graph: _Graph
    prices: PriceTable
    workload: Workload
    steps: list[Step] = field(default_factory=list)

    def add(self, what: str, count: float, price: str, quantity: float = 1.0) -> None:
        if count:
            self.steps.append(Step(what=what, count=count, price=self.prices[price], quantity=quantity))

    def invoke(self, logical: str, count: float = 1.0, what: str | None = None) -> None:
        function = self.graph.function(logical)
        if function is None or not count:
            return
        memory = float(function.inputs.get("memorySize", 128))
        architecture = (function.inputs.get("architectures") or ["x86_64"])[0]
        label = what or f"Lambda {logical}"
        self.add(f"{label} (request)", count, "lambda_request")
        gb_seconds = memory / MIB_PER_GB * self.workload.duration_ms / 1000
        self.add(
            f"{label} ({memory:g} MB x {self.workload.duration_ms:g} ms)",
            count,
            f"lambda_gb_second_{architecture}",
            gb_seconds,
        )

    def write(self, what: str, table: str | None, count: float = 1.0) -> None:
        """A DynamoDB write: one unit per KB, once more for each global secondary index the item lands in."""
        indexes = 0
        if table is not None and (resource := self.graph.by_name.get(table)) is not None:
            indexes = len(resource.inputs.get("globalSecondaryIndexes") or [])
        units = max(1.0, -(-self.workload.item_kb // 1))
        self.add(
            f"DynamoDB write: {what}" + (f" (+{indexes} index)" if indexes else ""),
            count * (1 + indexes),
            "dynamodb_write_request_unit",
            units,
        )

    def chunks(self) -> float:
        return max(1.0, -(-self.workload.payload_kb // MESSAGE_CHUNK_KB))


# --- the main path of each pattern --------------------------------------------------------------------


def _comfortable_rest(name: str, spec: Any, b: _Builder) -> str:
    b.add("API Gateway REST request", 1, "apigateway_rest_request")
    b.invoke(f"{name}-api")
    b.write("the item", f"{name}-table")
    if b.graph.function(f"{name}-outbox-publisher") is not None:
        # The table's stream feeds the outbox publisher (stream reads by Lambda are free), which records
        # the event once (claim + completion) and publishes it on the bus.
        b.invoke(f"{name}-outbox-publisher")
        b.write("outbox claim and completion", f"{name}-outbox-idempotency", 2)
        b.add("EventBridge event (domain event)", b.chunks(), "eventbridge_event")
    return f"POST /{spec.resource_name}: REST API -> api function -> table (-> outbox -> bus)"


def _cherry_pick(name: str, spec: Any, b: _Builder) -> str:
    b.add("AppSync mutation", 1, "appsync_request")
    b.invoke(f"{name}-bookings")
    b.write("the booking", f"{name}-table")
    for machine in b.graph.of_service(name, "aws:sfn/stateMachine:StateMachine"):
        states = happy_path(machine.inputs["definition"])
        tasks = sum(1 for s in states if "lambda:invoke" in str(s.get("Resource", "")))
        if machine.inputs.get("type") == "EXPRESS":
            b.add("Step Functions Express execution", 1, "stepfunctions_express_request")
        else:
            b.add(
                f"Step Functions transitions ({len(states)} states)", len(states), "stepfunctions_standard_transition"
            )
        b.invoke(f"{name}-saga-steps", tasks, what=f"Lambda {name}-saga-steps x{tasks}")
        b.write("booking status per step", f"{name}-table", tasks)
    return "createBooking: AppSync -> resolver -> table -> saga (each step a Lambda call, succeeded path)"


def _strangler(name: str, spec: Any, b: _Builder) -> str:
    moved = [r for r in spec.routes if r.function]
    if not moved:
        b.add("API Gateway REST request (proxied to legacy)", 1, "apigateway_rest_request")
        return "a legacy route: REST API -> legacy (HTTP integration)"
    route = moved[0]
    b.add("API Gateway REST request", 1, "apigateway_rest_request")
    if route.target == "weighted":
        b.invoke(f"{name}-router")
        b.invoke(
            f"{name}-{route.function}",
            route.percent_new / 100,
            what=f"Lambda {name}-{route.function} x{route.percent_new}%",
        )
        return f"{route.path} (weighted {route.percent_new}% new): REST API -> router -> function or legacy"
    b.invoke(f"{name}-{route.function}")
    return f"{route.path}: REST API -> function"


def _call_me_maybe(name: str, spec: Any, b: _Builder) -> str:
    b.add("API Gateway REST request", 1, "apigateway_rest_request")
    b.invoke(f"{name}-receiver")
    b.write("webhook claim", f"{name}-idempotency")
    if spec.status_tracking:
        b.write("status received", f"{name}-status")
    if spec.buffer == "sqs":
        # SendMessage, then the event source mapping's ReceiveMessage and DeleteMessage (batches of one at
        # low traffic; fuller batches lower this share).
        b.add("SQS send, receive and delete", 3 * b.chunks(), "sqs_request")
    else:
        b.add("Kinesis PUT payload unit", max(1.0, -(-b.workload.payload_kb // 25)), "kinesis_put_payload_unit")
    b.invoke(f"{name}-consumer")
    b.write("consumer claim and completion", f"{name}-idempotency", 2)
    if spec.status_tracking:
        b.write("status processed", f"{name}-status")
    return f"a webhook: REST API -> receiver -> {spec.buffer} -> consumer (deduplicated)"


def _big_fan(name: str, spec: Any, b: _Builder) -> str:
    b.add("SNS publish", b.chunks(), "sns_publish")
    consumers = list(spec.consumers)
    for consumer in consumers:
        # SNS delivers to each subscribed queue for free; the consumer's poller receives and deletes.
        b.add(f"SQS receive and delete ({consumer})", 2 * b.chunks(), "sqs_request")
        b.invoke(f"{name}-{consumer}")
        b.write(f"{consumer} claim and completion", f"{name}-idempotency", 2)
    return f"one message to {len(consumers)} consumers: SNS -> a queue each -> consumer (deduplicated)"


def _streamer(name: str, spec: Any, b: _Builder) -> str:
    deliveries = b.graph.of_service(name, "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream")
    if not deliveries:
        return "no delivery stream"
    delivery = deliveries[0]
    s3 = delivery.inputs.get("extendedS3Configuration") or {}
    billed_gb = (
        max(FIREHOSE_RECORD_KB, -(-b.workload.payload_kb // FIREHOSE_RECORD_KB) * FIREHOSE_RECORD_KB) / KB_PER_GB
    )
    if delivery.inputs.get("kinesisSourceConfiguration"):
        b.add("Kinesis PUT payload unit", max(1.0, -(-b.workload.payload_kb // 25)), "kinesis_put_payload_unit")
    b.add("Firehose ingestion (5 KB record)", 1, "firehose_ingest_gb", billed_gb)
    if s3.get("dataFormatConversionConfiguration"):
        b.add("Firehose Parquet conversion", 1, "firehose_format_conversion_gb", b.workload.payload_kb / KB_PER_GB)
    if (s3.get("dynamicPartitioningConfiguration") or {}).get("enabled"):
        b.add("Firehose dynamic partitioning", 1, "firehose_dynamic_partitioning_gb", b.workload.payload_kb / KB_PER_GB)
    if s3.get("processingConfiguration"):
        b.invoke(
            f"{name}-transform",
            1 / b.workload.transform_batch,
            what=f"Lambda {name}-transform (1/{b.workload.transform_batch} of a batch)",
        )
    return f"one record into the lake: Firehose ({delivery.name}) -> transform -> Parquet on S3"


def _ops_automation(name: str, spec: Any, b: _Builder) -> str:
    b.invoke(f"{name}-audit")
    b.write("audit record", f"{name}-log")
    return "one matched event: rule -> audit function -> operations log"


PATHS: dict[str, Callable[[str, Any, _Builder], str]] = {
    "comfortable-rest": _comfortable_rest,
    "cherry-pick": _cherry_pick,
    "strangler": _strangler,
    "call-me-maybe": _call_me_maybe,
    "big-fan": _big_fan,
    "streamer": _streamer,
    "ops-automation": _ops_automation,
}


def request_paths(graph: SynthesizedStack, prices: PriceTable, workload: Workload | None = None) -> list[PathCost]:
    """The main path of every service of the stack, priced per request."""
    workload = workload or Workload()
    lookups = _Graph(graph)
    result = []
    for name, spec in graph.config.services.items():
        pattern = pattern_of(spec)
        builder = _Builder(graph=lookups, prices=prices, workload=workload)
        path = PATHS[pattern](name, spec, builder)
        result.append(PathCost(service=name, pattern=pattern, path=path, steps=tuple(builder.steps)))
    return result
