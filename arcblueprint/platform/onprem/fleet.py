"""The proxy fleet: an Auto Scaling group of squid instances behind the on-prem load balancer.

Self-healing: the group checks its instances with the load balancer's health check (the proxy
port), so an instance whose squid does not listen is replaced; its instance maintenance policy
(100-200 % healthy) launches the replacement before terminating the failed instance, so a group
of one keeps serving; a change of the launch template (user data, type, image) starts an instance
refresh that launches replacements before stopping the old ones (100-200 % healthy). The image is
the current Amazon Linux 2023 arm64 AMI, resolved by EC2 at each launch from AWS's public SSM
parameter (``resolve:ssm:``, which launch templates accept as ``ImageId``): no AMI id is pinned,
and ``maxInstanceLifetime`` replaces every proxy within two weeks, so the fleet picks up new
images without a deploy.

No SSH: no key pair, no port 22; operators use Session Manager, for which the role has
``AmazonSSMManagedInstanceCore`` and the VPC has the ``ssm``/``ssmmessages``/``ec2messages``
endpoints. The CloudWatch agent writes squid's logs to one log group of central logging (the
role may write there only), from which they reach the sink like every other log. The instances
have no internet path: packages come from the Amazon Linux repository in S3 through a gateway
endpoint whose policy admits only that repository.

Root volumes are encrypted with the account's AWS managed EBS key, not the platform key: the Auto
Scaling service-linked role needs a customer managed key's key policy to name it, and KMS refuses
a key policy naming a role that does not exist yet (in a fresh account, until the first group is
created). The proxies keep nothing on disk (no cache; logs are shipped).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from arcblueprint.planning.proxy_config import PROXY_INSTANCE_ENDPOINTS, SquidConfig, render_user_data
from arcblueprint.service_facts import service_trust_policy
from arcblueprint.vpc_access import service_name

if TYPE_CHECKING:
    from collections.abc import Sequence

    from arcblueprint.platform.context import StackContext
    from arcblueprint.platform.handles import LogGroups

__all__ = ["AL2023_ARM64_AMI", "ProxyFleet", "ProxyFleetArgs"]

_SERVICE = "on-prem"
#: AWS's public parameter for the newest Amazon Linux 2023 arm64 image.
AL2023_ARM64_AMI = "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
#: Long enough for dnf and squid to start before the load balancer's checks count.
_WARMUP_SECONDS = 300
_MAX_INSTANCE_LIFETIME_SECONDS = 14 * 24 * 3600


@dataclass(frozen=True, kw_only=True)
class ProxyFleetArgs:
    context: StackContext
    log_groups: LogGroups
    vpc_id: pulumi.Input[str]
    subnets: Sequence[aws.ec2.Subnet]
    route_tables: Sequence[aws.ec2.RouteTable]
    #: The subnets' associations with ``route_tables``: until they exist a subnet uses the VPC's main table,
    #: which has no route to the S3 gateway endpoint, so the instances wait for them.
    route_table_associations: Sequence[pulumi.Resource] = ()
    #: Resources holding fixed addresses in ``subnets`` (the load balancer): the interface endpoints and the
    #: instances, whose addresses AWS picks, are created after them so they cannot take theirs.
    address_holders: Sequence[pulumi.Resource] = ()
    #: The load balancer's target group; the group registers every instance in it.
    target_group_arn: pulumi.Input[str]
    #: The load balancer's security group: the only source the proxy port admits.
    load_balancer_security_group_id: pulumi.Input[str]
    #: What squid runs with (the same value the tests start a real squid with).
    squid: SquidConfig
    tags: dict[str, str]
    #: Where the previous layout declared the security group and launch template (URN aliases).
    previous_parent: pulumi.Resource | None = None


class ProxyFleet(pulumi.ComponentResource):
    """Auto Scaling group, launch template, instance role, security groups and the instances' endpoints.

    Attributes
    ----------
    group : aws.autoscaling.Group
    launch_template : aws.ec2.LaunchTemplate
    security_group : aws.ec2.SecurityGroup
        The proxies': the proxy port from the load balancer only; out to on-prem on the destination
        ports, and HTTPS to the instances' endpoints.
    log_group : aws.cloudwatch.LogGroup
    user_data : str
        The boot script (plain text; the launch template holds it base64-encoded).
    """

    def __init__(self, name: str, args: ProxyFleetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("arcblueprint:platform:ProxyFleet", name, None, opts)
        ctx = args.context
        stack = ctx.stack
        spec = stack.on_prem
        child = pulumi.ResourceOptions(parent=self)
        tags = args.tags

        def moved(resource_name: str) -> pulumi.ResourceOptions:
            """Declared under ``previous_parent`` before the fleet existed: same resource, new parent."""
            if args.previous_parent is None:
                return child
            return pulumi.ResourceOptions(
                parent=self, aliases=[pulumi.Alias(name=resource_name, parent=args.previous_parent)]
            )

        def tagged(label: str) -> dict[str, str]:
            return {**tags, "Name": ctx.name("onprem", label)}

        # --- security groups -------------------------------------------------------------------
        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=args.vpc_id,
            name=ctx.name("onprem-proxy"),
            description="Proxies: the proxy port from the load balancer's VPC only, out to on-prem only",
            tags=tagged("proxy"),
            opts=moved(f"{name}-sg"),
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-in-from-nlb",
            security_group_id=self.security_group.id,
            ip_protocol="tcp",
            from_port=spec.proxy_port,
            to_port=spec.proxy_port,
            referenced_security_group_id=args.load_balancer_security_group_id,
            description="Proxy port (traffic and health checks) from the load balancer only",
            tags=tags,
            opts=child,
        )
        for i, cidr in enumerate(stack.network.on_prem_ranges):
            for port in sorted(set(spec.destination_ports)):
                aws.vpc.SecurityGroupEgressRule(
                    f"{name}-out-{i}-{port}",
                    security_group_id=self.security_group.id,
                    ip_protocol="tcp",
                    from_port=port,
                    to_port=port,
                    cidr_ipv4=cidr,
                    description=f"On-prem {cidr} port {port}",
                    tags=tags,
                    opts=child,
                )

        self.endpoint_security_group = aws.ec2.SecurityGroup(
            f"{name}-endpoints-sg",
            vpc_id=args.vpc_id,
            name=ctx.name("onprem-endpoints"),
            description="Proxy VPC interface endpoints: HTTPS from the proxies only",
            tags=tagged("endpoints"),
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-endpoints-in",
            security_group_id=self.endpoint_security_group.id,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            referenced_security_group_id=self.security_group.id,
            description="HTTPS from the proxies",
            tags=tags,
            opts=child,
        )
        out_endpoints = aws.vpc.SecurityGroupEgressRule(
            f"{name}-out-endpoints",
            security_group_id=self.security_group.id,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            referenced_security_group_id=self.endpoint_security_group.id,
            description="HTTPS to Session Manager and CloudWatch Logs endpoints",
            tags=tags,
            opts=child,
        )

        # --- what the instances reach instead of the internet ----------------------------------
        subnet_ids = [s.id for s in args.subnets]
        self.endpoints = {
            service: aws.ec2.VpcEndpoint(
                f"{name}-{service}-endpoint",
                vpc_id=args.vpc_id,
                vpc_endpoint_type="Interface",
                service_name=service_name(stack.region, service),
                private_dns_enabled=True,
                subnet_ids=subnet_ids,
                security_group_ids=[self.endpoint_security_group.id],
                tags=tagged(f"{service}-endpoint"),
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.address_holders)),
            )
            for service in PROXY_INSTANCE_ENDPOINTS
        }
        self.s3_endpoint = aws.ec2.VpcEndpoint(
            f"{name}-s3-gateway",
            vpc_id=args.vpc_id,
            vpc_endpoint_type="Gateway",
            service_name=service_name(stack.region, "s3"),
            route_table_ids=[t.id for t in args.route_tables],
            # The Amazon Linux 2023 repository (al2023-repos-<region>-<suffix>), read-only; nothing else in S3.
            policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "AmazonLinuxRepositoryOnly",
                            "Effect": "Allow",
                            "Principal": "*",
                            "Action": "s3:GetObject",
                            "Resource": f"arn:{ctx.partition}:s3:::al2023-repos-{stack.region}-*/*",
                        }
                    ],
                }
            ),
            tags=tagged("s3-gateway"),
            opts=child,
        )
        out_s3 = aws.vpc.SecurityGroupEgressRule(
            f"{name}-out-s3",
            security_group_id=self.security_group.id,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            prefix_list_id=self.s3_endpoint.prefix_list_id,
            description="HTTPS to the Amazon Linux repository in S3 (gateway endpoint)",
            tags=tags,
            opts=child,
        )

        # --- logs, role, launch template ------------------------------------------------------
        log_group_name = f"/{stack.naming_prefix}/onprem-proxy/squid"
        self.log_group = args.log_groups.log_group(f"{name}-logs", log_group_name, service=_SERVICE, parent=self)
        self.role = aws.iam.Role(
            f"{name}-role",
            name=ctx.name("onprem-proxy"),
            description="On-prem proxy instances",
            assume_role_policy=service_trust_policy("ec2.amazonaws.com", account_id=stack.account_id),
            tags=tags,
            opts=child,
        )
        role_policies: list[pulumi.Resource] = [
            aws.iam.RolePolicyAttachment(
                f"{name}-ssm",
                role=self.role.name,
                # Session Manager (and nothing to do with SSH): AWS's managed policy for managed instances.
                policy_arn=f"arn:{ctx.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore",
                opts=child,
            )
        ]
        role_policies.append(
            aws.iam.RolePolicy(
                f"{name}-logs-write",
                role=self.role.id,
                name="squid-logs",
                policy=self.log_group.arn.apply(
                    lambda arn: json.dumps(
                        {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Sid": "WriteTheProxyLogGroupOnly",
                                    "Effect": "Allow",
                                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                                    "Resource": [arn, f"{arn}:log-stream:*"],
                                }
                            ],
                        }
                    )
                ),
                opts=child,
            )
        )
        self.instance_profile = aws.iam.InstanceProfile(
            f"{name}-profile", name=ctx.name("onprem-proxy"), role=self.role.name, tags=tags, opts=child
        )

        self.user_data = render_user_data(squid=args.squid, log_group_name=log_group_name)
        self.launch_template = aws.ec2.LaunchTemplate(
            f"{name}-lt",
            name=ctx.name("onprem-proxy"),
            image_id=AL2023_ARM64_AMI,
            instance_type=spec.proxy_instance_type,
            iam_instance_profile={"arn": self.instance_profile.arn},
            vpc_security_group_ids=[self.security_group.id],
            metadata_options={
                "http_endpoint": "enabled",
                "http_tokens": "required",
                "http_put_response_hop_limit": 1,
                "instance_metadata_tags": "disabled",
            },
            block_device_mappings=[
                {
                    "device_name": "/dev/xvda",
                    "ebs": {
                        "encrypted": "true",
                        "volume_size": 8,
                        "volume_type": "gp3",
                        "delete_on_termination": "true",
                    },
                }
            ],
            monitoring={"enabled": True},
            user_data=base64.b64encode(self.user_data.encode()).decode(),
            update_default_version=True,
            tag_specifications=[
                {"resource_type": "instance", "tags": tagged("proxy")},
                {"resource_type": "volume", "tags": tagged("proxy")},
            ],
            tags=tagged("proxy"),
            # The profile's role must carry its policies before an instance boots with it.
            opts=pulumi.ResourceOptions.merge(
                moved(f"{name}-lt"), pulumi.ResourceOptions(depends_on=[self.instance_profile, *role_policies])
            ),
        )

        capacity = spec.proxies
        self.group = aws.autoscaling.Group(
            f"{name}-asg",
            name=ctx.name("onprem-proxy"),
            min_size=capacity.min_size,
            desired_capacity=capacity.desired_capacity,
            max_size=capacity.max_size,
            vpc_zone_identifiers=subnet_ids,
            # An explicit version: a new one (any template change) starts an instance refresh; $Latest would not.
            launch_template=aws.autoscaling.GroupLaunchTemplateArgs(
                id=self.launch_template.id, version=self.launch_template.latest_version.apply(str)
            ),
            target_group_arns=[args.target_group_arn],
            health_check_type="ELB",
            health_check_grace_period=_WARMUP_SECONDS,
            default_instance_warmup=_WARMUP_SECONDS,
            max_instance_lifetime=_MAX_INSTANCE_LIFETIME_SECONDS,
            # Launch before terminating, for every replacement (a failed health check, the lifetime above): a
            # group of one (dev) keeps its proxy until the new one is in service. The VPC is sized for 200 %.
            instance_maintenance_policy=aws.autoscaling.GroupInstanceMaintenancePolicyArgs(
                min_healthy_percentage=100, max_healthy_percentage=200
            ),
            instance_refresh=aws.autoscaling.GroupInstanceRefreshArgs(
                strategy="Rolling",
                preferences=aws.autoscaling.GroupInstanceRefreshPreferencesArgs(
                    min_healthy_percentage=100, max_healthy_percentage=200, skip_matching=True
                ),
            ),
            enabled_metrics=[
                aws.autoscaling.Metric.GROUP_IN_SERVICE_INSTANCES,
                aws.autoscaling.Metric.GROUP_DESIRED_CAPACITY,
                aws.autoscaling.Metric.GROUP_PENDING_INSTANCES,
                aws.autoscaling.Metric.GROUP_TERMINATING_INSTANCES,
            ],
            tags=[
                aws.autoscaling.GroupTagArgs(key=k, value=v, propagate_at_launch=False)
                for k, v in sorted(tagged("proxy").items())
            ],
            # The first boot runs `dnf install` (S3 through the gateway endpoint, on the subnets' own route tables,
            # through the S3 egress rule) and starts the agents (Session Manager and CloudWatch Logs endpoints):
            # instances launched before those exist fail their boot and are replaced only after the grace period.
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[
                    self.s3_endpoint,
                    *args.route_table_associations,
                    out_s3,
                    out_endpoints,
                    *self.endpoints.values(),
                    *args.address_holders,
                ],
            ),
        )
        self.register_outputs(
            {"groupName": self.group.name, "launchTemplateId": self.launch_template.id, "logGroupName": log_group_name}
        )
