"""A deployed REST API stage: JSON access logs, X-Ray, per-method throttles and a usage plan."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_aws as aws

from arcblueprint.platform.handles import Platform
from arcblueprint.services.comfortable_rest.rest_conventions import (
    ACCESS_LOG_FORMAT,
    method_settings_path,
    usage_plan_throttle_path,
)

__all__ = ["MethodThrottle", "RestStage", "RestStageArgs"]


@dataclass(frozen=True, kw_only=True)
class MethodThrottle:
    """The throttle of one method: ``resource_path`` as API Gateway shows it (``/orders/{id}``)."""

    resource_path: str
    http_method: str
    rate_limit: float
    burst_limit: int


@dataclass(frozen=True, kw_only=True)
class RestStageArgs:
    platform: Platform
    service: str
    rest_api: aws.apigateway.RestApi
    #: The stage-wide throttle (``*/*``) and the usage plan's throttle.
    rate_limit: float
    burst_limit: int
    #: One entry per method: every method gets an explicit throttle, not just the stage default.
    method_throttles: Sequence[MethodThrottle]
    #: What the deployment snapshot depends on; a change redeploys. Default: nothing (never redeploys).
    deployment_triggers: Mapping[str, str] = field(default_factory=dict)
    #: Methods and integrations the deployment must wait for.
    depends_on: Sequence[pulumi.Resource] = ()
    stage_name: str = "v1"
    #: Execution logging level (access logs are always on). Default ERROR: INFO logs every request twice.
    execution_logging_level: Literal["OFF", "ERROR", "INFO"] = "ERROR"
    quota_limit: int | None = None
    quota_period: Literal["DAY", "WEEK", "MONTH"] = "DAY"


class RestStage(pulumi.ComponentResource):
    """Deployment + stage of a REST API with the operational settings every API in the blueprint has.

    API Gateway needs an account-level CloudWatch Logs role (``aws.apigateway.Account``) before a
    stage may log; that is a per-region singleton owned by the platform, not by each API.

    Attributes
    ----------
    stage : aws.apigateway.Stage
    access_log_group : aws.cloudwatch.LogGroup
    usage_plan : aws.apigateway.UsagePlan
    invoke_url : pulumi.Output[str]
    execution_arn : pulumi.Output[str]
        ``arn:aws:execute-api:<region>:<account>:<api>/<stage>`` for Lambda permission source ARNs.
    """

    def __init__(self, name: str, args: RestStageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("arcblueprint:services:RestStage", name, None, opts)
        ctx = args.platform.context
        child = pulumi.ResourceOptions(parent=self)
        tags = ctx.tags(args.service)

        digest = hashlib.sha256(json.dumps(dict(args.deployment_triggers), sort_keys=True).encode()).hexdigest()
        deployment = aws.apigateway.Deployment(
            f"{name}-deployment",
            rest_api=args.rest_api.id,
            description=f"{args.service} routes {digest[:12]}",
            triggers={"routes": digest},
            # A new snapshot is created before the stage moves to it, so the stage never points at nothing.
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on), delete_before_replace=False),
        )
        self.access_log_group = args.platform.log_groups.log_group(
            f"{name}-access-logs", f"/aws/apigateway/{ctx.name(args.service, 'access')}",
            service=args.service, parent=self)
        self.stage = aws.apigateway.Stage(
            f"{name}-stage",
            rest_api=args.rest_api.id,
            deployment=deployment.id,
            stage_name=args.stage_name,
            xray_tracing_enabled=True,
            access_log_settings={"destination_arn": self.access_log_group.arn, "format": ACCESS_LOG_FORMAT},
            tags=tags,
            opts=child,
        )
        stage_opts = pulumi.ResourceOptions(parent=self, depends_on=[self.stage])
        aws.apigateway.MethodSettings(
            f"{name}-all-methods",
            rest_api=args.rest_api.id,
            stage_name=self.stage.stage_name,
            method_path="*/*",
            settings={"metrics_enabled": True, "logging_level": args.execution_logging_level,
                      "data_trace_enabled": False,  # would log request/response bodies: never
                      "throttling_rate_limit": args.rate_limit, "throttling_burst_limit": args.burst_limit},
            opts=stage_opts,
        )
        for throttle in args.method_throttles:
            suffix = _suffix(throttle.resource_path, throttle.http_method)
            aws.apigateway.MethodSettings(
                f"{name}-{suffix}",
                rest_api=args.rest_api.id,
                stage_name=self.stage.stage_name,
                method_path=method_settings_path(throttle.resource_path, throttle.http_method),
                settings={"metrics_enabled": True, "logging_level": args.execution_logging_level,
                          "data_trace_enabled": False,
                          "throttling_rate_limit": throttle.rate_limit,
                          "throttling_burst_limit": throttle.burst_limit},
                opts=stage_opts,
            )
        # Usage plans throttle per API key: clients onboarded with a key get these limits on top of
        # the stage's (keys are issued out of band, never stored in the program's state).
        self.usage_plan = aws.apigateway.UsagePlan(
            f"{name}-usage-plan",
            name=ctx.name(args.service, "plan"),
            description=f"Default limits for clients of {args.service}",
            api_stages=[{
                "api_id": args.rest_api.id,
                "stage": self.stage.stage_name,
                "throttles": [{"path": usage_plan_throttle_path(t.resource_path, t.http_method),
                               "rate_limit": t.rate_limit, "burst_limit": t.burst_limit}
                              for t in args.method_throttles],
            }],
            throttle_settings={"rate_limit": args.rate_limit, "burst_limit": args.burst_limit},
            quota_settings={"limit": args.quota_limit, "period": args.quota_period} if args.quota_limit else None,
            tags=tags,
            opts=child,
        )
        self.invoke_url: pulumi.Output[str] = self.stage.invoke_url
        self.execution_arn: pulumi.Output[str] = self.stage.execution_arn
        self.register_outputs({"invokeUrl": self.invoke_url, "stageName": self.stage.stage_name})


def _suffix(resource_path: str, http_method: str) -> str:
    """A readable, unique child name for a method: ``/orders/{id}`` GET -> ``get-orders-id``."""
    parts = [p.strip("{}+") for p in resource_path.split("/") if p]
    return "-".join([http_method.lower(), *parts]) if parts else f"{http_method.lower()}-root"
