"""Operations automation: scheduled jobs, an alarm responder and event-triggered audit and workflows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from arcblueprint.platform.functions import FunctionArgs, ServerlessFunction
from arcblueprint.platform.handles import Platform, RuleTarget
from arcblueprint.platform.queues import dead_end_queue
from arcblueprint.service_facts import service_trust_policy, state_machine_observability_statements
from arcblueprint.services.base import Service, ServiceArgs
from arcblueprint.services.event_wiring import subscription_rules
from arcblueprint.services.ops_automation.spec import OpsAutomationSpec
from arcblueprint.services.ops_automation.workflow import build_workflow

__all__ = ["ALARM_STATE_CHANGE", "OpsAutomationService", "alarm_pattern"]

HANDLERS = Path(__file__).resolve().parent / "handlers"
#: CloudWatch sends alarm state changes to the account's *default* event bus, never to a custom one.
ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"
KIND_INDEX = "byKind"


def alarm_pattern(alarm_name_prefix: str) -> dict[str, Any]:
    """This stack's alarms only: the default bus carries every alarm of the account and region."""
    return {
        "source": ["aws.cloudwatch"],
        "detail-type": [ALARM_STATE_CHANGE],
        "detail": {"alarmName": [{"prefix": alarm_name_prefix}]},
    }


class OpsAutomationService(Service[OpsAutomationSpec]):
    """The seed's operations automation, on the platform's event machinery.

    * Periodic jobs: one EventBridge Scheduler schedule per ``jobs`` entry, in the service's schedule
      group, with a flexible time window, a retry policy and a DLQ (alarmed); Scheduler invokes the
      jobs function's ``live`` alias through a role that may do that and nothing else.
    * Alarm responder: a rule on the *default* bus (where CloudWatch sends alarm state changes)
      matching this stack's alarms, to a function that records every transition and notifies the
      platform topic of those in ``notifyStates`` with the runbook and the alarm's recent history.
    * Event-triggered: ``subscribe`` routes domain events from the platform bus to the audit
      function (``target: audit``, the default) or to the workflow (``target: workflow``).
    * Kill switch: ``triggersDisabled`` declares every rule and schedule of the service disabled.

    Attributes
    ----------
    table : aws.dynamodb.Table
        The operations log (alarm transitions, audited events), records expiring after ``recordRetentionDays``.
    jobs, alarms, audit : ServerlessFunction (alarms None without a responder)
    schedules : dict[str, aws.scheduler.Schedule]
    workflow : aws.sfn.StateMachine
    """

    TYPE = "arcblueprint:services:OpsAutomationService"

    def __init__(
        self, name: str, args: ServiceArgs[OpsAutomationSpec], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(name, opts)
        spec, platform = args.spec, args.platform
        ctx = platform.context
        stack = ctx.stack
        tags = ctx.tags(name)
        child = pulumi.ResourceOptions(parent=self)
        enabled = not stack.triggers_disabled(name)
        topic_arn = platform.alarm_actions.topic_arn

        self.table = aws.dynamodb.Table(
            f"{name}-log",
            name=ctx.name(name, "log"),
            billing_mode="PAY_PER_REQUEST",
            hash_key="id",
            attributes=[{"name": key, "type": "S"} for key in ("id", "kind", "recordedAt")],
            global_secondary_indexes=[
                {"name": KIND_INDEX, "hash_key": "kind", "range_key": "recordedAt", "projection_type": "KEYS_ONLY"}
            ],
            ttl={"attribute_name": "expiresAt", "enabled": True},
            point_in_time_recovery={"enabled": True},
            server_side_encryption={"enabled": True, "kms_key_arn": platform.kms_key_arn},
            deletion_protection_enabled=stack.protect_stateful_resources,
            tags=tags,
            opts=ctx.stateful(child),
        )
        log_env: dict[str, pulumi.Input[str]] = {
            "OPS_TABLE": self.table.name,
            "KIND_INDEX": KIND_INDEX,
            "RECORD_RETENTION_DAYS": str(spec.record_retention_days),
        }

        # ------------------------------------------------------------------ audit (event-triggered)
        self.audit = ServerlessFunction(
            f"{name}-audit",
            FunctionArgs(
                platform=platform,
                service=name,
                **ctx.code(spec.code("audit"), HANDLERS / "audit", key=f"services.{name}.functions.audit"),
                description=f"{name}: record domain events in the operations log",
                environment=log_env,
            ),
            opts=child,
        )
        self.audit.grant_table_read_write(self.table.arn)

        # ------------------------------------------------------------------ workflow (event-triggered)
        self.workflow = self._workflow(name, spec, platform, topic_arn)

        # ------------------------------------------------------------------ subscriptions
        targets = {
            "audit": RuleTarget(
                kind="lambda", arn=self.audit.alias_arn, function=self.audit, label=f"{name} audit function"
            ),
            "workflow": RuleTarget(
                kind="states", arn=self.workflow.arn, kms_key_arn=platform.kms_key_arn, label=f"{name} workflow"
            ),
        }
        for key, subscription in subscription_rules(name, spec, platform, default_target="audit"):
            assert platform.event_rules is not None and subscription.target is not None
            platform.event_rules.add_rule(
                key,
                service=name,
                event_pattern=subscription.pattern(),
                target=targets[subscription.target],
                parent=self,
                description=f"{subscription.source} {', '.join(subscription.detail_types) or 'all'} -> "
                f"{name} {subscription.target}",
            )

        # ------------------------------------------------------------------ alarm responder
        self.alarms: ServerlessFunction | None = None
        if spec.alarm_responder is not None:
            if platform.event_rules is None:
                raise ValueError(f"{name}: the alarm responder's rule needs the platform's event rules")
            responder = spec.alarm_responder
            self.alarms = ServerlessFunction(
                f"{name}-alarms",
                FunctionArgs(
                    platform=platform,
                    service=name,
                    **ctx.code(spec.code("alarms"), HANDLERS / "alarms", key=f"services.{name}.functions.alarms"),
                    description=f"{name}: record alarm state changes and notify",
                    environment={
                        **log_env,
                        "TOPIC_ARN": topic_arn,
                        "NOTIFY_STATES": ",".join(responder.notify_states),
                        "RUNBOOK_URL": responder.runbook_url or "",
                        "ALARM_NAME_PREFIX": f"{stack.naming_prefix}-",
                    },
                ),
                opts=child,
            )
            self.alarms.grant_table_read_write(self.table.arn)
            self.alarms.grant_topic_publish(topic_arn)
            platform.event_rules.add_rule(
                "alarm-changes",
                service=name,
                event_pattern=alarm_pattern(f"{stack.naming_prefix}-"),
                target=RuleTarget(
                    kind="lambda", arn=self.alarms.alias_arn, function=self.alarms, label=f"{name} alarm responder"
                ),
                parent=self,
                on_default_bus=True,
                description=f"{name}: alarm state changes of {stack.naming_prefix}",
            )

        # ------------------------------------------------------------------ periodic jobs
        self.jobs = ServerlessFunction(
            f"{name}-jobs",
            FunctionArgs(
                platform=platform,
                service=name,
                **ctx.code(spec.code("jobs"), HANDLERS / "jobs", key=f"services.{name}.functions.jobs"),
                timeout_seconds=300,
                description=f"{name}: periodic jobs ({', '.join(sorted(spec.jobs))})",
                environment=log_env,
            ),
            opts=child,
        )
        self.jobs.grant_table_read_write(self.table.arn)
        self.schedules = self._schedules(name, spec, platform, enabled)

        self.outputs = {
            "logTable": self.table.name,
            "auditFunction": self.audit.function_name,
            "jobsFunction": self.jobs.function_name,
            "workflowArn": self.workflow.arn,
            "scheduleGroup": self.schedule_group.name,
        }
        if self.alarms is not None:
            self.outputs["alarmsFunction"] = self.alarms.function_name
        self.finish(self.outputs)

    def _workflow(
        self, name: str, spec: OpsAutomationSpec, platform: Platform, topic_arn: pulumi.Input[str]
    ) -> aws.sfn.StateMachine:
        ctx = platform.context
        tags = ctx.tags(name)
        child = pulumi.ResourceOptions(parent=self)
        stack = ctx.stack
        machine_name = ctx.name(name, "workflow")
        logs = platform.log_groups.log_group(
            f"{name}-workflow-logs", f"/aws/vendedlogs/states/{machine_name}", service=name, parent=self
        )
        role = aws.iam.Role(
            f"{name}-workflow-role",
            name=ctx.name(name, "workflow", max_length=64),
            # Only this account's state machines (Step Functions sends aws:SourceArn/aws:SourceAccount).
            assume_role_policy=service_trust_policy(
                "states.amazonaws.com",
                account_id=stack.account_id,
                source_arn=f"arn:{ctx.partition}:states:{stack.region}:{stack.account_id}:stateMachine:*",
            ),
            tags=tags,
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-workflow-policy",
            role=role.id,
            name="workflow",
            policy=pulumi.Output.all(self.audit.alias_arn, topic_arn, platform.kms_key_arn).apply(
                lambda v: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "RecordTheEvent",
                                "Effect": "Allow",
                                "Action": "lambda:InvokeFunction",
                                "Resource": v[0],
                            },
                            {"Sid": "Notify", "Effect": "Allow", "Action": "sns:Publish", "Resource": v[1]},
                            {
                                "Sid": "UseThePlatformKey",
                                "Effect": "Allow",
                                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                                "Resource": v[2],
                            },
                            *state_machine_observability_statements(),
                        ],
                    }
                )
            ),
            opts=child,
        )
        return aws.sfn.StateMachine(
            f"{name}-workflow",
            name=machine_name,
            type=spec.workflow_type,
            role_arn=role.arn,
            definition=pulumi.Output.all(self.audit.alias_arn, topic_arn).apply(
                lambda v: json.dumps(build_workflow(v[0], v[1]))
            ),
            logging_configuration={
                "level": "ALL",
                "include_execution_data": False,
                "log_destination": logs.arn.apply(lambda arn: f"{arn}:*"),
            },
            tracing_configuration={"enabled": True},
            encryption_configuration={
                "type": "CUSTOMER_MANAGED_KMS_KEY",
                "kms_key_id": platform.kms_key_arn,
                "kms_data_key_reuse_period_seconds": 300,
            },
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )

    def _schedules(
        self, name: str, spec: OpsAutomationSpec, platform: Platform, enabled: bool
    ) -> dict[str, aws.scheduler.Schedule]:
        ctx = platform.context
        tags = ctx.tags(name)
        child = pulumi.ResourceOptions(parent=self)
        # One group per service and environment: the names carry the stack's prefix.
        group_name = ctx.name(name)
        self.schedule_group = aws.scheduler.ScheduleGroup(f"{name}-schedules", name=group_name, tags=tags, opts=child)
        # Scheduler's dead-letter queue.
        self.schedule_dlq = dead_end_queue(
            f"{name}-schedules-dlq",
            platform=platform,
            physical_name=ctx.name(name, "schedules-dlq"),
            description=f"{name}: scheduled job invocations that failed after their retries",
            tags=tags,
            parent=self,
        )
        # Scheduler invokes the target and sends to the DLQ with this role (no resource policy on either).
        self.scheduler_role = aws.iam.Role(
            f"{name}-scheduler-role",
            name=ctx.name(name, "scheduler", max_length=64),
            description=f"EventBridge Scheduler runs the jobs of {name}",
            # Only schedules of this group (Scheduler sends the group's ARN in aws:SourceArn).
            assume_role_policy=service_trust_policy(
                "scheduler.amazonaws.com",
                account_id=ctx.stack.account_id,
                source_arn=f"arn:{ctx.partition}:scheduler:{ctx.stack.region}:{ctx.stack.account_id}:"
                f"schedule-group/{group_name}",
            ),
            tags=tags,
            opts=child,
        )
        scheduler_policy = aws.iam.RolePolicy(
            f"{name}-scheduler-policy",
            role=self.scheduler_role.id,
            name="run-jobs",
            policy=pulumi.Output.all(self.jobs.alias_arn, self.schedule_dlq.arn, platform.kms_key_arn).apply(
                lambda v: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "InvokeTheJobs",
                                "Effect": "Allow",
                                "Action": "lambda:InvokeFunction",
                                "Resource": v[0],
                            },
                            {"Sid": "DeadLetter", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": v[1]},
                            {
                                "Sid": "EncryptDeadLetters",
                                "Effect": "Allow",
                                "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                                "Resource": v[2],
                            },
                        ],
                    }
                )
            ),
            opts=child,
        )
        schedules: dict[str, aws.scheduler.Schedule] = {}
        if spec.jobs:
            # Scheduler invokes asynchronously: its own retry policy and DLQ cover delivery to Lambda; a
            # job that fails once invoked needs Lambda's own failure path.
            self.jobs.invoked_asynchronously()
        for job_name, job in sorted(spec.jobs.items()):
            schedules[job_name] = aws.scheduler.Schedule(
                f"{name}-job-{job_name}",
                name=ctx.name(name, job_name),
                group_name=self.schedule_group.name,
                description=f"{name}: {job.action} ({job.schedule} {job.timezone})",
                schedule_expression=job.schedule,
                schedule_expression_timezone=job.timezone,
                flexible_time_window={"mode": "FLEXIBLE", "maximum_window_in_minutes": job.flexible_window_minutes},
                # The service's kill switch: a disabled schedule invokes nothing until it is enabled again.
                state="ENABLED" if enabled else "DISABLED",
                target={
                    "arn": self.jobs.alias_arn,
                    "role_arn": self.scheduler_role.arn,
                    "input": json.dumps(
                        {"job": job_name, "action": job.action, "retentionDays": job.retention_days}, sort_keys=True
                    ),
                    "retry_policy": {
                        "maximum_retry_attempts": job.maximum_retry_attempts,
                        "maximum_event_age_in_seconds": job.maximum_event_age_seconds,
                    },
                    "dead_letter_config": {"arn": self.schedule_dlq.arn},
                },
                opts=pulumi.ResourceOptions(parent=self, depends_on=[scheduler_policy]),
            )
        return schedules
