"""What each resource of a synthesized stack costs per month while nobody uses it.

One rule per resource type that AWS bills by the hour or month whatever the traffic; each reads
only the resource's inputs (and the resources they were computed from), so it prices what
``pulumi up`` would create. Types billed only per use are listed in :data:`USAGE_ONLY`, types
AWS does not bill in :data:`NO_CHARGE`; anything else is reported as not priced, never as free.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from arcblueprint.cost.prices import HOURS_PER_MONTH, SECONDS_PER_MONTH

if TYPE_CHECKING:
    from arcblueprint.cost.prices import Price, PriceTable
    from arcblueprint.preview.harness import GraphResource

__all__ = ["NO_CHARGE", "RULES", "USAGE_ONLY", "IdleLine", "RuleContext", "idle_lines", "service_of"]

MIB_PER_GB = 1024
#: Kinesis keeps records 24 hours at the base price; longer (up to 7 days) is extended retention.
KINESIS_BASE_RETENTION_HOURS = 24


@dataclass(frozen=True, kw_only=True)
class IdleLine:
    """One monthly charge of one resource: ``quantity`` units of ``price``."""

    piece: str
    resource: str
    item: str
    quantity: float
    price: Price

    @property
    def monthly(self) -> float:
        return self.quantity * self.price.usd

    def as_json(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "item": self.item,
            "quantity": round(self.quantity, 6),
            "unit": self.price.unit,
            "unitPrice": self.price.usd,
            "price": self.price.name,
            "confirmed": self.price.confirmed,
            "monthly": round(self.monthly, 4),
        }


@dataclass(frozen=True, kw_only=True)
class RuleContext:
    """The prices, and every resource by URN (a rule follows property dependencies to related resources)."""

    prices: PriceTable
    by_urn: Mapping[str, GraphResource]

    def related(self, resource: GraphResource, prop: str, resource_type: str) -> list[GraphResource]:
        found = [self.by_urn.get(u) for u in resource.property_dependencies.get(prop, [])]
        return [r for r in found if r is not None and r.type == resource_type]


def service_of(resource: GraphResource) -> str:
    """The ``service`` tag (a map, or the Auto Scaling group's list of key/value tags)."""
    tags = resource.inputs.get("tags")
    if isinstance(tags, Mapping):
        value = tags.get("service")
        return str(value) if value else "untagged"
    if isinstance(tags, Sequence) and not isinstance(tags, str):
        for tag in tags:
            if isinstance(tag, Mapping) and tag.get("key") == "service":
                return str(tag.get("value"))
    return "untagged"


def _owner(resource: GraphResource, by_urn: Mapping[str, GraphResource]) -> str:
    """The piece a resource belongs to: its ``service`` tag, or (types without tags: an API cache, a stream
    consumer) the top-level component it was declared in, which is named after its service."""
    tagged = service_of(resource)
    if tagged != "untagged":
        return tagged
    top = resource
    while top.parent and top.parent in by_urn:
        top = by_urn[top.parent]
    return top.name if top is not resource else tagged


def _number(value: Any, default: float = 0.0) -> float:
    if isinstance(value, bool) or value is None:
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _line(resource: GraphResource, item: str, quantity: float, price: Price) -> IdleLine:
    return IdleLine(piece=service_of(resource), resource=resource.name, item=item, quantity=quantity, price=price)


# --- rules ------------------------------------------------------------------------------------------


def interface_endpoint(resource: GraphResource, ctx: RuleContext) -> list[IdleLine]:
    """An interface endpoint is billed per hour in each zone it has a network interface in (one per subnet)."""
    if resource.inputs.get("vpcEndpointType") != "Interface":
        return []  # gateway endpoints (S3, DynamoDB) are free
    zones = len(resource.inputs.get("subnetIds") or resource.property_dependencies.get("subnetIds") or [])
    service = str(resource.inputs.get("serviceName", "")).rsplit(".", 1)[-1]
    return [
        _line(
            resource,
            f"interface endpoint {service} in {zones} AZ",
            zones * HOURS_PER_MONTH,
            ctx.prices["privatelink_endpoint_az_hour"],
        )
    ]


def load_balancer(resource: GraphResource, ctx: RuleContext) -> list[IdleLine]:
    """A load balancer's hourly charge; its capacity units (NLCU/LCU) are zero while no traffic flows."""
    kind = resource.inputs.get("loadBalancerType", "application")
    price = ctx.prices["nlb_hour" if kind == "network" else "alb_hour"]
    return [_line(resource, f"{kind} load balancer", HOURS_PER_MONTH, price)]


def auto_scaling_group(resource: GraphResource, ctx: RuleContext) -> list[IdleLine]:
    """``minSize`` instances always run: their hours and their root volumes (from the launch template)."""
    count = _number(resource.inputs.get("minSize"))
    templates = ctx.related(resource, "launchTemplate", "aws:ec2/launchTemplate:LaunchTemplate")
    if not count or not templates:
        return []
    template = templates[0].inputs
    instance_type = str(template.get("instanceType", ""))
    lines = [
        _line(
            resource,
            f"{count:g} x {instance_type} (minSize)",
            count * HOURS_PER_MONTH,
            ctx.prices[f"ec2_hour_{instance_type.replace('.', '_')}"],
        )
    ]
    for mapping in template.get("blockDeviceMappings") or []:
        ebs = mapping.get("ebs") or {}
        size = _number(ebs.get("volumeSize"))
        volume_type = ebs.get("volumeType", "gp3")
        if size:
            lines.append(
                _line(
                    resource,
                    f"{count:g} x {size:g} GB {volume_type} root volume",
                    count * size,
                    ctx.prices[f"ebs_{volume_type}_gb_month"],
                )
            )
    return lines


def kms_key(resource: GraphResource, ctx: RuleContext) -> list[IdleLine]:
    return [_line(resource, "customer managed key", 1, ctx.prices["kms_key_month"])]


def secret(resource: GraphResource, ctx: RuleContext) -> list[IdleLine]:
    return [_line(resource, "secret", 1, ctx.prices["secret_month"])]


def kinesis_stream(resource: GraphResource, ctx: RuleContext) -> list[IdleLine]:
    """Provisioned: shard-hours (and extended retention past 24 h); on-demand: the stream-hour."""
    mode = (resource.inputs.get("streamModeDetails") or {}).get("streamMode", "PROVISIONED")
    if mode == "ON_DEMAND":
        return [_line(resource, "on-demand stream", HOURS_PER_MONTH, ctx.prices["kinesis_on_demand_stream_hour"])]
    shards = _number(resource.inputs.get("shardCount"))
    lines = [_line(resource, f"{shards:g} shards", shards * HOURS_PER_MONTH, ctx.prices["kinesis_shard_hour"])]
    retention = _number(resource.inputs.get("retentionPeriod"), KINESIS_BASE_RETENTION_HOURS)
    if retention > KINESIS_BASE_RETENTION_HOURS:
        lines.append(
            _line(
                resource,
                f"{shards:g} shards kept {retention:g} h (extended retention)",
                shards * HOURS_PER_MONTH,
                ctx.prices["kinesis_extended_retention_shard_hour"],
            )
        )
    return lines


def stream_consumer(resource: GraphResource, ctx: RuleContext) -> list[IdleLine]:
    """An enhanced fan-out consumer is billed per shard of its stream per hour."""
    streams = ctx.related(resource, "streamArn", "aws:kinesis/stream:Stream")
    if not streams:
        return []
    stream = streams[0].inputs
    if (stream.get("streamModeDetails") or {}).get("streamMode") == "ON_DEMAND":
        return []  # shards follow the traffic: nothing fixed to price
    shards = _number(stream.get("shardCount"))
    return [
        _line(
            resource,
            f"enhanced fan-out on {shards:g} shards",
            shards * HOURS_PER_MONTH,
            ctx.prices["kinesis_efo_consumer_shard_hour"],
        )
    ]


def appsync_cache(resource: GraphResource, ctx: RuleContext) -> list[IdleLine]:
    size = str(resource.inputs.get("type", "SMALL")).lower()
    return [_line(resource, f"{size} cache", HOURS_PER_MONTH, ctx.prices[f"appsync_cache_hour_{size}"])]


def metric_alarm(resource: GraphResource, ctx: RuleContext) -> list[IdleLine]:
    """Billed per metric the alarm watches (a metric-math alarm: each metric it reads)."""
    queries = resource.inputs.get("metricQueries") or []
    metrics = sum(1 for q in queries if q.get("metric") is not None) if queries else 1
    return [_line(resource, f"alarm on {metrics} metric(s)", metrics, ctx.prices["cloudwatch_alarm_metric_month"])]


def composite_alarm(resource: GraphResource, ctx: RuleContext) -> list[IdleLine]:
    return [_line(resource, "composite alarm", 1, ctx.prices["cloudwatch_composite_alarm_month"])]


def hosted_zone(resource: GraphResource, ctx: RuleContext) -> list[IdleLine]:
    return [_line(resource, "hosted zone", 1, ctx.prices["route53_hosted_zone_month"])]


def transit_gateway_attachment(resource: GraphResource, ctx: RuleContext) -> list[IdleLine]:
    return [
        _line(resource, "transit gateway attachment", HOURS_PER_MONTH, ctx.prices["transit_gateway_attachment_hour"])
    ]


def web_acl(resource: GraphResource, ctx: RuleContext) -> list[IdleLine]:
    rules = len(resource.inputs.get("rules") or [])
    lines = [_line(resource, "web ACL", 1, ctx.prices["waf_web_acl_month"])]
    if rules:
        lines.append(_line(resource, f"{rules} rules", rules, ctx.prices["waf_rule_month"]))
    return lines


def snapstart_function(resource: GraphResource, ctx: RuleContext) -> list[IdleLine]:
    """SnapStart (Python): the live version's snapshot is cached, billed per GB of memory per second."""
    if (resource.inputs.get("snapStart") or {}).get("applyOn") != "PublishedVersions":
        return []  # otherwise billed per use only
    memory_gb = _number(resource.inputs.get("memorySize"), 128) / MIB_PER_GB
    return [
        _line(
            resource,
            f"SnapStart cache of the live version ({memory_gb * MIB_PER_GB:g} MB)",
            memory_gb * SECONDS_PER_MONTH,
            ctx.prices["lambda_snapstart_cache_gb_second"],
        )
    ]


Rule = Callable[["GraphResource", RuleContext], list[IdleLine]]

#: Resource type -> its idle rule.
RULES: dict[str, Rule] = {
    "aws:ec2/vpcEndpoint:VpcEndpoint": interface_endpoint,
    "aws:lb/loadBalancer:LoadBalancer": load_balancer,
    "aws:autoscaling/group:Group": auto_scaling_group,
    "aws:kms/key:Key": kms_key,
    "aws:secretsmanager/secret:Secret": secret,
    "aws:kinesis/stream:Stream": kinesis_stream,
    "aws:kinesis/streamConsumer:StreamConsumer": stream_consumer,
    "aws:appsync/apiCache:ApiCache": appsync_cache,
    "aws:cloudwatch/metricAlarm:MetricAlarm": metric_alarm,
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": composite_alarm,
    "aws:route53/zone:Zone": hosted_zone,
    "aws:ec2transitgateway/vpcAttachment:VpcAttachment": transit_gateway_attachment,
    "aws:wafv2/webAcl:WebAcl": web_acl,
    "aws:lambda/function:Function": snapstart_function,
}

#: Types billed only for what they do (requests, GB, GB stored): nothing while idle and empty.
USAGE_ONLY: dict[str, str] = {
    "aws:lambda/function:Function": "Lambda: requests and GB-seconds (SnapStart adds a cache charge)",
    "aws:apigateway/restApi:RestApi": "API Gateway REST: per request",
    "aws:appsync/graphQLApi:GraphQLApi": "AppSync: per query, mutation and subscription message",
    "aws:dynamodb/table:Table": "DynamoDB on-demand: per request unit, plus GB stored and backups",
    "aws:sqs/queue:Queue": "SQS: per request",
    "aws:sns/topic:Topic": "SNS: per publish and delivery",
    "aws:cloudwatch/eventBus:EventBus": "EventBridge: per custom event",
    "aws:cloudwatch/eventArchive:EventArchive": "EventBridge archive: per GB archived and stored",
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": "Firehose: per GB ingested (5 KB records)",
    "aws:sfn/stateMachine:StateMachine": "Step Functions: per transition (Standard) or request (Express)",
    "aws:s3/bucket:Bucket": "S3: per GB stored and per request",
    "aws:cognito/userPool:UserPool": "Cognito: per monthly active user",
    "aws:cloudwatch/logGroup:LogGroup": "CloudWatch Logs: per GB ingested and stored (nothing stored while idle)",
    "aws:ec2/flowLog:FlowLog": "VPC flow logs: per GB of records delivered",
    "aws:scheduler/schedule:Schedule": "EventBridge Scheduler: per invocation",
    "aws:schemas/schema:Schema": "EventBridge schema registry: custom schemas are free; discovery is not used",
    "aws:glue/catalogTable:CatalogTable": "Glue Data Catalog: per object stored and request",
    "aws:athena/workgroup:Workgroup": "Athena: per TB scanned",
    "aws:apigateway/stage:Stage": "API Gateway stage: no charge without a stage cache",
    "aws:ec2/vpcEndpointService:VpcEndpointService": "endpoint service: the owner pays for its load balancer only",
    "aws:codedeploy/deploymentGroup:DeploymentGroup": "CodeDeploy to Lambda: no charge",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "gateway endpoints (S3, DynamoDB): no charge",
    "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration": "WAF logs: the destination's ingestion",
    "aws:route53/resolverQueryLogConfig:ResolverQueryLogConfig": "Resolver query logs: the destination's ingestion",
    "aws:route53/resolverQueryLogConfigAssociation:ResolverQueryLogConfigAssociation": (
        "Resolver query logs: the destination's ingestion"
    ),
}

#: Types AWS does not bill (configuration of something else): prefixes of whole modules, and single types
#: of modules that also hold billed ones (a NAT gateway, an Elastic IP, provisioned concurrency are priced
#: or reported, never assumed free).
NO_CHARGE_PREFIXES = (
    "aws:iam/",
    "aws:apigateway/",
    "aws:appsync/",
    "aws:cloudwatch/event",
    "aws:cloudwatch/logSubscriptionFilter",
    "aws:cloudwatch/logStream",
    "aws:cognito/",
    "aws:codedeploy/",
    "aws:vpc/",
    "aws:glue/",
    "aws:kms/alias",
    "aws:lb/listener",
    "aws:lb/targetGroup",
    "aws:route53/record",
    "aws:route53/resolverRuleAssociation",
    "aws:s3/",
    "aws:scheduler/",
    "aws:schemas/",
    "aws:secretsmanager/secretPolicy",
    "aws:secretsmanager/secretRotation",
    "aws:sns/",
    "aws:sqs/",
)
NO_CHARGE = NO_CHARGE_PREFIXES + (
    "aws:ec2/vpc:Vpc",
    "aws:ec2/subnet:Subnet",
    "aws:ec2/routeTable:RouteTable",
    "aws:ec2/route:Route",
    "aws:ec2/routeTableAssociation:RouteTableAssociation",
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
    "aws:ec2/launchTemplate:LaunchTemplate",
    "aws:ec2/vpnGatewayAttachment:VpnGatewayAttachment",
    "aws:lambda/alias:Alias",
    "aws:lambda/permission:Permission",
    "aws:lambda/eventSourceMapping:EventSourceMapping",
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig",
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy",
    # WAF bills per web ACL and per rule (priced above), not for an IP set or an association.
    "aws:wafv2/ipSet:IpSet",
    "aws:wafv2/webAclAssociation:WebAclAssociation",
    # Code signing for Lambda: AWS Signer does not charge for it (Signer's pricing; not confirmed here).
    "aws:signer/signingProfile:SigningProfile",
    "aws:lambda/codeSigningConfig:CodeSigningConfig",
    # The signed copy of the Powertools layer: a layer version has no charge of its own (its zip counts
    # against the account's Lambda code storage quota; the source object is billed as S3 storage).
    "aws:lambda/layerVersion:LayerVersion",
)


def idle_lines(resources: Sequence[GraphResource], prices: PriceTable) -> tuple[list[IdleLine], list[str]]:
    """Every idle charge of ``resources``, and the types found that no rule prices (never assumed free)."""
    ctx = RuleContext(prices=prices, by_urn={r.urn: r for r in resources})
    lines: list[IdleLine] = []
    unpriced: set[str] = set()
    for resource in resources:
        if not resource.custom:
            continue
        rule = RULES.get(resource.type)
        if rule is not None:
            owner = _owner(resource, ctx.by_urn)
            lines.extend(dataclasses.replace(line, piece=owner) for line in rule(resource, ctx))
        elif resource.type not in USAGE_ONLY and not resource.type.startswith(NO_CHARGE):
            unpriced.add(resource.type)
    return lines, sorted(unpriced)
