"""The whole platform under the mock runtime, for dev and prod: logging, event targets, security
groups, secrets and protection rules hold for every resource it declares."""

from __future__ import annotations

import ipaddress
import json
import re

import pulumi
import pulumi_aws as aws
import pytest

from arcblueprint.planning.cidr import NetworkDemand, plan_vpc
from arcblueprint.platform.build import build_platform
from arcblueprint.platform.handles import RuleTarget

STACKS = ("dev", "prod")
SECRETS = {
    "db-password": {"description": "Password of the orders database"},
    "partner-key": {
        "description": "API key of the payment partner",
        "rotationDays": 30,
        "rotationFunctionArn": "arn:aws:lambda:eu-west-1:111111111111:function:rotate-partner-key",
        "rotationRoleArn": "arn:aws:iam::111111111111:role/rotate-partner-key",
    },
}
READER_ROLE = "arn:aws:iam::{account}:role/orders-api"
#: Roles that publish domain events: two of the orders service, one of hooks.
PRODUCER_ROLES = (
    "arn:aws:iam::{account}:role/orders-outbox",
    "arn:aws:iam::{account}:role/orders-backfill",
    "arn:aws:iam::{account}:role/hooks-consumer",
)
#: IAM prefixes a VPC function's grants ask the network for, and the endpoint services that serve them.
ON_DEMAND_APIS = ("lambda", "cloudwatch", "dynamodb")
ON_DEMAND_INTERFACE_ENDPOINTS = {"lambda", "monitoring"}  # DynamoDB: the gateway endpoint
#: Types that hold data: protected and retained in prod, neither in dev.
STATEFUL_TYPES = {
    "aws:s3/bucket:Bucket",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:secretsmanager/secret:Secret",
    "aws:cloudwatch/eventArchive:EventArchive",
    "aws:sqs/queue:Queue",
    "aws:kms/key:Key",
}


def program(context) -> None:
    """The platform plus what one service would do with it: a rule on the bus and a secret reader."""
    build = build_platform(context)
    target = aws.sqs.Queue("orders-inbox", kms_master_key_id=build.platform.kms_key_arn)
    build.platform.event_rules.add_rule(
        "orders-created",
        service="fan",
        event_pattern={"source": ["arcblueprint.orders"], "detail-type": ["OrderCreated"]},
        target=RuleTarget(kind="sqs", arn=target.arn, label="orders inbox"),
        parent=target,
    )
    for role in PRODUCER_ROLES:  # what publishing functions do (FunctionArgs.publishes_domain_events)
        build.platform.event_rules.register_producer(
            service=role.rsplit("/", 1)[-1].split("-")[0], role_arn=role.format(account=context.stack.account_id)
        )
    build.platform.log_groups.log_group("orders-fn-logs", "/aws/lambda/orders", service="orders", parent=target)
    build.secrets.allow_readers("db-password", [READER_ROLE.format(account=context.stack.account_id)])
    # What VPC functions' grants do: ask for the APIs they call (twice, and one already configured in prod).
    for api in ON_DEMAND_APIS * 2:
        build.platform.vpc.endpoints.require(api)
    if build.platform.onprem_proxy is not None:  # what FunctionArgs(use_onprem_proxy=True) does, twice
        build.platform.onprem_proxy.admit_functions()
        build.platform.onprem_proxy.admit_functions()
    build.finish()
    for key, value in build.outputs.items():
        pulumi.export(key, value)


@pytest.fixture(scope="module")
def graphs(run_component, stack_values):
    return {
        stack: run_component(
            program, stack, values=stack_values(stack, {"arcblueprint:secrets": SECRETS}), preview=False
        )
        for stack in STACKS
    }


@pytest.fixture(params=STACKS)
def graph(request, graphs):
    return graphs[request.param]


def test_every_log_group_has_retention_kms_and_a_subscription_to_the_sink(graph) -> None:
    config = graph.config
    [stream] = graph.by_type("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream")
    [key] = graph.by_type("aws:kms/key:Key")
    filters = {
        f.inputs["logGroup"]: f for f in graph.by_type("aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter")
    }
    groups = graph.by_type("aws:cloudwatch/logGroup:LogGroup")
    exempt = [g for g in groups if g.inputs.get("tags", {}).get("arcblueprint:sink") == "self"]
    # Only Firehose's own error log may skip the sink (it cannot deliver its own failures).
    assert [g.inputs["name"] for g in exempt] == [f"/aws/kinesisfirehose/{config.naming_prefix}-logs"]
    names = {g.inputs["name"] for g in groups}
    assert {"/aws/lambda/orders", f"/aws/vpc/flow-logs/{config.naming_prefix}-vpc"} <= names
    for group in groups:
        assert group.inputs["retentionInDays"] == config.logging.retention_days, group.name
        assert group.inputs["kmsKeyId"] == key.outputs["arn"], group.name
        if group in exempt:
            continue
        subscription = filters.get(group.inputs["name"])
        assert subscription is not None, f"{group.name} is not subscribed to the sink"
        assert subscription.inputs["destinationArn"] == stream.outputs["arn"]
        assert subscription.inputs["filterPattern"] == ""


def test_the_sink_compresses_encrypts_and_keeps_logs_per_config(graph) -> None:
    spec = graph.config.logging
    [stream] = graph.by_type("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream")
    s3 = stream.inputs["extendedS3Configuration"]
    # CloudWatch Logs' gzipped batches are unpacked, routed by message type, one per line, gzipped once.
    processors = s3["processingConfiguration"]["processors"]
    assert [p["type"] for p in processors] == ["Decompression", "MetadataExtraction", "AppendDelimiterToRecord"]
    assert processors[0]["parameters"] == [{"parameterName": "CompressionFormat", "parameterValue": "GZIP"}]
    query = {p["parameterName"]: p["parameterValue"] for p in processors[1]["parameters"]}["MetadataExtractionQuery"]
    assert '.messageType == "DATA_MESSAGE" then "logs"' in query and 'else "control"' in query
    assert s3["prefix"].startswith("!{partitionKeyFromQuery:route}/")
    # Health checks expire after a day; the table reads the data prefix only.
    [lifecycle] = [
        r
        for r in graph.by_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
        if r.name == "logging-bucket-lifecycle"
    ]
    control = [r for r in lifecycle.inputs["rules"] if r["filter"].get("prefix") == "control/"]
    assert control and control[0]["expiration"]["days"] == 1
    assert s3["compressionFormat"] == "GZIP"
    assert (s3["bufferingInterval"], s3["bufferingSize"]) == (spec.sink_buffer_seconds, spec.sink_buffer_mib)
    assert s3["bufferingSize"] >= 64 and s3["dynamicPartitioningConfiguration"]["enabled"] is True
    assert stream.inputs["serverSideEncryption"]["keyType"] == "CUSTOMER_MANAGED_CMK"
    [rule] = [r for r in lifecycle.inputs["rules"] if r["id"] == "archive-then-expire"]
    assert rule["transitions"] == [{"days": spec.archive_after_days, "storageClass": "GLACIER_IR"}]
    assert rule["expiration"]["days"] == spec.expire_after_days
    # The log bucket's own settings (the platform also has the access-log and artifact buckets).
    [block] = [
        r
        for r in graph.by_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
        if r.name == "logging-bucket-public-access"
    ]
    assert all(
        block.inputs[k] is True
        for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    [versioning] = [
        r for r in graph.by_type("aws:s3/bucketVersioning:BucketVersioning") if r.name == "logging-bucket-versioning"
    ]
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    [policy] = [r for r in graph.by_type("aws:s3/bucketPolicy:BucketPolicy") if r.name == "logging-bucket-policy"]
    [deny] = json.loads(policy.inputs["policy"])["Statement"]
    assert (deny["Effect"], deny["Condition"]) == ("Deny", {"Bool": {"aws:SecureTransport": "false"}})


def test_the_log_table_reads_what_the_sink_writes_where_it_writes_it(graph, load_event) -> None:
    import base64
    import gzip

    from arcblueprint.platform.logging import LOG_TABLE_COLUMNS, events_query

    [stream] = graph.by_type("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream")
    [bucket] = [b for b in graph.by_type("aws:s3/bucket:Bucket") if b.name == "logging-bucket"]
    [database] = graph.by_type("aws:glue/catalogDatabase:CatalogDatabase")
    [table] = graph.by_type("aws:glue/catalogTable:CatalogTable")
    assert table.inputs["databaseName"] == database.inputs["name"] == graph.outputs["logDatabaseName"]
    # Partitions: the table projects exactly the prefix and date format Firehose writes under.
    s3 = stream.inputs["extendedS3Configuration"]
    query = {
        p["parameterName"]: p["parameterValue"]
        for processor in s3["processingConfiguration"]["processors"]
        for p in processor.get("parameters", [])
    }["MetadataExtractionQuery"]
    data_route = re.search(r'"DATA_MESSAGE" then "([^"]+)"', query).group(1)  # where data batches go
    prefix = s3["prefix"].replace("!{partitionKeyFromQuery:route}", data_route)
    match = re.fullmatch(r"(.*)!\{timestamp:([^}]+)\}/", prefix)
    assert match, prefix
    parameters = table.inputs["parameters"]
    location = f"s3://{bucket.outputs['bucket']}/{match.group(1)}"
    assert table.inputs["storageDescriptor"]["location"] == location
    assert parameters["storage.location.template"] == location + "${day}/"
    assert parameters["projection.day.type"] == "date" and parameters["projection.day.format"] == match.group(2)
    assert [k["name"] for k in table.inputs["partitionKeys"]] == ["day"]
    # Columns: what one line holds after decompression, a real subscription batch (AWS's sample event).
    batch = json.loads(gzip.decompress(base64.b64decode(load_event("cloudWatchLogEvent.json")["awslogs"]["data"])))
    assert {key.lower() for key in batch} == set(LOG_TABLE_COLUMNS)
    event_fields = re.fullmatch(r"array<struct<(.*)>>", LOG_TABLE_COLUMNS["logevents"]).group(1)
    assert {f.split(":")[0] for f in event_fields.split(",")} == set(batch["logEvents"][0])
    assert isinstance(batch["logEvents"][0]["timestamp"], int)  # bigint, milliseconds
    assert table.inputs["storageDescriptor"]["serDeInfo"]["serializationLibrary"].endswith("JsonSerDe")
    query = events_query(database.inputs["name"], "2026/01/31")
    assert all(column in query for column in ("loggroup", "logevents", "messagetype"))


def test_every_event_target_has_a_dlq_and_the_configured_retry_policy(graph) -> None:
    spec = graph.config.event_bus
    targets = graph.by_type("aws:cloudwatch/eventTarget:EventTarget")
    assert targets, "the test program declares one rule"
    queues = {q.outputs["arn"]: q for q in graph.by_type("aws:sqs/queue:Queue")}
    for target in targets:
        dlq = queues.get(target.inputs.get("deadLetterConfig", {}).get("arn"))
        assert dlq is not None, f"{target.name} has no dead-letter queue"
        assert dlq.inputs.get("kmsMasterKeyId"), f"{dlq.name} is not encrypted"
        assert target.inputs["retryPolicy"] == {
            "maximumRetryAttempts": spec.target_maximum_retry_attempts,
            "maximumEventAgeInSeconds": spec.target_maximum_event_age_seconds,
        }


def test_only_the_named_producers_publish_each_its_own_source(graph) -> None:
    stack = graph.config
    roles = {r.split("/")[-1]: r.format(account=stack.account_id) for r in PRODUCER_ROLES}
    [policy] = graph.by_type("aws:cloudwatch/eventBusPolicy:EventBusPolicy")
    [bus] = graph.by_type("aws:cloudwatch/eventBus:EventBus")
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    assert all(s["Action"] == "events:PutEvents" and s["Resource"] == bus.outputs["arn"] for s in statements.values())
    allows = {sid: s for sid, s in statements.items() if s["Effect"] == "Allow"}
    # Exactly the registered roles, grouped by service, each limited to its own source; nobody else (no account
    # root, no organization) is allowed.
    assert {sid: (sorted(s["Principal"]["AWS"]), s["Condition"]) for sid, s in allows.items()} == {
        "OrdersProducersPublishTheirSource": (
            sorted([roles["orders-outbox"], roles["orders-backfill"]]),
            {"ForAllValues:StringEquals": {"events:source": ["arcblueprint.orders"]}},
        ),
        "HooksProducersPublishTheirSource": (
            [roles["hooks-consumer"]],
            {"ForAllValues:StringEquals": {"events:source": ["arcblueprint.hooks"]}},
        ),
    }
    # A producer's other sources are denied whatever its identity policy says, and so is every other IAM principal.
    deny_orders = statements["OrdersProducersPublishNoOtherSource"]
    assert deny_orders["Principal"] == "*" and deny_orders["Condition"] == {
        "ArnEquals": {"aws:PrincipalArn": [roles["orders-outbox"], roles["orders-backfill"]]},
        "ForAnyValue:StringNotEquals": {"events:source": ["arcblueprint.orders"]},
    }
    others = statements["OnlyNamedProducersPublish"]
    assert (others["Effect"], others["Principal"]) == ("Deny", "*")
    assert sorted(others["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]) == sorted(roles.values())
    assert others["Condition"]["Null"] == {"aws:PrincipalArn": "false"}
    assert len(statements) == 5
    [archive] = graph.by_type("aws:cloudwatch/eventArchive:EventArchive")
    assert archive.inputs["retentionDays"] == stack.event_bus.archive_retention_days
    # EventBridge rejects schema discovery on a bus with a customer managed key, and this bus has one:
    # the producers' schemas are published to the registry instead, as JSON Schema draft 4.
    assert bus.inputs["kmsKeyIdentifier"] == graph.outputs["platformKeyArn"]
    assert not graph.by_type("aws:schemas/discoverer:Discoverer")
    schemas = {s.inputs["name"]: s for s in graph.by_type("aws:schemas/schema:Schema")}
    assert set(schemas) == {
        "arcblueprint.orders@OrderCreated",
        "arcblueprint.orders@OrderUpdated",
        "arcblueprint.hooks@WebhookReceived",
    }
    assert {s.inputs["type"] for s in schemas.values()} == {"JSONSchemaDraft4"}


OPEN = {"0.0.0.0/0", "::/0"}


def test_no_security_group_opens_ingress_to_the_internet(graph) -> None:
    groups = graph.by_type("aws:ec2/securityGroup:SecurityGroup") + graph.by_type(
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
    )
    assert groups
    for group in groups:
        for rule in group.inputs.get("ingress", []):
            assert not OPEN & set(rule.get("cidrBlocks", []) + rule.get("ipv6CidrBlocks", [])), group.name
    ingress = graph.by_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert ingress
    for rule in ingress:
        assert rule.inputs.get("cidrIpv4") not in OPEN and rule.inputs.get("cidrIpv6") not in OPEN, rule.name
    for rule in graph.by_type("aws:ec2/securityGroupRule:SecurityGroupRule"):
        if rule.inputs.get("type") == "ingress":
            assert not OPEN & set(rule.inputs.get("cidrBlocks", []) + rule.inputs.get("ipv6CidrBlocks", []))
    # Default security groups are declared empty so nothing uses AWS's allow-all-within-group defaults.
    for default in graph.by_type("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"):
        assert not default.inputs.get("ingress") and not default.inputs.get("egress")


def test_the_lambda_group_reaches_endpoints_only_and_the_proxy_endpoint_admits_only_it(graph) -> None:
    by_name = {r.name: r for r in graph.resources}
    lambda_sg = graph.outputs["lambdaSecurityGroupId"]
    egress = [
        r
        for r in graph.by_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
        if r.inputs["securityGroupId"] == lambda_sg
    ]
    assert {r.name for r in egress} >= {
        "network-lambda-to-endpoints",
        "network-lambda-to-s3",
        "network-lambda-to-dynamodb",
    }
    assert all("cidrIpv4" not in r.inputs for r in egress), "the Lambda group has no CIDR egress"
    if graph.config.on_prem.enabled:
        rule = by_name["onprem-endpoint-from-lambda"]
        assert rule.inputs["referencedSecurityGroupId"] == lambda_sg
        assert rule.inputs["fromPort"] == rule.inputs["toPort"] == graph.config.on_prem.proxy_port
        to_endpoint = [r for r in egress if r.name == "onprem-lambda-to-endpoint"]
        assert len(to_endpoint) == 1, "admitted once however often functions ask"
        service = by_name["onprem-service"]
        assert service.inputs["allowedPrincipals"] == [f"arn:aws:iam::{graph.config.account_id}:root"]


def test_the_vpcs_follow_the_planner_and_do_not_overlap(graph) -> None:
    stack = graph.config
    plan = plan_vpc(NetworkDemand.from_spec(stack.network))
    vpcs = {r.name: r.inputs["cidrBlock"] for r in graph.by_type("aws:ec2/vpc:Vpc")}
    assert vpcs["network-vpc"] == plan.cidr == graph.outputs["vpcCidr"]
    subnets = [r for r in graph.by_type("aws:ec2/subnet:Subnet") if r.name.startswith("network-private-")]
    assert sorted(s.inputs["cidrBlock"] for s in subnets) == sorted(plan.private_subnets)
    assert len({s.inputs["availabilityZoneId"] for s in subnets}) == stack.network.availability_zones
    if stack.on_prem.enabled:
        onprem = ipaddress.IPv4Network(vpcs["onprem-vpc"])
        assert not onprem.overlaps(ipaddress.IPv4Network(plan.cidr))
        assert onprem.prefixlen >= 26, "the on-prem VPC stays small"
    interface = [
        r
        for r in graph.by_type("aws:ec2/vpcEndpoint:VpcEndpoint")
        if r.inputs["vpcEndpointType"] == "Interface" and r.name.startswith("network-")
    ]
    endpoints = {r.inputs["serviceName"].rsplit(".", 1)[-1]: r for r in interface}
    assert len(endpoints) == len(interface), "each endpoint service once, however often it was required"
    assert set(endpoints) == set(stack.network.interface_endpoints) | ON_DEMAND_INTERFACE_ENDPOINTS
    private = sorted(s.urn for s in subnets)
    by_name = {r.name: r for r in graph.resources}
    for service, endpoint in endpoints.items():
        assert endpoint.name == f"network-{service}-endpoint"
        assert endpoint.inputs["serviceName"] == f"com.amazonaws.{stack.region}.{service}"
        assert endpoint.inputs["privateDnsEnabled"] is True
        assert sorted(endpoint.property_dependencies["subnetIds"]) == private
        assert endpoint.property_dependencies["securityGroupIds"] == [by_name["network-endpoints-sg"].urn]
    gateways = {
        r.inputs["serviceName"].rsplit(".", 1)[-1]
        for r in graph.by_type("aws:ec2/vpcEndpoint:VpcEndpoint")
        if r.inputs["vpcEndpointType"] == "Gateway"
    }
    assert gateways == {"s3", "dynamodb"}


def test_secret_values_appear_nowhere(graph) -> None:
    # The platform declares containers only: no secret version, no value-carrying input anywhere.
    assert not graph.by_type("aws:secretsmanager/secretVersion:SecretVersion")
    text = json.dumps([r.inputs for r in graph.resources] + [graph.outputs], default=str)
    assert not re.search(r'"(secretString|secretBinary|secretStringWo)"', text)
    arns = graph.outputs["secretArns"]
    assert set(arns) == set(SECRETS)
    assert all(
        re.fullmatch(r"arn:aws:secretsmanager:[a-z0-9-]+:\d{12}:secret:[a-z0-9-]+-\w{6}", a) for a in arns.values()
    )


def test_secrets_are_readable_only_by_granted_roles(graph) -> None:
    stack = graph.config
    secrets = {r.name: r for r in graph.by_type("aws:secretsmanager/secret:Secret")}
    assert {r.inputs["recoveryWindowInDays"] for r in secrets.values()} == {
        30 if stack.protect_stateful_resources else 7
    }
    policies = {
        r.name: json.loads(r.inputs["policy"]) for r in graph.by_type("aws:secretsmanager/secretPolicy:SecretPolicy")
    }
    assert set(policies) == {"secrets-db-password-policy", "secrets-partner-key-policy"}
    reader = READER_ROLE.format(account=stack.account_id)
    deny = policies["secrets-db-password-policy"]["Statement"][0]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": [reader]}}
    # No reader yet, but the rotation function must read what it rotates: it alone is exempt.
    [only_rotation] = policies["secrets-partner-key-policy"]["Statement"]
    assert only_rotation["Effect"] == "Deny" and only_rotation["Action"] == "secretsmanager:GetSecretValue"
    rotation_role = SECRETS["partner-key"]["rotationRoleArn"]
    assert only_rotation["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": [rotation_role]}}
    [rotation] = graph.by_type("aws:secretsmanager/secretRotation:SecretRotation")
    assert rotation.inputs["rotationRules"]["automaticallyAfterDays"] == 30
    assert rotation.inputs["rotateImmediately"] is False  # the value is put out of band, after the deploy


def test_stateful_resources_are_protected_in_prod_only(graph) -> None:
    protect = graph.config.protect_stateful_resources
    assert protect == (graph.stack == "prod")
    stateful = [r for r in graph.resources if r.type in STATEFUL_TYPES and r.name != "orders-inbox"]
    assert {r.type for r in stateful} == STATEFUL_TYPES
    for resource in stateful:
        assert (resource.protect, resource.retain_on_delete) == (protect, protect), resource.name


def test_outputs_are_names_ids_and_arns(graph) -> None:
    outputs = graph.outputs
    assert outputs["eventBusName"] == f"{graph.config.naming_prefix}-bus"
    assert len(outputs["privateSubnetIds"]) == graph.config.network.availability_zones
    assert all(s.startswith("subnet-") for s in outputs["privateSubnetIds"])
    assert outputs["lambdaSecurityGroupId"].startswith("sg-")
    assert (
        set(outputs["interfaceEndpointDns"])
        == set(graph.config.network.interface_endpoints) | ON_DEMAND_INTERFACE_ENDPOINTS
    )
    assert outputs["logDestinationArn"].startswith("arn:aws:firehose:")
    config = graph.config
    assert outputs["alarmTopicArn"] == f"arn:aws:sns:eu-west-1:{config.account_id}:{config.naming_prefix}-alarms"


def test_tiers_and_on_prem_follow_the_config(run_component, stack_values) -> None:
    values = stack_values(
        "dev",
        {
            "arcblueprint:network": {
                "peakConcurrentExecutions": 500,
                "availabilityZones": 3,
                "publicSubnets": True,
                "isolatedSubnets": True,
                "interfaceEndpoints": ["secretsmanager"],
            },
            "arcblueprint:onPrem": {"enabled": False},
        },
    )
    graph = run_component(lambda context: build_platform(context).finish(), "dev", values=values, preview=False)
    tiers = [r.inputs["tags"]["tier"] for r in graph.by_type("aws:ec2/subnet:Subnet")]
    assert sorted(tiers) == sorted(["private", "public", "isolated"] * 3)
    assert len(graph.by_type("aws:ec2/internetGateway:InternetGateway")) == 1
    assert not [r for r in graph.resources if r.type == "arcblueprint:platform:OnPremAccess"]
    assert not graph.by_type("aws:ec2/vpcEndpointService:VpcEndpointService")
    gateways = [r for r in graph.by_type("aws:ec2/vpcEndpoint:VpcEndpoint") if r.inputs["vpcEndpointType"] == "Gateway"]
    # S3 and DynamoDB are reachable from the private and isolated tiers (3 + 1 route tables).
    assert [len(g.inputs["routeTableIds"]) for g in gateways] == [4, 4]


def test_asking_for_more_zones_than_the_region_has_is_a_one_line_config_error() -> None:
    from arcblueprint.config.schema import ConfigError
    from arcblueprint.preview.harness import synthesize

    # The mocks give eu-west-1 its three zones, as AWS does.
    with pytest.raises(
        ConfigError, match=r"^network\.availabilityZones = 4 is invalid in stack 'dev': the region has 3"
    ):
        synthesize(
            "dev",
            overrides={
                "arcblueprint:network": {
                    "peakConcurrentExecutions": 100,
                    "availabilityZones": 4,
                    "onPremRanges": ["172.16.0.0/12"],
                }
            },
        )
    # The other branch, a pinned zone the region does not offer, surfaces the same way.
    from arcblueprint.planning.zones import choose_zone

    zones = ["euw1-az2", "euw1-az1", "euw1-az3"]
    assert choose_zone(zones, (), 1, "network.availabilityZones") == "euw1-az1"
    assert choose_zone(zones, ("euw1-az3", "euw1-az1"), 0, "network.availabilityZones") == "euw1-az3"
    with pytest.raises(ConfigError, match=r"^network\.availabilityZoneIds = .* euw1-az9 is not an available zone"):
        choose_zone(zones, ("euw1-az1", "euw1-az9"), 1, "network.availabilityZones")
