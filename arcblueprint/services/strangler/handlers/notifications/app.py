"""Notifications, moved out of the legacy monolith: renders one message for iOS, Android or web push.

The first route the Strangler moves (the HSBC example of the talk): stateless, so it can run
beside legacy at any percentage and roll back by config alone.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.exceptions import BadRequestError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.validation import SchemaValidationError, validate

logger = Logger()
tracer = Tracer()
metrics = Metrics()
#: The facade path this service is mounted at (``/api/notifications``); routes below are relative to it.
ROUTE_PATH = os.environ.get("ROUTE_PATH", "/notifications")
app = APIGatewayRestResolver(strip_prefixes=[ROUTE_PATH])

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["platform", "title", "body"],
    "properties": {
        "platform": {"enum": ["ios", "android", "web"]},
        "title": {"type": "string", "minLength": 1, "maxLength": 100},
        "body": {"type": "string", "minLength": 1, "maxLength": 1000},
        "badge": {"type": "integer", "minimum": 0, "maximum": 9999},
        "data": {"type": "object"},
    },
}


def render(message: dict[str, Any]) -> dict[str, Any]:
    """The provider payload for one platform (APNs, FCM or Web Push)."""
    platform, title, body = message["platform"], message["title"], message["body"]
    data = message.get("data", {})
    if platform == "ios":
        aps: dict[str, Any] = {"alert": {"title": title, "body": body}, "sound": "default"}
        if "badge" in message:
            aps["badge"] = message["badge"]
        return {"aps": aps, **data}
    if platform == "android":
        return {"message": {"notification": {"title": title, "body": body},
                            "data": {k: str(v) for k, v in data.items()}, "android": {"priority": "high"}}}
    return {"notification": {"title": title, "body": body, "data": data}}


@app.post("/render")
@tracer.capture_method
def render_route() -> dict[str, Any]:
    message = app.current_event.json_body
    try:
        validate(event=message, schema=SCHEMA)
    except SchemaValidationError as error:
        raise BadRequestError(f"Invalid notification: {error.validation_message}") from None
    metrics.add_metric(name="NotificationsRendered", unit=MetricUnit.Count, value=1)
    logger.info("Rendered", extra={"platform": message["platform"]})
    return {"platform": message["platform"], "payload": render(message)}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
