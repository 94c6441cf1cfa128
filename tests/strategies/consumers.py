"""Hypothesis strategies for the contract tests of the webhook receiver and the event consumers.

Events are built from the real AWS sample events in ``tests/events/`` (``apiGatewayProxyEvent.json``,
``sqsEvent.json``, ``snsSqsEvent.json``, ``kinesisStreamEvent.json``): the sample, with the parts a
sender or producer controls replaced (request body and headers; message body and attributes; record
data and partition key) by valid values or by values that are not (wrong types, missing keys, huge
and deep values, bad encodings). What Lambda itself fills in (message ids, sequence numbers) keeps
the sample's shape, with unique values so a record can be told apart.

A batch strategy draws each record as good or bad and says which are bad, so a test can assert
that exactly those are reported (SQS), or that the stream stops at the first of them (Kinesis).
Import it as ``from tests.strategies import consumers as cs``.
"""

from __future__ import annotations

import base64
import copy
import gzip
import itertools
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

if TYPE_CHECKING:
    from collections.abc import Callable

EVENTS = Path(__file__).resolve().parents[1] / "events"

#: Each contract test: 20 examples (each one is an invocation against moto), no "explain" phase.
contract = settings(
    max_examples=20,
    phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
    deadline=None,
)

#: What no error message to a caller may contain: stack traces, file names, exception class names,
#: endpoint URLs, SDK names and error codes.
INTERNALS = re.compile(
    r"Traceback|File \"|\.py\b|\b[A-Z][A-Za-z]*(?:Error|Exception)\b|https?://|amazonaws\.com|botocore|boto3"
    r"|object at 0x|ClientError|ConditionalCheckFailed|ResourceNotFound|ValidationException|errorType"
)


def handler_environment(env: Any) -> None:
    """What tests/conftest.py sets per test, for a handler module loaded once per test module."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "arcblueprint-tests",
        "RETRY_BASE_DELAY_MS": "0",
    }.items():
        env.setenv(key, value)


def sample(name: str) -> dict[str, Any]:
    """A real AWS sample event (a fresh copy)."""
    return json.loads((EVENTS / name).read_text())


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


# ---------------------------------------------------------------- values


def deep_json_text(depth: int) -> str:
    return "[" * depth + "]" * depth


#: JSON documents of every shape, unicode included (what a valid payload may be).
json_documents = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)

#: Text that breaks naive parsing.
tricky_text = st.sampled_from(
    [
        "",
        " ",
        "²",
        "١٢٣",
        "\x00",
        "\u202e",
        "\udc80",
        "null",
        "NaN",
        "-0",
        "1e309",
        "é" * 65,
        "%%%",
        "{",
        "}{",
        '"',
        "9" * 40,
    ]
)
huge_text = st.sampled_from([1_000, 70_000, 300_000]).map(lambda n: "x" * n)

#: A value of any type, including the awkward ones.
junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([10**40, -(2**64), 1e308]),
    st.floats(allow_nan=True, allow_infinity=True),
    tricky_text,
    huge_text,
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    st.sampled_from([[[[[[]]]]], {"a": {"a": {"a": {}}}}]),
)

#: Message or record text that is not a JSON document: cut, doubled, NaN, too deep, not text at all.
not_json_text = st.one_of(
    st.text(max_size=30).map(lambda text: "~" + text),
    st.sampled_from(["{", '{"a":', "[1,", '{"a": NaN', "}{", '{"a":1}{"b":2}', "nul"]),
    st.sampled_from([5_000, 100_000]).map(deep_json_text),
)
#: A message body or record data that is not text.
not_text = st.one_of(
    st.none(),
    st.integers(),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)

#: gzip of 5 MiB of zeros, 5 KiB compressed: a claim-check "bomb" (built once).
GZIP_BOMB = b64(gzip.compress(b"\0" * (5 * 1024 * 1024), compresslevel=9))


# ---------------------------------------------------------------- SQS

_message_ids = itertools.count()


def sqs_record(template: dict[str, Any], body: Any, attributes: Any) -> dict[str, Any]:
    """An SQS record shaped like ``template`` (a sample record) with this body and message attributes."""
    record = copy.deepcopy(template)
    record.update(
        messageId=f"059f36b4-87a3-44ab-83d2-{next(_message_ids):012d}", body=body, messageAttributes=attributes
    )
    return record


#: SQS message attributes as the event carries them, or junk where a producer could put it.
def sqs_attributes(message_id: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    attribute = st.fixed_dictionaries({"stringValue": st.text(max_size=20), "dataType": st.just("String")})
    valid = st.builds(
        lambda mid, extra: {**extra, "messageId": {"stringValue": mid, "dataType": "String"}},
        message_id,
        st.dictionaries(st.sampled_from(["eventType", "tenant", "amount"]), attribute, max_size=2),
    )
    return st.one_of(valid, st.just({}), st.dictionaries(st.text(max_size=8), junk, max_size=2), junk)


@st.composite
def sqs_batch(
    draw: Callable[..., Any],
    template: dict[str, Any],
    good: st.SearchStrategy[tuple[Any, Any]],
    bad: st.SearchStrategy[tuple[Any, Any]],
    max_records: int = 4,
) -> tuple[dict[str, Any], set[str]]:
    """``({"Records": [...]}, ids of the bad records)``; ``good``/``bad`` draw ``(body, messageAttributes)``."""
    records, bad_ids = [], set()
    for is_bad in draw(st.lists(st.booleans(), min_size=1, max_size=max_records)):
        record = sqs_record(template, *draw(bad if is_bad else good))
        records.append(record)
        if is_bad:
            bad_ids.add(record["messageId"])
    return {"Records": records}, bad_ids


# ---------------------------------------------------------------- Kinesis

_sequence = itertools.count(1)


def kinesis_record(template: dict[str, Any], data: Any, partition_key: Any = "1") -> dict[str, Any]:
    """A Kinesis record shaped like ``template`` with this (base64) data and a unique sequence number."""
    record = copy.deepcopy(template)
    sequence_number = f"4959033827149025660855969253836157109592157598913{next(_sequence):07d}"
    record["kinesis"].update(data=data, sequenceNumber=sequence_number, partitionKey=partition_key)
    record["eventID"] = f"shardId-000000000006:{sequence_number}"
    return record


#: Record data that cannot be read as UTF-8 text: not base64, base64 of non-UTF-8 bytes, not a string.
unreadable_data = st.one_of(
    st.sampled_from(["%%%not base64", "abc", "SGVsbG8"]),
    st.sampled_from([b"\xff\xfe\xfd", b"\xed\xa0\x80", b'{"a": "\xe9"}']).map(b64),
    not_text,
)


@st.composite
def kinesis_batch(
    draw: Callable[..., Any],
    template: dict[str, Any],
    good: st.SearchStrategy[str],
    bad: st.SearchStrategy[Any],
    max_records: int = 4,
) -> tuple[dict[str, Any], int | None]:
    """``({"Records": [...]}, index of the first bad record or None)``; ``good``/``bad`` draw the data."""
    records, first_bad = [], None
    for index, is_bad in enumerate(draw(st.lists(st.booleans(), min_size=1, max_size=max_records))):
        records.append(
            kinesis_record(
                template, draw(bad if is_bad else good), draw(st.one_of(st.text(min_size=1, max_size=20), st.just("1")))
            )
        )
        if is_bad and first_bad is None:
            first_bad = index
    return {"Records": records}, first_bad


# ---------------------------------------------------------------- API Gateway (REST)


def api_event(template: dict[str, Any], *, path: str, body: Any, is_base64: Any, headers: Any) -> dict[str, Any]:
    """A REST proxy event for ``POST path`` from the sample, with this body and these headers."""
    event = copy.deepcopy(template)
    event.update(
        httpMethod="POST",
        path=path,
        resource=path,
        body=body,
        isBase64Encoded=is_base64,
        headers=headers,
        multiValueHeaders={k: [v] for k, v in headers.items()} if isinstance(headers, dict) else None,
    )
    event["requestContext"].update(httpMethod="POST", resourcePath=path, path=f"/prod{path}")
    return event


# ---------------------------------------------------------------- assertions


def assert_clean_error(response: Any) -> tuple[int, dict[str, Any]]:
    """A proxy response below 500 with a JSON body; an error has a clean ``message``."""
    assert isinstance(response, dict) and isinstance(response.get("statusCode"), int), response
    status, body = response["statusCode"], json.loads(response["body"])
    assert status < 500, f"a {status} for a bad request: {body}"
    if status >= 400:
        message = body.get("message") if isinstance(body, dict) else None
        assert isinstance(message, str) and message, f"no error message: {body!r}"
        assert not INTERNALS.search(message), f"error message shows internals: {message!r}"
    return status, body
