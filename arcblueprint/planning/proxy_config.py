"""What runs on an on-prem proxy instance: the squid configuration and the user data that installs it (pure).

The proxies are a forward proxy to on-prem and nothing else. :func:`render_squid_config` turns the
stack's ``onPrem`` config into a ``squid.conf`` that listens on the proxy port, accepts clients
only from the load balancer's fixed addresses (with client IP preservation off, PrivateLink
traffic and health checks reach the targets from them), lets HTTP and ``CONNECT`` through only to
the on-prem destinations (CIDRs and host names) on the configured ports, refuses everything else,
and logs each request without its query string. The same function renders the file the tests run
a real squid with, so what the tests prove is what the instances run; :func:`parse_squid_config`
reads those settings back (the correctness rules read them from the launch template's user data).

:func:`render_user_data` is the instance's boot script: it installs squid and the CloudWatch agent
from the Amazon Linux 2023 repository (served from S3, reached through the proxy VPC's S3 gateway
endpoint: the instances have no internet path), writes both configurations and starts them. The
agent ships squid's logs to a log group of the platform's central logging.
"""

from __future__ import annotations

import ipaddress
import json
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from arcblueprint.config.model import StackConfig

__all__ = [
    "ACCESS_LOG",
    "CACHE_LOG",
    "NO_PROXY",
    "PROXY_INSTANCE_ENDPOINTS",
    "Destinations",
    "ProxyRules",
    "SquidConfig",
    "allows",
    "client_environment",
    "is_host_name",
    "installs_squid",
    "parse_squid_config",
    "render_squid_config",
    "render_user_data",
    "squid_config_of",
]

#: Interface endpoints the proxy instances need in their VPC: Session Manager (ssm, ssmmessages,
#: and ec2messages for agents older than 3.3.40.0) and CloudWatch Logs for the agent. Packages
#: come from S3 through the gateway endpoint.
PROXY_INSTANCE_ENDPOINTS = ("ssm", "ssmmessages", "ec2messages", "logs")

ACCESS_LOG = "/var/log/squid/access.log"
CACHE_LOG = "/var/log/squid/cache.log"
_AGENT_CONFIG = "/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json"
_AGENT_CTL = "/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl"

#: Never a destination unless listed outright: the proxy's own loopback, and link-local addresses
#: (instance metadata at 169.254.169.254). An allowed host name that resolves there would otherwise
#: let a client reach the instance's credentials through the proxy.
_NEVER = tuple(ipaddress.ip_network(n) for n in ("127.0.0.0/8", "169.254.0.0/16", "::1/128", "fe80::/10"))

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"\.?{_LABEL}(?:\.{_LABEL})*")


def is_host_name(value: str) -> bool:
    """A lowercase DNS name (``legacy.corp.example.com``) or domain suffix (``.corp.example.com``)."""
    return len(value) <= 253 and _HOST.fullmatch(value) is not None and not _is_ip(value.lstrip("."))


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Destinations:
    """Where the proxy may go: IPv4 networks, host names, domain suffixes (``.corp.example.com``)."""

    networks: tuple[ipaddress.IPv4Network, ...]
    domains: tuple[str, ...]

    @classmethod
    def parse(cls, values: tuple[str, ...] | list[str]) -> Destinations:
        """Split config entries; overlapping networks collapse and names under a listed suffix drop,
        because squid warns about both and a warning in a generated file is a bug in its generator."""
        networks = [ipaddress.IPv4Network(v) for v in values if not is_host_name(v)]
        names = sorted({v for v in values if is_host_name(v)})
        suffixes = {n for n in names if n.startswith(".")}
        kept = [n for n in names if not any(n != s and _under(n, s) for s in suffixes)]
        return cls(tuple(ipaddress.collapse_addresses(networks)), tuple(kept))

    def admits_host(self, host: str) -> bool:
        """Whether a request naming ``host`` (an address or a name) matches a destination by itself.

        A name that only *resolves* into a listed network also passes squid, but that cannot be
        known before the request; callers that must be sure list the name.
        """
        host = host.lower().rstrip(".")
        if _is_ip(host):
            address = ipaddress.ip_address(host)
            return any(address in network for network in self.networks)
        return any(host == d or _under(host, d) for d in self.domains)


def _under(name: str, suffix: str) -> bool:
    """Squid's dstdomain: ``.example.com`` matches ``example.com`` and every name below it."""
    return suffix.startswith(".") and (name.lstrip(".") == suffix[1:] or name.endswith(suffix))


@dataclass(frozen=True, kw_only=True)
class SquidConfig:
    """Everything ``squid.conf`` depends on. Paths default to Amazon Linux's squid package layout."""

    #: The proxy port (``onPrem.proxyPort``); the load balancer forwards and health-checks it.
    port: int
    #: Who may use the proxy: the load balancer's fixed addresses (``/32`` each).
    clients: tuple[str, ...]
    #: ``onPrem.destinations``: IPv4 CIDRs, host names, ``.domain`` suffixes.
    destinations: tuple[str, ...]
    #: ``onPrem.destinationPorts``: the only ports requests and tunnels may go to.
    ports: tuple[int, ...]
    #: default: every address of the instance.
    listen_address: str | None = None
    access_log: str = ACCESS_LOG
    cache_log: str = CACHE_LOG
    #: default: the package's (its systemd unit reads that pid file).
    pid_file: str | None = None
    coredump_dir: str | None = None
    #: default: the package's unprivileged user.
    effective_user: str | None = None
    #: default: squid's 30 s, so requests in flight finish after the load balancer stops sending new ones.
    shutdown_seconds: int | None = None
    visible_hostname: str = field(default="arcblueprint-onprem-proxy")

    @classmethod
    def for_stack(cls, stack: StackConfig, load_balancer_addresses: Sequence[str]) -> SquidConfig:
        """The proxies of ``stack``; only the load balancer's addresses (``VpcPlan.load_balancer_addresses``) get in."""
        spec = stack.on_prem
        return cls(
            port=spec.proxy_port,
            clients=tuple(f"{address}/32" for address in load_balancer_addresses),
            destinations=tuple(spec.destinations),
            ports=tuple(spec.destination_ports),
        )


def render_squid_config(config: SquidConfig) -> str:
    """The ``squid.conf`` of a proxy that goes to the configured destinations and ports only."""
    destinations = Destinations.parse(config.destinations)
    if not destinations.networks and not destinations.domains:
        raise ValueError("a proxy with no destination would refuse every request")
    if not config.ports or not config.clients:
        raise ValueError("the proxy needs at least one destination port and one client network")
    never = [n for n in _NEVER if not any(n.version == d.version and n.overlaps(d) for d in destinations.networks)]
    listen = f"{config.listen_address}:{config.port}" if config.listen_address else str(config.port)
    lines = [
        "# Generated by arcblueprint; changes on the instance are lost.",
        "# A forward proxy to on-prem only: HTTP and CONNECT to the destinations and ports below, nothing else.",
        f"http_port {listen}",
        f"visible_hostname {config.visible_hostname}",
        "# Clients: the load balancer's addresses (PrivateLink traffic and health checks arrive from them).",
        f"acl clients src {' '.join(config.clients)}",
    ]
    if destinations.networks:
        lines.append(f"acl onprem_networks dst {' '.join(map(str, destinations.networks))}")
    if destinations.domains:
        # -n: match the name as requested; no reverse lookups of addresses.
        lines.append(f"acl onprem_domains dstdomain -n {' '.join(destinations.domains)}")
    lines.append(f"acl onprem_ports port {' '.join(str(p) for p in sorted(set(config.ports)))}")
    if never:
        lines.append(f"acl never_dst dst {' '.join(map(str, never))}")
    lines += ["http_access deny manager", "http_access deny !clients", "http_access deny !onprem_ports"]
    if never:
        lines.append("http_access deny never_dst")
    if destinations.networks:
        lines.append("http_access allow onprem_networks")
    if destinations.domains:
        lines.append("http_access allow onprem_domains")
    lines += [
        "http_access deny all",
        "icp_access deny all",
        "htcp_access deny all",
        "# Nothing is cached: every answer comes from on-prem, nothing is kept on disk.",
        "cache deny all",
        "# Query strings carry tokens: the access log keeps the path only.",
        "strip_query_terms on",
        f"access_log stdio:{config.access_log} squid",
        f"cache_log {config.cache_log}",
        "# The request's own X-Forwarded-For (the caller, added by the client) stays as it is.",
        "forwarded_for transparent",
        "httpd_suppress_version_string on",
        "pinger_enable off",
    ]
    if config.pid_file:
        lines.append(f"pid_filename {config.pid_file}")
    if config.coredump_dir:
        lines.append(f"coredump_dir {config.coredump_dir}")
    if config.effective_user:
        lines.append(f"cache_effective_user {config.effective_user}")
    if config.shutdown_seconds is not None:
        lines.append(f"shutdown_lifetime {config.shutdown_seconds} seconds")
    return "\n".join(lines) + "\n"


def agent_config(*, log_group_name: str, config: SquidConfig) -> dict[str, object]:
    """The CloudWatch agent's configuration: squid's access and cache logs, one stream each per instance."""
    files = [
        {"file_path": path, "log_group_name": log_group_name, "log_stream_name": f"{{instance_id}}/{stream}"}
        for path, stream in ((config.access_log, "access"), (config.cache_log, "cache"))
    ]
    # root (the agent's default on Linux) reads squid's log directory, which only squid's user owns.
    return {"agent": {"run_as_user": "root"}, "logs": {"logs_collected": {"files": {"collect_list": files}}}}


_SQUID_EOF = "ARCBLUEPRINT_SQUID_CONF"
_AGENT_EOF = "ARCBLUEPRINT_AGENT_CONF"


def render_user_data(*, squid: SquidConfig, log_group_name: str) -> str:
    """The boot script (cloud-init runs ``#!`` user data as root, once, at first boot).

    ``set -e``: an instance whose squid fails to install or to parse its configuration never
    listens, fails the load balancer's health check and is replaced by the Auto Scaling group.
    """
    conf = render_squid_config(squid)
    agent = json.dumps(agent_config(log_group_name=log_group_name, config=squid), indent=2, sort_keys=True)
    for eof, text in ((_SQUID_EOF, conf), (_AGENT_EOF, agent)):
        if any(line.strip() == eof for line in text.splitlines()):  # pragma: no cover - would end the heredoc early
            raise ValueError(f"generated text contains the heredoc delimiter {eof}")
    return "\n".join(
        [
            "#!/bin/bash",
            "# arcblueprint on-prem proxy: squid and the CloudWatch agent from the Amazon Linux 2023 repository",
            "# (served from S3 through the proxy VPC's gateway endpoint; there is no internet path).",
            "set -euo pipefail",
            "dnf install -y squid amazon-cloudwatch-agent",
            f"install -D -m 0644 /dev/stdin /etc/squid/squid.conf <<'{_SQUID_EOF}'",
            conf.rstrip("\n"),
            _SQUID_EOF,
            f"install -D -m 0644 /dev/stdin {_AGENT_CONFIG} <<'{_AGENT_EOF}'",
            agent,
            _AGENT_EOF,
            "squid -k parse",
            "systemctl enable --now squid",
            f"{_AGENT_CTL} -a fetch-config -m ec2 -s -c file:{_AGENT_CONFIG}",
            "",
        ]
    )


def squid_config_of(user_data: str) -> str | None:
    """The ``squid.conf`` a user data script written by :func:`render_user_data` installs."""
    start = f"<<'{_SQUID_EOF}'\n"
    if start not in user_data:
        return None
    body = user_data.split(start, 1)[1]
    return body.split(f"\n{_SQUID_EOF}\n", 1)[0] + "\n"


@dataclass(frozen=True, kw_only=True)
class ProxyRules:
    """What a generated ``squid.conf`` enforces, read back from the file (see :func:`parse_squid_config`)."""

    #: ``http_port``: where squid listens (``None`` if the file names none).
    port: int | None
    #: ``acl clients src``: who may use the proxy.
    clients: tuple[str, ...]
    #: ``acl onprem_networks dst`` and ``acl onprem_domains dstdomain``: where requests may go.
    destinations: tuple[str, ...]
    #: ``acl onprem_ports port``: the ports requests and tunnels may go to.
    ports: tuple[int, ...]

    @property
    def networks(self) -> tuple[str, ...]:
        return tuple(d for d in self.destinations if not is_host_name(d))

    @property
    def domains(self) -> tuple[str, ...]:
        return tuple(d for d in self.destinations if is_host_name(d))

    def allows(self, url: str) -> bool:
        """Whether these rules let a request for ``url`` through (see :func:`allows`)."""
        return allows(url, destinations=self.destinations, ports=self.ports)


def parse_squid_config(text: str) -> ProxyRules:
    """The port, clients, destinations and ports of a ``squid.conf`` :func:`render_squid_config` wrote."""
    port: int | None = None
    acls: dict[str, list[str]] = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "http_port":
            tail = words[1].rsplit(":", 1)[-1]
            port = int(tail) if tail.isdigit() else None
        elif len(words) >= 3 and words[0] == "acl":
            acls.setdefault(words[1], []).extend(w for w in words[3:] if not w.startswith("-"))
    ports = tuple(int(p) for p in acls.get("onprem_ports", ()) if p.isdigit())
    return ProxyRules(
        port=port,
        clients=tuple(acls.get("clients", ())),
        destinations=(*acls.get("onprem_networks", ()), *acls.get("onprem_domains", ())),
        ports=ports,
    )


_INSTALLS_SQUID = re.compile(r"^\s*(?:dnf|yum)\s+(?:-\S+\s+)*install\b[^\n]*\bsquid\b", re.MULTILINE)
_STARTS_SQUID = re.compile(r"^\s*systemctl\s+enable\s+--now\s+squid\b", re.MULTILINE)


def installs_squid(user_data: str) -> bool:
    """Whether a boot script installs squid with ``dnf``/``yum`` and starts it (``systemctl enable --now squid``),
    as :func:`render_user_data`'s does."""
    return _INSTALLS_SQUID.search(user_data) is not None and _STARTS_SQUID.search(user_data) is not None


def allows(url: str, *, destinations: tuple[str, ...], ports: tuple[int, ...]) -> bool:
    """Whether the proxy lets a request for ``url`` through, judged from the URL alone."""
    parsed = urllib.parse.urlsplit(url)
    if not parsed.hostname:
        return False
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return port in ports and Destinations.parse(destinations).admits_host(parsed.hostname)


#: Never through the proxy: every AWS API (regional endpoints and interface endpoints' private DNS
#: names end in ``amazonaws.com``), instance and container metadata, and the Lambda runtime API and
#: extensions on loopback. The proxy would refuse them all: they are not on-prem.
NO_PROXY = (".amazonaws.com", "169.254.169.254", "169.254.170.2", "localhost", "127.0.0.1")


def client_environment(proxy_url: str) -> dict[str, str]:
    """Environment variables that send a client's HTTP(S) through the proxy and everything AWS around it.

    Both spellings: Python, botocore and curl read the lowercase ones (curl only those for http).
    """
    no_proxy = ",".join(NO_PROXY)
    values = {"HTTP_PROXY": proxy_url, "HTTPS_PROXY": proxy_url, "NO_PROXY": no_proxy}
    return {**values, **{k.lower(): v for k, v in values.items()}}
