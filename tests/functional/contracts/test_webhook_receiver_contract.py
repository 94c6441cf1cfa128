"""Contract of the webhook receiver: for any request a sender could make, a response, never an exception;
a bad request gets a 4xx with a JSON message that names nothing internal; only a validly signed JSON
webhook is accepted (202), and nothing else is buffered or recorded."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from hypothesis import event as event_
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from arcblueprint.services.testing import load_handler
from tests.strategies import consumers as cs
from tests.strategies.moto_tables import key_table

HANDLERS = Path(__file__).resolve().parents[3] / "arcblueprint" / "services" / "call_me_maybe" / "handlers"
SECRET, REGION, MAX_BYTES = "s3cr3t-shared-with-the-sender", "eu-west-1", 4096
TEMPLATE = cs.sample("apiGatewayProxyEvent.json")


@pytest.fixture(scope="module")
def receiver():
    with pytest.MonkeyPatch.context() as env, mock_aws():
        cs.handler_environment(env)
        secret = boto3.client("secretsmanager", region_name=REGION).create_secret(Name="sig", SecretString=SECRET)
        sqs = boto3.client("sqs", region_name=REGION)
        queue = sqs.create_queue(QueueName="hooks")["QueueUrl"]
        ddb = boto3.client("dynamodb", region_name=REGION)
        for table, key in (("hooks-idempotency", "id"), ("hooks-status", "webhookId")):
            key_table(table, key, client=ddb)
        for key, value in {
            "SIGNING_SECRET_ID": secret["ARN"],
            "QUEUE_URL": queue,
            "IDEMPOTENCY_TABLE": "hooks-idempotency",
            "STATUS_TABLE": "hooks-status",
            "MAX_MESSAGE_BYTES": str(MAX_BYTES),
        }.items():
            env.setenv(key, value)
        module = load_handler(HANDLERS / "receiver", "cmm_receiver_contract")
        yield module, sqs, queue


#: The documented rule for a sender's delivery id (README): at most 128 letters, digits or ._:@/+=-.
DELIVERY_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")


def _refuse(constant: str) -> Any:
    raise ValueError(constant)


def _acceptable(text: str) -> bool:
    """What the receiver must accept once signed: JSON (no NaN), at most 64 deep, fitting the buffer."""
    try:
        document = json.loads(text, parse_constant=_refuse)
    except (ValueError, RecursionError):
        return False
    depth, stack = 0, [(document, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict | list):
            depth = max(depth, level)
            stack += [(v, level + 1) for v in (value.values() if isinstance(value, dict) else value)]
    buffered = json.dumps(
        {"webhookId": "0" * 64, "receivedAt": int(time.time()), "payload": document}, separators=(",", ":")
    )
    return depth <= 64 and len(text.encode()) <= MAX_BYTES and len(buffered) <= MAX_BYTES


@st.composite
def requests(draw) -> tuple[dict[str, Any], bool]:
    """(event, whether it is a validly signed webhook the receiver must accept)."""
    kind = draw(
        st.sampled_from(
            ["json"] * 6
            + [
                "base64-json",
                "deep",
                "deep",
                "not-json",
                "huge",
                "bad-base64",
                "base64-bytes",
                "lone-surrogate",
                "not-text",
                "none",
            ]
        )
    )
    text: str | None = None
    if kind in ("json", "base64-json"):
        text = json.dumps(draw(cs.json_documents))
    elif kind == "not-json":
        text = draw(cs.not_json_text.filter(lambda t: len(t) < 5_000))
    elif kind == "deep":
        text = cs.deep_json_text(draw(st.sampled_from([10, 64, 65, 2_000])))
    elif kind == "huge":
        text = json.dumps({"blob": draw(cs.huge_text)})
    elif kind == "lone-surrogate":
        text = '{"a": "\ud800"}'
    body: Any = text
    is_base64: Any = (
        draw(st.one_of(st.just(False), st.none(), cs.junk)) if kind in ("json", "not-json", "deep") else False
    )
    if kind == "base64-json":
        body, is_base64 = cs.b64(text.encode()), True
    elif kind == "bad-base64":
        body, is_base64 = draw(st.sampled_from(["%%%", "abc", "====", "eyJh"])), True
    elif kind == "base64-bytes":
        body, is_base64 = cs.b64(draw(st.sampled_from([b"\xff\xfe", b'{"a": "\xe9"}', b"\xed\xa0\x80"]))), True
    elif kind == "not-text":
        body = draw(cs.not_text)
    signed_text = text if isinstance(text, str) and kind != "lone-surrogate" else ""
    now = int(time.time())
    signature = "sha256=" + hmac.new(SECRET.encode(), f"{now}.{signed_text}".encode(), hashlib.sha256).hexdigest()
    headers: dict[str, Any] = {"X-Signature": signature, "X-Timestamp": str(now), "Content-Type": "application/json"}
    valid_signature = draw(st.sampled_from([True, True, True, False]))
    if not valid_signature:
        field = draw(st.sampled_from(["X-Signature", "X-Timestamp", "both"]))
        for name in ["X-Signature", "X-Timestamp"] if field == "both" else [field]:
            headers[name] = draw(st.one_of(cs.junk, st.just("sha256=" + "é" * 64), st.just(str(now - 3600))))
    delivery_id = draw(
        st.one_of(st.none(), st.text(min_size=1, max_size=20, alphabet="abcdef0123456789_"), st.none(), cs.junk)
    )
    if delivery_id is not None:
        headers["X-Webhook-Id"] = delivery_id
    all_headers: Any = draw(st.sampled_from([headers, headers, headers, None, {}]))
    event = cs.api_event(TEMPLATE, path="/webhook", body=body, is_base64=is_base64, headers=all_headers)
    good_id = not isinstance(delivery_id, str) or DELIVERY_ID.fullmatch(delivery_id) is not None
    delivered_as_signed = kind == "base64-json" or (
        isinstance(body, str) and body == signed_text and is_base64 is not True
    )
    accept = (
        all_headers is headers
        and valid_signature
        and good_id
        and bool(signed_text)
        and delivered_as_signed
        and _acceptable(signed_text)
    )
    return event, accept


@settings(cs.contract, max_examples=50)
@given(request=requests())
def test_every_request_gets_a_clean_answer_and_only_signed_webhooks_are_buffered(lambda_context, receiver, request):
    module, sqs, queue = receiver
    event, accept = request
    before = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])
    response = module.lambda_handler(event, lambda_context("arcbp-dev-hooks-receiver"))
    status, body = cs.assert_clean_error(response)
    event_(f"status {status}")
    after = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])
    buffered = int(after["Attributes"]["ApproximateNumberOfMessages"]) - int(
        before["Attributes"]["ApproximateNumberOfMessages"]
    )
    if accept:
        assert status == 202 and isinstance(body["webhookId"], str), (status, body)
        assert buffered in (0, 1)  # 0: the same body was buffered by an earlier example (a replay)
    else:
        assert status in (400, 401, 404, 413), (status, body)
        assert buffered == 0
