"""Records per second through each batch handler (with Powertools) vs a bare loop doing the same work.

Downstream: in-memory fakes, no moto and no network, so the figure is the handler's own overhead —
Powertools batch processing, idempotency (with an in-memory persistence layer that keeps the same
put-if-absent / update / delete protocol as the DynamoDB one), Logger/Metrics decorators, JSON and
base64. The baseline, in the same run, is a plain ``for`` loop doing the same parsing, the same
dict-based duplicate check and the same response building. Target: >= 20k records/s per handler.

    .venv/bin/python bench/batch_handlers.py [--records 20000] [--batch 100]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import copy
import hashlib
import io
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ROOT / "arcblueprint" / "services"
EVENTS = ROOT / "tests" / "events"

os.environ.update(
    {
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "POWERTOOLS_SERVICE_NAME": "bench",
        "POWERTOOLS_METRICS_NAMESPACE": "bench",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "IDEMPOTENCY_TABLE": "bench",
        "DOMAIN_FIELD": "domain",
        "DELIVERY_STREAMS": json.dumps(
            {
                "lake-orders": {
                    "domain": "orders",
                    "remove": ["card"],
                    "mask": ["customer.name"],
                    "timestampField": "occurredAt",
                }
            }
        ),
    }
)


@dataclass
class Context:
    function_name: str = "bench"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:111111111111:function:bench:live"
    aws_request_id: str = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def load(folder: Path, unique: str):
    from arcblueprint.services.testing import load_handler

    return load_handler(folder, unique)


def in_memory_persistence():
    """Powertools' persistence protocol over a dict (put-if-absent, update, delete), like DynamoDB's."""
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyItemAlreadyExistsError,
        IdempotencyItemNotFoundError,
    )
    from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer

    class InMemoryPersistenceLayer(BasePersistenceLayer):
        def __init__(self) -> None:
            super().__init__()
            self.items: dict[str, Any] = {}

        def _get_record(self, idempotency_key):
            if idempotency_key not in self.items:
                raise IdempotencyItemNotFoundError
            return self.items[idempotency_key]

        def _put_record(self, data_record) -> None:
            old = self.items.get(data_record.idempotency_key)
            if old is not None and not old.is_expired:
                raise IdempotencyItemAlreadyExistsError(old_data_record=old)
            self.items[data_record.idempotency_key] = data_record

        def _update_record(self, data_record) -> None:
            self.items[data_record.idempotency_key] = data_record

        def _delete_record(self, data_record) -> None:
            self.items.pop(data_record.idempotency_key, None)

    return InMemoryPersistenceLayer()


def use_in_memory_idempotency(module, function_name: str) -> None:
    """Re-wrap the module's idempotent function over the in-memory store (same config)."""
    from aws_lambda_powertools.utilities.idempotency import idempotent_function

    wrapped = getattr(module, function_name)
    inner = wrapped.__wrapped__
    setattr(
        module,
        function_name,
        idempotent_function(
            data_keyword_argument="key", config=module.idempotency_config, persistence_store=in_memory_persistence()
        )(inner),
    )


def sqs_batches(bodies: list[str], batch: int) -> list[dict]:
    template = json.loads((EVENTS / "sqsEvent.json").read_text())["Records"][0]
    events = []
    for start in range(0, len(bodies), batch):
        records = []
        for i, body in enumerate(bodies[start : start + batch], start):
            record = copy.deepcopy(template)
            record.update(
                messageId=f"m-{i}",
                body=body,
                messageAttributes={"eventType": {"stringValue": "order.created", "dataType": "String"}},
            )
            records.append(record)
        events.append({"Records": records})
    return events


def kinesis_batches(bodies: list[str], batch: int) -> list[dict]:
    template = json.loads((EVENTS / "kinesisStreamEvent.json").read_text())["Records"][0]
    events = []
    for start in range(0, len(bodies), batch):
        records = []
        for i, body in enumerate(bodies[start : start + batch], start):
            record = copy.deepcopy(template)
            record["kinesis"]["data"] = base64.b64encode(body.encode()).decode()
            record["kinesis"]["sequenceNumber"] = f"{i:056d}"
            record["eventID"] = f"shardId-000000000000:{i:056d}"  # unique per record, as Kinesis sends it
            records.append(record)
        events.append({"Records": records})
    return events


def firehose_batches(bodies: list[str], batch: int) -> list[dict]:
    event = json.loads((EVENTS / "kinesisFirehoseKinesisEvent.json").read_text())
    template = event["records"][0]
    events = []
    for start in range(0, len(bodies), batch):
        records = []
        for i, body in enumerate(bodies[start : start + batch], start):
            record = copy.deepcopy(template)
            record.update(recordId=f"r{i}", data=base64.b64encode(body.encode()).decode())
            records.append(record)
        events.append(
            {
                **event,
                "deliveryStreamArn": "arn:aws:firehose:eu-west-1:111111111111:deliverystream/lake-orders",
                "records": records,
            }
        )
    return events


def rate(invoke: Callable[[dict], Any], events: list[dict], count: int) -> float:
    with contextlib.redirect_stdout(io.StringIO()):  # EMF metrics lines go to stdout
        started = time.perf_counter()
        for event in events:
            invoke(event)
        elapsed = time.perf_counter() - started
    return count / elapsed


def webhook_consumer(n: int, batch: int) -> tuple[float, float]:
    module = load(SERVICES / "call_me_maybe" / "handlers" / "consumer", "bench_cmm_consumer")
    module.deliver = lambda message: None
    use_in_memory_idempotency(module, "deliver_once")
    bodies = [
        json.dumps({"webhookId": f"wh-{i}", "receivedAt": 1, "payload": {"n": i, "type": "payment"}}) for i in range(n)
    ]
    events = sqs_batches(bodies, batch)
    value = rate(lambda e: module.lambda_handler(e, Context()), events, n)

    seen: dict[str, dict] = {}

    def bare(event: dict) -> dict:
        failures = []
        for record in event["Records"]:
            try:
                message = json.loads(record["body"])
                if not isinstance(message, dict) or "webhookId" not in message:
                    raise ValueError("poison")
                key = hashlib.md5(json.dumps(message["webhookId"]).encode()).hexdigest()
                if key not in seen:
                    seen[key] = {"webhookId": message["webhookId"], "status": "PROCESSED"}
            except ValueError:
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}

    return value, rate(bare, sqs_batches(bodies, batch), n)


def fan_out_consumer(n: int, batch: int) -> tuple[float, float]:
    module = load(SERVICES / "big_fan" / "handlers" / "consumer", "bench_fan_consumer")
    module.handle = lambda message: None
    use_in_memory_idempotency(module, "process_message")
    bodies = [json.dumps({"kind": "order", "id": i, "lines": [{"sku": "a", "qty": 1}]}) for i in range(n)]
    value = rate(lambda e: module.lambda_handler(e, Context()), sqs_batches(bodies, batch), n)

    seen: dict[str, dict] = {}

    def bare(event: dict) -> dict:
        failures = []
        for record in event["Records"]:
            try:
                body = record["body"]
                payload = json.loads(body)
                attributes = {k: v.get("stringValue", "") for k, v in record["messageAttributes"].items()}
                key = hashlib.sha256(body.encode()).hexdigest()
                if key not in seen:
                    seen[key] = {"payload": payload, "attributes": attributes}
            except ValueError:
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}

    return value, rate(bare, sqs_batches(bodies, batch), n)


def firehose_transform(n: int, batch: int) -> tuple[float, float]:
    module = load(SERVICES / "streamer" / "handlers" / "transform", "bench_transform")
    bodies = [
        json.dumps(
            {
                "domain": "orders" if i % 4 else "payments",
                "id": i,
                "occurredAt": 1773100800 + i,
                "card": {"number": "4111"},
                "customer": {"name": "Ada", "tier": "gold"},
            }
        )
        for i in range(n)
    ]
    value = rate(lambda e: module.lambda_handler(e, Context()), firehose_batches(bodies, batch), n)

    def bare(event: dict) -> dict:
        out = []
        for record in event["records"]:
            document = json.loads(base64.b64decode(record["data"]))
            if document.get("domain") != "orders":
                out.append({"recordId": record["recordId"], "result": "Dropped", "data": record["data"]})
                continue
            document.pop("card", None)
            document["customer"] = {**document["customer"], "name": "*****"}
            when = time.gmtime(document["occurredAt"])
            line = json.dumps(document, separators=(",", ":")) + "\n"
            out.append(
                {
                    "recordId": record["recordId"],
                    "result": "Ok",
                    "data": base64.b64encode(line.encode()).decode(),
                    "metadata": {
                        "partitionKeys": {
                            "year": f"{when.tm_year:04d}",
                            "month": f"{when.tm_mon:02d}",
                            "day": f"{when.tm_mday:02d}",
                        }
                    },
                }
            )
        return {"records": out}

    return value, rate(bare, firehose_batches(bodies, batch), n)


def stream_consumer(n: int, batch: int) -> tuple[float, float]:
    module = load(SERVICES / "streamer" / "handlers" / "consumer", "bench_stream_consumer")
    module.handle = lambda document: None
    use_in_memory_idempotency(module, "handle_once")
    bodies = [json.dumps({"domain": "orders", "id": i}) for i in range(n)]
    value = rate(lambda e: module.lambda_handler(e, Context()), kinesis_batches(bodies, batch), n)

    def bare(event: dict) -> dict:
        failures = []
        for record in event["Records"]:
            try:
                document = json.loads(base64.b64decode(record["kinesis"]["data"]))
                if not isinstance(document, dict) or not isinstance(document.get("domain"), str):
                    raise ValueError("poison")
            except ValueError:
                failures.append({"itemIdentifier": record["kinesis"]["sequenceNumber"]})
        return {"batchItemFailures": failures}

    return value, rate(bare, kinesis_batches(bodies, batch), n)


BENCHES = {
    "call-me-maybe consumer (SQS, idempotent)": webhook_consumer,
    "big-fan consumer (SQS, idempotent)": fan_out_consumer,
    "streamer Firehose transformation": firehose_transform,
    "streamer stream consumer (Kinesis)": stream_consumer,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    print(f"{args.records} records per handler, batches of {args.batch}; downstream: in-memory fakes")
    print(f"{'handler':44} {'value rec/s':>12} {'baseline rec/s':>15} {'ratio':>7}  target")
    for name, bench in BENCHES.items():
        value, baseline = bench(args.records, args.batch)
        verdict = "ok" if value >= 20000 else "BELOW 20k"
        print(f"{name:44} {value:12,.0f} {baseline:15,.0f} {value / baseline:7.3f}  >=20k rec/s: {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
