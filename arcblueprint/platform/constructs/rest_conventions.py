"""How REST API (API Gateway v1) stages are logged and throttled (pure: no Pulumi here).

Used by :mod:`~arcblueprint.platform.constructs.rest_stage` and by every pattern whose functions sit behind a
REST API integration (their specs size the functions' timeouts with it, so it stays importable without Pulumi).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "ACCESS_LOG_FORMAT",
    "INTEGRATION_MARGIN_MS",
    "function_timeout_seconds",
    "method_settings_path",
    "usage_plan_throttle_path",
]

#: How much sooner than its API Gateway integration a Lambda function times out. The integration's
#: clock runs from the request, through a cold start, to the response; a function allowed as long
#: as the integration waits is cut off by a 504 while it still works (and the caller retries).
INTEGRATION_MARGIN_MS = 1000

#: One JSON object per request (CloudWatch Logs Insights reads the fields without parsing rules).
#: Covers who called (sub/caller), what (method, resource), the outcome (status, error) and timing.
ACCESS_LOG_FIELDS: Mapping[str, str] = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "requestTime": "$context.requestTime",
    "requestTimeEpoch": "$context.requestTimeEpoch",
    "ip": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    "caller": "$context.identity.caller",
    "sub": "$context.authorizer.claims.sub",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "path": "$context.path",
    "protocol": "$context.protocol",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integration.latency",
    "integrationStatus": "$context.integration.status",
    "integrationError": "$context.integration.error",
    "authorizerError": "$context.authorizer.error",
    "errorMessage": "$context.error.message",
    "errorType": "$context.error.responseType",
    "xrayTraceId": "$context.xrayTraceId",
}

ACCESS_LOG_FORMAT = json.dumps(ACCESS_LOG_FIELDS, separators=(",", ":"))


def method_settings_path(resource_path: str, http_method: str) -> str:
    """``method_path`` of ``aws.apigateway.MethodSettings`` for one method.

    Stage method settings are addressed with JSON Pointers (``/<resource path>/<method>/throttling/...``),
    so every ``/`` of the resource path is escaped as ``~1``, the leading one included, as
    CloudFormation documents for ``MethodSetting.ResourcePath``: ``/orders/{id}`` GET ->
    ``~1orders~1{id}/GET``; the root resource is an escaped bare ``/`` (``~1/GET``: the provider
    prepends the pointer's own ``/``, so an unescaped ``/GET`` would become ``//GET``). A nested path left
    unescaped is stored under a key no method matches and silently not applied
    (terraform-provider-aws#9738).
    """
    if not resource_path.startswith("/"):
        raise ValueError(f"resource path must start with '/': {resource_path!r}")
    if resource_path == "/":
        return f"~1/{http_method.upper()}"
    return f"{resource_path.replace('~', '~0').replace('/', '~1')}/{http_method.upper()}"


def usage_plan_throttle_path(resource_path: str, http_method: str) -> str:
    """``path`` of a usage plan's per-method throttle: ``/orders/{id}/GET`` (plain slashes)."""
    return f"{resource_path}/{http_method.upper()}"


def function_timeout_seconds(integration_timeout_ms: int) -> int:
    """The Lambda timeout (whole seconds) of a function behind an integration that waits ``integration_timeout_ms``.

    The function stops at least :data:`INTEGRATION_MARGIN_MS` before API Gateway gives up, so a
    slow request ends as the function's own error response (or a logged timeout), never as a 504
    for work that then finishes unseen: 5000 ms -> 4 s, 10000 ms -> 9 s, 29000 ms -> 28 s.
    """
    seconds = (integration_timeout_ms - INTEGRATION_MARGIN_MS) // 1000
    if seconds < 1:
        raise ValueError(
            f"integration timeout {integration_timeout_ms} ms leaves no whole second for the function "
            f"(at least {1000 + INTEGRATION_MARGIN_MS} ms)"
        )
    return seconds
