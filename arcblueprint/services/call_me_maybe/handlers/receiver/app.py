"""Receive a third-party webhook: verify its signature and age, mask it, buffer it once, answer 202.

The receiver does as little as possible so the sender gets a fast answer and the consumer can
process at the pace of the downstream. Every input is checked before anything is written, and a
bad one gets a 4xx with a JSON message (never a crash, so never a 502 and a retry storm); nothing
is buffered unless the signature is valid.

Deduplication is keyed on signed content only: the SHA-256 of the body, or the ``ID_FIELD`` of the
body when the sender puts its event id there. The sender's delivery id header (``ID_HEADER``) is not
covered by the signature, so it is only logged: a captured request replayed under another id is the
same webhook, and cannot take the id of a future one. The receiver claims each key in the
idempotency table (the hash of the body with it) before buffering: a replay of a buffered webhook is
a no-op 202, and the same id with another body is a 409, counted (``WebhookIdConflict``), never
buffered. The consumer is idempotent on the same key.

Environment (set by the component): ``SIGNING_SECRET_ID`` (secret name/ARN, never the value),
``BUFFER`` (``sqs``/``kinesis``), ``QUEUE_URL`` or ``STREAM_NAME``, ``SIGNATURE_HEADER``,
``TIMESTAMP_HEADER``, ``ID_HEADER``, ``ID_FIELD`` (optional), ``REPLAY_WINDOW_SECONDS``,
``SENSITIVE_FIELDS`` (comma list), ``PARTITION_KEY_FIELD``, ``IDEMPOTENCY_TABLE``,
``IDEMPOTENCY_TTL_SECONDS``, ``STATUS_TABLE`` (optional), ``MAX_MESSAGE_BYTES`` (optional).

The signing key is shared with the sender, so a rotation cannot switch both sides at one instant.
A signature is accepted if it matches the key labelled AWSCURRENT, or, during a rotation, the new
key (AWSPENDING, before the rotation function promotes it) or the old one (AWSPREVIOUS, for
``PREVIOUS_KEY_GRACE_SECONDS`` after the last rotation: long enough for the sender to switch,
short enough that a leaked old key does not stay valid for a whole rotation period). Keys are
cached for five minutes; a signature that matches none of them makes the receiver fetch them once
more (at most every ``KEY_REFRESH_SECONDS``), so a sender that switches right after a rotation is
not refused until the cache expires. Any other key is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import time
from typing import TYPE_CHECKING, Any

import boto3
import snapstart  # noqa: F401 - registers the after-restore reseed (SnapStart)
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parameters import GetParameterError, SecretsProvider
from botocore.exceptions import BotoCoreError, ClientError
from clients import lazy
from masking import mask_fields
from tracing import new_tracer

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = new_tracer()  # the X-Ray SDK is imported only when tracing is on
metrics = Metrics()
app = APIGatewayRestResolver()

BUFFER = os.environ.get("BUFFER", "sqs")
QUEUE_URL = os.environ.get("QUEUE_URL", "")
STREAM_NAME = os.environ.get("STREAM_NAME", "")
STATUS_TABLE = os.environ.get("STATUS_TABLE", "")
IDEMPOTENCY_TABLE = os.environ.get("IDEMPOTENCY_TABLE", "")
IDEMPOTENCY_TTL_SECONDS = int(os.environ.get("IDEMPOTENCY_TTL_SECONDS", "86400"))
SIGNATURE_HEADER = os.environ.get("SIGNATURE_HEADER", "X-Signature")
TIMESTAMP_HEADER = os.environ.get("TIMESTAMP_HEADER", "X-Timestamp")
ID_HEADER = os.environ.get("ID_HEADER", "X-Webhook-Id")
ID_FIELD = os.environ.get("ID_FIELD", "")
REPLAY_WINDOW_SECONDS = int(os.environ.get("REPLAY_WINDOW_SECONDS", "300"))
SENSITIVE_FIELDS = tuple(f for f in os.environ.get("SENSITIVE_FIELDS", "").split(",") if f)
PARTITION_KEY_FIELD = os.environ.get("PARTITION_KEY_FIELD", "")
STATUS_TTL_SECONDS = int(os.environ.get("STATUS_TTL_SECONDS", "604800"))
#: The buffered envelope must fit an SQS message (256 KiB by default) and, for the consumer, one
#: EventBridge PutEvents entry (256 KB with its source and detail type): a larger one is a 413, not
#: a message the sender would retry forever.
MAX_MESSAGE_BYTES = int(os.environ.get("MAX_MESSAGE_BYTES", "256000"))
#: Deeper JSON is refused: nothing legitimate nests this deep, and parsers, masking and the bus
#: (1,100 levels) have limits of their own.
MAX_DEPTH = 64

# None where the component gives the function no such resource: only the configured paths use a client.
sqs: Any = lazy(lambda: boto3.client("sqs")) if BUFFER == "sqs" else None
kinesis: Any = lazy(lambda: boto3.client("kinesis")) if BUFFER == "kinesis" else None
dynamodb: Any = lazy(lambda: boto3.client("dynamodb")) if STATUS_TABLE or IDEMPOTENCY_TABLE else None

#: Staging labels whose key signs a valid webhook, in the order they are tried (the usual one first).
SIGNING_STAGES = ("AWSCURRENT", "AWSPENDING", "AWSPREVIOUS")
SECRET_MAX_AGE_SECONDS = 300
#: How long after a rotation the old key (AWSPREVIOUS) still verifies (set by the component).
PREVIOUS_KEY_GRACE_SECONDS = int(os.environ.get("PREVIOUS_KEY_GRACE_SECONDS", "86400"))
#: A mismatch refetches the keys at most this often, so bad signatures cannot flood Secrets Manager.
KEY_REFRESH_SECONDS = 30
# Powertools caches a secret by name only (not by VersionStage), so each label gets its own
# provider, and so its own cache; the three share one client.
_secretsmanager = lazy(lambda: boto3.client("secretsmanager"))
_signing_keys = {
    stage: lazy(lambda: SecretsProvider(boto3_client=_secretsmanager.resolve())) for stage in SIGNING_STAGES
}
# SnapStart: the clients (and the key providers) are in the snapshot, loaded once when the version is published.
snapstart.create_before_snapshot(sqs, kinesis, dynamodb, _secretsmanager, *_signing_keys.values())
#: Label -> until when it is known to have no version (outside a rotation): a flood of bad
#: signatures must not turn into a flood of GetSecretValue calls.
_absent_until: dict[str, float] = {}


class _KeyClock:
    """What the receiver remembers about its keys between invocations (monotonic seconds)."""

    #: When the keys were last fetched because a signature matched none of them.
    last_forced_refresh = float("-inf")
    #: When the current key's creation time was read, and that time (epoch seconds; None if unknown).
    rotation_read_at = float("-inf")
    rotated_at: float | None = None


_clock = _KeyClock()

_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")
#: A sender's delivery id worth logging: printable, short.
_DELIVERY_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
#: A webhook id from the body: printable ASCII, at most 256 characters (it keys DynamoDB items).
_BODY_ID = re.compile(r"[\x21-\x7e]{1,256}")
CLAIM_PREFIX = "webhook-claim#"


class SignatureError(Exception):
    """The request is not signed with the shared secret, or the signature is too old."""


class BadRequestError(Exception):
    """The request can never be accepted as sent: answered with its status and message."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


class ConflictError(BadRequestError):
    """The webhook id was received before with another body."""

    def __init__(self) -> None:
        super().__init__(409, "This webhook id was received before with a different body")


def json_response(status_code: int, body: dict[str, Any]) -> Response:
    return Response(status_code=status_code, content_type="application/json", body=json.dumps(body))


UNAUTHORIZED = Response(status_code=401, content_type="application/json", body='{"message":"Unauthorized"}')


def expected_signature(secret: str, timestamp: str, body: str) -> str:
    """Hex HMAC-SHA256 of ``<timestamp>.<body>``: signing the timestamp too stops replays with a new date."""
    return hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()


def verify(
    *,
    secret: str | Iterable[str],
    signature: str | None,
    timestamp: str | None,
    body: str,
    now: float,
    window_seconds: int,
) -> None:
    """Raise :class:`SignatureError` unless the signature matches and the timestamp is within the window.

    ``secret`` is one key or the keys valid right now (tried in order, fetched lazily if an iterator).
    Only a well-formed signature is compared (``compare_digest`` refuses non-ASCII text).
    """
    if not signature or not timestamp:
        raise SignatureError("missing signature or timestamp")
    if not _UNIX_SECONDS.fullmatch(timestamp):
        raise SignatureError("timestamp is not unix seconds")
    if abs(now - int(timestamp)) > window_seconds:
        raise SignatureError("timestamp outside the replay window")
    candidate = signature.removeprefix("sha256=").strip().lower()
    if not _HEX_SHA256.fullmatch(candidate):
        raise SignatureError("signature is not a hex SHA-256")
    for key in [secret] if isinstance(secret, str) else secret:
        if hmac.compare_digest(candidate, expected_signature(key, timestamp, body)):
            return
    raise SignatureError("signature mismatch")


def content_hash(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def field_value(document: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(document, dict) or part not in document:
            return None
        document = document[part]
    return document


def webhook_key(payload: Any, body: str) -> str:
    """The key deduplication uses: the body's ``ID_FIELD`` (signed), or the SHA-256 of the body."""
    if not ID_FIELD:
        return content_hash(body)
    value = field_value(payload, ID_FIELD)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _BODY_ID.fullmatch(value):
        raise BadRequestError(400, f"The body must have a printable {ID_FIELD} of at most 256 characters")
    return value


def envelope(message_id: str, payload: Any, received_at: int) -> dict[str, Any]:
    """What the consumer receives: the masked payload and the id idempotency is keyed on."""
    return {"webhookId": message_id, "receivedAt": received_at, "payload": payload}


def read_body(event: Any) -> str:
    """The body as the sender signed it (UTF-8 text), or :class:`BadRequestError`."""
    body = event.get("body")
    if body is None:
        return ""
    if not isinstance(body, str):
        raise BadRequestError(400, "The body must be text")
    if event.get("isBase64Encoded") is True:
        try:
            return base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
            raise BadRequestError(400, "The body must be UTF-8 JSON") from None
    try:
        body.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from a \\ud800 escape in the event
        raise BadRequestError(400, "The body must be UTF-8 JSON") from None
    return body


def too_deep(document: Any, limit: int) -> bool:
    """Whether ``document`` nests deeper than ``limit`` (iterative: no recursion on hostile input)."""
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_payload(body: str) -> Any:
    try:
        payload = json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise BadRequestError(400, "The body must be JSON") from None
    if too_deep(payload, MAX_DEPTH):
        raise BadRequestError(400, f"The body must not nest deeper than {MAX_DEPTH} levels")
    return payload


@tracer.capture_method
def claim(key: str, digest: str, now: int) -> str:
    """Claim ``key`` for the body whose hash is ``digest``: ``"new"``, ``"pending"`` (claimed, not yet
    buffered: a retry after a failure) or ``"buffered"`` (a replay); :class:`ConflictError` if the key
    was claimed for another body."""
    item_key = {"id": {"S": CLAIM_PREFIX + key}}
    try:
        dynamodb.put_item(
            TableName=IDEMPOTENCY_TABLE,
            Item={
                **item_key,
                "contentHash": {"S": digest},
                "claim": {"S": "RECEIVED"},
                "expiration": {"N": str(now + IDEMPOTENCY_TTL_SECONDS)},
            },
            ConditionExpression="attribute_not_exists(id) OR expiration < :now",
            ExpressionAttributeValues={":now": {"N": str(now)}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        return "new"
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        old = error.response.get("Item") or dynamodb.get_item(
            TableName=IDEMPOTENCY_TABLE, Key=item_key, ConsistentRead=True
        ).get("Item", {})
    if old.get("contentHash", {}).get("S") != digest:
        raise ConflictError
    return "buffered" if old.get("claim", {}).get("S") == "BUFFERED" else "pending"


@tracer.capture_method
def mark_buffered(key: str) -> None:
    """After the buffer took the webhook: a replay from now on is a no-op."""
    dynamodb.update_item(
        TableName=IDEMPOTENCY_TABLE,
        Key={"id": {"S": CLAIM_PREFIX + key}},
        UpdateExpression="SET #c = :buffered",
        ExpressionAttributeNames={"#c": "claim"},
        ExpressionAttributeValues={":buffered": {"S": "BUFFERED"}},
    )


@tracer.capture_method
def enqueue(message: dict[str, Any], body: str) -> None:
    if BUFFER == "kinesis":
        key = field_value(message["payload"], PARTITION_KEY_FIELD) if PARTITION_KEY_FIELD else None
        partition_key = str(key or message["webhookId"])[:256]  # Kinesis takes at most 256 characters
        kinesis.put_record(StreamName=STREAM_NAME, Data=body.encode(), PartitionKey=partition_key)
    else:
        sqs.send_message(QueueUrl=QUEUE_URL, MessageBody=body)


@tracer.capture_method
def record_status(message_id: str, received_at: int) -> None:
    """DynamoDB + SQS: the webhook's status row, RECEIVED now, updated by the consumer."""
    dynamodb.update_item(
        TableName=STATUS_TABLE,
        Key={"webhookId": {"S": message_id}},
        UpdateExpression="SET #s = if_not_exists(#s, :received), receivedAt = :at, expiresAt = :ttl",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={
            ":received": {"S": "RECEIVED"},
            ":at": {"N": str(received_at)},
            ":ttl": {"N": str(received_at + STATUS_TTL_SECONDS)},
        },
    )


def signing_key(stage: str, *, refresh: bool = False) -> str | None:
    """The key labelled ``stage``, or None when no version carries the label (cached either way)."""
    if not refresh and _absent_until.get(stage, 0.0) > time.monotonic():
        return None
    try:
        return _signing_keys[stage].get(
            os.environ["SIGNING_SECRET_ID"], max_age=SECRET_MAX_AGE_SECONDS, force_fetch=refresh, VersionStage=stage
        )
    except GetParameterError:
        if stage == "AWSCURRENT":
            raise  # no current key (or no access to it) is a fault, not a bad signature
        _absent_until[stage] = time.monotonic() + SECRET_MAX_AGE_SECONDS
        return None


def last_rotated(*, refresh: bool = False) -> float | None:
    """Epoch seconds since which the current key is current: its version's creation (cached like the keys).

    A rotation creates the new version (AWSPENDING) and then labels it AWSCURRENT, so this is when the
    rotation began, the earliest the old key can have been replaced.
    """
    if refresh or time.monotonic() - _clock.rotation_read_at > SECRET_MAX_AGE_SECONDS:
        current = _secretsmanager.get_secret_value(SecretId=os.environ["SIGNING_SECRET_ID"], VersionStage="AWSCURRENT")
        when = current.get("CreatedDate")
        _clock.rotated_at = when.timestamp() if when is not None else None
        _clock.rotation_read_at = time.monotonic()
    return _clock.rotated_at


def signing_keys(*, refresh: bool = False) -> Iterator[str]:
    """The keys a sender may sign with now, current first; the others are fetched only when it does not match."""
    for stage in SIGNING_STAGES:
        if stage == "AWSPREVIOUS":
            rotated = last_rotated(refresh=refresh)
            if rotated is None or time.time() - rotated > PREVIOUS_KEY_GRACE_SECONDS:
                continue  # the old key's grace period is over (or there never was a rotation)
        key = signing_key(stage, refresh=refresh)
        if key is not None:
            yield key


def verify_with_fresh_keys(**request: Any) -> None:
    """:func:`verify` with the cached keys; on a mismatch, once more with keys fetched now (rate-limited)."""
    try:
        verify(secret=signing_keys(), **request)
    except SignatureError as error:
        if str(error) != "signature mismatch" or time.monotonic() - _clock.last_forced_refresh < KEY_REFRESH_SECONDS:
            raise
        _clock.last_forced_refresh = time.monotonic()
        verify(secret=signing_keys(refresh=True), **request)


def header(headers: Any, name: str) -> str | None:
    value = headers.get(name) if headers is not None else None
    return value if isinstance(value, str) else None


def accept(event: Any) -> Response:
    """Check everything about the request, then claim, record, buffer: in that order."""
    body = read_body(event.raw_event)
    if len(body.encode()) > MAX_MESSAGE_BYTES:
        raise BadRequestError(413, f"The body must be at most {MAX_MESSAGE_BYTES} bytes")
    headers = event.headers
    try:
        verify_with_fresh_keys(
            signature=header(headers, SIGNATURE_HEADER),
            timestamp=header(headers, TIMESTAMP_HEADER),
            body=body,
            now=time.time(),
            window_seconds=REPLAY_WINDOW_SECONDS,
        )
    except SignatureError as error:
        logger.warning("Rejected webhook", extra={"reason": str(error)})
        metrics.add_metric(name="WebhookRejected", unit=MetricUnit.Count, value=1)
        return UNAUTHORIZED
    delivery_id = header(headers, ID_HEADER)
    if delivery_id is not None and not _DELIVERY_ID.fullmatch(delivery_id):
        raise BadRequestError(400, f"{ID_HEADER} must be at most 128 letters, digits or ._:@/+=-")
    payload = parse_payload(body)
    key, digest = webhook_key(payload, body), content_hash(body)
    received_at = int(time.time())
    message = envelope(key, mask_fields(payload, SENSITIVE_FIELDS), received_at)
    message_body = json.dumps(message, separators=(",", ":"))  # ASCII: what SQS and Kinesis take
    if len(message_body) > MAX_MESSAGE_BYTES:
        raise BadRequestError(413, f"The webhook must be at most {MAX_MESSAGE_BYTES} bytes once buffered")
    logger.append_keys(webhook_id=key, sender_delivery_id=delivery_id)
    logger.debug("Webhook payload", extra={"payload": message["payload"]})

    state = claim(key, digest, received_at) if IDEMPOTENCY_TABLE else "new"
    if state == "buffered":
        metrics.add_metric(name="WebhookReplayed", unit=MetricUnit.Count, value=1)
        return json_response(202, {"webhookId": key})
    if STATUS_TABLE:
        record_status(key, received_at)
    enqueue(message, message_body)
    if IDEMPOTENCY_TABLE:
        try:
            mark_buffered(key)
        except (BotoCoreError, ClientError):  # it is buffered: a replay will buffer it again, and the consumer dedupes
            logger.warning("Webhook buffered but its claim not marked", exc_info=True)
            metrics.add_metric(name="WebhookClaimUnmarked", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="WebhookAccepted", unit=MetricUnit.Count, value=1)
    return json_response(202, {"webhookId": key})


@app.post("/webhook")
@tracer.capture_method
def receive() -> Response:
    try:
        return accept(app.current_event)
    except ConflictError as error:
        logger.warning("Webhook id reused with another body")
        metrics.add_metric(name="WebhookIdConflict", unit=MetricUnit.Count, value=1)
        return json_response(error.status_code, {"message": error.message})
    except BadRequestError as error:
        metrics.add_metric(name="WebhookInvalid", unit=MetricUnit.Count, value=1)
        return json_response(error.status_code, {"message": error.message})


@app.exception_handler([BotoCoreError, ClientError, GetParameterError])
def unavailable(error: Exception) -> Response:
    """A dependency failed: the sender should retry, and learns nothing about ours."""
    logger.exception("Dependency failed")
    return json_response(503, {"message": "Service unavailable, retry later"})


def internal_error() -> dict[str, Any]:
    return {
        "statusCode": 500,
        "headers": {"Content-Type": "application/json"},
        "body": '{"message":"Internal error"}',
        "isBase64Encoded": False,
    }


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        return app.resolve(event, context)
    except Exception:  # a malformed event or a bug: a JSON 500, never a stack trace to the caller
        logger.exception("Unhandled error")
        return internal_error()
