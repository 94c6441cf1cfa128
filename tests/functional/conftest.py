"""Fixtures for components under the mock runtime: a stand-in for the shared platform.

Services and the function component depend only on the :class:`Platform` handle, so their tests can
run without building the whole network; the real platform is covered by the stack tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws
import pytest

from arcblueprint.platform.handles import AlarmActions, Platform, RuleTarget, VpcAttachment

if TYPE_CHECKING:
    from collections.abc import Mapping

    from arcblueprint.platform.context import StackContext


class FakeLogGroups:
    """Log groups with the stack's retention and a KMS key, as the real logging component makes them."""

    def __init__(self, context: StackContext, kms_key_arn: pulumi.Input[str]) -> None:
        self.context = context
        self.kms_key_arn = kms_key_arn
        self.created: list[str] = []

    def log_group(
        self, resource_name: str, log_group_name: str, *, service: str, parent: pulumi.Resource
    ) -> aws.cloudwatch.LogGroup:
        self.created.append(log_group_name)
        return aws.cloudwatch.LogGroup(
            resource_name,
            name=log_group_name,
            retention_in_days=self.context.stack.logging.retention_days,
            kms_key_id=self.kms_key_arn,
            tags=self.context.tags(service),
            opts=self.context.stateful(pulumi.ResourceOptions(parent=parent)),
        )


class FakeEndpoints:
    """Records the APIs VPC functions ask the network for, as the real network would declare endpoints."""

    def __init__(self) -> None:
        self.required: list[str] = []

    def require(self, api: str) -> None:
        if api not in self.required:
            self.required.append(api)


class FakeEventRules:
    """Rules on a bus with a DLQ and retry policy on each target, as the real event bus declares them;
    producers are only recorded (the real bus's policy is tested with the platform)."""

    def __init__(self, context: StackContext, bus_name: str) -> None:
        self.context = context
        self.bus_name = bus_name
        self.producers: dict[str, list[pulumi.Input[str]]] = {}

    def rule_arn(self, key: str, *, service: str, on_default_bus: bool = False) -> str:
        stack = self.context.stack
        bus = "" if on_default_bus else f"{self.bus_name}/"
        return f"arn:aws:events:{stack.region}:{stack.account_id}:rule/{bus}{self.context.name(service, key)}"

    def register_producer(self, *, service: str, role_arn: pulumi.Input[str]) -> str:
        from arcblueprint.events import source_of

        self.producers.setdefault(service, []).append(role_arn)
        return source_of(service)

    def add_rule(
        self,
        key: str,
        *,
        service: str,
        event_pattern: Mapping[str, object],
        target: RuleTarget,
        parent: pulumi.Resource,
        description: str = "",
        on_default_bus: bool = False,
    ) -> aws.cloudwatch.EventRule:
        import json

        opts = pulumi.ResourceOptions(parent=parent)
        base = f"{service}-{key}"
        bus = None if on_default_bus else self.bus_name
        disabled = self.context.stack.triggers_disabled(service)
        rule = aws.cloudwatch.EventRule(
            f"{base}-rule",
            name=self.context.name(service, key),
            event_bus_name=bus,
            event_pattern=json.dumps(dict(event_pattern)),
            state="DISABLED" if disabled else "ENABLED",
            opts=opts,
        )
        dlq = aws.sqs.Queue(f"{base}-dlq", kms_master_key_id="alias/aws/sqs", opts=opts)
        aws.cloudwatch.EventTarget(
            f"{base}-target",
            rule=rule.name,
            event_bus_name=bus,
            arn=target.arn,
            dead_letter_config={"arn": dlq.arn},
            retry_policy={"maximum_retry_attempts": 8, "maximum_event_age_in_seconds": 3600},
            opts=opts,
        )
        if target.function is not None:
            target.function.allow_invoke(f"events-{key}", principal="events.amazonaws.com", source_arn=rule.arn)
        return rule


class FakeOnPremProxy:
    """The on-prem proxy handle: destinations as a stack would configure them; records functions admitted."""

    url = "http://proxy.arcbp-test.internal:3128"
    destinations = ("172.16.0.0/12", ".corp.example.com")
    ports = (443, 8080)

    def __init__(self) -> None:
        self.admitted = 0

    def allows(self, url: str) -> bool:
        from arcblueprint.planning.proxy_config import allows

        return allows(url, destinations=self.destinations, ports=self.ports)

    def admit_functions(self) -> None:
        self.admitted += 1


def fake_alarm_topic_arn(context: StackContext) -> str:
    """The notification topic of the fake platform (the real one is ``AlarmNotifications``)."""
    return f"arn:aws:sns:{context.stack.region}:{context.stack.account_id}:{context.name('alarms')}"


@pytest.fixture(scope="session")
def fake_platform():
    """``fake_platform(context, with_vpc=False, with_bus=False, secrets=())`` -> a :class:`Platform`.

    Call it inside a ``run_component`` program: it declares a KMS key and API Gateway's account-level
    CloudWatch role setting (which logging stages must wait for), and nothing else that a component
    under test would not see. With a VPC, ``platform.vpc.endpoints.required`` lists the APIs the
    functions asked endpoints for (:class:`FakeEndpoints`). Alarms notify the topic
    ``fake_alarm_topic_arn(context)`` names.
    """

    def build(
        context: StackContext,
        *,
        with_vpc: bool = False,
        with_bus: bool = False,
        with_onprem_proxy: bool = False,
        secrets: tuple[str, ...] = (),
    ) -> Platform:
        key = aws.kms.Key("fake-platform-key", enable_key_rotation=True)
        region, account = context.stack.region, context.stack.account_id
        api_account = aws.apigateway.Account(
            "fake-apigateway-account",
            cloudwatch_role_arn=f"arn:aws:iam::{account}:role/{context.name('apigateway-logs')}",
        )
        bus_name = context.name("bus")
        return Platform(
            context=context,
            kms_key_arn=key.arn,
            log_groups=FakeLogGroups(context, key.arn),
            alarm_actions=AlarmActions(topic_arn=fake_alarm_topic_arn(context)),
            vpc=VpcAttachment(
                subnet_ids=["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
                security_group_id="sg-0aaaaaaaaaaaaaaa1",
                endpoints=FakeEndpoints(),
            )
            if with_vpc
            else None,
            onprem_proxy=FakeOnPremProxy() if with_onprem_proxy else None,
            event_rules=FakeEventRules(context, bus_name) if with_bus else None,
            event_bus_name=bus_name if with_bus else None,
            event_bus_arn=f"arn:aws:events:{region}:{account}:event-bus/{bus_name}" if with_bus else None,
            secret_arns={
                name: f"arn:aws:secretsmanager:{region}:{account}:secret:{context.name(name)}-AbCdEf"
                for name in secrets
            },
            api_logging_depends_on=[api_account],
        )

    return build


@pytest.fixture(scope="session")
def service_program(fake_platform):
    """``service_program("orders", "comfortable-rest", {...}, with_vpc=True)`` -> a program for ``run_component``.

    The spec goes through the same parsing and the same dispatch (``build_service``) as in the
    stack program; the platform is the stand-in above (keyword arguments go to ``fake_platform``).
    The service's outputs are exported as ``outputs``; with a VPC, the APIs its VPC functions asked
    endpoints for as ``endpointsRequired``.
    """
    from arcblueprint.config.model import ServiceSpec
    from arcblueprint.services import build_service

    def make(name: str, pattern: str, spec_data: Mapping[str, object], **platform: object):
        def program(context: StackContext) -> None:
            spec = ServiceSpec.parse_config({"pattern": pattern, **spec_data}, f"services.{name}")
            handle = fake_platform(context, **platform)
            service = build_service(name, spec, handle)
            pulumi.export("outputs", service.outputs)
            if handle.vpc is not None:
                pulumi.export("endpointsRequired", handle.vpc.endpoints.required)
            if handle.onprem_proxy is not None:
                pulumi.export("proxyAdmissions", handle.onprem_proxy.admitted)

        return program

    return make
