"""The generated squid configuration, run for real: a squid on loopback, a legacy server, the router in-process.

Squid is started with the configuration :func:`render_squid_config` generates from on-prem settings
(the same function the proxies' user data embeds), with loopback addresses as the "on-prem"
destinations. The Strangler's router calls legacy through it, as it does in prod through
``HTTP_PROXY``. If squid is not installed or does not start, these tests fail and say why: the
proxy path is only proven when a real proxy ran (``.ci/run`` installs squid with apt-get).
"""

from __future__ import annotations

import copy
import ipaddress
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arcblueprint.planning.proxy_config import SquidConfig, render_squid_config
from arcblueprint.preview.harness import REPO_ROOT
from arcblueprint.services.testing import load_handler

ROUTER = REPO_ROOT / "arcblueprint/services/strangler/handlers/router"
INSTALL_HINT = "install it with `apt-get update && apt-get install -y squid` (.ci/run does this on a fresh machine)"
TIMEOUT_SECONDS = 2.0
CONNECT_TIMEOUT_SECONDS = 1.0


def _squid() -> str:
    path = shutil.which("squid") or next(
        (p for p in ("/usr/sbin/squid", "/usr/local/sbin/squid") if Path(p).exists()), None
    )
    if path is None:
        pytest.fail(f"squid is not installed: the on-prem proxy tests need a real squid; {INSTALL_HINT}")
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Legacy(BaseHTTPRequestHandler):
    """An on-prem legacy backend: JSON echo; ``/drip`` stalls, sending a header byte every 0.3 s."""

    protocol_version = "HTTP/1.1"
    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        Legacy.seen.append(self.path)
        if self.path.startswith("/api/nobody/drip"):
            try:
                self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                for _ in range(100):
                    self.wfile.write(b"X")
                    self.wfile.flush()
                    time.sleep(0.3)
            except OSError:
                pass
            return
        body = json.dumps({"served_by": "legacy", "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def onprem():
    """A legacy server and a real squid configured for it, on loopback; torn down after the module."""
    squid = _squid()
    legacy = ThreadingHTTPServer(("127.0.0.1", 0), Legacy)
    legacy.daemon_threads = True
    threading.Thread(target=legacy.serve_forever, daemon=True).start()
    legacy_port = legacy.server_address[1]
    workdir = Path(tempfile.mkdtemp(prefix="arcbp-squid-"))
    user = None
    if os.geteuid() == 0:  # squid refuses to run as root: it drops to an unprivileged user, who must own the files
        user = "nobody"
        entry = pwd.getpwnam(user)
        os.chown(workdir, entry.pw_uid, entry.pw_gid)
    port = _free_port()
    config = SquidConfig(
        port=port,
        listen_address="127.0.0.1",
        clients=("127.0.0.1/32",),
        destinations=("127.0.0.1/32", "localhost"),
        ports=(legacy_port,),
        access_log=str(workdir / "access.log"),
        cache_log=str(workdir / "cache.log"),
        pid_file=str(workdir / "squid.pid"),
        coredump_dir=str(workdir),
        effective_user=user,
        shutdown_seconds=0,
    )
    conf = workdir / "squid.conf"
    conf.write_text(render_squid_config(config))
    service = f"arcbp{os.getpid()}"  # its own shared-memory names: parallel runs never collide
    process = subprocess.Popen(
        [squid, "-N", "-n", service, "-f", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 15
    while True:
        if process.poll() is not None:
            output = process.stdout.read().decode(errors="replace") if process.stdout else ""
            log = (workdir / "cache.log").read_text(errors="replace") if (workdir / "cache.log").exists() else ""
            pytest.fail(
                f"squid did not start (exit {process.returncode}) with the generated config:\n"
                f"{conf.read_text()}\n--- output ---\n{output}\n--- cache.log ---\n{log}"
            )
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"squid did not listen on 127.0.0.1:{port} within 15 s; {INSTALL_HINT}")
            time.sleep(0.05)
    yield {
        "proxy": f"http://127.0.0.1:{port}",
        "legacy": f"http://127.0.0.1:{legacy_port}",
        "legacy_port": legacy_port,
        "access_log": workdir / "access.log",
        "config": config,
    }
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
    legacy.shutdown()
    for segment in Path("/dev/shm").glob(f"{service}-*"):
        segment.unlink(missing_ok=True)
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def router(onprem, monkeypatch):
    """The Strangler's router with every caller on legacy, reaching it through the proxy as in prod."""
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", onprem["proxy"])
    monkeypatch.setenv("http_proxy", onprem["proxy"])
    monkeypatch.setenv("ROUTES", json.dumps({"/api/nobody": {"percent": 0, "function": "unused"}}))
    monkeypatch.setenv("LEGACY_URL", onprem["legacy"])
    monkeypatch.setenv("LEGACY_TIMEOUT_SECONDS", str(TIMEOUT_SECONDS))
    monkeypatch.setenv("LEGACY_CONNECT_TIMEOUT_SECONDS", str(CONNECT_TIMEOUT_SECONDS))
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "facade")
    module = load_handler(ROUTER, "strangler_router_through_squid")
    Legacy.seen.clear()
    yield module
    sys.modules.pop("strangler_router_through_squid", None)


def _call(
    lambda_context, router, load_event, capsys, path: str, *, legacy_url: str | None = None
) -> tuple[dict, list, float]:
    event = copy.deepcopy(load_event("apiGatewayProxyEventCognitoAuthorizer.json"))
    event.update(
        resource="/api/nobody/{proxy+}",
        path=path,
        httpMethod="GET",
        body=None,
        multiValueQueryStringParameters={"token": ["s3cr3t-t0ken"], "page": ["2"]},
    )
    if legacy_url:
        router.LEGACY_URL = legacy_url
    capsys.readouterr()
    router.logger.logger_handler.stream = sys.stdout
    started = time.monotonic()
    response = router.lambda_handler(event, lambda_context("arcbp-prod-facade-router"))
    elapsed = time.monotonic() - started
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    return response, out, elapsed


def _metric(out, name) -> int:
    return sum(sum(d[name]) if isinstance(d[name], list) else d[name] for d in out if name in d and "_aws" in d)


def _report(case: str, response: dict, elapsed: float) -> None:
    # Shown with `pytest -s`: the figures the on-prem proxy's closing note quotes.
    print(f"\n[{case}] status={response['statusCode']} body={response['body'][:80]} elapsed={elapsed * 1000:.0f} ms")


def _access_log(onprem, expected: str, timeout_seconds: float = 3.0) -> str:
    """Squid's access log once it holds ``expected`` (squid writes it after it answers), or as it is then."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        log = onprem["access_log"].read_text()
        if expected in log or time.monotonic() > deadline:
            return log
        time.sleep(0.05)


def test_a_an_allowed_on_prem_host_is_reached_through_the_proxy(lambda_context, router, onprem, load_event, capsys):
    response, out, elapsed = _call(lambda_context, router, load_event, capsys, "/api/nobody/items/7")
    _report("a: allowed host through squid", response, elapsed)
    assert response["statusCode"] == 200 and json.loads(response["body"])["served_by"] == "legacy"
    assert Legacy.seen == ["/api/nobody/items/7?token=s3cr3t-t0ken&page=2"]  # legacy gets the full request
    log = _access_log(onprem, "TCP_MISS/200")
    # Squid carried it (not a direct connection), and logged the path without the query string.
    assert f"GET http://127.0.0.1:{onprem['legacy_port']}/api/nobody/items/7" in log
    assert "TCP_MISS/200" in log and "s3cr3t" not in log and "token=" not in log
    assert "s3cr3t" not in json.dumps(out)  # nor do the router's own logs carry it
    assert _metric(out, "RoutedToLegacy") == 1


@pytest.mark.parametrize(
    "outside", ["http://127.0.0.2:{port}", "http://127.0.0.1:{free}"], ids=["address-not-listed", "port-not-listed"]
)
def test_b_a_host_outside_the_allow_list_is_refused_by_the_proxy(
    lambda_context, router, onprem, load_event, capsys, outside
):
    url = outside.format(port=onprem["legacy_port"], free=_free_port())
    response, out, elapsed = _call(lambda_context, router, load_event, capsys, "/api/nobody/x", legacy_url=url)
    _report(f"b: {url} refused by squid", response, elapsed)
    assert response["statusCode"] == 502 and json.loads(response["body"]) == {"message": "The backend is unavailable"}
    assert _metric(out, "ProxyErrors") == 1 and Legacy.seen == []
    [error] = [d for d in out if d.get("level") == "ERROR"]
    assert error["proxy_status"] == 403 and error["proxy_error"].startswith("ERR_ACCESS_DENIED")
    assert "TCP_DENIED/403" in _access_log(onprem, "TCP_DENIED/403")


def test_connect_tunnels_only_to_listed_destinations(lambda_context, router, onprem, load_event, capsys, monkeypatch):
    """HTTPS legacy goes through a CONNECT tunnel: squid opens it to a listed host and port only."""
    monkeypatch.setenv("HTTPS_PROXY", onprem["proxy"])
    monkeypatch.setenv("https_proxy", onprem["proxy"])
    refused, out, _ = _call(
        lambda_context,
        router,
        load_event,
        capsys,
        "/api/nobody/x",
        legacy_url=f"https://127.0.0.2:{onprem['legacy_port']}",
    )
    assert refused["statusCode"] == 502 and _metric(out, "ProxyErrors") == 1
    # A listed destination gets its tunnel; the plain-HTTP legacy then fails the TLS handshake: a clean 502.
    tunnelled, out, _ = _call(
        lambda_context,
        router,
        load_event,
        capsys,
        "/api/nobody/x",
        legacy_url=f"https://127.0.0.1:{onprem['legacy_port']}",
    )
    assert tunnelled["statusCode"] == 502 and _metric(out, "LegacyErrors") == 1
    log = _access_log(onprem, f"CONNECT 127.0.0.1:{onprem['legacy_port']}")
    assert f"CONNECT 127.0.0.2:{onprem['legacy_port']}" in log and f"CONNECT 127.0.0.1:{onprem['legacy_port']}" in log


def test_c_a_stalled_backend_is_a_504_within_the_deadline(lambda_context, router, load_event, capsys):
    response, out, elapsed = _call(lambda_context, router, load_event, capsys, "/api/nobody/drip")
    _report("c: stalled legacy behind squid", response, elapsed)
    assert response["statusCode"] == 504 and TIMEOUT_SECONDS - 0.1 <= elapsed < TIMEOUT_SECONDS + 0.5, elapsed
    assert _metric(out, "LegacyTimeouts") == 1


def test_d_a_proxy_that_is_down_is_a_502_with_a_metric(lambda_context, router, load_event, capsys, monkeypatch):
    dead = f"http://127.0.0.1:{_free_port()}"  # nothing listens there: the proxy is down
    monkeypatch.setenv("HTTP_PROXY", dead)
    monkeypatch.setenv("http_proxy", dead)
    response, out, elapsed = _call(lambda_context, router, load_event, capsys, "/api/nobody/x")
    _report("d: proxy down", response, elapsed)
    assert response["statusCode"] == 502 and json.loads(response["body"]) == {"message": "The backend is unavailable"}
    assert _metric(out, "ProxyErrors") == 1 and Legacy.seen == []
    assert elapsed < CONNECT_TIMEOUT_SECONDS


# --- squid accepts whatever the generator can produce ------------------------------------------------

_LABEL = st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True)
_NAME = st.builds(
    lambda labels, suffix: ("." if suffix else "") + ".".join(labels),
    st.lists(_LABEL, min_size=2, max_size=4),
    st.booleans(),
)
_NETWORK = st.builds(
    lambda a, b, prefix: str(ipaddress.ip_network(f"172.{16 + a}.{b}.0/{prefix}", strict=False)),
    st.integers(0, 15),
    st.integers(0, 255),
    st.integers(12, 24),
)


@settings(max_examples=8, deadline=None)
@given(
    destinations=st.lists(st.one_of(_NETWORK, _NAME), min_size=1, max_size=6),
    ports=st.lists(st.integers(1, 65535), min_size=1, max_size=4),
    proxy_port=st.integers(1024, 65535),
    client=st.sampled_from(["192.168.0.0/27", "10.1.0.0/26"]),
)
def test_squid_parses_every_generated_config_without_a_warning(
    tmp_path_factory, destinations, ports, proxy_port, client
):
    squid = _squid()
    conf = tmp_path_factory.mktemp("parse") / "squid.conf"
    conf.write_text(
        render_squid_config(
            SquidConfig(port=proxy_port, clients=(client,), destinations=tuple(destinations), ports=tuple(ports))
        )
    )
    result = subprocess.run(
        [squid, "-k", "parse", "-f", str(conf)], capture_output=True, text=True, timeout=30, check=False
    )
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if any(word in line for word in ("WARNING", "ERROR", "FATAL"))
    ]
    assert result.returncode == 0 and not problems, conf.read_text() + "\n".join(problems)
