"""Tagging: every taggable AWS resource carries the tags cost reports and on-call routing rely on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from arcblueprint.policy.base import resource_policy, tags_of

if TYPE_CHECKING:
    from pulumi_policy import ResourceValidationArgs

    from arcblueprint.policy.base import ReportViolation

__all__ = ["DEFAULT_REQUIRED_TAGS", "POLICIES", "TAGGABLE_TYPES", "TAGS_REQUIRED"]

DEFAULT_REQUIRED_TAGS = ("owner", "environment", "service", "cost-center")

#: Types whose SDK class takes a ``tags`` map (checked against pulumi-aws by a unit test). A resource
#: that passes ``tags`` is checked even if its type is not listed; a listed type is checked even when it
#: omits ``tags`` (that omission is the violation). Auto Scaling groups take a list of tag blocks and are
#: left out on purpose.
TAGGABLE_TYPES = frozenset(
    {
        "aws:lambda/function:Function",
        "aws:lambda/eventSourceMapping:EventSourceMapping",
        "aws:sqs/queue:Queue",
        "aws:sns/topic:Topic",
        "aws:kinesis/stream:Stream",
        "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream",
        "aws:dynamodb/table:Table",
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketV2:BucketV2",
        "aws:iam/role:Role",
        "aws:iam/policy:Policy",
        "aws:kms/key:Key",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:cloudwatch/eventBus:EventBus",
        "aws:cloudwatch/eventRule:EventRule",
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        "aws:cloudwatch/compositeAlarm:CompositeAlarm",
        "aws:secretsmanager/secret:Secret",
        "aws:sfn/stateMachine:StateMachine",
        "aws:apigateway/restApi:RestApi",
        "aws:apigateway/stage:Stage",
        "aws:apigateway/apiKey:ApiKey",
        "aws:apigateway/usagePlan:UsagePlan",
        "aws:apigateway/domainName:DomainName",
        "aws:apigateway/vpcLink:VpcLink",
        "aws:apigatewayv2/api:Api",
        "aws:apigatewayv2/stage:Stage",
        "aws:apigatewayv2/vpcLink:VpcLink",
        "aws:appsync/graphQLApi:GraphQLApi",
        "aws:cognito/userPool:UserPool",
        "aws:codedeploy/application:Application",
        "aws:codedeploy/deploymentGroup:DeploymentGroup",
        "aws:glue/catalogDatabase:CatalogDatabase",
        "aws:athena/workgroup:Workgroup",
        "aws:schemas/discoverer:Discoverer",
        "aws:schemas/registry:Registry",
        "aws:lb/loadBalancer:LoadBalancer",
        "aws:lb/targetGroup:TargetGroup",
        "aws:lb/listener:Listener",
        "aws:ec2/vpc:Vpc",
        "aws:ec2/subnet:Subnet",
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:ec2/routeTable:RouteTable",
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        "aws:ec2/vpcEndpointService:VpcEndpointService",
        "aws:ec2/flowLog:FlowLog",
        "aws:ec2/internetGateway:InternetGateway",
        "aws:ec2/natGateway:NatGateway",
        "aws:ec2/eip:Eip",
        "aws:ec2/instance:Instance",
        "aws:ec2/launchTemplate:LaunchTemplate",
        "aws:ec2/vpnGateway:VpnGateway",
        "aws:ec2/networkAcl:NetworkAcl",
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
        "aws:iam/instanceProfile:InstanceProfile",
        "aws:ssm/parameter:Parameter",
        "aws:pipes/pipe:Pipe",
        "aws:scheduler/scheduleGroup:ScheduleGroup",
        "aws:wafv2/webAcl:WebAcl",
        "aws:acm/certificate:Certificate",
        "aws:cloudfront/distribution:Distribution",
        "aws:ec2transitgateway/vpcAttachment:VpcAttachment",
        "aws:ec2/vpnConnection:VpnConnection",
        "aws:ec2/customerGateway:CustomerGateway",
    }
)


def validate_tags(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Cost allocation, ownership and on-call routing all read these tags."""
    if not args.resource_type.startswith("aws:"):
        return
    if args.resource_type not in TAGGABLE_TYPES and "tags" not in args.props:
        return
    required = args.get_config().get("requiredTags") or DEFAULT_REQUIRED_TAGS
    tags = tags_of(args.props)
    missing = [tag for tag in required if not tags.get(tag)]
    if missing:
        report_violation(f"Resource '{args.name}' ({args.resource_type}) is missing the tags {', '.join(missing)}.")


TAGS_REQUIRED = resource_policy(
    "tags-required",
    "Taggable AWS resources carry the required tags.",
    validate_tags,
    types=None,
    parameters={"requiredTags": {"type": "array", "items": {"type": "string"}, "default": list(DEFAULT_REQUIRED_TAGS)}},
)

POLICIES = [TAGS_REQUIRED]
