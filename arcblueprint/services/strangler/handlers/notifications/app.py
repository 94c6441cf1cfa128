"""Notifications, moved out of the legacy monolith: renders one message for iOS, Android or web push.

The first route the Strangler moves (the HSBC example of the talk): stateless, so it can run
beside legacy at any percentage and roll back by config alone.

Every bad request is a 4xx with a JSON ``message`` and nothing about the function's internals: a
body that is not UTF-8 JSON (or over ``MAX_BODY_BYTES``, 413), a message the schema refuses, a
non-integer ``badge`` (``1.0``, ``true``), a ``data`` object nested deeper than ``MAX_DATA_DEPTH`` or
naming a key the rendered payload owns (``aps``). Anything unexpected is a 500 with a generic message.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import snapstart  # noqa: F401 - registers the after-restore reseed (SnapStart)
from api_events import BodyError, bad_request, json_body, rest_event, schema_message
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.exceptions import BadRequestError, InternalServerError, ServiceError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.validation import SchemaValidationError, validate
from masking import masked_json
from tracing import new_tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(json_serializer=masked_json)  # no log line carries a card number or an always-masked field
tracer = new_tracer()  # the X-Ray SDK is imported only when tracing is on
metrics = Metrics()
#: The facade path this service is mounted at (``/api/notifications``); routes below are relative to it.
ROUTE_PATH = os.environ.get("ROUTE_PATH", "/notifications")
app = APIGatewayRestResolver(strip_prefixes=[ROUTE_PATH])

#: APNs and FCM take 4 KB payloads; a request twice that size is not a notification.
MAX_BODY_BYTES = 8 * 1024
MAX_DATA_DEPTH = 8
#: Keys of the rendered payloads that ``data`` must not name (iOS custom keys sit beside ``aps``).
RESERVED_DATA_KEYS = frozenset({"aps"})

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["platform", "title", "body"],
    "properties": {
        "platform": {"enum": ["ios", "android", "web"]},
        "title": {"type": "string", "minLength": 1, "maxLength": 100},
        "body": {"type": "string", "minLength": 1, "maxLength": 1000},
        "badge": {"type": "integer", "minimum": 0, "maximum": 9999},
        "data": {"type": "object", "maxProperties": 50},
    },
}


class PayloadTooLargeError(ServiceError):
    def __init__(self, msg: str) -> None:
        super().__init__(413, msg)


def parse_body(body: Any, is_base64: Any) -> Any:
    """The request's JSON document; a 4xx for anything else (never an exception of the parser's)."""
    try:
        return json_body(body, is_base64, max_bytes=MAX_BODY_BYTES)
    except BodyError as error:
        raise (PayloadTooLargeError(str(error)) if error.status == 413 else BadRequestError(str(error))) from None


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 0)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DATA_DEPTH:
            break
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack += [(child, depth + 1) for child in children if isinstance(child, dict | list)]
    return deepest


def validated(message: Any) -> dict[str, Any]:
    try:
        validate(event=message, schema=SCHEMA)
    except SchemaValidationError as error:
        raise BadRequestError(f"Invalid notification: {schema_message(error, message)}") from None
    if "badge" in message and type(message["badge"]) is not int:  # JSON 1.0 and true are not badges
        raise BadRequestError("Invalid notification: data.badge must be a whole number")
    data = message.get("data", {})
    if _depth(data) > MAX_DATA_DEPTH:
        raise BadRequestError(f"Invalid notification: data is nested deeper than {MAX_DATA_DEPTH} levels")
    reserved = sorted(RESERVED_DATA_KEYS & set(data))
    if reserved:
        raise BadRequestError(f"Invalid notification: data.{reserved[0]} is set by the renderer")
    return message


def render(message: dict[str, Any]) -> dict[str, Any]:
    """The provider payload for one platform (APNs, FCM or Web Push)."""
    platform, title, body = message["platform"], message["title"], message["body"]
    data = message.get("data", {})
    if platform == "ios":
        aps: dict[str, Any] = {"alert": {"title": title, "body": body}, "sound": "default"}
        if "badge" in message:
            aps["badge"] = message["badge"]
        return {**data, "aps": aps}  # custom keys beside aps, never instead of it
    if platform == "android":
        # FCM data values are strings: nested values travel as their JSON text.
        strings = {k: v if isinstance(v, str) else json.dumps(v, separators=(",", ":")) for k, v in data.items()}
        return {
            "message": {
                "notification": {"title": title, "body": body},
                "data": strings,
                "android": {"priority": "high"},
            }
        }
    return {"notification": {"title": title, "body": body, "data": data}}


@app.exception_handler(Exception)
def _unexpected(error: Exception) -> None:
    """4xx errors pass through as they are; anything else is a 500 that names nothing internal."""
    if isinstance(error, ServiceError):
        raise error
    logger.exception("Unexpected error")
    raise InternalServerError("Internal server error")


@app.post("/render")
@tracer.capture_method
def render_route() -> dict[str, Any]:
    event = app.current_event
    message = validated(parse_body(event.get("body"), event.get("isBase64Encoded")))
    metrics.add_metric(name="NotificationsRendered", unit=MetricUnit.Count, value=1)
    logger.info("Rendered", extra={"platform": message["platform"]})
    return {"platform": message["platform"], "payload": render(message)}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = rest_event(event)  # the documented types, or None: a malformed event is a 400, not a crash
    if request is None:
        return bad_request()
    try:
        return app.resolve(request, context)
    except Exception:  # noqa: BLE001 - routes answer their own errors; this is an event no API sends
        logger.exception("Malformed event")
        return bad_request()
