"""The Strangler's router (weighted split) and its first moved service, with real API Gateway events.

Legacy is a real HTTP server on localhost; the new service's synchronous invoke goes through
botocore's Stubber (moto cannot run Lambda code without Docker).
"""

from __future__ import annotations

import copy
import io
import json
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from hypothesis import given
from hypothesis import strategies as st

from arcblueprint.services.testing import load_handler as _load_handler

HANDLERS = Path(__file__).resolve().parents[3] / "arcblueprint/services/strangler/handlers"
NEW_ARN = "arn:aws:lambda:eu-west-1:111111111111:function:arcbp-dev-facade-notifications:live"


def _load(folder: str, name: str):
    return _load_handler(HANDLERS / folder, name)


class Legacy(BaseHTTPRequestHandler):
    seen: list[dict] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        Legacy.seen.append(
            {"method": self.command, "path": self.path, "body": body, "xff": self.headers.get("X-Forwarded-For")}
        )
        status = 404 if self.path.startswith("/missing") else 200
        payload = json.dumps({"served_by": "legacy", "path": self.path}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, *args) -> None:  # keep test output clean
        pass


@pytest.fixture(scope="module")
def legacy_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Legacy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def router(monkeypatch, legacy_url, capsys):
    monkeypatch.setenv(
        "ROUTES",
        json.dumps(
            {
                "/api/notifications": {"percent": 30, "function": NEW_ARN},
                "/api/everyone": {"percent": 100, "function": NEW_ARN},
                "/api/nobody": {"percent": 0, "function": NEW_ARN},
            }
        ),
    )
    monkeypatch.setenv("LEGACY_URL", legacy_url)
    monkeypatch.setenv("LEGACY_TIMEOUT_SECONDS", "2")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "facade")
    module = _load("router", "strangler_router_app_under_test")
    Legacy.seen.clear()
    yield module
    sys.modules.pop("strangler_router_app_under_test", None)


def _event(load_event, resource: str, path: str, sub: str = "user-1", method: str = "GET", body=None) -> dict:
    event = copy.deepcopy(load_event("apiGatewayProxyEventCognitoAuthorizer.json"))
    event.update(
        resource=resource,
        path=path,
        httpMethod=method,
        body=body,
        multiValueQueryStringParameters={"page": ["2"]},
        queryStringParameters={"page": "2"},
    )
    event["requestContext"]["authorizer"]["claims"]["sub"] = sub
    return event


def _call(lambda_context, module, event, capsys):
    capsys.readouterr()
    module.logger.logger_handler.stream = sys.stdout  # powertools keeps one logger per service per process
    response = module.lambda_handler(event, lambda_context("arcbp-dev-facade-router"))
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    return response, out


def _metric(out, name):
    return sum(sum(d[name]) if isinstance(d[name], list) else d[name] for d in out if name in d and "_aws" in d)


def _invoke_response(payload: dict, function_error: str | None = None) -> dict:
    raw = json.dumps(payload).encode()
    response = {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(raw), len(raw))}
    if function_error:
        response["FunctionError"] = function_error
    return response


@given(route=st.text(min_size=1, max_size=20), key=st.text(max_size=40), percent=st.integers(0, 100))
def test_the_split_is_stable_per_caller_and_monotonic_in_percent(route, key, percent):
    # Loaded once, as Lambda does (its shared modules on sys.path), then reused across examples.
    module = sys.modules.get("strangler_router_pure") or _load_handler(HANDLERS / "router", "strangler_router_pure")
    side = module.choose(route, percent, key)
    assert side == module.choose(route, percent, key)
    assert 0 <= module.bucket(route, key) < 100
    if side == "new":  # a caller moved to new stays there as the percentage grows
        assert all(module.choose(route, p, key) == "new" for p in range(percent, 101))
    assert module.choose(route, 0, key) == "legacy" and module.choose(route, 100, key) == "new"


def test_the_observed_split_is_close_to_the_configured_percent(router):
    sides = [router.choose("/api/notifications", 30, f"user-{i}") for i in range(4000)]
    share = sides.count("new") / len(sides)
    assert 0.27 < share < 0.33


def test_legacy_side_proxies_method_path_query_and_body(lambda_context, router, load_event, capsys):
    event = _event(load_event, "/api/nobody/{proxy+}", "/api/nobody/items/7", method="POST", body='{"a": 1}')
    response, out = _call(lambda_context, router, event, capsys)
    assert response["statusCode"] == 200 and json.loads(response["body"])["served_by"] == "legacy"
    (seen,) = Legacy.seen
    assert seen["method"] == "POST" and seen["path"] == "/api/nobody/items/7?page=2" and seen["body"] == '{"a": 1}'
    assert seen["xff"].endswith("15.248.3.126")
    assert _metric(out, "RoutedToLegacy") == 1
    routed = [d for d in out if d.get("message") == "Routed"]
    assert routed[0]["side"] == "legacy" and routed[0]["route"] == "/api/nobody"


def test_legacy_errors_pass_through_with_their_status(lambda_context, router, load_event, capsys):
    event = _event(load_event, "/api/nobody/{proxy+}", "/api/nobody/x")
    event["path"] = "/missing/x"
    response, _ = _call(lambda_context, router, event, capsys)
    assert response["statusCode"] == 404


def test_new_side_invokes_the_alias_with_the_same_event(lambda_context, router, load_event, capsys):
    event = _event(load_event, "/api/everyone", "/api/everyone")
    with Stubber(router.lambda_client) as stub:
        stub.add_response(
            "invoke",
            _invoke_response({"statusCode": 201, "body": '{"served_by": "new"}'}),
            {"FunctionName": NEW_ARN, "InvocationType": "RequestResponse", "Payload": json.dumps(event).encode()},
        )
        response, out = _call(lambda_context, router, event, capsys)
        stub.assert_no_pending_responses()
    assert response["statusCode"] == 201 and Legacy.seen == []
    assert _metric(out, "RoutedToNew") == 1


def test_a_failing_new_service_is_a_502_with_a_metric(lambda_context, router, load_event, capsys):
    event = _event(load_event, "/api/everyone/{proxy+}", "/api/everyone/x")
    with Stubber(router.lambda_client) as stub:
        stub.add_response("invoke", _invoke_response({"errorMessage": "boom"}, function_error="Unhandled"))
        response, out = _call(lambda_context, router, event, capsys)
    assert response["statusCode"] == 502 and _metric(out, "NewServiceErrors") == 1
    with Stubber(router.lambda_client) as stub:
        stub.add_client_error("invoke", service_error_code="TooManyRequestsException", http_status_code=429)
        response, out = _call(lambda_context, router, event, capsys)
    assert response["statusCode"] == 502 and any(d.get("level") == "ERROR" for d in out)


def test_an_unreachable_legacy_backend_is_a_502_with_a_metric(lambda_context, router, load_event, capsys):
    router.LEGACY_URL = "http://127.0.0.1:9"  # discard port: nothing listens
    response, out = _call(lambda_context, router, _event(load_event, "/api/nobody", "/api/nobody"), capsys)
    assert response["statusCode"] == 502 and _metric(out, "LegacyErrors") == 1


def test_requests_for_routes_that_are_not_weighted_are_404(lambda_context, router, load_event, capsys):
    response, _ = _call(lambda_context, router, _event(load_event, "/api/other", "/api/other"), capsys)
    assert response["statusCode"] == 404 and Legacy.seen == []


@pytest.fixture
def notifications(monkeypatch):
    monkeypatch.setenv("ROUTE_PATH", "/api/notifications")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "facade")
    yield _load("notifications", "strangler_notifications_app_under_test")
    sys.modules.pop("strangler_notifications_app_under_test", None)


@pytest.mark.parametrize(
    ("platform", "check"),
    [
        ("ios", lambda p: p["aps"]["alert"]["title"] == "Hi" and p["aps"]["badge"] == 2),
        ("android", lambda p: p["message"]["notification"]["body"] == "There" and p["message"]["data"] == {"k": "1"}),
        ("web", lambda p: p["notification"]["data"] == {"k": 1}),
    ],
)
def test_notifications_render_per_platform(lambda_context, notifications, load_event, capsys, platform, check):
    body = {"platform": platform, "title": "Hi", "body": "There", "badge": 2, "data": {"k": 1}}
    event = _event(
        load_event, "/api/notifications/{proxy+}", "/api/notifications/render", method="POST", body=json.dumps(body)
    )
    response, out = _call(lambda_context, notifications, event, capsys)
    assert response["statusCode"] == 200
    result = json.loads(response["body"])
    assert result["platform"] == platform and check(result["payload"])
    assert _metric(out, "NotificationsRendered") == 1


def test_invalid_notifications_are_400_and_unknown_paths_404(lambda_context, notifications, load_event, capsys):
    bad = _event(
        load_event,
        "/api/notifications/{proxy+}",
        "/api/notifications/render",
        method="POST",
        body=json.dumps({"platform": "pager", "title": "x", "body": "y"}),
    )
    response, _ = _call(lambda_context, notifications, bad, capsys)
    assert response["statusCode"] == 400 and "platform" in json.loads(response["body"])["message"]
    unknown = _event(load_event, "/api/notifications/{proxy+}", "/api/notifications/nope")
    assert _call(lambda_context, notifications, unknown, capsys)[0]["statusCode"] == 404


# --- legacy that misbehaves: a raw socket server, so the answers can be anything ---------------------


class Misbehaving(socketserver.BaseRequestHandler):
    """Answers by path: ``/drip`` one body byte every 0.2 s, ``/bad-status``, ``/short`` body, ``/huge-header``
    (70 KB), ``/redirect`` (302), anything else 200 echoing the request head it received."""

    heads: list[str] = []

    def handle(self) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.request.recv(4096)
            if not chunk:
                return
            head += chunk
        text = head.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        Misbehaving.heads.append(text)
        path = text.split(" ", 2)[1]
        send = self.request.sendall
        try:
            if "/drip" in path:
                send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
                for _ in range(200):
                    time.sleep(0.2)
                    send(b"x")
            elif "/bad-status" in path:
                send(b"HELLO THERE\r\n\r\n")
            elif "/short" in path:
                send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nContent-Type: text/plain\r\n\r\nonly this")
            elif "/huge-header" in path:
                send(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 70_000 + b"\r\nContent-Length: 2\r\n\r\nok")
            elif "/redirect" in path:
                send(b"HTTP/1.1 302 Found\r\nLocation: http://elsewhere.example/next\r\nContent-Length: 0\r\n\r\n")
            else:
                body = json.dumps({"head": text}).encode()
                send(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                    + str(len(body)).encode()
                    + b"\r\nConnection: close\r\n\r\n"
                    + body
                )
        except OSError:  # the router hung up (deadline): nothing more to send
            pass


@pytest.fixture(scope="module")
def misbehaving_url():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Misbehaving)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def legacy_router(router, misbehaving_url, monkeypatch):
    """The router with every caller on legacy (``/api/nobody``), legacy the misbehaving server, 1 s in all."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    router.LEGACY_URL = misbehaving_url
    router.LEGACY_TIMEOUT_SECONDS = 1.0
    router.LEGACY_CONNECT_TIMEOUT_SECONDS = 0.5
    Misbehaving.heads.clear()
    return router


def _legacy_event(load_event, path: str, **extra) -> dict:
    event = _event(load_event, "/api/nobody/{proxy+}", path)
    event["multiValueQueryStringParameters"] = {"token": ["s3cr3t-t0ken"], "page": ["2"]}
    event.update(extra)
    return event


def test_a_dripping_legacy_is_cut_at_the_total_deadline(lambda_context, legacy_router, load_event, capsys):
    started = time.monotonic()
    response, out = _call(lambda_context, legacy_router, _legacy_event(load_event, "/api/nobody/drip"), capsys)
    elapsed = time.monotonic() - started
    # Each byte comes within any per-read timeout; only a deadline over the whole call stops it.
    assert response["statusCode"] == 504 and 0.9 <= elapsed < 1.6, elapsed
    assert json.loads(response["body"]) == {"message": "The backend did not answer in time"}
    assert _metric(out, "LegacyTimeouts") == 1


@pytest.mark.parametrize("path", ["/api/nobody/bad-status", "/api/nobody/short", "/api/nobody/huge-header"])
def test_a_legacy_answer_that_is_not_http_is_a_clean_502(lambda_context, legacy_router, load_event, capsys, path):
    response, out = _call(lambda_context, legacy_router, _legacy_event(load_event, path), capsys)
    assert response["statusCode"] == 502 and response["headers"] == {"Content-Type": "application/json"}
    assert json.loads(response["body"]) == {"message": "The backend is unavailable"}  # nothing internal
    assert _metric(out, "LegacyErrors") == 1
    errors = [d for d in out if d.get("level") == "ERROR"]
    assert errors and errors[0]["target"].endswith(path) and "s3cr3t" not in json.dumps(out)


def test_redirects_are_returned_not_followed(lambda_context, legacy_router, load_event, capsys):
    response, _ = _call(lambda_context, legacy_router, _legacy_event(load_event, "/api/nobody/redirect"), capsys)
    assert response["statusCode"] == 302
    assert response["multiValueHeaders"]["Location"] == ["http://elsewhere.example/next"]
    assert len(Misbehaving.heads) == 1  # nobody went to elsewhere.example


def test_hop_by_hop_headers_stay_on_this_hop(lambda_context, legacy_router, load_event, capsys):
    event = _legacy_event(load_event, "/api/nobody/echo")
    event["multiValueHeaders"] = {
        "Connection": ["keep-alive, X-Hop-Secret"],
        "X-Hop-Secret": ["a"],
        "Keep-Alive": ["timeout=5"],
        "Proxy-Authorization": ["Basic eDp5"],
        "TE": ["trailers"],
        "Upgrade": ["h2c"],
        "Transfer-Encoding": ["chunked"],
        "X-Request-Header": ["kept"],
        "X-Forwarded-For": ["198.51.100.7"],
        "X-Injected": ["a\r\nX-Evil: 1"],
    }
    response, _ = _call(lambda_context, legacy_router, event, capsys)
    head = json.loads(response["body"])["head"]
    lines = {line.split(":", 1)[0].lower() for line in head.split("\r\n")[1:]}
    assert "x-request-header" in lines
    assert not lines & {
        "connection",
        "x-hop-secret",
        "keep-alive",
        "proxy-authorization",
        "te",
        "upgrade",
        "transfer-encoding",
        "x-injected",
        "x-evil",
    }
    assert "X-Forwarded-For: 198.51.100.7, 15.248.3.126" in head  # the caller's chain, then API Gateway's view


@pytest.mark.parametrize(
    ("path", "sent"),
    [
        ("/api/nobody/a%20b%25c", "/api/nobody/a%20b%25c"),  # REST events keep the path encoded: no double encoding
        ("/api/nobody/caf%C3%A9", "/api/nobody/caf%C3%A9"),
        ("/api/nobody/a b", "/api/nobody/a%20b"),  # a decoded character is encoded once
    ],
)
def test_paths_reach_legacy_encoded_once(lambda_context, legacy_router, load_event, capsys, path, sent):
    response, _ = _call(lambda_context, legacy_router, _legacy_event(load_event, path), capsys)
    request_line = json.loads(response["body"])["head"].split("\r\n")[0]
    assert request_line.startswith(f"GET {sent}?") and "token=s3cr3t-t0ken" in request_line


@pytest.mark.parametrize(
    "path",
    [
        "/api/nobody/../admin",
        "/api/nobody/%2e%2e/admin",
        "/api/nobody//etc",
        "/api/nobody/a%2Fb",
        "/api/nobody/a%5cb",
        "/api/nobody/50%",
        "/api/nobody/.",
        "/api/nobody/a\\b",
    ],
)
def test_paths_that_could_leave_the_route_are_400(lambda_context, legacy_router, load_event, capsys, path):
    response, _ = _call(lambda_context, legacy_router, _legacy_event(load_event, path), capsys)
    assert response["statusCode"] == 400 and Misbehaving.heads == []


def test_a_new_service_payload_that_is_not_json_is_a_502(lambda_context, router, load_event, capsys):
    event = _event(load_event, "/api/everyone", "/api/everyone")
    for raw in (b"<html>oops</html>", b"\xff\xfe", json.dumps({"statusCode": "200"}).encode()):
        with Stubber(router.lambda_client) as stub:
            stub.add_response("invoke", {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(raw), len(raw))})
            response, out = _call(lambda_context, router, event, capsys)
        assert response["statusCode"] == 502 and json.loads(response["body"]) == {"message": "The service failed"}
        assert _metric(out, "NewServiceErrors") == 1
