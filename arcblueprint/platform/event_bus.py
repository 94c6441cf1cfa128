"""The shared EventBridge bus: its producers, its routes, its archive and its schema registry.

* Producers: a function that publishes domain events registers its role (``register_producer``);
  once every service is built, :meth:`EventBus.seal` declares the bus policy that lets exactly
  those roles put events, each only with its own source (``events:source``), and denies every
  other IAM principal. It also publishes the producers' event schemas to the registry (schema
  discovery is refused on a bus encrypted with a customer managed key).
* The bus has its own dead-letter queue (encrypted, alarmed): with a customer managed key, an event
  EventBridge cannot encrypt or decrypt while processing it on the bus (the key disabled, its policy
  changed) goes there instead of being lost; AWS strongly recommends one for such a bus ("Encrypting
  EventBridge event buses with AWS KMS keys").
* Routes: every rule gets one target with a dead-letter queue (encrypted SQS, alarmed) and the
  stack's retry policy from ``eventBus`` (whitepaper, seed 003: "use DLQs and retries on every
  asynchronous path"), and what EventBridge needs to deliver: a role for Kinesis, Firehose and Step
  Functions targets, a Lambda permission for a function alias. Queue targets admit the rule in
  their own policy (the queue's owner writes it, with :meth:`EventBus.rule_arn`).
* A rule of a service whose kill switch (``triggersDisabled``) is on is declared ``DISABLED``.
* An archive keeps every event for replay (``blueprint replay``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws

from arcblueprint.events import event_types, registry_content, registry_schema_name, source_of
from arcblueprint.platform.queues import DEAD_LETTER_RETENTION_SECONDS, dead_letter_alarm
from arcblueprint.service_facts import service_trust_policy

if TYPE_CHECKING:
    from collections.abc import Mapping

    from arcblueprint.platform.context import StackContext
    from arcblueprint.platform.handles import AlarmActions, RuleTarget

__all__ = ["EventBus", "EventBusArgs", "EventBusSealedError", "Route"]

_SERVICE = "event-bus"


#: Target kind -> (Sid, actions) of the role EventBridge assumes to deliver to it. EventBridge calls
#: PutRecordBatch on a Firehose stream (EventBridge user guide, "Amazon Data Firehose stream target").
_ROLE_ACTIONS = {
    "kinesis": ("PutRecordsOnTheStream", ["kinesis:PutRecord", "kinesis:PutRecords"]),
    "firehose": ("PutRecordsOnTheDeliveryStream", ["firehose:PutRecord", "firehose:PutRecordBatch"]),
    "states": ("StartTheStateMachine", ["states:StartExecution"]),
}
#: What the role needs of the target's key: a Kinesis producer generates data keys ("Permissions to use
#: user-generated KMS keys"); a state machine encrypts the execution input. A Firehose stream encrypts
#: with the grant Firehose made on its key when the stream was created: its producers need nothing.
_KEY_ACTIONS = {"kinesis": ["kms:GenerateDataKey"], "states": ["kms:GenerateDataKey", "kms:Decrypt"]}


class EventBusSealedError(RuntimeError):
    """A producer registered after :meth:`EventBus.seal` declared the bus policy."""


@dataclass(frozen=True, kw_only=True)
class EventBusArgs:
    context: StackContext
    #: The platform key: encrypts the bus, its archive and every DLQ.
    kms_key_arn: pulumi.Input[str]
    #: Where each DLQ's depth alarm notifies (default: no alarm, for tests of the bus alone).
    alarm_actions: AlarmActions | None = None


@dataclass(frozen=True, kw_only=True)
class Route:
    """One row of the routing table: which events a rule sends to which target."""

    service: str
    key: str
    rule_name: str
    bus: str
    event_pattern: Mapping[str, Any]
    target_kind: str
    target_label: str
    enabled: bool


@dataclass
class _Producer:
    source: str
    role_arns: list[pulumi.Input[str]] = field(default_factory=list)


def bus_name(ctx: StackContext) -> str:
    """The shared bus's name: known before the bus exists (the platform key's policy names its archive's context)."""
    return ctx.name("bus")


class EventBus(pulumi.ComponentResource):
    """A custom bus encrypted with the platform key, written to only by named producers, with an archive.

    Implements :class:`arcblueprint.platform.handles.EventRules`.

    Attributes
    ----------
    bus : aws.cloudwatch.EventBus
    name_output, arn, archive_arn : pulumi.Output[str]
    registry : aws.schemas.Registry
        The explicit schemas of the producers' events.
    routes : list[Route]
        Every rule declared through :meth:`add_rule`, in order.
    rule_arns : dict[str, pulumi.Output[str]]
        ``<service>-<key>`` -> rule ARN (the ``eventRules`` stack output ``blueprint replay --rule`` reads).
    """

    def __init__(self, name: str, args: EventBusArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("arcblueprint:platform:EventBus", name, None, opts)
        self._name = name
        self._context = ctx = args.context
        self._kms_key_arn = args.kms_key_arn
        self._alarm_actions = args.alarm_actions
        self._producers: dict[str, _Producer] = {}
        self._sealed = False
        self.routes: list[Route] = []
        self.rule_arns: dict[str, pulumi.Output[str]] = {}
        stack = ctx.stack
        spec = stack.event_bus
        child = pulumi.ResourceOptions(parent=self)

        self.physical_name = bus_name(ctx)
        # Declared before the bus (which names it); its policy, which names the bus, after.
        self.dead_letter_queue = self._queue(f"{name}-dlq", ctx.name("bus", "dlq", max_length=80), _SERVICE, child)
        self.bus = aws.cloudwatch.EventBus(
            f"{name}-bus",
            name=self.physical_name,
            description=f"Shared event bus of {stack.environment}",
            kms_key_identifier=args.kms_key_arn,
            # Events the bus could not encrypt or decrypt (its key disabled or its policy changed): kept, alarmed.
            dead_letter_config={"arn": self.dead_letter_queue.arn},
            tags=ctx.tags(_SERVICE),
            opts=child,
        )
        # EventBridge sends the bus's failures as the bus (its rules' as the rule): either source, of this bus only.
        self._admit_eventbridge(
            f"{name}-dlq",
            self.dead_letter_queue,
            [self.bus.arn, self.bus.arn.apply(lambda arn: arn.replace(":event-bus/", ":rule/", 1) + "/*")],
            "TheBusDeadLetters",
            child,
        )
        self._depth_alarm(
            f"{name}-dlq",
            self.dead_letter_queue,
            _SERVICE,
            "events the shared bus could not encrypt or decrypt (is its key enabled and does its policy admit it?)",
            child,
        )
        self.archive = aws.cloudwatch.EventArchive(
            f"{name}-archive",
            name=ctx.name("bus-archive", max_length=48),
            event_source_arn=self.bus.arn,
            retention_days=spec.archive_retention_days,
            kms_key_identifier=args.kms_key_arn,
            description="Every event on the shared bus, for replay",
            opts=ctx.stateful(child),
        )
        # No schema discoverer: EventBridge rejects CreateDiscoverer on a bus encrypted with a
        # customer managed key (config refuses eventBus.enableSchemaDiscovery for that reason); the
        # producers' schemas are published explicitly when the bus is sealed.
        self.registry = aws.schemas.Registry(
            f"{name}-registry",
            name=ctx.name("events"),
            description=f"Domain event schemas of {stack.environment} (arcblueprint/events/schemas)",
            tags=ctx.tags(_SERVICE),
            opts=child,
        )

        self.name_output: pulumi.Output[str] = self.bus.name
        self.arn: pulumi.Output[str] = self.bus.arn
        self.archive_arn: pulumi.Output[str] = self.archive.arn
        self.register_outputs({"name": self.name_output, "arn": self.arn, "archiveArn": self.archive_arn})

    # ------------------------------------------------------------------------------------ routes

    def rule_name(self, key: str, *, service: str) -> str:
        return self._context.name(service, key, max_length=64)

    def rule_arn(self, key: str, *, service: str, on_default_bus: bool = False) -> str:
        """The ARN of a rule of :meth:`add_rule`: ``rule/<bus>/<rule>`` on a custom bus, else ``rule/<rule>``."""
        stack = self._context.stack
        bus = "" if on_default_bus else f"{self.physical_name}/"
        return (
            f"arn:{self._context.partition}:events:{stack.region}:{stack.account_id}:rule/"
            f"{bus}{self.rule_name(key, service=service)}"
        )

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
        """A rule with one target that has a DLQ, the stack's retry policy and what it needs to be delivered."""
        ctx = self._context
        spec = ctx.stack.event_bus
        enabled = not ctx.stack.triggers_disabled(service)
        base = f"{service}-{key}"
        opts = pulumi.ResourceOptions(parent=parent)
        bus_name = None if on_default_bus else self.bus.name
        rule = aws.cloudwatch.EventRule(
            f"{base}-rule",
            name=self.rule_name(key, service=service),
            description=(description or f"{service}: {target.label}")[:512],
            event_bus_name=bus_name,
            event_pattern=json.dumps(dict(event_pattern), sort_keys=True),
            # The service's kill switch: a disabled rule matches nothing, its target keeps what it has.
            state="ENABLED" if enabled else "DISABLED",
            tags=ctx.tags(service),
            opts=opts,
        )
        dlq = self._dead_letter_queue(base, service, rule, parent)
        role_arn = (
            self._target_role(
                base,
                service,
                target,
                parent,
                rule_arn=self.rule_arn(key, service=service, on_default_bus=on_default_bus),
            )
            if target.kind in _ROLE_ACTIONS
            else None
        )
        transformer = target.input_transformer
        aws.cloudwatch.EventTarget(
            f"{base}-target",
            rule=rule.name,
            event_bus_name=bus_name,
            arn=target.arn,
            role_arn=role_arn,
            dead_letter_config={"arn": dlq.arn},
            retry_policy={
                "maximum_retry_attempts": spec.target_maximum_retry_attempts,
                "maximum_event_age_in_seconds": spec.target_maximum_event_age_seconds,
            },
            input_transformer={"input_paths": dict(transformer.paths), "input_template": transformer.template}
            if transformer is not None
            else None,
            kinesis_target={"partition_key_path": target.partition_key_path} if target.kind == "kinesis" else None,
            opts=opts,
        )
        if target.kind == "lambda":
            assert target.function is not None
            target.function.allow_invoke(f"events-{key}", principal="events.amazonaws.com", source_arn=rule.arn)
        self.routes.append(
            Route(
                service=service,
                key=key,
                rule_name=self.rule_name(key, service=service),
                bus="default" if on_default_bus else self.physical_name,
                event_pattern=dict(event_pattern),
                target_kind=target.kind,
                target_label=target.label,
                enabled=enabled,
            )
        )
        self.rule_arns[base] = rule.arn
        return rule

    def _dead_letter_queue(
        self, base: str, service: str, rule: aws.cloudwatch.EventRule, parent: pulumi.Resource
    ) -> aws.sqs.Queue:
        """What the rule could not deliver after its retries, kept 14 days, alarmed."""
        opts = pulumi.ResourceOptions(parent=parent)
        dlq = self._queue(
            f"{base}-dlq",
            self._context.name(service, base.removeprefix(f"{service}-"), "dlq", max_length=80),
            service,
            opts,
        )
        self._admit_eventbridge(f"{base}-dlq", dlq, [rule.arn], "ThisRuleDeadLetters", opts)
        self._depth_alarm(
            f"{base}-dlq", dlq, service, f"{service}: events the rule {base} could not deliver after its retries", opts
        )
        return dlq

    def _queue(self, resource_name: str, name: str, service: str, opts: pulumi.ResourceOptions) -> aws.sqs.Queue:
        """A dead-letter queue: encrypted with the platform key, kept as long as SQS keeps anything."""
        ctx = self._context
        return aws.sqs.Queue(
            resource_name,
            name=name,
            kms_master_key_id=self._kms_key_arn,
            kms_data_key_reuse_period_seconds=300,
            message_retention_seconds=DEAD_LETTER_RETENTION_SECONDS,
            tags=ctx.tags(service),
            opts=ctx.stateful(opts),
        )

    def _admit_eventbridge(
        self,
        resource_name: str,
        queue: aws.sqs.Queue,
        sources: list[pulumi.Input[str]],
        sid: str,
        opts: pulumi.ResourceOptions,
    ) -> None:
        """The queue's policy: EventBridge may send on behalf of ``sources`` (rule or bus ARNs), TLS only."""

        def document(values: list[Any]) -> str:
            queue_arn, *source_arns = values
            return json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": sid,
                            "Effect": "Allow",
                            "Principal": {"Service": "events.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": queue_arn,
                            "Condition": {
                                "ArnLike" if any("*" in a for a in source_arns) else "ArnEquals": {
                                    "aws:SourceArn": source_arns[0] if len(source_arns) == 1 else source_arns
                                }
                            },
                        },
                        {
                            "Sid": "DenyInsecureTransport",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "sqs:*",
                            "Resource": queue_arn,
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        },
                    ],
                }
            )

        aws.sqs.QueuePolicy(
            f"{resource_name}-policy",
            queue_url=queue.url,
            policy=pulumi.Output.all(queue.arn, *sources).apply(document),
            opts=opts,
        )

    def _depth_alarm(
        self, resource_name: str, queue: aws.sqs.Queue, service: str, description: str, opts: pulumi.ResourceOptions
    ) -> None:
        """One message in a dead-letter queue is one event lost to its consumer: alarm on the first."""
        if self._alarm_actions is None:
            return
        assert opts.parent is not None
        dead_letter_alarm(
            f"{resource_name}-alarm",
            queue=queue,
            threshold=1,
            description=description,
            actions=self._alarm_actions,
            tags=self._context.tags(service),
            parent=opts.parent,
        )

    def _target_role(
        self, base: str, service: str, target: RuleTarget, parent: pulumi.Resource, *, rule_arn: str
    ) -> pulumi.Output[str]:
        """The role EventBridge assumes to put records on a (delivery) stream or start a state machine: that only.

        Only for this rule: EventBridge puts the rule's ARN in ``aws:SourceArn`` when it assumes a target's
        role (EventBridge guide, "Cross-service confused deputy prevention").
        """
        ctx = self._context
        opts = pulumi.ResourceOptions(parent=parent)
        role = aws.iam.Role(
            f"{base}-events-role",
            name=ctx.name(service, base.removeprefix(f"{service}-"), "events", max_length=64),
            description=f"EventBridge delivers {base} to {target.label}",
            assume_role_policy=service_trust_policy(
                "events.amazonaws.com", account_id=ctx.stack.account_id, source_arn=rule_arn
            ),
            tags=ctx.tags(service),
            opts=opts,
        )
        sid, action = _ROLE_ACTIONS[target.kind]
        key_actions = _KEY_ACTIONS.get(target.kind)

        def document(values: list[Any]) -> str:
            statements: list[dict[str, Any]] = [
                {"Sid": sid, "Effect": "Allow", "Action": action, "Resource": values[0]}
            ]
            if values[1] and key_actions:
                # Writing to an encrypted stream (or passing input to an encrypted state machine) needs the key.
                statements.append(
                    {"Sid": "UseTheTargetsKey", "Effect": "Allow", "Action": key_actions, "Resource": values[1]}
                )
            return json.dumps({"Version": "2012-10-17", "Statement": statements})

        policy = aws.iam.RolePolicy(
            f"{base}-events-policy",
            role=role.id,
            name="deliver",
            policy=pulumi.Output.all(target.arn, target.kms_key_arn).apply(document),
            opts=opts,
        )
        # The target is created after the role may do its job, so the first event is not refused.
        return pulumi.Output.all(role.arn, policy.id).apply(lambda v: v[0])

    # --------------------------------------------------------------------------------- producers

    def register_producer(self, *, service: str, role_arn: pulumi.Input[str]) -> str:
        """Name ``role_arn`` in the bus policy as a publisher of ``arcblueprint.<service>`` (and nothing else)."""
        if self._sealed:
            raise EventBusSealedError(f"producer of {service} registered after EventBus.seal()")
        if not event_types(service):
            raise ValueError(f"{service} publishes domain events but arcblueprint/events/schemas/{service}/ is empty")
        producer = self._producers.setdefault(service, _Producer(source=source_of(service)))
        producer.role_arns.append(role_arn)
        return producer.source

    def seal(self) -> None:
        """Declare the bus policy from the producers registered so far, and their schemas (once, after services)."""
        if self._sealed:
            return
        self._sealed = True
        ctx = self._context
        child = pulumi.ResourceOptions(parent=self)
        producers = sorted(self._producers.items())
        for service, _ in producers:
            for event in event_types(service):
                aws.schemas.Schema(
                    f"{self._name}-schema-{service}-{event.detail_type}",
                    name=registry_schema_name(event),
                    registry_name=self.registry.name,
                    type="JSONSchemaDraft4",
                    content=json.dumps(registry_content(event), sort_keys=True),
                    description=f"{event.detail_type} from {event.source} ({event.relative_path})"[:256],
                    tags=ctx.tags(service),
                    opts=child,
                )
        roles = [arn for _, producer in producers for arn in producer.role_arns]

        def document(values: list[Any]) -> str:
            bus_arn, *resolved = values
            statements: list[dict[str, Any]] = []
            offset = 0
            for service, producer in producers:
                arns = resolved[offset : offset + len(producer.role_arns)]
                offset += len(producer.role_arns)
                sid = "".join(part.title() for part in service.split("-"))
                statements.append(
                    {
                        "Sid": f"{sid}ProducersPublishTheirSource",
                        "Effect": "Allow",
                        "Principal": {"AWS": arns},
                        "Action": "events:PutEvents",
                        "Resource": bus_arn,
                        "Condition": {"ForAllValues:StringEquals": {"events:source": [producer.source]}},
                    }
                )
                # Within the account an identity policy alone would allow the call: a Deny holds whatever it says.
                statements.append(
                    {
                        "Sid": f"{sid}ProducersPublishNoOtherSource",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "events:PutEvents",
                        "Resource": bus_arn,
                        "Condition": {
                            "ArnEquals": {"aws:PrincipalArn": arns},
                            "ForAnyValue:StringNotEquals": {"events:source": [producer.source]},
                        },
                    }
                )
            # Any other IAM principal (users, roles) is refused. Only principals with an ARN: EventBridge's own
            # deliveries (archive, replay) are not IAM principals' calls.
            statements.append(
                {
                    "Sid": "OnlyNamedProducersPublish",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "events:PutEvents",
                    "Resource": bus_arn,
                    "Condition": {
                        "Null": {"aws:PrincipalArn": "false"},
                        **({"ArnNotEquals": {"aws:PrincipalArn": list(resolved)}} if resolved else {}),
                    },
                }
            )
            return json.dumps({"Version": "2012-10-17", "Statement": statements})

        self.policy = aws.cloudwatch.EventBusPolicy(
            f"{self._name}-policy",
            event_bus_name=self.bus.name,
            policy=pulumi.Output.all(self.bus.arn, *roles).apply(document),
            opts=child,
        )

    @property
    def producer_sources(self) -> dict[str, str]:
        """Service -> the source its registered roles may put."""
        return {service: producer.source for service, producer in self._producers.items()}
