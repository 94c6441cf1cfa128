"""Splits a weighted route between its new Lambda service and the legacy backend.

API Gateway has no per-route traffic split (stage canaries split a whole stage), so a weighted
route is integrated with this function: it hashes the caller (or the request) into 100 buckets
and sends the first ``percent`` buckets to the new function's ``live`` alias (a synchronous
invoke with the same proxy event) and the rest to legacy over HTTP. Hashing the caller keeps each
user on one side while the percentage grows, so a session never flips between implementations.

The legacy call is a plain HTTP/1.1 exchange under two deadlines: the TCP connect (to legacy, or
to the on-prem proxy when ``HTTPS_PROXY``/``HTTP_PROXY`` is set and ``NO_PROXY`` does not cover the
host) must finish within ``LEGACY_CONNECT_TIMEOUT_SECONDS``, and the whole call within
``LEGACY_TIMEOUT_SECONDS``; a backend that drips bytes is cut off at the deadline (504), not
allowed another timeout per read. Whatever legacy, the proxy or the new service send back that is
not a well-formed answer (a bad status line, a short body, an oversized header, a payload that is
not a proxy response) is a 502 with a JSON body and a metric, never a crash or an internal detail.
Redirects are returned to the caller, not followed. Logs never carry a query string.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import re
import socket
import ssl
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import snapstart  # noqa: F401 - registers the after-restore reseed (SnapStart)
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError
from clients import lazy
from tracing import new_tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = new_tracer()  # the X-Ray SDK is imported only when tracing is on
metrics = Metrics()

#: Route path -> {"percent": 0-100, "function": alias ARN}; set by the component from the route table.
ROUTES: dict[str, dict[str, Any]] = json.loads(os.environ.get("ROUTES", "{}"))
LEGACY_URL = os.environ.get("LEGACY_URL", "").rstrip("/")
LEGACY_TIMEOUT_SECONDS = float(os.environ.get("LEGACY_TIMEOUT_SECONDS", "10"))
LEGACY_CONNECT_TIMEOUT_SECONDS = float(os.environ.get("LEGACY_CONNECT_TIMEOUT_SECONDS", "2"))
STICKINESS = os.environ.get("STICKINESS", "caller")
#: Lambda answers at most 6 MB; a bigger legacy answer could not be returned anyway.
MAX_BODY_BYTES = 5 * 1024 * 1024

lambda_client = lazy(lambda: boto3.client("lambda"))
snapstart.create_before_snapshot(lambda_client)
#: Certificates and protocol settings for HTTPS legacy backends, built once per execution environment.
tls = ssl.create_default_context()

# Hop-by-hop headers (RFC 9110 7.6.1) belong to one connection, never forwarded either way; Host and
# Content-Length are set for the new connection, Accept-Encoding so legacy answers uncompressed text.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)

_SET_HERE = frozenset({"host", "content-length", "accept-encoding", "expect"})
_HEADER_VALUE = re.compile(r"[^\x00-\x08\x0a-\x1f\x7f]*")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 3986 pchar plus "/": what may stand literally in an encoded path; "%" only as "%XX".
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


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
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"message": message}),
        "isBase64Encoded": False,
    }


# --------------------------------------------------------------------------------------- new side


@tracer.capture_method
def to_new(function_arn: str, event: dict[str, Any]) -> dict[str, Any]:
    try:
        result = lambda_client.invoke(
            FunctionName=function_arn, InvocationType="RequestResponse", Payload=json.dumps(event).encode()
        )
        payload = json.loads(result["Payload"].read() or b"null")
    except (ClientError, BotoCoreError):
        logger.exception("Invoking the new service failed", extra={"function": function_arn})
        metrics.add_metric(name="NewServiceErrors", unit=MetricUnit.Count, value=1)
        return _error(502, "The service is unavailable")
    except ValueError:  # not JSON (or not UTF-8): nothing a caller can be given
        logger.error("The new service returned a payload that is not JSON", extra={"function": function_arn})
        metrics.add_metric(name="NewServiceErrors", unit=MetricUnit.Count, value=1)
        return _error(502, "The service failed")
    if result.get("FunctionError") or not _is_proxy_response(payload):
        logger.error(
            "The new service returned an error",
            extra={"function": function_arn, "function_error": result.get("FunctionError")},
        )
        metrics.add_metric(name="NewServiceErrors", unit=MetricUnit.Count, value=1)
        return _error(502, "The service failed")
    return payload


def _is_proxy_response(payload: Any) -> bool:
    return (
        isinstance(payload, dict)
        and isinstance(payload.get("statusCode"), int)
        and not isinstance(payload.get("statusCode"), bool)
        and 100 <= payload["statusCode"] <= 599
    )


# ------------------------------------------------------------------------------------ legacy side


class BadRequestError(ValueError):
    """A request legacy must not see: dot or empty path segments, encoded separators, bad escapes, a bad method."""


def legacy_path(path: str) -> str:
    """The path to send legacy: REST API events carry it percent-encoded, so escapes stay as they are.

    Characters that cannot stand literally in an encoded path are escaped (a decoded path stays
    correct too); a path that legacy could resolve outside the route it matched is refused.
    """
    if not path.startswith("/") or any(ord(c) < 0x20 or c in "\\\x7f" for c in path):
        raise BadRequestError("path")
    if _ESCAPE.search(path):
        raise BadRequestError("a % that starts no escape")
    segments = path.split("/")[1:]
    for segment in segments[:-1] if len(segments) > 1 else []:
        if segment == "":
            raise BadRequestError("empty segment")
    for segment in segments:
        decoded = urllib.parse.unquote(segment)
        if decoded in (".", "..") or any(c in decoded for c in "/\\"):
            raise BadRequestError("dot segment or encoded separator")
    return urllib.parse.quote(path, safe=_PATH_SAFE + "%")


def _forwarded_headers(event: dict[str, Any]) -> list[tuple[str, str]]:
    multi = event.get("multiValueHeaders") or {k: [v] for k, v in (event.get("headers") or {}).items()}
    connection_tokens = {
        t.strip().lower()
        for k, values in multi.items()
        if k.lower() == "connection"
        for v in values or ()
        for t in str(v).split(",")
    }
    dropped = _HOP_BY_HOP | _SET_HERE | connection_tokens | {"x-forwarded-for"}
    # Names and values http.client would refuse (or that could split the request) are not forwarded.
    headers = [
        (k, str(v))
        for k, values in multi.items()
        if k.lower() not in dropped and _TOKEN.fullmatch(k)
        for v in values or ()
        if _HEADER_VALUE.fullmatch(str(v))
    ]
    forwarded = [str(v) for k, values in multi.items() if k.lower() == "x-forwarded-for" for v in values or ()]
    source_ip = ((event.get("requestContext") or {}).get("identity") or {}).get("sourceIp")
    if forwarded or source_ip:
        headers.append(("X-Forwarded-For", ", ".join([*forwarded, *([source_ip] if source_ip else [])])))
    return headers


@dataclass(frozen=True)
class LegacyRequest:
    """The HTTP request legacy would have received without the facade (same method, path, query, body)."""

    method: str
    scheme: str
    host: str
    port: int
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes | None

    @property
    def origin(self) -> str:
        default = 443 if self.scheme == "https" else 80
        return f"{self.host}:{self.port}" if self.port != default else self.host

    @property
    def target(self) -> str:
        """What logs may show: no query string, ever (it carries tokens)."""
        return f"{self.scheme}://{self.origin}{self.path}"

    @property
    def path_and_query(self) -> str:
        return self.path + (f"?{self.query}" if self.query else "")


def legacy_request(event: dict[str, Any], base_url: str) -> LegacyRequest:
    base = urllib.parse.urlsplit(base_url)
    if base.scheme not in ("http", "https") or not base.hostname:
        raise ValueError("LEGACY_URL must be an http(s) URL")
    method = event.get("httpMethod") or "GET"
    if not _TOKEN.fullmatch(method):
        raise BadRequestError("method")
    query = event.get("multiValueQueryStringParameters") or {}
    body = event.get("body")
    data = None if body is None else (base64.b64decode(body) if event.get("isBase64Encoded") else body.encode())
    return LegacyRequest(
        method=method,
        scheme=base.scheme,
        host=base.hostname,
        port=base.port or (443 if base.scheme == "https" else 80),
        path=base.path.rstrip("/") + legacy_path(event.get("path") or "/"),
        query=urllib.parse.urlencode([(k, v) for k, values in query.items() for v in values or ()]),
        headers=_forwarded_headers(event),
        body=data,
    )


def proxy_for(request: LegacyRequest) -> tuple[str, int] | None:
    """The proxy the environment names for this request (``HTTPS_PROXY``/``HTTP_PROXY``, ``NO_PROXY``)."""
    # urllib's own NO_PROXY matching (what urlopen does); typeshed does not list it.
    if urllib.request.proxy_bypass_environment(request.host):  # type: ignore[attr-defined]
        return None
    proxy = urllib.request.getproxies_environment().get(request.scheme)
    if not proxy:
        return None
    parsed = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    if not parsed.hostname:
        return None
    return parsed.hostname, parsed.port or 80


class DeadlineError(Exception):
    """The connect or the total deadline passed."""


class UnreachableError(Exception):
    """The TCP connect failed (refused, no route): to the proxy when ``to_proxy``, else to legacy."""

    def __init__(self, to_proxy: bool, error: OSError) -> None:
        super().__init__(type(error).__name__)
        self.to_proxy = to_proxy


class ProxyRefusedError(Exception):
    """The proxy answered instead of legacy (refused the destination, or could not reach it)."""

    def __init__(self, status: int, squid_error: str) -> None:
        super().__init__(status)
        self.status = status
        self.squid_error = squid_error


class _Deadline:
    """Connect and total deadlines over one exchange. A timer shuts the socket down when the total
    deadline passes, so no read, however slowly the peer drips, outlives it."""

    def __init__(self, total_seconds: float, connect_seconds: float) -> None:
        self.start = time.monotonic()
        self.end = self.start + total_seconds
        self.connect_end = self.start + min(connect_seconds, total_seconds)
        self.expired = False
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(total_seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    @property
    def elapsed_ms(self) -> int:
        return round((time.monotonic() - self.start) * 1000)

    def remaining(self, until: float | None = None) -> float:
        left = (until or self.end) - time.monotonic()
        if left <= 0:
            self.expired = True
            raise DeadlineError
        return left

    def watch(self, sock: socket.socket) -> socket.socket:
        """Make ``sock`` the one the timer cuts; no single operation on it may outlast the deadline."""
        with self._lock:
            self._socket = sock
            if self.expired:
                raise DeadlineError
        sock.settimeout(self.remaining())
        return sock

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            if self._socket is not None:
                try:
                    self._socket.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def _connect(address: tuple[str, int], deadline: _Deadline, *, to_proxy: bool) -> socket.socket:
    try:
        sock = socket.create_connection(address, timeout=deadline.remaining(deadline.connect_end))
    except TimeoutError:
        raise DeadlineError from None
    except OSError as error:
        raise UnreachableError(to_proxy, error) from None
    return deadline.watch(sock)


def _tunnel(sock: socket.socket, request: LegacyRequest) -> None:
    """``CONNECT host:port`` through the proxy; anything but 2xx is the proxy's refusal."""
    authority = f"{request.host}:{request.port}"
    sock.sendall(f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n".encode("ascii"))
    response = http.client.HTTPResponse(sock, method="CONNECT")
    response.begin()
    if not 200 <= response.status < 300:
        raise ProxyRefusedError(response.status, response.getheader("X-Squid-Error") or "")


def _exchange(request: LegacyRequest, proxy: tuple[str, int] | None, deadline: _Deadline) -> tuple[int, Any, bytes]:
    """One request, one answer, under ``deadline``; http.client's errors mean legacy did not speak HTTP."""
    sock = _connect(proxy or (request.host, request.port), deadline, to_proxy=proxy is not None)
    try:
        absolute = proxy is not None and request.scheme == "http"
        if proxy is not None and request.scheme == "https":
            _tunnel(sock, request)
        if request.scheme == "https":
            sock = deadline.watch(tls.wrap_socket(sock, server_hostname=request.host))
        connection = http.client.HTTPConnection(request.host, request.port)
        connection.sock = sock  # connected here, under the deadlines; http.client only speaks HTTP on it
        # Plain HTTP through a forward proxy: the request line names the whole URL.
        target = f"http://{request.origin}{request.path_and_query}" if absolute else request.path_and_query
        connection.putrequest(request.method, target, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", request.origin)
        for name, value in request.headers:
            connection.putheader(name, value)
        if request.body is not None:
            connection.putheader("Content-Length", str(len(request.body)))
        connection.endheaders(request.body)
        response = connection.getresponse()
        if absolute and response.getheader("X-Squid-Error"):  # the proxy's own page, not legacy's answer
            raise ProxyRefusedError(response.status, response.getheader("X-Squid-Error") or "")
        body = response.read(MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES:
            raise http.client.HTTPException("answer larger than a Lambda response")
        if response.length:  # the connection ended before Content-Length bytes came
            raise http.client.IncompleteRead(body, response.length)
        return response.status, response.headers, body
    finally:
        sock.close()


def _proxy_response(status: int, headers: Any, raw: bytes) -> dict[str, Any]:
    try:
        body, encoded = raw.decode("utf-8"), False
    except UnicodeDecodeError:
        body, encoded = base64.b64encode(raw).decode(), True
    multi: dict[str, list[str]] = {}
    for name, value in headers.items():
        if name.lower() not in _HOP_BY_HOP | {"content-length"}:
            multi.setdefault(name, []).append(value)
    return {"statusCode": status, "multiValueHeaders": multi, "body": body, "isBase64Encoded": encoded}


def _failed(status: int, metric: str, log: str, request: LegacyRequest, **extra: Any) -> dict[str, Any]:
    logger.error(log, extra={"target": request.target, **extra})
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
    return _error(status, "The backend did not answer in time" if status == 504 else "The backend is unavailable")


@tracer.capture_method
def to_legacy(
    event: dict[str, Any],
    base_url: str,
    timeout_seconds: float,
    connect_timeout_seconds: float = LEGACY_CONNECT_TIMEOUT_SECONDS,
) -> dict[str, Any]:
    try:
        request = legacy_request(event, base_url)
    except BadRequestError as error:
        logger.warning("Refused a path legacy must not see", extra={"reason": str(error)})
        return _error(400, "Bad request path")
    proxy = proxy_for(request)
    with _Deadline(timeout_seconds, connect_timeout_seconds) as deadline:
        try:
            status, headers, body = _exchange(request, proxy, deadline)
        except UnreachableError as error:
            if error.to_proxy:
                return _failed(502, "ProxyErrors", "The on-prem proxy is unreachable", request, error=str(error))
            return _failed(502, "LegacyErrors", "Legacy is unreachable", request, error=str(error))
        except ProxyRefusedError as refused:
            if refused.status == 504:
                return _failed(504, "LegacyTimeouts", "The proxy timed out reaching legacy", request)
            return _failed(
                502,
                "ProxyErrors",
                "The on-prem proxy refused or could not reach legacy",
                request,
                proxy_status=refused.status,
                proxy_error=refused.squid_error,
            )
        except (DeadlineError, OSError, http.client.HTTPException) as error:  # ssl.SSLError is an OSError
            if deadline.expired or isinstance(error, DeadlineError | TimeoutError):
                return _failed(
                    504, "LegacyTimeouts", "Legacy did not answer in time", request, elapsed_ms=deadline.elapsed_ms
                )
            return _failed(
                502,
                "LegacyErrors",
                "Legacy answered with something that is not HTTP, or not at all",
                request,
                error=type(error).__name__,
            )
    return _proxy_response(status, headers, body)


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
    return to_legacy(event, LEGACY_URL, LEGACY_TIMEOUT_SECONDS, LEGACY_CONNECT_TIMEOUT_SECONDS)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return route_request(event)
