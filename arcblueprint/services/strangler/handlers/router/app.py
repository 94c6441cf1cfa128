"""Splits a weighted route between its new Lambda service and the legacy backend.

API Gateway has no per-route traffic split (stage canaries split a whole stage), so a weighted
route is integrated with this function: it hashes the caller (or the request) into 100 buckets
and sends the first ``percent`` buckets to the new function's ``live`` alias (a synchronous
invoke with the same proxy event) and the rest to legacy over HTTP. Hashing the caller keeps each
user on one side while the percentage grows, so a session never flips between implementations.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

logger = Logger()
tracer = Tracer()
metrics = Metrics()

#: Route path -> {"percent": 0-100, "function": alias ARN}; set by the component from the route table.
ROUTES: dict[str, dict[str, Any]] = json.loads(os.environ.get("ROUTES", "{}"))
LEGACY_URL = os.environ.get("LEGACY_URL", "").rstrip("/")
LEGACY_TIMEOUT_SECONDS = float(os.environ.get("LEGACY_TIMEOUT_SECONDS", "10"))
STICKINESS = os.environ.get("STICKINESS", "caller")

lambda_client = boto3.client("lambda")

# Hop-by-hop headers (RFC 9110 7.6.1) and ones the HTTP client sets itself are not forwarded.
_DROPPED_HEADERS = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
                    "upgrade", "host", "content-length", "accept-encoding"}


def route_of(resource: str) -> str:
    """The configured route a request matched: ``/orders/{proxy+}`` -> ``/orders``."""
    return resource.removesuffix("/{proxy+}") or "/"


def split_key(event: dict[str, Any], stickiness: str) -> str:
    context = event.get("requestContext") or {}
    if stickiness == "request":
        return context.get("requestId", "")
    claims = (context.get("authorizer") or {}).get("claims") or {}
    identity = context.get("identity") or {}
    return claims.get("sub") or identity.get("caller") or identity.get("sourceIp") or context.get("requestId", "")


def bucket(route: str, key: str) -> int:
    """0-99, stable for a (route, key): the same caller lands in the same bucket on every call."""
    return int.from_bytes(hashlib.sha256(f"{route}\n{key}".encode()).digest()[:8], "big") % 100


def choose(route: str, percent: int, key: str) -> str:
    return "new" if bucket(route, key) < percent else "legacy"


def _error(status: int, message: str) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"message": message}), "isBase64Encoded": False}


@tracer.capture_method
def to_new(function_arn: str, event: dict[str, Any]) -> dict[str, Any]:
    try:
        result = lambda_client.invoke(FunctionName=function_arn, InvocationType="RequestResponse",
                                      Payload=json.dumps(event).encode())
    except (ClientError, BotoCoreError):
        logger.exception("Invoking the new service failed", extra={"function": function_arn})
        metrics.add_metric(name="NewServiceErrors", unit=MetricUnit.Count, value=1)
        return _error(502, "The service is unavailable")
    payload = json.loads(result["Payload"].read() or b"null")
    if result.get("FunctionError") or not isinstance(payload, dict) or "statusCode" not in payload:
        logger.error("The new service returned an error", extra={"function": function_arn,
                                                                 "function_error": result.get("FunctionError")})
        metrics.add_metric(name="NewServiceErrors", unit=MetricUnit.Count, value=1)
        return _error(502, "The service failed")
    return payload


def legacy_request(event: dict[str, Any], base_url: str) -> urllib.request.Request:
    """The HTTP request legacy would have received without the facade (same method, path, query, body)."""
    query = event.get("multiValueQueryStringParameters") or {}
    url = base_url + urllib.parse.quote(event.get("path") or "/")
    if query:
        url += "?" + urllib.parse.urlencode([(k, v) for k, values in query.items() for v in values])
    headers = {k: v for k, v in (event.get("headers") or {}).items() if k.lower() not in _DROPPED_HEADERS}
    source_ip = ((event.get("requestContext") or {}).get("identity") or {}).get("sourceIp")
    if source_ip:
        headers["X-Forwarded-For"] = ", ".join(filter(None, [headers.pop("X-Forwarded-For", None), source_ip]))
    body = event.get("body")
    data = None if body is None else (base64.b64decode(body) if event.get("isBase64Encoded") else body.encode())
    return urllib.request.Request(url, data=data, headers=headers, method=event.get("httpMethod", "GET"))


def _proxy_response(status: int, headers: Any, raw: bytes) -> dict[str, Any]:
    try:
        body, encoded = raw.decode("utf-8"), False
    except UnicodeDecodeError:
        body, encoded = base64.b64encode(raw).decode(), True
    dropped = _DROPPED_HEADERS | {"content-encoding"}
    multi: dict[str, list[str]] = {}
    for name, value in headers.items():
        if name.lower() not in dropped:
            multi.setdefault(name, []).append(value)
    return {"statusCode": status, "multiValueHeaders": multi, "body": body, "isBase64Encoded": encoded}


@tracer.capture_method
def to_legacy(event: dict[str, Any], base_url: str, timeout_seconds: float) -> dict[str, Any]:
    request = legacy_request(event, base_url)
    try:
        with urllib.request.urlopen(request, timeout=timeout_seconds) as response:  # noqa: S310 (URL from config)
            return _proxy_response(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:  # legacy answered: its status is the answer
        return _proxy_response(error.code, error.headers, error.read())
    except (TimeoutError, socket.timeout):
        logger.error("Legacy backend timed out", extra={"url": request.full_url})
        metrics.add_metric(name="LegacyErrors", unit=MetricUnit.Count, value=1)
        return _error(504, "The backend did not answer in time")
    except (urllib.error.URLError, ConnectionError, OSError) as error:
        logger.error("Legacy backend unreachable", extra={"url": request.full_url, "error": str(error)})
        metrics.add_metric(name="LegacyErrors", unit=MetricUnit.Count, value=1)
        return _error(502, "The backend is unavailable")


def route_request(event: dict[str, Any]) -> dict[str, Any]:
    route = route_of(event.get("resource", "/"))
    config = ROUTES.get(route)
    if config is None:  # the facade integrates only weighted routes with this function
        logger.error("Request for a route that is not weighted", extra={"route": route})
        return _error(404, "Not found")
    side = choose(route, int(config["percent"]), split_key(event, STICKINESS))
    metrics.add_dimension(name="route", value=route)
    metrics.add_metric(name="RoutedToNew" if side == "new" else "RoutedToLegacy", unit=MetricUnit.Count, value=1)
    logger.info("Routed", extra={"route": route, "side": side, "percent_new": config["percent"]})
    if side == "new":
        return to_new(config["function"], event)
    return to_legacy(event, LEGACY_URL, LEGACY_TIMEOUT_SECONDS)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return route_request(event)
