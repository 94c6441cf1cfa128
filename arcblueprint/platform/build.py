"""Compose the shared platform of one stack and hand services a :class:`Platform`.

Order matters only through data: the key encrypts everything, the notification topic receives
every alarm, logging provides the log groups the network's flow logs use, the on-prem VPC is
planned away from the application VPC.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from arcblueprint.config.schema import ConfigError
from arcblueprint.planning.cidr import NetworkDemand, ProxyVpcDemand, plan_onprem_vpc, plan_vpc
from arcblueprint.platform.code_signing import CodeSigning, CodeSigningArgs
from arcblueprint.platform.dns_query_logs import ResolverQueryLogging, ResolverQueryLoggingArgs
from arcblueprint.platform.encryption import EncryptionKey, EncryptionKeyArgs
from arcblueprint.platform.event_bus import EventBus, EventBusArgs, bus_name
from arcblueprint.platform.handles import Platform
from arcblueprint.platform.logging import CentralLogging, CentralLoggingArgs
from arcblueprint.platform.network import Network, NetworkArgs
from arcblueprint.platform.notifications import AlarmNotifications, AlarmNotificationsArgs
from arcblueprint.platform.onprem import OnPremAccess, OnPremAccessArgs
from arcblueprint.platform.secrets import Secrets, SecretsArgs
from arcblueprint.platform.waf import WebAcls

if TYPE_CHECKING:
    import pulumi

    from arcblueprint.platform.context import StackContext

__all__ = ["PlatformBuild", "build_platform"]


@dataclass(frozen=True, kw_only=True)
class PlatformBuild:
    """The platform handle for services, the stack outputs, and the components behind them."""

    platform: Platform
    #: Stack output name -> value: only names, ids, ARNs and DNS names, never a secret value. ``finish``
    #: adds the outputs known only once every service is built (``eventRules``).
    outputs: dict[str, pulumi.Input[Any]]
    key: EncryptionKey
    notifications: AlarmNotifications
    logging: CentralLogging
    network: Network
    event_bus: EventBus
    secrets: Secrets
    on_prem: OnPremAccess | None = None
    firewall: WebAcls | None = None
    dns_query_logs: ResolverQueryLogging | None = None
    code_signing: CodeSigning | None = None

    def finish(self) -> None:
        """Call after every service is built: declares the secrets' reader-only resource policies, the
        bus policy naming the producers (and their schemas), and the ``eventRules`` and ``codePackages``
        outputs."""
        self.secrets.seal()
        self.event_bus.seal()
        self.outputs["eventRules"] = dict(self.event_bus.rule_arns)
        if self.code_signing is not None:  # every function has named its package by now
            self.outputs["codePackages"] = self.code_signing.manifest()
        self._check_tuned_functions()

    def _check_tuned_functions(self) -> None:
        """Each ``functions.memoryMibByFunction`` entry names a function of this stack (a typo would tune nothing)."""
        functions = set(self.platform.releases.releases)
        for name, memory in self.platform.context.stack.functions.memory_mib_by_function.items():
            if name not in functions:
                raise ConfigError(
                    f"arcblueprint:functions.memoryMibByFunction.{name}",
                    memory,
                    "names no function of this stack (functions: " + ", ".join(sorted(functions)) + ")",
                )


def build_platform(context: StackContext) -> PlatformBuild:
    """Declare the platform components the stack config asks for (network always, on-prem if enabled)."""
    stack = context.stack
    key = EncryptionKey("platform", EncryptionKeyArgs(context=context, archived_event_buses=(bus_name(context),)))
    notifications = AlarmNotifications("alarms", AlarmNotificationsArgs(context=context, kms_key_arn=key.arn))
    logging = CentralLogging("logging", CentralLoggingArgs(context=context, kms_key_arn=key.arn))
    app_plan = plan_vpc(NetworkDemand.from_spec(stack.network))
    network = Network("network", NetworkArgs(context=context, log_groups=logging, plan=app_plan))
    bus = EventBus("events", EventBusArgs(context=context, kms_key_arn=key.arn, alarm_actions=notifications.actions))
    secrets = Secrets("secrets", SecretsArgs(context=context, kms_key_arn=key.arn))
    on_prem = None
    if stack.on_prem.enabled:
        onprem_plan = plan_onprem_vpc(
            ProxyVpcDemand.from_spec(stack.on_prem), avoid=(app_plan.cidr, *stack.network.on_prem_ranges)
        )
        on_prem = OnPremAccess(
            "onprem", OnPremAccessArgs(context=context, app_network=network, log_groups=logging, plan=onprem_plan)
        )

    vended_logs = [logging.vended_logs_policy] if logging.vended_logs_policy is not None else []
    dns_query_logs = None
    if stack.resolver_query_logs:
        vpc_ids = {"app": network.vpc_id, **({"onprem": on_prem.vpc.id} if on_prem is not None else {})}
        dns_query_logs = ResolverQueryLogging(
            "dns-queries",
            ResolverQueryLoggingArgs(context=context, log_groups=logging, vpc_ids=vpc_ids, depends_on=vended_logs),
        )
    firewall = WebAcls(context, log_groups=logging, log_parent=logging, logging_depends_on=vended_logs)
    access_logs = logging if logging.access_log_bucket is not None else None
    code_signing = (
        CodeSigning("code-signing", CodeSigningArgs(context=context, kms_key_arn=key.arn, access_logs=access_logs))
        if stack.code_signing.enabled
        else None
    )

    platform = Platform(
        context=context,
        kms_key_arn=key.arn,
        log_groups=logging,
        alarm_actions=notifications.actions,
        vpc=network.attachment,
        onprem_proxy=on_prem,
        event_rules=bus,
        event_bus_name=bus.name_output,
        event_bus_arn=bus.arn,
        secret_arns=dict(secrets.arns),
        secret_access=secrets,
        api_logging_depends_on=[logging.api_gateway_account] if logging.api_gateway_account is not None else [],
        access_logs=access_logs,
        firewall=firewall,
        code_packages=code_signing,
    )
    outputs: dict[str, pulumi.Input[Any]] = {
        "platformKeyArn": key.arn,
        "alarmTopicArn": notifications.topic_arn,
        "eventBusName": bus.name_output,
        "eventBusArn": bus.arn,
        "eventArchiveArn": bus.archive_arn,
        "logDestinationArn": logging.destination_arn,
        "logBucketName": logging.bucket_name,
        **({"accessLogBucketName": logging.access_log_bucket.bucket} if logging.access_log_bucket is not None else {}),
        "logDatabaseName": logging.database_name,
        "vpcId": network.vpc_id,
        "vpcCidr": app_plan.cidr,
        "privateSubnetIds": network.private_subnet_ids,
        "lambdaSecurityGroupId": network.lambda_security_group.id,
        "endpointSecurityGroupId": network.endpoint_security_group.id,
        "interfaceEndpointDns": network.endpoint_dns,
        "secretArns": dict(secrets.arns),
    }
    if on_prem is not None:
        outputs.update(
            {
                "onPremVpcCidr": on_prem.plan.cidr,
                "onPremProxyHost": on_prem.proxy_host,
                "onPremProxyUrl": on_prem.url,
                "onPremProxyGroupName": on_prem.fleet.group.name,
                "onPremEndpointDns": on_prem.endpoint_dns,
                "onPremEndpointServiceName": on_prem.endpoint_service.service_name,
            }
        )
    return PlatformBuild(
        platform=platform,
        outputs=outputs,
        key=key,
        notifications=notifications,
        logging=logging,
        network=network,
        event_bus=bus,
        secrets=secrets,
        on_prem=on_prem,
        firewall=firewall,
        dns_query_logs=dns_query_logs,
        code_signing=code_signing,
    )
