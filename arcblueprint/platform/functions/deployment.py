"""CodeDeploy for one function's canary or linear releases: application, config, group and service role.

How Pulumi and CodeDeploy share the ``live`` alias: Pulumi creates the alias once and then ignores
its version and routing (``ignore_changes``), because CodeDeploy moves it. Each ``pulumi up``
publishes a new version and exports it as ``release_info.targetVersion``; the CI driver then starts
a deployment with :func:`arcblueprint.planning.releases.appspec` (current -> target) and
CodeDeploy shifts traffic step by step, rolling back on failure, on any alarm, or on request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from arcblueprint.planning.releases import ReleasePlan, deployment_config_name
from arcblueprint.service_facts import service_trust_policy

if TYPE_CHECKING:
    from collections.abc import Sequence

    from arcblueprint.platform.context import StackContext

__all__ = ["ROLLBACK_EVENTS", "CodeDeployRelease", "CodeDeployReleaseArgs"]

#: Every reason CodeDeploy can roll a deployment back for.
ROLLBACK_EVENTS = ("DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM", "DEPLOYMENT_STOP_ON_REQUEST")
#: AWS managed policy: update/get aliases, read alarms, invoke only ``CodeDeployHook_*`` functions.
CODEDEPLOY_LAMBDA_POLICY = "AWSCodeDeployRoleForLambdaLimited"


@dataclass(frozen=True, kw_only=True)
class CodeDeployReleaseArgs:
    context: StackContext
    service: str
    #: Physical base name: the application, group and custom config are named after it.
    base_name: str
    plan: ReleasePlan
    #: Alarms that stop and roll back a deployment (the function's errors, throttles, p99 duration).
    alarm_names: Sequence[pulumi.Input[str]]
    tags: dict[str, str]


class CodeDeployRelease(pulumi.ComponentResource):
    """CodeDeploy resources that shift a function alias between versions.

    Attributes
    ----------
    application_name, deployment_group_name, deployment_config_name : str
        Physical names (known at preview) the CI driver passes to ``CreateDeployment``.
    deployment_group_arn : str
        What hook functions may report their status to.
    """

    def __init__(self, name: str, args: CodeDeployReleaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("arcblueprint:functions:CodeDeployRelease", name, None, opts)
        ctx, plan = args.context, args.plan
        if not plan.uses_codedeploy:
            raise ValueError(f"{name}: strategy {plan.strategy!r} does not use CodeDeploy")
        child = pulumi.ResourceOptions(parent=self)
        self.application_name = args.base_name
        self.deployment_group_name = f"{args.base_name}-live"
        config_name = deployment_config_name(plan, f"{args.base_name}-traffic")
        assert config_name is not None
        self.deployment_config_name: str = config_name
        stack = ctx.stack
        self.deployment_group_arn = (
            f"arn:{ctx.partition}:codedeploy:{stack.region}:{stack.account_id}:"
            f"deploymentgroup:{self.application_name}/{self.deployment_group_name}"
        )

        self.application = aws.codedeploy.Application(
            f"{name}-app", name=self.application_name, compute_platform="Lambda", tags=args.tags, opts=child
        )

        depends: list[pulumi.Resource] = []
        self.deployment_config: aws.codedeploy.DeploymentConfig | None = None
        if plan.custom is not None:
            custom = plan.custom
            self.deployment_config = aws.codedeploy.DeploymentConfig(
                f"{name}-config",
                deployment_config_name=self.deployment_config_name,
                compute_platform="Lambda",
                traffic_routing_config=aws.codedeploy.DeploymentConfigTrafficRoutingConfigArgs(
                    type=custom.type,
                    time_based_canary=aws.codedeploy.DeploymentConfigTrafficRoutingConfigTimeBasedCanaryArgs(
                        interval=custom.interval_minutes, percentage=custom.percent
                    )
                    if custom.type == "TimeBasedCanary"
                    else None,
                    time_based_linear=aws.codedeploy.DeploymentConfigTrafficRoutingConfigTimeBasedLinearArgs(
                        interval=custom.interval_minutes, percentage=custom.percent
                    )
                    if custom.type == "TimeBasedLinear"
                    else None,
                ),
                opts=child,
            )
            depends.append(self.deployment_config)

        self.role = aws.iam.Role(
            f"{name}-role",
            name=f"{args.base_name[:53]}-codedeploy",
            description=f"CodeDeploy shifts traffic for {args.base_name}",
            assume_role_policy=service_trust_policy("codedeploy.amazonaws.com", account_id=stack.account_id),
            tags=args.tags,
            opts=child,
        )
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-role-policy",
            role=self.role.name,
            policy_arn=f"arn:{ctx.partition}:iam::aws:policy/service-role/{CODEDEPLOY_LAMBDA_POLICY}",
            opts=child,
        )

        self.deployment_group = aws.codedeploy.DeploymentGroup(
            f"{name}-group",
            app_name=self.application.name,
            deployment_group_name=self.deployment_group_name,
            deployment_config_name=self.deployment_config_name,
            service_role_arn=self.role.arn,
            deployment_style=aws.codedeploy.DeploymentGroupDeploymentStyleArgs(
                deployment_option="WITH_TRAFFIC_CONTROL", deployment_type="BLUE_GREEN"
            ),
            auto_rollback_configuration=aws.codedeploy.DeploymentGroupAutoRollbackConfigurationArgs(
                enabled=True, events=list(ROLLBACK_EVENTS)
            ),
            alarm_configuration=aws.codedeploy.DeploymentGroupAlarmConfigurationArgs(
                enabled=True, alarms=list(args.alarm_names)
            ),
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*depends, attachment]),
        )
        self.register_outputs(
            {
                "applicationName": self.application_name,
                "deploymentGroupName": self.deployment_group_name,
                "deploymentConfigName": self.deployment_config_name,
            }
        )
