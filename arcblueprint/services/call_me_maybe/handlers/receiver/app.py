"""Receive a third-party webhook: verify its signature and age, mask it, buffer it, answer 202.

The receiver does as little as possible so the sender gets a fast answer and the consumer can
process at the pace of the downstream. Nothing is buffered unless the signature is valid.

Environment (set by the component): ``SIGNING_SECRET_ID`` (secret name/ARN, never the value),
``BUFFER`` (``sqs``/``kinesis``), ``QUEUE_URL`` or ``STREAM_NAME``, ``SIGNATURE_HEADER``,
``TIMESTAMP_HEADER``, ``ID_HEADER``, ``REPLAY_WINDOW_SECONDS``, ``SENSITIVE_FIELDS`` (comma list),
``PARTITION_KEY_FIELD``, ``STATUS_TABLE`` (optional).

The signing key is shared with the sender, so a rotation cannot switch both sides at one instant.
A signature is accepted if it matches the key labelled AWSCURRENT, or, during a rotation, the new
key (AWSPENDING, before the rotation function promotes it) or the old one (AWSPREVIOUS, until the
sender has switched: the label moves on at the next rotation, or an operator removes it). Any
other key is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from collections.abc import Iterable, Iterator
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parameters import GetParameterError, SecretsProvider

from masking import mask_fields

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayRestResolver()

BUFFER = os.environ.get("BUFFER", "sqs")
QUEUE_URL = os.environ.get("QUEUE_URL", "")
STREAM_NAME = os.environ.get("STREAM_NAME", "")
STATUS_TABLE = os.environ.get("STATUS_TABLE", "")
SIGNATURE_HEADER = os.environ.get("SIGNATURE_HEADER", "X-Signature")
TIMESTAMP_HEADER = os.environ.get("TIMESTAMP_HEADER", "X-Timestamp")
ID_HEADER = os.environ.get("ID_HEADER", "X-Webhook-Id")
REPLAY_WINDOW_SECONDS = int(os.environ.get("REPLAY_WINDOW_SECONDS", "300"))
SENSITIVE_FIELDS = tuple(f for f in os.environ.get("SENSITIVE_FIELDS", "").split(",") if f)
PARTITION_KEY_FIELD = os.environ.get("PARTITION_KEY_FIELD", "")
STATUS_TTL_SECONDS = int(os.environ.get("STATUS_TTL_SECONDS", "604800"))

sqs = boto3.client("sqs") if BUFFER == "sqs" else None
kinesis = boto3.client("kinesis") if BUFFER == "kinesis" else None
dynamodb = boto3.client("dynamodb") if STATUS_TABLE else None

#: Staging labels whose key signs a valid webhook, in the order they are tried (the usual one first).
SIGNING_STAGES = ("AWSCURRENT", "AWSPENDING", "AWSPREVIOUS")
SECRET_MAX_AGE_SECONDS = 300
# Powertools caches a secret by name only (not by VersionStage), so each label gets its own
# provider, and so its own cache; the three share one client.
_secretsmanager = boto3.client("secretsmanager")
_signing_keys = {stage: SecretsProvider(boto3_client=_secretsmanager) for stage in SIGNING_STAGES}
#: Label -> until when it is known to have no version (outside a rotation): a flood of bad
#: signatures must not turn into a flood of GetSecretValue calls.
_absent_until: dict[str, float] = {}

UNAUTHORIZED = Response(status_code=401, content_type="application/json", body='{"message":"Unauthorized"}')


class SignatureError(Exception):
    """The request is not signed with the shared secret, or the signature is too old."""


def expected_signature(secret: str, timestamp: str, body: str) -> str:
    """Hex HMAC-SHA256 of ``<timestamp>.<body>``: signing the timestamp too stops replays with a new date."""
    return hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()


def verify(*, secret: str | Iterable[str], signature: str | None, timestamp: str | None, body: str, now: float,
           window_seconds: int) -> None:
    """Raise :class:`SignatureError` unless the signature matches and the timestamp is within the window.

    ``secret`` is one key or the keys valid right now (tried in order, fetched lazily if an iterator).
    """
    if not signature or not timestamp:
        raise SignatureError("missing signature or timestamp")
    try:
        signed_at = int(timestamp)
    except ValueError:
        raise SignatureError("timestamp is not unix seconds") from None
    if abs(now - signed_at) > window_seconds:
        raise SignatureError("timestamp outside the replay window")
    candidate = signature.removeprefix("sha256=").strip().lower()
    for key in [secret] if isinstance(secret, str) else secret:
        if hmac.compare_digest(candidate, expected_signature(key, timestamp, body)):
            return
    raise SignatureError("signature mismatch")


def webhook_id(delivery_id: str | None, body: str) -> str:
    """The sender's delivery id, or a hash of the body so identical redeliveries share one id."""
    return delivery_id or hashlib.sha256(body.encode()).hexdigest()


def field_value(document: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(document, dict) or part not in document:
            return None
        document = document[part]
    return document


def envelope(message_id: str, payload: Any, received_at: int) -> dict[str, Any]:
    """What the consumer receives: the masked payload and the id idempotency is keyed on."""
    return {"webhookId": message_id, "receivedAt": received_at, "payload": payload}


@tracer.capture_method
def enqueue(message: dict[str, Any]) -> None:
    body = json.dumps(message, separators=(",", ":"))
    if BUFFER == "kinesis":
        key = field_value(message["payload"], PARTITION_KEY_FIELD) if PARTITION_KEY_FIELD else None
        kinesis.put_record(StreamName=STREAM_NAME, Data=body.encode(), PartitionKey=str(key or message["webhookId"])[:256])
    else:
        sqs.send_message(QueueUrl=QUEUE_URL, MessageBody=body)


@tracer.capture_method
def record_status(message_id: str, received_at: int) -> None:
    """DynamoDB + SQS: the webhook's status row, RECEIVED now, updated by the consumer."""
    dynamodb.update_item(
        TableName=STATUS_TABLE, Key={"webhookId": {"S": message_id}},
        UpdateExpression="SET #s = if_not_exists(#s, :received), receivedAt = :at, expiresAt = :ttl",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":received": {"S": "RECEIVED"}, ":at": {"N": str(received_at)},
                                   ":ttl": {"N": str(received_at + STATUS_TTL_SECONDS)}})


def signing_key(stage: str) -> str | None:
    """The key labelled ``stage``, or None when no version carries the label (cached either way)."""
    if _absent_until.get(stage, 0.0) > time.monotonic():
        return None
    try:
        return _signing_keys[stage].get(os.environ["SIGNING_SECRET_ID"], max_age=SECRET_MAX_AGE_SECONDS,
                                        VersionStage=stage)  # type: ignore[return-value]
    except GetParameterError:
        if stage == "AWSCURRENT":
            raise  # no current key (or no access to it) is a fault, not a bad signature
        _absent_until[stage] = time.monotonic() + SECRET_MAX_AGE_SECONDS
        return None


def signing_keys() -> Iterator[str]:
    """The keys a sender may sign with now, current first; the others are fetched only when it does not match."""
    for stage in SIGNING_STAGES:
        key = signing_key(stage)
        if key is not None:
            yield key


@app.post("/webhook")
@tracer.capture_method
def receive() -> Response | dict[str, Any]:
    event = app.current_event
    body = event.body or ""
    if event.is_base64_encoded:
        body = base64.b64decode(body).decode()
    try:
        verify(secret=signing_keys(), signature=event.headers.get(SIGNATURE_HEADER),
               timestamp=event.headers.get(TIMESTAMP_HEADER), body=body,
               now=time.time(), window_seconds=REPLAY_WINDOW_SECONDS)
    except SignatureError as error:
        logger.warning("Rejected webhook", extra={"reason": str(error)})
        metrics.add_metric(name="WebhookRejected", unit=MetricUnit.Count, value=1)
        return UNAUTHORIZED
    try:
        payload = json.loads(body)
    except json.JSONDecodeError:
        return Response(status_code=400, content_type="application/json", body='{"message":"Body must be JSON"}')
    message_id = webhook_id(event.headers.get(ID_HEADER), body)
    masked = mask_fields(payload, SENSITIVE_FIELDS)
    received_at = int(time.time())
    logger.append_keys(webhook_id=message_id)
    logger.debug("Webhook payload", extra={"payload": masked})
    enqueue(envelope(message_id, masked, received_at))
    if STATUS_TABLE:
        record_status(message_id, received_at)
    metrics.add_metric(name="WebhookAccepted", unit=MetricUnit.Count, value=1)
    return Response(status_code=202, content_type="application/json", body=json.dumps({"webhookId": message_id}))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
