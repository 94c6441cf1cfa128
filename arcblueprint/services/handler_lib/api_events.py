"""API Gateway (REST) proxy events, checked and normalized before a resolver reads them.

API Gateway always sends the documented shape, but a handler must not depend on that for its
safety: a malformed event (another caller, a test harness, a changed integration) must give a
400, not a crash half-way through a route that has already written something. ``rest_event``
returns a copy where every field a resolver reads has its documented type (string maps for
headers, query strings, path parameters and stage variables, lists of strings for their
multi-value forms, a string or ``None`` body, a boolean ``isBase64Encoded``), or ``None`` when the
event cannot be a request at all (no method or path).

Pure and dependency-free, shipped into each API function's zip by ``shared.txt``.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["MALFORMED", "bad_request", "rest_event"]

#: The answer to an event that is not a request.
MALFORMED = "Malformed request"

_STRING_MAPS = ("headers", "queryStringParameters", "pathParameters", "stageVariables")
_LIST_MAPS = ("multiValueHeaders", "multiValueQueryStringParameters")
#: Longest header, query or path value kept (API Gateway's own limits are 10 KB per header line).
_MAX_VALUE_CHARS = 16 * 1024


def _string_map(value: Any) -> dict[str, str] | None:
    if not isinstance(value, dict):
        return None
    kept = {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str) and len(v) <= _MAX_VALUE_CHARS}
    return kept or None


def _list_map(value: Any) -> dict[str, list[str]] | None:
    if not isinstance(value, dict):
        return None
    kept = {}
    for key, items in value.items():
        if isinstance(key, str) and isinstance(items, list):
            strings = [v for v in items if isinstance(v, str) and len(v) <= _MAX_VALUE_CHARS]
            if strings:
                kept[key] = strings
    return kept or None


def rest_event(event: Any) -> dict[str, Any] | None:
    """A copy of ``event`` with the documented types, or ``None`` if it has no method and path."""
    if not isinstance(event, dict):
        return None
    method, path = event.get("httpMethod"), event.get("path")
    if not isinstance(method, str) or not isinstance(path, str) or not path.startswith("/") or len(path) > 8192:
        return None
    clean = dict(event)
    for key in _STRING_MAPS:
        clean[key] = _string_map(event.get(key))
    for key in _LIST_MAPS:
        clean[key] = _list_map(event.get(key))
    body = event.get("body")
    clean["body"] = body if isinstance(body, str) else None
    clean["isBase64Encoded"] = event.get("isBase64Encoded") is True
    resource = event.get("resource")
    clean["resource"] = resource if isinstance(resource, str) else path
    context = event.get("requestContext")
    context = dict(context) if isinstance(context, dict) else {}
    for key in ("identity", "authorizer"):
        if not isinstance(context.get(key), dict):
            context.pop(key, None)
    if "authorizer" in context and not isinstance(context["authorizer"].get("claims"), dict | None):
        context["authorizer"] = {k: v for k, v in context["authorizer"].items() if k != "claims"}
    for key in ("requestId", "stage", "resourcePath", "httpMethod", "path"):
        if not isinstance(context.get(key), str):
            context.pop(key, None)
    clean["requestContext"] = context
    return clean


def bad_request(message: str = MALFORMED) -> dict[str, Any]:
    """A 400 proxy response with the JSON error body the resolvers use."""
    return {"statusCode": 400, "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"statusCode": 400, "message": message})}
