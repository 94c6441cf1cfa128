"""Mocks for Pulumi's mock runtime that answer like AWS would.

Ids, names and ARNs follow each service's real format with the stack's region and account,
and are derived from the resource's logical name (a hash, not a counter), so two runs of the
same program give the same graph and outputs look like what ``pulumi up`` would print.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pulumi

__all__ = ["AwsMocks", "zone_ids", "zone_names"]


def _hex(seed: str, length: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:length]


def _uuid(seed: str) -> str:
    digits = _hex(seed, 32)
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


#: Availability zones per region (the default for regions not listed); eu-west-1 has three.
_ZONE_COUNTS = {"us-east-1": 6, "us-west-2": 4}
_DEFAULT_ZONE_COUNT = 3


def zone_names(region: str) -> list[str]:
    """The region's zone names (``eu-west-1a`` ...), as ``getAvailabilityZones`` lists them."""
    return [f"{region}{letter}" for letter in "abcdef"[: _ZONE_COUNTS.get(region, _DEFAULT_ZONE_COUNT)]]


def zone_ids(region: str, account_id: str) -> dict[str, str]:
    """Zone name -> zone id for one account.

    AWS maps zone names to physical zones independently per account (``eu-west-1a`` of one account
    may be ``euw1-az3``); only the ids name the same zone everywhere. The mock shuffles the mapping
    per account, so code that pairs subnets by name instead of by id is caught offline.
    """
    names = zone_names(region)
    parts = region.split("-")
    short = parts[0] + "".join(p[0] for p in parts[1:-1]) + parts[-1]  # eu-west-1 -> euw1
    ids = sorted((f"{short}-az{i}" for i in range(1, len(names) + 1)), key=lambda zone: _hex(f"{account_id}/{zone}", 8))
    return dict(zip(names, ids, strict=True))


# Type token -> (ARN format, physical-name key). {r} region, {a} account, {n} physical name, {i} id.
_ARNS: dict[str, str] = {
    "aws:lambda/function:Function": "arn:aws:lambda:{r}:{a}:function:{n}",
    "aws:lambda/layerVersion:LayerVersion": "arn:aws:lambda:{r}:{a}:layer:{n}:1",
    "aws:sqs/queue:Queue": "arn:aws:sqs:{r}:{a}:{n}",
    "aws:sns/topic:Topic": "arn:aws:sns:{r}:{a}:{n}",
    "aws:sns/topicSubscription:TopicSubscription": "arn:aws:sns:{r}:{a}:{n}:{i}",
    "aws:dynamodb/table:Table": "arn:aws:dynamodb:{r}:{a}:table/{n}",
    "aws:s3/bucket:Bucket": "arn:aws:s3:::{n}",
    "aws:s3/bucketV2:BucketV2": "arn:aws:s3:::{n}",
    "aws:iam/role:Role": "arn:aws:iam::{a}:role/{n}",
    "aws:iam/policy:Policy": "arn:aws:iam::{a}:policy/{n}",
    "aws:iam/instanceProfile:InstanceProfile": "arn:aws:iam::{a}:instance-profile/{n}",
    "aws:autoscaling/group:Group": "arn:aws:autoscaling:{r}:{a}:autoScalingGroup:{u}:autoScalingGroupName/{n}",
    "aws:ec2transitgateway/vpcAttachment:VpcAttachment": "arn:aws:ec2:{r}:{a}:transit-gateway-attachment/{i}",
    "aws:kms/key:Key": "arn:aws:kms:{r}:{a}:key/{i}",
    "aws:kms/alias:Alias": "arn:aws:kms:{r}:{a}:{n}",
    "aws:cloudwatch/logGroup:LogGroup": "arn:aws:logs:{r}:{a}:log-group:{n}",
    "aws:cloudwatch/eventBus:EventBus": "arn:aws:events:{r}:{a}:event-bus/{n}",
    "aws:cloudwatch/eventRule:EventRule": "arn:aws:events:{r}:{a}:rule/{n}",
    "aws:cloudwatch/eventArchive:EventArchive": "arn:aws:events:{r}:{a}:archive/{n}",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "arn:aws:cloudwatch:{r}:{a}:alarm:{n}",
    "aws:kinesis/stream:Stream": "arn:aws:kinesis:{r}:{a}:stream/{n}",
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": "arn:aws:firehose:{r}:{a}:deliverystream/{n}",
    "aws:secretsmanager/secret:Secret": "arn:aws:secretsmanager:{r}:{a}:secret:{n}-{s}",
    "aws:sfn/stateMachine:StateMachine": "arn:aws:states:{r}:{a}:stateMachine:{n}",
    "aws:apigateway/restApi:RestApi": "arn:aws:apigateway:{r}::/restapis/{i}",
    "aws:apigateway/stage:Stage": "arn:aws:apigateway:{r}::/restapis/{i}/stages/{n}",
    "aws:appsync/graphQLApi:GraphQLApi": "arn:aws:appsync:{r}:{a}:apis/{i}",
    "aws:cognito/userPool:UserPool": "arn:aws:cognito-idp:{r}:{a}:userpool/{i}",
    "aws:codedeploy/application:Application": "arn:aws:codedeploy:{r}:{a}:application:{n}",
    "aws:codedeploy/deploymentGroup:DeploymentGroup": "arn:aws:codedeploy:{r}:{a}:deploymentgroup:{n}",
    "aws:codedeploy/deploymentConfig:DeploymentConfig": "arn:aws:codedeploy:{r}:{a}:deploymentconfig:{n}",
    "aws:lambda/eventSourceMapping:EventSourceMapping": "arn:aws:lambda:{r}:{a}:event-source-mapping:{i}",
    "aws:glue/catalogDatabase:CatalogDatabase": "arn:aws:glue:{r}:{a}:database/{n}",
    "aws:glue/catalogTable:CatalogTable": "arn:aws:glue:{r}:{a}:table/{n}",
    "aws:athena/workgroup:Workgroup": "arn:aws:athena:{r}:{a}:workgroup/{n}",
    "aws:schemas/discoverer:Discoverer": "arn:aws:schemas:{r}:{a}:discoverer/{i}",
    "aws:schemas/registry:Registry": "arn:aws:schemas:{r}:{a}:registry/{n}",
    "aws:scheduler/scheduleGroup:ScheduleGroup": "arn:aws:scheduler:{r}:{a}:schedule-group/{n}",
    "aws:lb/loadBalancer:LoadBalancer": "arn:aws:elasticloadbalancing:{r}:{a}:loadbalancer/net/{n}/{h}",
    "aws:lb/targetGroup:TargetGroup": "arn:aws:elasticloadbalancing:{r}:{a}:targetgroup/{n}/{h}",
    "aws:lb/listener:Listener": "arn:aws:elasticloadbalancing:{r}:{a}:listener/net/{n}/{h}",
    "aws:wafv2/webAcl:WebAcl": "arn:aws:wafv2:{r}:{a}:regional/webacl/{n}/{u}",
    "aws:wafv2/ipSet:IpSet": "arn:aws:wafv2:{r}:{a}:regional/ipset/{n}/{u}",
    "aws:signer/signingProfile:SigningProfile": "arn:aws:signer:{r}:{a}:/signing-profiles/{n}",
    "aws:lambda/codeSigningConfig:CodeSigningConfig": "arn:aws:lambda:{r}:{a}:code-signing-config:{i}",
    "aws:route53/resolverQueryLogConfig:ResolverQueryLogConfig": (
        "arn:aws:route53resolver:{r}:{a}:resolver-query-log-config/{i}"
    ),
}

# Type token -> prefix of the id AWS gives such resources.
_ID_PREFIXES: dict[str, str] = {
    "aws:ec2/vpc:Vpc": "vpc-",
    "aws:ec2/subnet:Subnet": "subnet-",
    "aws:ec2/securityGroup:SecurityGroup": "sg-",
    "aws:ec2/routeTable:RouteTable": "rtb-",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce-",
    "aws:ec2/vpcEndpointService:VpcEndpointService": "vpce-svc-",
    "aws:ec2/flowLog:FlowLog": "fl-",
    "aws:ec2/internetGateway:InternetGateway": "igw-",
    "aws:ec2/natGateway:NatGateway": "nat-",
    "aws:ec2/eip:Eip": "eipalloc-",
    "aws:ec2/instance:Instance": "i-",
    "aws:ec2/launchTemplate:LaunchTemplate": "lt-",
    "aws:ec2/vpnGateway:VpnGateway": "vgw-",
    "aws:ec2transitgateway/vpcAttachment:VpcAttachment": "tgw-attach-",
    "aws:ec2/securityGroupRule:SecurityGroupRule": "sgr-",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "sgr-",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "sgr-",
    "aws:lambda/codeSigningConfig:CodeSigningConfig": "csc-",
    "aws:route53/resolverQueryLogConfig:ResolverQueryLogConfig": "rqlc-",
    "aws:route53/resolverQueryLogConfigAssociation:ResolverQueryLogConfigAssociation": "rqlca-",
}

# Inputs that carry a resource's physical name, in order of preference.
_NAME_INPUTS = (
    "name",
    "functionName",
    "layerName",
    "bucket",
    "roleName",
    "streamName",
    "tableName",
    "deploymentGroupName",
    "deploymentConfigName",
)

# AWS names these with a prefix in their name (``alias/...``) or hold names with a path.
_UUID_ID_TYPES = {"aws:kms/key:Key", "aws:cognito/userPool:UserPool"}


class AwsMocks(pulumi.runtime.Mocks):
    """Answer resource registrations and provider calls with AWS-shaped values."""

    def __init__(self, *, region: str, account_id: str, project: str, stack: str) -> None:
        self.region = region
        self.account_id = account_id
        self.project = project
        self.stack = stack

    def _physical_name(self, args: pulumi.runtime.MockResourceArgs) -> str:
        for key in _NAME_INPUTS:
            value = args.inputs.get(key)
            if isinstance(value, str) and value:
                return value
        prefix = args.inputs.get("namePrefix")
        base = prefix if isinstance(prefix, str) and prefix else f"{args.name}-"
        return base + _hex(f"{self.stack}/{args.typ}/{args.name}", 7)

    def _id(self, args: pulumi.runtime.MockResourceArgs, physical_name: str) -> str:
        seed = f"{self.stack}/{args.typ}/{args.name}"
        if args.typ in _ID_PREFIXES:
            return _ID_PREFIXES[args.typ] + _hex(seed, 17)
        if args.typ in _UUID_ID_TYPES or args.typ.startswith("aws:apigateway/") or args.typ.startswith("aws:appsync/"):
            digits = _hex(seed, 32)
            if args.typ == "aws:kms/key:Key":
                return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"
            if args.typ == "aws:cognito/userPool:UserPool":
                return f"{self.region}_{digits[:9]}"
            return digits[:10]
        return physical_name

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if not args.custom:
            return None, {}  # component resources have no provider state
        name = self._physical_name(args)
        resource_id = self._id(args, name)
        state: dict[str, Any] = dict(args.inputs)
        state.setdefault("name", name)
        fmt = _ARNS.get(args.typ)
        if fmt is not None or args.typ.startswith("aws:"):
            service = args.typ.split(":")[1].split("/")[0]
            arn = (fmt or "arn:aws:" + service + ":{r}:{a}:" + args.typ.rsplit(":", 1)[-1].lower() + "/{i}").format(
                r=self.region,
                a=self.account_id,
                n=name,
                i=resource_id,
                h=_hex(name, 16),
                s=_hex(name, 6),
                u=_uuid(f"{self.stack}/{args.typ}/{args.name}"),
            )
            state.setdefault("arn", arn)
        state.update(self._extras(args, name, resource_id, state))
        return resource_id, state

    def _extras(
        self, args: pulumi.runtime.MockResourceArgs, name: str, resource_id: str, state: dict[str, Any]
    ) -> dict[str, Any]:
        r, a, typ = self.region, self.account_id, args.typ
        extras: dict[str, Any] = {}
        if typ == "aws:lambda/function:Function":
            version = "1" if args.inputs.get("publish") else "$LATEST"
            extras = {
                "version": version,
                "qualifiedArn": f"{state['arn']}:{version}",
                "invokeArn": f"arn:aws:apigateway:{r}:lambda:path/2015-03-31/functions/{state['arn']}/invocations",
                "qualifiedInvokeArn": f"arn:aws:apigateway:{r}:lambda:path/2015-03-31/functions/"
                f"{state['arn']}:{version}/invocations",
            }
        elif typ == "aws:codedeploy/deploymentGroup:DeploymentGroup":
            group = args.inputs.get("deploymentGroupName", name)
            extras = {
                "arn": f"arn:aws:codedeploy:{r}:{a}:deploymentgroup:{args.inputs.get('appName', 'app')}/{group}",
                "deploymentGroupId": _hex(resource_id, 8) + "-" + _hex(name, 4) + "-4" + _hex(group, 3),
            }
        elif typ == "aws:lambda/eventSourceMapping:EventSourceMapping":
            digits = _hex(f"{self.stack}/{typ}/{args.name}", 32)
            uuid = f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"
            extras = {"uuid": uuid, "arn": f"arn:aws:lambda:{r}:{a}:event-source-mapping:{uuid}"}
        elif typ == "aws:lambda/alias:Alias":
            function_name = args.inputs.get("functionName", "fn")
            function_arn = (
                function_name
                if str(function_name).startswith("arn:")
                else f"arn:aws:lambda:{r}:{a}:function:{function_name}"
            )
            arn = f"{function_arn}:{args.inputs.get('name', name)}"
            extras = {
                "arn": arn,
                "invokeArn": f"arn:aws:apigateway:{r}:lambda:path/2015-03-31/functions/{arn}/invocations",
            }
        elif typ == "aws:cloudwatch/eventRule:EventRule":
            # A rule on a custom bus has the bus in its ARN (rule/<bus>/<rule>); on the default bus it has not.
            bus = str(args.inputs.get("eventBusName") or "default").rsplit("/", 1)[-1]
            extras = {
                "arn": f"arn:aws:events:{r}:{a}:rule/{name}"
                if bus == "default"
                else f"arn:aws:events:{r}:{a}:rule/{bus}/{name}"
            }
        elif typ == "aws:schemas/schema:Schema":
            extras = {
                "arn": f"arn:aws:schemas:{r}:{a}:schema/{args.inputs.get('registryName', 'registry')}/{name}",
                "version": "1",
            }
        elif typ == "aws:scheduler/schedule:Schedule":
            extras = {"arn": f"arn:aws:scheduler:{r}:{a}:schedule/{args.inputs.get('groupName') or 'default'}/{name}"}
        elif typ == "aws:sqs/queue:Queue":
            extras = {"url": f"https://sqs.{r}.amazonaws.com/{a}/{name}"}
        elif typ == "aws:dynamodb/table:Table" and args.inputs.get("streamEnabled"):
            extras = {"streamArn": f"{state['arn']}/stream/2026-01-01T00:00:00.000"}
        elif typ == "aws:apigateway/restApi:RestApi":
            extras = {
                "rootResourceId": _hex(resource_id, 10),
                "executionArn": f"arn:aws:execute-api:{r}:{a}:{resource_id}",
            }
        elif typ == "aws:apigateway/stage:Stage":
            rest_api = args.inputs.get("restApi", "api")
            stage = args.inputs.get("stageName", "live")
            extras = {
                "invokeUrl": f"https://{rest_api}.execute-api.{r}.amazonaws.com/{stage}",
                "executionArn": f"arn:aws:execute-api:{r}:{a}:{rest_api}/{stage}",
            }
        elif typ == "aws:appsync/graphQLApi:GraphQLApi":
            extras = {"uris": {"GRAPHQL": f"https://{resource_id}.appsync-api.{r}.amazonaws.com/graphql"}}
        elif typ == "aws:cognito/userPool:UserPool":
            extras = {"endpoint": f"cognito-idp.{r}.amazonaws.com/{resource_id}"}
        elif typ == "aws:lb/loadBalancer:LoadBalancer":
            extras = {"dnsName": f"{name}-{_hex(name, 10)}.elb.{r}.amazonaws.com"}
        elif typ == "aws:ec2/vpcEndpointService:VpcEndpointService":
            extras = {"serviceName": f"com.amazonaws.vpce.{r}.{resource_id}"}
        elif typ == "aws:ec2/vpcEndpoint:VpcEndpoint" and args.inputs.get("vpcEndpointType") == "Gateway":
            extras = {"prefixListId": "pl-" + _hex(resource_id, 8)}
        elif typ == "aws:ec2/vpcEndpoint:VpcEndpoint":
            extras = {
                "dnsEntries": [{"dnsName": f"{resource_id}.{r}.vpce.amazonaws.com", "hostedZoneId": "Z7HUB22UULQXV"}]
            }
        elif typ == "aws:route53/zone:Zone":
            extras = {"zoneId": "Z" + _hex(resource_id, 20).upper()}
        elif typ == "aws:kms/key:Key":
            extras = {"keyId": resource_id}
        elif typ == "aws:signer/signingProfile:SigningProfile":  # a new profile's first version
            version = _hex(resource_id, 10)
            extras = {"version": version, "versionArn": f"{state['arn']}/{version}"}
        elif typ == "aws:lambda/codeSigningConfig:CodeSigningConfig":
            extras = {"configId": resource_id}
        elif typ == "aws:kinesis/streamConsumer:StreamConsumer":  # <stream ARN>/consumer/<name>:<creation epoch>
            extras = {
                "arn": f"{args.inputs.get('streamArn', 'arn:aws:kinesis:' + r + ':' + a + ':stream/s')}"
                f"/consumer/{name}:1767225600"
            }
        elif typ == "aws:ec2/subnet:Subnet":  # AWS fills in whichever of zone name and zone id was not given
            mapping = zone_ids(r, a)
            by_id = {zone: name for name, zone in mapping.items()}
            name_in = str(args.inputs.get("availabilityZone") or "")
            id_in = str(args.inputs.get("availabilityZoneId") or "")
            extras = {
                "availabilityZone": name_in or by_id.get(id_in),
                "availabilityZoneId": id_in or mapping.get(name_in),
            }
        elif typ == "aws:ec2/launchTemplate:LaunchTemplate":  # a new template's first version
            extras = {"latestVersion": 1, "defaultVersion": 1}
        elif typ == "aws:ec2/vpc:Vpc":
            extras = {
                "defaultSecurityGroupId": "sg-" + _hex(resource_id, 17),
                "mainRouteTableId": "rtb-" + _hex(resource_id, 17),
            }
        elif typ in ("aws:s3/bucketV2:BucketV2", "aws:s3/bucket:Bucket"):
            extras = {"bucket": name, "bucketDomainName": f"{name}.s3.amazonaws.com"}
        return extras

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        # Failures must be a list (empty when none): the mock monitor iterates it.
        token = args.token
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            mapping = zone_ids(self.region, self.account_id)
            return {"names": list(mapping), "zoneIds": list(mapping.values()), "id": self.region}, []
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": self.account_id,
                "arn": f"arn:aws:iam::{self.account_id}:user/ci",
                "userId": "AIDA" + _hex(self.account_id, 16).upper(),
                "id": self.account_id,
            }, []
        if token in ("aws:index/getRegion:getRegion", "aws:index/getRegion:getRegionResult"):
            return {"name": self.region, "region": self.region, "id": self.region}, []
        if token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}, []
        return {}, []
