"""A WAFv2 web ACL in front of one public API (a REST API stage or an AppSync API).

API Gateway throttling limits how fast a client may call; it does not look at what the client
sends. The web ACL does, before API Gateway or AppSync spend a Lambda invocation on it: AWS's
managed rule groups (the core rule set, known bad inputs, Amazon's IP reputation list, and SQL
injection where the API reaches a data store), a rate-based rule per client IP, and, where a
service lists its senders' ranges, an allow-list that blocks every other address.

Every ACL logs to the stack's ``aws-waf-logs-<prefix>-waf`` log group (AWS WAF only logs to
destinations named ``aws-waf-logs-...``), which the central logging component subscribes to the
sink like every other log group; credentials (``Authorization``, ``X-API-Key``) are redacted from
the records. Each rule and the ACL publish CloudWatch metrics and sampled requests.

Costs (why dev leaves it off by default): a web ACL is billed per month, per rule and per million
requests; the managed groups here use 1,125 WCUs or fewer, within the 1,500 the base price covers.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from arcblueprint.platform.logging import waf_log_group_name

if TYPE_CHECKING:
    from collections.abc import Sequence

    from arcblueprint.platform.context import StackContext
    from arcblueprint.platform.handles import LogGroups

__all__ = [
    "CORE_RULE_SET",
    "IP_REPUTATION",
    "KNOWN_BAD_INPUTS",
    "REDACTED_HEADERS",
    "SQL_INJECTION",
    "WebAcls",
    "WebApplicationFirewall",
    "WebApplicationFirewallArgs",
]

_SERVICE = "waf"
#: AWS managed rule groups (vendor ``AWS``) every ACL runs, and the one data APIs add.
IP_REPUTATION = "AWSManagedRulesAmazonIpReputationList"
KNOWN_BAD_INPUTS = "AWSManagedRulesKnownBadInputsRuleSet"
CORE_RULE_SET = "AWSManagedRulesCommonRuleSet"
SQL_INJECTION = "AWSManagedRulesSQLiRuleSet"
#: The core rule set's rule that blocks request bodies over 8 KB (8,192 bytes).
_BODY_SIZE_RULE = "SizeRestrictions_BODY"
#: Credentials never reach the logs (WAF wants single header names in lowercase).
REDACTED_HEADERS = ("authorization", "x-api-key")


@dataclass(frozen=True, kw_only=True)
class WebApplicationFirewallArgs:
    context: StackContext
    service: str
    #: The protected API: a REST API stage ARN (``arn:aws:apigateway:<region>::/restapis/<id>/stages/<stage>``)
    #: or an AppSync API ARN (``arn:aws:appsync:<region>:<account>:apis/<id>``).
    resource_arn: pulumi.Input[str]
    #: A log group named ``aws-waf-logs-...`` (central logging subscribes it to the sink).
    log_group_arn: pulumi.Input[str]
    #: What must exist before logging starts (the log group's resource policy for CloudWatch Logs delivery).
    logging_depends_on: Sequence[pulumi.Resource] = ()
    #: Requests per client IP per ``evaluation_window_seconds`` before the rate-based rule blocks it.
    rate_limit: int = 2000
    evaluation_window_seconds: int = 300
    #: Adds AWS's SQL injection rule group (APIs whose requests reach a data store).
    inspects_sql: bool = False
    #: Bodies over the core rule set's 8 KB are legitimate here: its size rule only counts.
    large_bodies: bool = False
    #: IPv4/IPv6 CIDRs; every other source address is blocked. Default: any address.
    allowed_source_ranges: Sequence[str] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.rate_limit < 10:
            raise ValueError(
                f"WebApplicationFirewallArgs.rate_limit = {self.rate_limit} is invalid: WAF's minimum is 10"
            )
        if self.evaluation_window_seconds not in (60, 120, 300, 600):
            raise ValueError(
                f"WebApplicationFirewallArgs.evaluation_window_seconds = {self.evaluation_window_seconds} is "
                "invalid: must be 60, 120, 300 or 600"
            )
        for cidr in self.allowed_source_ranges:
            ipaddress.ip_network(cidr, strict=True)  # a malformed range fails here, not in CreateIPSet


class WebApplicationFirewall(pulumi.ComponentResource):
    """A regional web ACL, its association with one API, and its logging.

    Attributes
    ----------
    web_acl : aws.wafv2.WebAcl
    association : aws.wafv2.WebAclAssociation
    logging : aws.wafv2.WebAclLoggingConfiguration
    ip_sets : list[aws.wafv2.IpSet]
        The allowed source ranges, one set per IP version (none without ``allowed_source_ranges``).
    arn : pulumi.Output[str]
    """

    def __init__(self, name: str, args: WebApplicationFirewallArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("arcblueprint:platform:WebApplicationFirewall", name, None, opts)
        ctx = args.context
        child = pulumi.ResourceOptions(parent=self)
        tags = ctx.tags(args.service)
        acl_name = ctx.name(name, max_length=128)

        self.ip_sets: list[aws.wafv2.IpSet] = []
        for version, ranges in _by_version(args.allowed_source_ranges).items():
            self.ip_sets.append(
                aws.wafv2.IpSet(
                    f"{name}-senders-{version.lower()}",
                    name=ctx.name(name, "senders", version.lower(), max_length=128),
                    description=f"Addresses allowed to call {args.service}",
                    scope="REGIONAL",
                    ip_address_version=version,
                    addresses=list(ranges),
                    tags=tags,
                    opts=child,
                )
            )

        # Rules are evaluated by priority: each rule's is its position in this list.
        rules: list[aws.wafv2.WebAclRuleArgsDict] = []
        if self.ip_sets:
            references: list[aws.wafv2.WebAclRuleStatementArgsDict] = [
                {"ip_set_reference_statement": {"arn": s.arn}} for s in self.ip_sets
            ]
            matches: aws.wafv2.WebAclRuleStatementArgsDict = (
                references[0] if len(references) == 1 else {"or_statement": {"statements": references}}
            )
            rules.append(
                _rule(
                    acl_name,
                    "allowed-senders",
                    {"not_statement": {"statement": matches}},
                    block=True,
                    priority=len(rules),
                )
            )
        rules.append(
            _rule(
                acl_name,
                "rate-limit-per-ip",
                {
                    "rate_based_statement": {
                        "limit": args.rate_limit,
                        "aggregate_key_type": "IP",
                        "evaluation_window_sec": args.evaluation_window_seconds,
                    }
                },
                block=True,
                priority=len(rules),
            )
        )
        rules.append(_managed(acl_name, "ip-reputation", IP_REPUTATION, priority=len(rules)))
        rules.append(_managed(acl_name, "known-bad-inputs", KNOWN_BAD_INPUTS, priority=len(rules)))
        rules.append(
            _managed(
                acl_name,
                "core-rule-set",
                CORE_RULE_SET,
                count_only=(_BODY_SIZE_RULE,) if args.large_bodies else (),
                priority=len(rules),
            )
        )
        if args.inspects_sql:
            rules.append(_managed(acl_name, "sql-injection", SQL_INJECTION, priority=len(rules)))

        self.web_acl = aws.wafv2.WebAcl(
            f"{name}-acl",
            name=acl_name,
            description=f"{args.service}: managed rules, rate limit per IP",
            scope="REGIONAL",
            default_action={"allow": {}},
            rules=rules,
            visibility_config=_visibility(acl_name),
            tags=tags,
            opts=child,
        )
        self.association = aws.wafv2.WebAclAssociation(
            f"{name}-association", resource_arn=args.resource_arn, web_acl_arn=self.web_acl.arn, opts=child
        )
        self.logging = aws.wafv2.WebAclLoggingConfiguration(
            f"{name}-logging",
            resource_arn=self.web_acl.arn,
            log_destination_configs=[args.log_group_arn],
            redacted_fields=[{"single_header": {"name": header}} for header in REDACTED_HEADERS],
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.logging_depends_on)),
        )
        self.arn: pulumi.Output[str] = self.web_acl.arn
        self.register_outputs({"webAclArn": self.arn})


class WebAcls:
    """The platform's :class:`~arcblueprint.platform.handles.WebFirewalls`: one web ACL per protected API.

    The shared log group (``aws-waf-logs-<prefix>-waf``) is declared with the first ACL, under the
    central logging component, so a stack without web ACLs has none.
    """

    def __init__(
        self,
        context: StackContext,
        *,
        log_groups: LogGroups,
        log_parent: pulumi.Resource,
        logging_depends_on: Sequence[pulumi.Resource] = (),
    ) -> None:
        self._context = context
        self._log_groups = log_groups
        self._log_parent = log_parent
        self._logging_depends_on = list(logging_depends_on)
        self._log_group: aws.cloudwatch.LogGroup | None = None
        #: Every web ACL declared, by component name.
        self.firewalls: dict[str, WebApplicationFirewall] = {}

    def protect(
        self,
        name: str,
        *,
        service: str,
        resource_arn: pulumi.Input[str],
        parent: pulumi.Resource,
        inspects_sql: bool,
        large_bodies: bool,
        allowed_source_ranges: Sequence[str] = (),
    ) -> WebApplicationFirewall | None:
        stack = self._context.stack
        if not stack.waf_enabled(service):
            return None
        if self._log_group is None:
            self._log_group = self._log_groups.log_group(
                "logging-waf-logs", waf_log_group_name(self._context), service=_SERVICE, parent=self._log_parent
            )
        firewall = WebApplicationFirewall(
            f"{name}-waf",
            WebApplicationFirewallArgs(
                context=self._context,
                service=service,
                resource_arn=resource_arn,
                log_group_arn=self._log_group.arn,
                logging_depends_on=self._logging_depends_on,
                rate_limit=stack.waf_rate_limit(service),
                evaluation_window_seconds=stack.waf.evaluation_window_seconds,
                inspects_sql=inspects_sql,
                large_bodies=large_bodies,
                allowed_source_ranges=tuple(allowed_source_ranges),
            ),
            opts=pulumi.ResourceOptions(parent=parent),
        )
        self.firewalls[name] = firewall
        return firewall


def _by_version(ranges: Sequence[str]) -> dict[str, list[str]]:
    """CIDRs grouped by IP set address version (an IP set holds one version)."""
    grouped: dict[str, list[str]] = {}
    for cidr in ranges:
        version = "IPV4" if ipaddress.ip_network(cidr).version == 4 else "IPV6"
        grouped.setdefault(version, []).append(cidr)
    return grouped


def _visibility(metric_name: str) -> aws.wafv2.WebAclVisibilityConfigArgsDict:
    return {"cloudwatch_metrics_enabled": True, "metric_name": metric_name, "sampled_requests_enabled": True}


def _rule(
    acl_name: str, rule_name: str, statement: aws.wafv2.WebAclRuleStatementArgsDict, *, block: bool, priority: int
) -> aws.wafv2.WebAclRuleArgsDict:
    return {
        "name": rule_name,
        "priority": priority,
        "action": {"block": {}} if block else {"count": {}},
        "statement": statement,
        "visibility_config": _visibility(f"{acl_name}-{rule_name}"),
    }


def _managed(
    acl_name: str, rule_name: str, group: str, *, count_only: Sequence[str] = (), priority: int
) -> aws.wafv2.WebAclRuleArgsDict:
    """A managed rule group with its own rule actions (``override_action: none``: a ``count`` override
    would turn the whole group into monitoring); ``count_only`` rules of the group count instead of block."""
    statement: aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementArgsDict = {"vendor_name": "AWS", "name": group}
    if count_only:
        statement["rule_action_overrides"] = [{"name": rule, "action_to_use": {"count": {}}} for rule in count_only]
    return {
        "name": rule_name,
        "priority": priority,
        "override_action": {"none": {}},
        "statement": {"managed_rule_group_statement": statement},
        "visibility_config": _visibility(f"{acl_name}-{rule_name}"),
    }
