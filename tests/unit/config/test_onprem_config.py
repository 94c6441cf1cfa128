"""The on-prem path is validated as a whole before any resource: one line naming the key, exit status 2."""

from __future__ import annotations

import pytest
import yaml

from arcblueprint import cli
from arcblueprint.config import ConfigError, load
from arcblueprint.preview.harness import REPO_ROOT, synthesize

#: What prod's on-prem section is, so each case changes one thing.
PROD = (
    "enabled: true, proxies: {minSize: 2, desiredCapacity: 2, maxSize: 4}, allowedRange: 192.168.0.0/16, "
    "gatewayId: tgw-0a1b2c3d4e5f60718, destinations: [172.16.0.0/12, .corp.example.com], "
    "destinationPorts: [443, 8080], resolverRuleIds: [rslvr-rr-0a1b2c3d4e5f60718]"
)


def _load_prod_with(tmp_path, on_prem: str):
    # Replaced in the document, not appended: a second arcblueprint:onPrem key is itself an error.
    document = yaml.safe_load((REPO_ROOT / "Pulumi.prod.yaml").read_text())
    document["config"]["arcblueprint:onPrem"] = yaml.safe_load(f"{{{on_prem}}}")
    (tmp_path / "Pulumi.bad.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return load(tmp_path, "bad")


def test_the_base_case_loads(tmp_path):
    spec = _load_prod_with(tmp_path, PROD).on_prem
    assert spec.gateway_id == "tgw-0a1b2c3d4e5f60718" and spec.destination_networks == ("172.16.0.0/12",)


@pytest.mark.parametrize(
    ("change", "key", "reason"),
    [
        # Destinations the proxies would send into one of the VPCs (prod: app 10.0.0.0/24, proxies 192.168.0.0/27).
        (
            "destinations: [10.0.0.0/25]",
            "onPrem.destinations[0] = '10.0.0.0/25'",
            "overlaps the application VPC 10.0.0.0/24",
        ),
        (
            "destinations: [.corp.example.com, 192.168.0.0/28]",
            "onPrem.destinations[1]",
            "overlaps the proxy VPC 192.168.0.0/27",
        ),
        ("destinations: [10.200.0.0/16]", "onPrem.destinations[0]", "outside network.onPremRanges"),
        ("destinations: [172.16.0.1/12]", "onPrem.destinations[0]", "must be an IPv4 CIDR block without host bits"),
        ("destinations: []", "onPrem.destinations", "a proxy to nowhere refuses all"),
        ("gatewayId: igw-0a1b2c3d", "onPrem.gatewayId = 'igw-0a1b2c3d'", "tgw-... or vgw-..."),
        ("gatewayId: dxgw-0a1b2c3d4e5f60718", "onPrem.gatewayId", "tgw-... or vgw-..."),
        ("gatewayId: tgw-xyz", "onPrem.gatewayId", "tgw-... or vgw-..."),
        ("gatewayId: null", "onPrem.gatewayId", "is required when onPrem is enabled"),
        (
            "proxies: {minSize: 1, desiredCapacity: 2, maxSize: 4}",
            "onPrem.proxies.minSize = 1",
            "at least the proxy VPC's 2 zones in production",
        ),
        (
            "availabilityZones: 1, proxies: {minSize: 1, desiredCapacity: 1, maxSize: 2}",
            "onPrem.availabilityZones = 1",
            "at least 2 in production",
        ),
        (
            "proxies: {minSize: 3, desiredCapacity: 2, maxSize: 4}",
            "onPrem.proxies.desiredCapacity = 2",
            "between minSize (3) and maxSize (4)",
        ),
        ("proxies: {minSize: 2, desiredCapacity: 5, maxSize: 4}", "onPrem.proxies.desiredCapacity = 5", "between"),
        ("proxyInstanceType: t3.small", "onPrem.proxyInstanceType", "Graviton"),
        ("destinationPorts: [443, 70000]", "onPrem.destinationPorts[1] = 70000", "a port from 1 to 65535"),
        ("availabilityZones: 4", "onPrem.availabilityZones = 4", "from 1 to 3"),
        # Host names resolve in the proxy VPC only through the network team's forwarding rules.
        ("resolverRuleIds: []", "onPrem.resolverRuleIds is invalid", "destinations name hosts (.corp.example.com)"),
        ("resolverRuleIds: [rr-0a1b2c3d4e]", "onPrem.resolverRuleIds[0] = 'rr-0a1b2c3d4e'", "rslvr-rr-"),
    ],
)
def test_on_prem_errors_are_one_line_naming_the_key(tmp_path, change, key, reason):
    with pytest.raises(ConfigError) as caught:
        _load_prod_with(tmp_path, f"{PROD}, {change}")
    message = str(caught.value)
    assert "\n" not in message and "stack 'bad'" in message
    assert f"arcblueprint:{key}" in message and reason in message, message


def test_on_prem_ranges_are_required_when_on_prem_is_enabled(tmp_path):
    text = (REPO_ROOT / "Pulumi.prod.yaml").read_text().replace("    onPremRanges:\n      - 172.16.0.0/12\n", "")
    (tmp_path / "Pulumi.bad.yaml").write_text(text)
    with pytest.raises(
        ConfigError,
        match=r"arcblueprint:network\.onPremRanges is invalid .*routes them to "
        r"onPrem\.gatewayId",
    ):
        load(tmp_path, "bad")


def test_dev_may_run_one_proxy_in_one_zone(tmp_path):
    document = yaml.safe_load((REPO_ROOT / "Pulumi.dev.yaml").read_text())
    document["config"]["arcblueprint:onPrem"] = yaml.safe_load(
        "{enabled: true, availabilityZones: 1, proxies: {minSize: 1, desiredCapacity: 1, "
        "maxSize: 1}, gatewayId: vgw-0a1b2c3d, destinations: [172.16.0.0/16], allowedRange: 192.168.0.0/16}"
    )
    (tmp_path / "Pulumi.small.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    spec = load(tmp_path, "small").on_prem
    assert (spec.availability_zones, spec.proxies.max_size) == (1, 1)
    assert spec.resolver_rule_ids == ()  # only addresses as destinations: no resolver rule is needed


def test_the_cli_exits_2_with_the_line(monkeypatch, capsys):
    bad = {
        "arcblueprint:onPrem": {
            "enabled": True,
            "proxies": {"minSize": 2, "desiredCapacity": 2, "maxSize": 4},
            "allowedRange": "192.168.0.0/16",
            "gatewayId": "tgw-0a1b2c3d4e5f60718",
            "destinations": ["10.0.0.0/25"],
        }
    }
    monkeypatch.setattr(cli, "_synthesize", lambda stack, preview: synthesize(stack, overrides=bad, preview=preview))
    assert cli.main(["preview", "--stack", "prod"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("blueprint: ") and "onPrem.destinations[0]" in line and "application VPC" in line


def test_a_service_reaching_legacy_through_the_proxy_needs_the_proxy_and_a_listed_destination(tmp_path):
    with pytest.raises(
        ConfigError,
        match=r"arcblueprint:services\.facade\.legacy\.url = 'http://legacy\.corp\.example"
        r"\.com:8080' is invalid .*needs onPrem\.enabled: true",
    ):
        _load_prod_with(tmp_path, "enabled: false")
    narrow = PROD.replace("destinations: [172.16.0.0/12, .corp.example.com]", "destinations: [172.16.0.0/12]")
    with pytest.raises(ConfigError, match=r"services\.facade\.legacy\.url .*is not a destination of the on-prem proxy"):
        _load_prod_with(tmp_path, narrow)
    no_8080 = PROD.replace("destinationPorts: [443, 8080]", "destinationPorts: [443]")
    with pytest.raises(ConfigError, match=r"services\.facade\.legacy\.url .*onPrem\.destinationPorts"):
        _load_prod_with(tmp_path, no_8080)
