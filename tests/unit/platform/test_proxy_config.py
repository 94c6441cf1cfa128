"""Reading a generated squid.conf back: the correctness rules judge the proxies by what their user data enforces."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from arcblueprint.planning.proxy_config import (
    SquidConfig,
    allows,
    installs_squid,
    parse_squid_config,
    render_squid_config,
    render_user_data,
    squid_config_of,
)

_NAME = st.sampled_from([".corp.example.com", "legacy.corp.example.com", ".dev.corp.example.com", "vip.example.org"])
_NETWORK = st.builds(
    lambda a, b, prefix: str(ipaddress.ip_network(f"172.{16 + a}.{b}.0/{prefix}", strict=False)),
    st.integers(0, 15),
    st.integers(0, 255),
    st.integers(12, 24),
)
_HOST = st.one_of(
    _NAME.map(lambda n: n.lstrip(".")),
    st.sampled_from(["api.corp.example.com", "other.example.net", "169.254.169.254"]),
    st.builds(lambda a, b: f"172.{16 + a}.{b}.10", st.integers(0, 20), st.integers(0, 255)),
)


@settings(max_examples=40, deadline=None)
@given(
    destinations=st.lists(st.one_of(_NETWORK, _NAME), min_size=1, max_size=5),
    ports=st.lists(st.integers(1, 65535), min_size=1, max_size=3),
    proxy_port=st.integers(1024, 65535),
    clients=st.lists(st.sampled_from(["192.168.0.4/32", "192.168.0.20/32", "10.1.0.0/26"]), min_size=1, unique=True),
    urls=st.lists(st.tuples(st.sampled_from(["http", "https"]), _HOST, st.integers(1, 65535)), max_size=6),
)
def test_what_the_file_enforces_reads_back_as_the_config_that_wrote_it(destinations, ports, proxy_port, clients, urls):
    config = SquidConfig(port=proxy_port, clients=tuple(clients), destinations=tuple(destinations), ports=tuple(ports))
    rules = parse_squid_config(render_squid_config(config))
    assert rules.port == proxy_port and rules.clients == tuple(clients) and set(rules.ports) == set(ports)
    # The file collapses overlapping networks and names under a listed suffix; what it lets through does not change.
    for scheme, host, port in [*urls, *(("http", h, p) for h in ("legacy.corp.example.com",) for p in ports)]:
        url = f"{scheme}://{host}:{port}/x"
        assert rules.allows(url) == allows(url, destinations=tuple(destinations), ports=tuple(ports)), url


def test_the_generated_boot_script_installs_and_starts_squid_and_a_script_without_either_does_not():
    config = SquidConfig(port=3128, clients=("192.168.0.4/32",), destinations=(".corp.example.com",), ports=(443,))
    script = render_user_data(squid=config, log_group_name="/arcbp/onprem-proxy/squid")
    assert installs_squid(script) and parse_squid_config(squid_config_of(script)).domains == (".corp.example.com",)
    assert not installs_squid(script.replace("systemctl enable --now squid\n", ""))
    assert not installs_squid(script.replace("dnf install -y squid amazon-cloudwatch-agent\n", ""))
    assert not installs_squid("#!/bin/bash\necho squid\n")
    # A hand-written script counts when it does both.
    assert installs_squid("#!/bin/bash\ndnf -y install squid\nsystemctl enable --now squid\n")
