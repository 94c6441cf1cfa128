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

import base64
import binascii
import json
import re
from typing import Any

__all__ = ["MALFORMED", "BodyError", "bad_request", "json_body", "rest_event", "schema_message"]

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


class BodyError(ValueError):
    """The body is not a JSON document this API takes: ``status`` 400, or 413 when it is too large."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _has_lone_surrogate(document: Any) -> bool:
    """Whether a string in ``document`` is not valid Unicode (JSON's ``\\udc80`` escapes allow it)."""
    stack = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(value, dict):
            stack += [*value.keys(), *value.values()]
        elif isinstance(value, list):
            stack += value
    return False


def json_body(body: Any, is_base64: Any, *, max_bytes: int) -> Any:
    """The request body as a JSON document: UTF-8 (base64 when ``is_base64``), at most ``max_bytes``,
    no ``NaN``/``Infinity``, no integer over Python's digit limit, no nesting beyond the parser's
    stack, no unpaired surrogates. Anything else is a ``BodyError`` with a message for the client."""
    if not isinstance(body, str) or not body:
        raise BodyError("Request body must be JSON")
    try:
        raw = base64.b64decode(body, validate=True) if is_base64 is True else body.encode("utf-8")
    except binascii.Error:
        raise BodyError("Request body is not valid base64") from None
    except ValueError:  # a str with unpaired surrogates
        raise BodyError("Request body must be UTF-8") from None
    if len(raw) > max_bytes:
        raise BodyError(f"Request body is over {max_bytes} bytes", status=413)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyError("Request body must be UTF-8") from None
    try:
        document = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):  # JSONDecodeError, NaN, over-long integers, nesting past the parser
        raise BodyError("Request body must be JSON") from None
    if _has_lone_surrogate(document):
        raise BodyError("Request body must be UTF-8")
    return document


_PLAIN_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")


def schema_message(error: Any, document: Any) -> str:
    """A schema validation message for the client. Unknown properties are named only when their names
    are plain (letters, digits, ``_``, ``-``): the message never echoes arbitrary client text."""
    if getattr(error, "rule", None) == "additionalProperties" and isinstance(document, dict):
        allowed = set((getattr(error, "definition", None) or {}).get("properties", {}))
        unknown = sorted(k for k in document if k not in allowed)
        plain = [k for k in unknown if isinstance(k, str) and _PLAIN_NAME.fullmatch(k)]
        named = ", ".join(plain[:5]) + (" and others" if len(plain) < len(unknown) or len(plain) > 5 else "")
        return f"{getattr(error, 'name', 'data')} has properties that are not allowed: {named or 'unnamed'}"
    return str(getattr(error, "validation_message", "") or "does not match the schema")


def bad_request(message: str = MALFORMED) -> dict[str, Any]:
    """A 400 proxy response with the JSON error body the resolvers use."""
    return {
        "statusCode": 400,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"statusCode": 400, "message": message}),
    }
