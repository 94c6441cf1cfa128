"""The proxy fleet, its routes and security groups in the shipped dev and prod graphs (mock runtime).

What the launch template boots is checked down to the bytes: its user data installs squid with
exactly the configuration :func:`render_squid_config` makes from the stack's config (the function
the real-squid tests run), and a real ``squid -k parse`` accepts it.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import shutil
import subprocess

import pulumi
import pulumi_aws as aws
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arcblueprint.planning.proxy_config import (
    ACCESS_LOG,
    NO_PROXY,
    SquidConfig,
    render_squid_config,
    squid_config_of,
)

STACKS = ("dev", "prod")
GROUP = "aws:autoscaling/group:Group"
TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"


@pytest.fixture(params=STACKS)
def graph(request, synthesized):
    return synthesized(request.param)


def _one(graph, name):
    (resource,) = [r for r in graph.resources if r.name == name]
    return resource


def _urns(graph, *names):
    return sorted(_one(graph, n).urn for n in names)


def _user_data(graph) -> str:
    return base64.b64decode(_one(graph, "onprem-proxy-lt").inputs["userData"]).decode()


def _load_balancer_addresses(graph) -> list[str]:
    return [m["privateIpv4Address"] for m in _one(graph, "onprem-nlb").inputs["subnetMappings"]]


def test_the_group_keeps_the_configured_proxies_in_the_proxy_subnets_behind_the_load_balancer(graph):
    spec = graph.config.on_prem
    group = _one(graph, "onprem-proxy-asg")
    inputs = group.inputs
    assert (inputs["minSize"], inputs["desiredCapacity"], inputs["maxSize"]) == (
        spec.proxies.min_size,
        spec.proxies.desired_capacity,
        spec.proxies.max_size,
    )
    zones = spec.availability_zones
    assert sorted(group.property_dependencies["vpcZoneIdentifiers"]) == _urns(
        graph, *[f"onprem-subnet-{i}" for i in range(zones)]
    )
    assert group.property_dependencies["targetGroupArns"] == [_one(graph, "onprem-proxies").urn]
    # Self-healing: the load balancer's health check decides, and a template change rolls the fleet.
    assert inputs["healthCheckType"] == "ELB" and inputs["healthCheckGracePeriod"] >= 60
    assert inputs["instanceRefresh"]["strategy"] == "Rolling"
    preferences = inputs["instanceRefresh"]["preferences"]
    assert (preferences["minHealthyPercentage"], preferences["maxHealthyPercentage"]) == (100, 200)
    # A health replacement launches before it terminates too: dev's single proxy is never gone.
    assert inputs["instanceMaintenancePolicy"] == {"minHealthyPercentage": 100, "maxHealthyPercentage": 200}
    template = _one(graph, "onprem-proxy-lt")
    assert inputs["launchTemplate"]["version"] == str(template.outputs["latestVersion"]) != "$Latest"
    assert template.urn in group.property_dependencies["launchTemplate"]
    assert 86400 <= inputs["maxInstanceLifetime"] <= 14 * 86400
    assert not graph.by_type("aws:ec2/instance:Instance"), "no fixed instances: nothing would replace them"


def test_the_launch_template_is_imdsv2_encrypted_keyless_and_arm64(graph):
    template = _one(graph, "onprem-proxy-lt").inputs
    assert template["metadataOptions"] == {
        "httpEndpoint": "enabled",
        "httpTokens": "required",
        "httpPutResponseHopLimit": 1,
        "instanceMetadataTags": "disabled",
    }
    [volume] = template["blockDeviceMappings"]
    assert volume["ebs"]["encrypted"] == "true" and volume["ebs"]["volumeType"] == "gp3"
    assert "kmsKeyId" not in volume["ebs"]  # the AWS managed EBS key: see fleet.py on the Auto Scaling role
    assert "keyName" not in template
    assert template["imageId"] == "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
    assert template["instanceType"].split(".")[0].endswith("g") and template["updateDefaultVersion"] is True
    assert _one(graph, "onprem-proxy-lt").property_dependencies["iamInstanceProfile"] == [
        _one(graph, "onprem-proxy-profile").urn
    ]


def test_the_user_data_installs_squid_with_the_generated_config(graph):
    script = _user_data(graph)
    assert script.startswith("#!/bin/bash\n") and "set -euo pipefail" in script
    assert "dnf install -y squid amazon-cloudwatch-agent" in script
    assert "squid -k parse" in script and "systemctl enable --now squid" in script
    addresses = _load_balancer_addresses(graph)
    expected = render_squid_config(SquidConfig.for_stack(graph.config, addresses))
    assert squid_config_of(script) == expected
    spec = graph.config.on_prem
    clients = " ".join(f"{a}/32" for a in addresses)
    assert f"http_port {spec.proxy_port}\n" in expected and f"acl clients src {clients}\n" in expected
    assert "strip_query_terms on" in expected and expected.rstrip().count("http_access deny all") == 1
    agent = json.loads(script.split("<<'ARCBLUEPRINT_AGENT_CONF'\n", 1)[1].split("\nARCBLUEPRINT_AGENT_CONF\n", 1)[0])
    [access, _] = agent["logs"]["logs_collected"]["files"]["collect_list"]
    group = _one(graph, "onprem-proxy-logs")
    assert access == {
        "file_path": ACCESS_LOG,
        "log_group_name": group.inputs["name"],
        "log_stream_name": "{instance_id}/access",
    }


def test_a_real_squid_accepts_the_config_the_instances_boot_with(graph, tmp_path):
    squid = shutil.which("squid") or "/usr/sbin/squid"
    conf = tmp_path / "squid.conf"
    conf.write_text(squid_config_of(_user_data(graph)))
    try:
        result = subprocess.run(
            [squid, "-k", "parse", "-f", str(conf)], capture_output=True, text=True, timeout=30, check=False
        )
    except FileNotFoundError:
        pytest.fail("squid is not installed; apt-get update && apt-get install -y squid (.ci/run does it)")
    problems = [line for line in result.stderr.splitlines() if any(w in line for w in ("WARNING", "ERROR", "FATAL"))]
    assert result.returncode == 0 and not problems, "\n".join(problems)


def test_the_instances_may_only_manage_themselves_and_write_their_log_group(graph):
    role = _one(graph, "onprem-proxy-role")
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    [managed] = [
        a
        for a in graph.by_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if role.urn in a.property_dependencies.get("role", [])
    ]
    assert managed.inputs["policyArn"] == "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
    [inline] = [
        p for p in graph.by_type("aws:iam/rolePolicy:RolePolicy") if role.urn in p.property_dependencies["role"]
    ]
    [statement] = json.loads(inline.inputs["policy"])["Statement"]
    group_arn = _one(graph, "onprem-proxy-logs").outputs["arn"]
    assert statement["Resource"] == [group_arn, f"{group_arn}:log-stream:*"]
    assert set(statement["Action"]) == {"logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"}
    # The log group is the central kind: subscribed to the sink like every other.
    filters = graph.by_type("aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter")
    assert any(f.inputs["logGroup"] == _one(graph, "onprem-proxy-logs").inputs["name"] for f in filters)


def test_every_on_prem_range_is_routed_to_the_gateway_from_every_proxy_subnet(graph):
    stack = graph.config
    gateway = stack.on_prem.gateway_id
    kind = "transitGatewayId" if gateway.startswith("tgw-") else "gatewayId"
    attachment = _one(
        graph, "onprem-routes-tgw-attachment" if kind == "transitGatewayId" else "onprem-routes-vgw-attachment"
    )
    assert attachment.property_dependencies["vpcId"] == [_one(graph, "onprem-vpc").urn]
    routes = graph.by_type("aws:ec2/route:Route")
    tables = {_one(graph, f"onprem-rt-{i}").urn for i in range(stack.on_prem.availability_zones)}
    routed = {
        (r.property_dependencies["routeTableId"][0], r.inputs["destinationCidrBlock"])
        for r in routes
        if r.inputs.get(kind) == gateway
    }
    assert routed == {(t, cidr) for t in tables for cidr in stack.network.on_prem_ranges}
    for route in routes:
        if route.inputs.get(kind) == gateway:
            assert attachment.urn in route.dependencies, "routes wait for the attachment"
    if kind == "transitGatewayId":
        assert sorted(attachment.property_dependencies["subnetIds"]) == _urns(
            graph, *[f"onprem-subnet-{i}" for i in range(stack.on_prem.availability_zones)]
        )


def _rules(graph, group_name):
    group = _one(graph, group_name).urn
    by_urn = {r.urn: r.name for r in graph.resources}

    def peer(rule):
        for prop in ("referencedSecurityGroupId", "prefixListId"):
            if rule.property_dependencies.get(prop):
                return by_urn[rule.property_dependencies[prop][0]]
        return rule.inputs.get("cidrIpv4")

    def of(kind):
        return {
            (r.inputs["ipProtocol"], r.inputs["fromPort"], r.inputs["toPort"], peer(r))
            for r in graph.by_type(kind)
            if r.property_dependencies["securityGroupId"] == [group]
        }

    return of(INGRESS), of(EGRESS)


def test_security_groups_are_exactly_the_path(graph):
    stack = graph.config
    spec = stack.on_prem
    port = spec.proxy_port
    ingress, egress = _rules(graph, "onprem-proxy-sg")
    assert ingress == {("tcp", port, port, "onprem-nlb-sg")}
    assert egress == {("tcp", p, p, cidr) for cidr in stack.network.on_prem_ranges for p in spec.destination_ports} | {
        ("tcp", 443, 443, "onprem-proxy-endpoints-sg"),
        ("tcp", 443, 443, "onprem-proxy-s3-gateway"),
    }
    assert _rules(graph, "onprem-nlb-sg") == (set(), {("tcp", port, port, "onprem-proxy-sg")})
    assert _rules(graph, "onprem-proxy-endpoints-sg") == ({("tcp", 443, 443, "onprem-proxy-sg")}, set())
    # The application side opens only when a function uses the proxy: prod's router does, nothing in dev.
    users = {"dev": set(), "prod": {("tcp", port, port, "network-lambda-sg")}}[graph.stack]
    assert _rules(graph, "onprem-endpoint-sg") == (users, set())


def test_the_load_balancer_has_a_fixed_address_in_each_proxy_subnet_taken_before_any_other(graph):
    """An internal NLB whose addresses AWS picks needs 8 free per subnet; these /28s keep fewer, so each node has
    the subnet's first usable address, and whatever else takes an address there is created after it."""
    balancer = _one(graph, "onprem-nlb")
    assert "subnets" not in balancer.inputs
    subnets = {r.urn: r for r in graph.by_type("aws:ec2/subnet:Subnet")}
    mapped = balancer.property_dependencies["subnetMappings"]
    assert sorted(mapped) == _urns(
        graph, *[f"onprem-subnet-{i}" for i in range(graph.config.on_prem.availability_zones)]
    )
    for mapping in balancer.inputs["subnetMappings"]:
        address = ipaddress.IPv4Address(mapping["privateIpv4Address"])
        [subnet] = [s for s in mapped if address in ipaddress.IPv4Network(subnets[s].inputs["cidrBlock"])]
        network = ipaddress.IPv4Network(subnets[subnet].inputs["cidrBlock"])
        # AWS keeps .0-.3 of every subnet (network, router, DNS, future use): .4 is the first an interface can have.
        assert network.prefixlen == 28 and address == network.network_address + 4
    holders = [
        *[r for r in graph.by_type("aws:ec2/vpcEndpoint:VpcEndpoint") if r.inputs.get("subnetIds")],
        *graph.by_type("aws:ec2transitgateway/vpcAttachment:VpcAttachment"),
        _one(graph, "onprem-proxy-asg"),
    ]
    in_proxy_subnets = [
        r
        for r in holders
        if set(r.property_dependencies.get("subnetIds", []) + r.property_dependencies.get("vpcZoneIdentifiers", []))
        & set(mapped)
    ]
    assert len(in_proxy_subnets) == 4 + 1 + (graph.stack == "prod")  # endpoints, proxies, prod's TGW attachment
    assert all(balancer.urn in r.dependencies for r in in_proxy_subnets)


def test_the_proxies_boot_only_once_packages_and_agents_can_be_reached(graph):
    group = _one(graph, "onprem-proxy-asg")
    needed = _urns(
        graph,
        "onprem-proxy-s3-gateway",
        "onprem-proxy-out-s3",
        "onprem-proxy-out-endpoints",
        *[f"onprem-rta-{i}" for i in range(graph.config.on_prem.availability_zones)],
        *[f"onprem-proxy-{service}-endpoint" for service in ("ssm", "ssmmessages", "ec2messages", "logs")],
    )
    assert set(needed) <= set(group.dependencies)


def test_the_load_balancer_forwards_the_proxy_port_and_drains(graph):
    balancer = _one(graph, "onprem-nlb").inputs
    assert balancer["internal"] is True and balancer["enforceSecurityGroupInboundRulesOnPrivateLinkTraffic"] == "off"
    assert _one(graph, "onprem-nlb").property_dependencies["securityGroups"] == [_one(graph, "onprem-nlb-sg").urn]
    target_group = _one(graph, "onprem-proxies").inputs
    assert target_group["preserveClientIp"] == "false"  # squid admits the load balancer's addresses
    assert int(target_group["deregistrationDelay"]) >= 30 and target_group["connectionTermination"] is True
    assert target_group["healthCheck"]["port"] == "traffic-port"
    assert target_group["port"] == graph.config.on_prem.proxy_port
    listener = _one(graph, "onprem-listener")
    assert listener.inputs["port"] == graph.config.on_prem.proxy_port
    assert listener.property_dependencies["defaultActions"] == [_one(graph, "onprem-proxies").urn]


def test_the_instances_reach_aws_through_endpoints_and_packages_through_s3_only(graph):
    endpoints = {
        r.inputs["serviceName"].rsplit(".", 1)[-1]: r
        for r in graph.by_type("aws:ec2/vpcEndpoint:VpcEndpoint")
        if r.property_dependencies["vpcId"] == [_one(graph, "onprem-vpc").urn]
    }
    assert set(endpoints) == {"ssm", "ssmmessages", "ec2messages", "logs", "s3"}
    assert all(e.inputs["privateDnsEnabled"] for k, e in endpoints.items() if k != "s3")
    [statement] = json.loads(endpoints["s3"].inputs["policy"])["Statement"]
    assert statement["Action"] == "s3:GetObject" and statement["Resource"] == "arn:aws:s3:::al2023-repos-eu-west-1-*/*"


def test_the_proxy_url_is_exported_and_prod_s_router_goes_through_it(graph):
    url = graph.outputs["onPremProxyUrl"]
    assert url == f"http://proxy.{graph.config.naming_prefix}.internal:{graph.config.on_prem.proxy_port}"
    routers = [f for f in graph.by_type("aws:lambda/function:Function") if f.name == "facade-router-function"]
    if graph.stack == "dev":
        assert routers == []  # dev's facade has no weighted route
        return
    variables = routers[0].inputs["environment"]["variables"]
    assert variables["HTTP_PROXY"] == variables["https_proxy"] == url
    assert variables["NO_PROXY"] == ",".join(NO_PROXY) and ".amazonaws.com" in variables["no_proxy"]
    assert variables["LEGACY_URL"] == "http://legacy.corp.example.com:8080"
    assert float(variables["LEGACY_CONNECT_TIMEOUT_SECONDS"]) <= float(variables["LEGACY_TIMEOUT_SECONDS"])


# --- endpoint zones follow the load balancer's for any zone layout (a small program, few examples) -----


ZONES = ["euw1-az1", "euw1-az2", "euw1-az3"]


@settings(max_examples=4, deadline=None)
@given(
    app=st.permutations(ZONES).flatmap(lambda z: st.integers(2, 3).map(lambda n: z[:n])),
    proxy=st.permutations(ZONES).flatmap(lambda z: st.integers(2, 3).map(lambda n: z[:n])),
)
def test_the_endpoint_sits_only_in_zones_the_load_balancer_serves(run_component, stack_values, app, proxy):
    from arcblueprint.platform.network import Network, NetworkArgs
    from arcblueprint.platform.onprem import OnPremAccess, OnPremAccessArgs

    class LogGroups:  # only the path is under test here; real log groups are tested with the platform
        def log_group(self, resource_name, log_group_name, *, service, parent):
            return aws.cloudwatch.LogGroup(
                resource_name, name=log_group_name, opts=pulumi.ResourceOptions(parent=parent)
            )

    def program(context):
        network = Network("network", NetworkArgs(context=context, log_groups=LogGroups()))
        OnPremAccess("onprem", OnPremAccessArgs(context=context, app_network=network, log_groups=LogGroups()))

    values = stack_values(
        "prod",
        {
            "arcblueprint:network": {
                "peakConcurrentExecutions": 100,
                "availabilityZones": len(app),
                "availabilityZoneIds": app,
                "onPremRanges": ["172.16.0.0/12"],
            },
            "arcblueprint:onPrem": {
                "enabled": True,
                "availabilityZones": len(proxy),
                "availabilityZoneIds": proxy,
                "proxies": {"minSize": 3, "desiredCapacity": 3, "maxSize": 3},
                "allowedRange": "192.168.0.0/16",
                "gatewayId": "vgw-0a1b2c3d",
                "destinations": ["172.16.0.0/12"],
            },
            "arcblueprint:services": {},
            "arcblueprint:waf": {},  # its per-service settings name services this test removes
        },
    )
    graph = run_component(program, "prod", values=values, preview=False)
    subnets = {r.urn: r.inputs["availabilityZoneId"] for r in graph.by_type("aws:ec2/subnet:Subnet")}
    endpoint = _one(graph, "onprem-endpoint")
    balancer = _one(graph, "onprem-nlb")
    placed = {subnets[u] for u in endpoint.property_dependencies["subnetIds"]}
    served = {subnets[u] for u in balancer.property_dependencies["subnetMappings"]}
    assert served == set(proxy) and placed == set(app) & set(proxy)
    group = _one(graph, "onprem-proxy-asg")
    assert {subnets[u] for u in group.property_dependencies["vpcZoneIdentifiers"]} == served
