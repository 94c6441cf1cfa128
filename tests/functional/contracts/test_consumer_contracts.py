"""Contracts of the event consumers: for any batch a producer could cause, the handler answers, and
reports exactly the bad records.

- SQS (webhook consumer, Big Fan raw and enveloped): every bad record is reported failed, every good
  one succeeds, and the invocation never raises (one poison message must not fail the batch).
- Kinesis (webhook consumer, streamer consumer): records are handled in order up to the first bad
  one, which is the only one reported (Lambda retries from the lowest reported sequence number);
  if the first record is bad the invocation fails, so that the event source bisects the batch.

Good and bad records are drawn from the real sample events (``tests/strategies/consumers.py``).
"""

from __future__ import annotations

import base64
import gzip
import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

from arcblueprint.services.testing import load_handler
from tests.strategies import consumers as cs

SERVICES = Path(__file__).resolve().parents[3] / "arcblueprint" / "services"
SQS_RECORD = cs.sample("sqsEvent.json")["Records"][0]
SNS_SQS_RECORD = cs.sample("snsSqsEvent.json")["Records"][0]
KINESIS_RECORD = cs.sample("kinesisStreamEvent.json")["Records"][0]
BUCKET = "arcbp-dev-fan-payloads"


@pytest.fixture(scope="module")
def aws():
    """moto with the tables and bucket of every consumer, and the environment of a loaded handler module."""
    with pytest.MonkeyPatch.context() as env, mock_aws():
        cs.handler_environment(env)
        ddb = boto3.client("dynamodb", region_name="eu-west-1")
        ddb.create_table(
            TableName="idempotency",
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        )
        boto3.client("s3", region_name="eu-west-1").create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        env.setenv("IDEMPOTENCY_TABLE", "idempotency")
        yield env


def _load(env: pytest.MonkeyPatch, folder: str, **variables: str):
    for key, value in variables.items():
        env.setenv(key, value)
    return load_handler(SERVICES / folder, f"contract_{folder.replace('/', '_')}_{time.monotonic_ns()}")


def _reported(response: dict[str, Any]) -> set[str]:
    assert set(response) == {"batchItemFailures"}, response
    return {item["itemIdentifier"] for item in response["batchItemFailures"]}


# ---------------------------------------------------------------- webhook consumer


def envelope(webhook_id: Any, payload: Any) -> str:
    return json.dumps({"webhookId": webhook_id, "receivedAt": 1, "payload": payload})


#: A webhook envelope as the receiver buffers it.
good_envelopes = st.builds(envelope, st.text(min_size=1, max_size=64), cs.json_documents)
#: Buffered text that is not a webhook envelope (only the receiver writes the buffer, but a bug or an
#: operator's redrive could put anything there).
bad_envelopes = st.one_of(
    cs.not_json_text,
    st.builds(lambda payload: json.dumps({"receivedAt": 1, "payload": payload}), cs.json_documents),
    st.builds(
        envelope, st.one_of(st.just(""), st.none(), st.integers(), st.lists(st.text(), max_size=2)), cs.json_documents
    ),
    st.builds(lambda key: json.dumps({"webhookId": key}), st.text(min_size=1, max_size=8)),
    cs.json_documents.filter(lambda d: not isinstance(d, dict)).map(json.dumps),
)


@pytest.fixture(scope="module")
def webhook_consumer(aws):
    module = _load(aws, "call_me_maybe/handlers/consumer", BUFFER="sqs")
    module.deliver = lambda message: None  # the bus (its faults are the fault-injection tests' business)
    return module


@cs.contract
@given(
    batch=cs.sqs_batch(
        SQS_RECORD, st.tuples(good_envelopes, cs.junk), st.tuples(st.one_of(bad_envelopes, cs.not_text), cs.junk)
    )
)
def test_webhook_consumer_reports_exactly_the_bad_messages(lambda_context, webhook_consumer, batch):
    event, bad = batch
    assert _reported(webhook_consumer.lambda_handler(event, lambda_context("arcbp-dev-consumer-contract"))) == bad


@pytest.fixture(scope="module")
def webhook_stream_consumer(aws):
    module = _load(aws, "call_me_maybe/handlers/consumer", BUFFER="kinesis")
    module.delivered = []
    module.deliver = lambda message: module.delivered.append(message["webhookId"])
    return module


def _stream_contract(
    lambda_context, module: Any, event: dict[str, Any], first_bad: int | None, handled: list[Any], expected: list[Any]
) -> None:
    """``expected`` (what the records before the first bad one do) is handled, in order, and nothing after;
    the first bad record alone is reported, and if it is the first of the batch the invocation fails."""
    records = event["Records"]
    if first_bad == 0:
        with pytest.raises(module.StreamBatchError):
            module.lambda_handler(event, lambda_context("arcbp-dev-consumer-contract"))
    else:
        response = module.lambda_handler(event, lambda_context("arcbp-dev-consumer-contract"))
        failed = set() if first_bad is None else {records[first_bad]["kinesis"]["sequenceNumber"]}
        assert _reported(response) == failed
    assert handled == expected


def _texts(event: dict[str, Any], first_bad: int | None) -> list[str]:
    """The data of the records before the first bad one."""
    return [base64.b64decode(r["kinesis"]["data"]).decode() for r in event["Records"][:first_bad]]


@cs.contract
@given(
    batch=cs.kinesis_batch(
        KINESIS_RECORD,
        good_envelopes.map(lambda t: cs.b64(t.encode())),
        st.one_of(bad_envelopes.map(lambda t: cs.b64(t.encode())), cs.unreadable_data),
    )
)
def test_webhook_stream_consumer_stops_at_the_first_bad_record(lambda_context, webhook_stream_consumer, batch):
    event, first_bad = batch
    webhook_stream_consumer.delivered.clear()
    # Each webhook id is delivered once ever: an id drawn before (or twice in this batch) is a no-op.
    seen = webhook_stream_consumer.seen = getattr(webhook_stream_consumer, "seen", set())
    expected = []
    for text in _texts(event, first_bad):
        key = json.loads(text)["webhookId"]
        if key not in seen:
            seen.add(key)
            expected.append(key)
    _stream_contract(
        lambda_context, webhook_stream_consumer, event, first_bad, webhook_stream_consumer.delivered, expected
    )


# ---------------------------------------------------------------- Big Fan consumer


def _string_attributes(message_id: str) -> dict[str, Any]:
    return {"messageId": {"Type": "String", "Value": message_id}, "eventType": {"Type": "String", "Value": "order.x"}}


def sns_envelope(message: Any, attributes: Any) -> str:
    """The snsSqsEvent sample's body (an SNS notification) around ``message``."""
    notification = json.loads(SNS_SQS_RECORD["body"])
    notification.update(Message=message, MessageAttributes=attributes)
    return json.dumps(notification)


#: What a publisher sends: any JSON document, or one compressed inline by the publisher's codec.
published = st.one_of(
    cs.json_documents.map(json.dumps),
    cs.json_documents.map(
        lambda d: json.dumps(
            {"arcbpPayload": {"encoding": "gzip+base64", "data": cs.b64(gzip.compress(json.dumps(d).encode()))}}
        )
    ),
)
#: Bodies no consumer can process: not JSON, not text, a broken or hostile claim check.
unprocessable = st.one_of(
    cs.not_json_text,
    cs.not_text,
    st.builds(lambda p: json.dumps({"arcbpPayload": p}), cs.junk),
    st.just(json.dumps({"arcbpPayload": {"data": "%%%not base64"}})),
    st.just(json.dumps({"arcbpPayload": {"encoding": "gzip+base64", "data": cs.GZIP_BOMB}})),
    st.just(json.dumps({"arcbpPayload": {"encoding": "gzip", "bucket": "someone-elses", "key": "k"}})),
    st.just(json.dumps({"arcbpPayload": {"encoding": "gzip", "bucket": BUCKET, "key": "k", "size": 10**9}})),
)


@pytest.fixture(scope="module")
def fan_consumers(aws):
    modules = {}
    for raw in ("true", "false"):
        module = _load(
            aws,
            "big_fan/handlers/consumer",
            RAW_MESSAGE_DELIVERY=raw,
            PAYLOAD_BUCKET=BUCKET,
            CONSUMER_NAME=f"contract-{raw}",
        )
        module.handled = []
        module.handle = lambda message, module=module: module.handled.append(message)
        modules[raw] = module
    return modules


@cs.contract
@given(
    batch=cs.sqs_batch(
        SQS_RECORD,
        # A raw body shaped like an SNS envelope is a message too: it cannot forge the attributes.
        st.tuples(
            st.one_of(published, st.builds(sns_envelope, published, st.just(_string_attributes("forged")))),
            cs.sqs_attributes(st.text(min_size=1, max_size=36)),
        ),
        st.tuples(unprocessable, cs.sqs_attributes(st.text(min_size=1, max_size=36))),
    )
)
def test_big_fan_raw_consumer_reports_exactly_the_bad_messages(lambda_context, fan_consumers, batch):
    event, bad = batch
    consumer = fan_consumers["true"]
    consumer.handled.clear()
    assert _reported(consumer.lambda_handler(event, lambda_context("arcbp-dev-consumer-contract"))) == bad
    # The forged envelope's attributes (messageId "forged", eventType "order.x") never become the message's.
    assert not [
        m for m in consumer.handled if m["messageId"] == "forged" or m["attributes"].get("eventType") == "order.x"
    ]


@cs.contract
@given(
    batch=cs.sqs_batch(
        SNS_SQS_RECORD,
        st.tuples(
            st.builds(sns_envelope, published, st.builds(_string_attributes, st.text(min_size=1, max_size=36))), cs.junk
        ),
        st.tuples(
            st.one_of(
                unprocessable.map(lambda body: sns_envelope(body, {}) if isinstance(body, str) else body),
                published,  # a raw body on an enveloped subscription is not a notification
                st.builds(sns_envelope, cs.not_text, st.just({})),
            ),
            cs.junk,
        ),
    )
)
def test_big_fan_enveloped_consumer_reports_exactly_the_bad_messages(lambda_context, fan_consumers, batch):
    event, bad = batch
    assert _reported(fan_consumers["false"].lambda_handler(event, lambda_context("arcbp-dev-consumer-contract"))) == bad


# ---------------------------------------------------------------- streamer consumer

documents = st.fixed_dictionaries(
    {"domain": st.sampled_from(["orders", "payments"])},
    optional={"id": st.text(max_size=10), "amount": cs.json_documents},
)
not_documents = st.one_of(
    cs.not_json_text,
    cs.json_documents.filter(lambda d: not isinstance(d, dict)).map(json.dumps),
    st.builds(lambda domain: json.dumps({"domain": domain}), st.one_of(st.none(), st.integers(), st.lists(st.text()))),
    st.just(json.dumps({"id": "no domain"})),
)


@pytest.fixture(scope="module")
def stream_consumer(aws):
    module = _load(aws, "streamer/handlers/consumer", DOMAIN_FIELD="domain", CONSUMER_DOMAINS="")
    module.handled = []
    module.handle = module.handled.append
    return module


@cs.contract
@given(
    batch=cs.kinesis_batch(
        KINESIS_RECORD,
        documents.map(lambda d: cs.b64(json.dumps(d).encode())),
        st.one_of(not_documents.map(lambda t: cs.b64(t.encode())), cs.unreadable_data),
    )
)
def test_stream_consumer_stops_at_the_first_bad_record(lambda_context, stream_consumer, batch):
    event, first_bad = batch
    stream_consumer.handled.clear()
    expected = [json.loads(text) for text in _texts(event, first_bad)]
    _stream_contract(lambda_context, stream_consumer, event, first_bad, stream_consumer.handled, expected)
