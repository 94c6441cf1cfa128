"""Each idle price rule against an example computed by hand from the shipped eu-west-1 prices.

Every expected figure below is written out as the arithmetic a reader can redo: quantity x unit
price, with the unit price as it stands in ``arcblueprint/cost/prices.toml``.
"""

from __future__ import annotations

import pytest

from arcblueprint.cost.prices import load_prices, parse_prices
from arcblueprint.cost.rules import RULES, RuleContext, idle_lines, service_of
from arcblueprint.preview.harness import GraphResource

PRICES = load_prices("eu-west-1")
HOURS = 730


def resource(resource_type: str, name: str, inputs: dict, *, deps: dict | None = None, parent=None) -> GraphResource:
    return GraphResource(
        urn=f"urn:pulumi:test::p::{resource_type}::{name}",
        type=resource_type,
        name=name,
        parent=parent,
        custom=True,
        inputs={"tags": {"service": "svc"}, **inputs},
        property_dependencies=deps or {},
    )


def monthly(*resources: GraphResource) -> float:
    lines, unpriced = idle_lines(resources, PRICES)
    assert unpriced == []
    return round(sum(line.monthly for line in lines), 6)


def test_the_prices_the_examples_rely_on():
    # If a price changes, the examples below change with it: this names the figures they use.
    assert PRICES.usd("privatelink_endpoint_az_hour") == 0.011
    assert PRICES.usd("nlb_hour") == 0.0252
    assert PRICES.usd("ec2_hour_t4g_small") == 0.0184
    assert PRICES.usd("ebs_gp3_gb_month") == 0.088
    assert PRICES.usd("kinesis_shard_hour") == 0.017
    assert PRICES.usd("kinesis_extended_retention_shard_hour") == 0.022
    assert PRICES.usd("kinesis_on_demand_stream_hour") == 0.044
    assert PRICES.usd("kinesis_efo_consumer_shard_hour") == 0.0165
    assert PRICES.usd("lambda_snapstart_cache_gb_second") == 0.0000015046


def test_interface_endpoint_per_zone_hour_and_gateway_endpoint_free():
    endpoint = resource(
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        "sqs",
        {"vpcEndpointType": "Interface", "subnetIds": ["a", "b", "c"], "serviceName": "com.amazonaws.eu-west-1.sqs"},
    )
    assert monthly(endpoint) == pytest.approx(3 * 730 * 0.011)  # 24.09
    gateway = resource("aws:ec2/vpcEndpoint:VpcEndpoint", "s3", {"vpcEndpointType": "Gateway"})
    assert monthly(gateway) == 0


def test_interface_endpoint_zones_from_dependencies_when_ids_are_unknown():
    endpoint = resource(
        "aws:ec2/vpcEndpoint:VpcEndpoint", "logs", {"vpcEndpointType": "Interface"}, deps={"subnetIds": ["u1", "u2"]}
    )
    assert monthly(endpoint) == pytest.approx(2 * 730 * 0.011)  # 16.06


def test_load_balancer_hours_only_while_idle():
    nlb = resource("aws:lb/loadBalancer:LoadBalancer", "nlb", {"loadBalancerType": "network"})
    assert monthly(nlb) == pytest.approx(730 * 0.0252)  # 18.396


def test_auto_scaling_group_min_size_instances_and_their_volumes():
    template = resource(
        "aws:ec2/launchTemplate:LaunchTemplate",
        "lt",
        {"instanceType": "t4g.small", "blockDeviceMappings": [{"ebs": {"volumeType": "gp3", "volumeSize": 8.0}}]},
    )
    group = resource(
        "aws:autoscaling/group:Group",
        "asg",
        {"minSize": 2.0, "desiredCapacity": 3.0, "maxSize": 4.0},
        deps={"launchTemplate": [template.urn]},
    )
    # minSize, not desired: the floor the group never goes below. 2 x 730 x 0.0184 + 2 x 8 x 0.088
    assert monthly(template, group) == pytest.approx(2 * 730 * 0.0184 + 2 * 8 * 0.088)  # 26.864 + 1.408


def test_keys_secrets_zones_alarms_and_attachments():
    assert monthly(resource("aws:kms/key:Key", "k", {})) == 1.0
    assert monthly(resource("aws:secretsmanager/secret:Secret", "s", {})) == 0.4
    assert monthly(resource("aws:route53/zone:Zone", "z", {})) == 0.5
    assert monthly(resource("aws:cloudwatch/metricAlarm:MetricAlarm", "a", {"metricName": "Errors"})) == 0.1
    math_alarm = resource(
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        "m",
        {"metricQueries": [{"id": "a", "metric": {}}, {"id": "b", "metric": {}}, {"id": "e", "expression": "a/b"}]},
    )
    assert monthly(math_alarm) == pytest.approx(2 * 0.1)  # two metrics read, the expression is free
    attachment = resource("aws:ec2transitgateway/vpcAttachment:VpcAttachment", "tgw", {})
    assert monthly(attachment) == pytest.approx(730 * 0.05)  # 36.5


def test_kinesis_provisioned_shards_extended_retention_and_on_demand():
    provisioned = resource(
        "aws:kinesis/stream:Stream",
        "s",
        {"shardCount": 4.0, "retentionPeriod": 168.0, "streamModeDetails": {"streamMode": "PROVISIONED"}},
    )
    assert monthly(provisioned) == pytest.approx(4 * 730 * 0.017 + 4 * 730 * 0.022)  # 49.64 + 64.24
    day = resource("aws:kinesis/stream:Stream", "d", {"shardCount": 1.0, "retentionPeriod": 24.0})
    assert monthly(day) == pytest.approx(730 * 0.017)  # 12.41: 24 h is the base retention
    on_demand = resource("aws:kinesis/stream:Stream", "o", {"streamModeDetails": {"streamMode": "ON_DEMAND"}})
    assert monthly(on_demand) == pytest.approx(730 * 0.044)  # 32.12


def test_enhanced_fan_out_per_shard_of_its_stream():
    stream = resource("aws:kinesis/stream:Stream", "s", {"shardCount": 4.0})
    consumer = resource("aws:kinesis/streamConsumer:StreamConsumer", "efo", {}, deps={"streamArn": [stream.urn]})
    assert monthly(stream, consumer) == pytest.approx(4 * 730 * 0.017 + 4 * 730 * 0.0165)  # 49.64 + 48.18


def test_appsync_cache_and_waf():
    assert monthly(resource("aws:appsync/apiCache:ApiCache", "c", {"type": "SMALL"})) == pytest.approx(730 * 0.044)
    acl = resource("aws:wafv2/webAcl:WebAcl", "acl", {"rules": [{"name": "a"}, {"name": "b"}, {"name": "c"}]})
    assert monthly(acl) == pytest.approx(5 + 3 * 1)


def test_snapstart_caches_the_live_version_and_plain_functions_cost_nothing_idle():
    snap = resource(
        "aws:lambda/function:Function", "api", {"memorySize": 512.0, "snapStart": {"applyOn": "PublishedVersions"}}
    )
    # 0.5 GB x 730 h x 3600 s x $0.0000015046 per GB-second
    assert monthly(snap) == pytest.approx(0.5 * 730 * 3600 * 0.0000015046)  # 1.9770
    assert monthly(resource("aws:lambda/function:Function", "plain", {"memorySize": 512.0})) == 0


def test_every_rule_has_an_example_here():
    tested = {
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        "aws:lb/loadBalancer:LoadBalancer",
        "aws:autoscaling/group:Group",
        "aws:kms/key:Key",
        "aws:secretsmanager/secret:Secret",
        "aws:kinesis/stream:Stream",
        "aws:kinesis/streamConsumer:StreamConsumer",
        "aws:appsync/apiCache:ApiCache",
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        "aws:route53/zone:Zone",
        "aws:ec2transitgateway/vpcAttachment:VpcAttachment",
        "aws:wafv2/webAcl:WebAcl",
        "aws:lambda/function:Function",
    }
    assert set(RULES) - tested == {"aws:cloudwatch/compositeAlarm:CompositeAlarm"}
    assert monthly(resource("aws:cloudwatch/compositeAlarm:CompositeAlarm", "c", {})) == 0.5


def test_a_type_no_rule_knows_is_reported_not_assumed_free():
    nat = resource("aws:ec2/natGateway:NatGateway", "nat", {})
    lines, unpriced = idle_lines([nat], PRICES)
    assert lines == [] and unpriced == ["aws:ec2/natGateway:NatGateway"]
    provisioned = resource("aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig", "pc", {})
    assert idle_lines([provisioned], PRICES)[1] == [
        "aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig"
    ]


def test_lines_belong_to_the_service_tag_or_the_top_level_component():
    component = GraphResource(
        urn="urn:c", type="arcblueprint:services:CherryPick", name="bookings", parent=None, custom=False, inputs={}
    )
    cache = GraphResource(
        urn="urn:cache",
        type="aws:appsync/apiCache:ApiCache",
        name="bookings-cache",
        parent="urn:c",
        custom=True,
        inputs={"type": "SMALL"},
    )  # ApiCache takes no tags
    [line] = idle_lines([component, cache], PRICES)[0]
    assert line.piece == "bookings"
    group = resource("aws:autoscaling/group:Group", "g", {"tags": [{"key": "service", "value": "on-prem"}]})
    assert service_of(group) == "on-prem"


def test_a_region_without_prices_names_the_file_to_extend():
    with pytest.raises(KeyError, match=r"no prices for region ap-south-2 .*add a \[regions"):
        load_prices("ap-south-2")
    table = parse_prices({"regions": {"r": {}}}, "r")
    with pytest.raises(KeyError, match="has no price 'nlb_hour' for r"):
        table["nlb_hour"]


def test_rule_context_follows_dependencies_of_one_type_only():
    template = resource("aws:ec2/launchTemplate:LaunchTemplate", "lt", {"instanceType": "t4g.small"})
    other = resource("aws:iam/role:Role", "r", {})
    group = resource("aws:autoscaling/group:Group", "g", {}, deps={"launchTemplate": [template.urn, other.urn]})
    ctx = RuleContext(prices=PRICES, by_urn={r.urn: r for r in (template, other, group)})
    assert ctx.related(group, "launchTemplate", "aws:ec2/launchTemplate:LaunchTemplate") == [template]
