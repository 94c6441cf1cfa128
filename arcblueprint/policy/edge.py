"""The edge: a WAFv2 web ACL in front of every public API, with the rules, metrics and logs that make it one.

A hardening rule (mandatory in prod, advisory in dev through the stack's enforcement): dev runs
without web ACLs by default, and the advisory says which APIs prod would protect.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from arcblueprint.policy.base import (
    UNKNOWN,
    as_list,
    is_list,
    is_mapping,
    known,
    known_dig,
    known_list,
    stack_policy,
    tags_of,
)
from arcblueprint.policy.graph import StackGraph

if TYPE_CHECKING:
    from pulumi_policy import PolicyResource, StackValidationArgs

    from arcblueprint.policy.base import ReportViolation

__all__ = ["API_WAF_PROTECTED", "POLICIES", "REQUIRED_RULE_GROUPS"]

REST_STAGE = "aws:apigateway/stage:Stage"
REST_API = "aws:apigateway/restApi:RestApi"
GRAPHQL_API = "aws:appsync/graphQLApi:GraphQLApi"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
LOG_DESTINATIONS = (
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream",
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketV2:BucketV2",
)
#: AWS WAF logs only to destinations whose name starts with this.
WAF_LOG_PREFIX = "aws-waf-logs-"

#: AWS managed rule group -> what it is called in a message. Every web ACL runs these three.
REQUIRED_RULE_GROUPS = {
    "AWSManagedRulesCommonRuleSet": "the core rule set",
    "AWSManagedRulesKnownBadInputsRuleSet": "known bad inputs",
    "AWSManagedRulesAmazonIpReputationList": "Amazon IP reputation",
}
SQL_INJECTION = "AWSManagedRulesSQLiRuleSet"


def _is_private(graph: StackGraph, stage: PolicyResource) -> bool:
    """A PRIVATE REST API is reachable from VPC endpoints only: no public edge to protect."""
    api = graph.ref(stage, "restApi", REST_API)
    types = known_dig(api.props, "endpointConfiguration", "types") if api is not None else None
    return types == "PRIVATE" or (is_list(types) and [types[i] for i in range(len(types))] == ["PRIVATE"])


def _rules(acl: PolicyResource) -> list[Any] | Any:
    return known_list(acl.props, "rules")


def _managed_rule(rules: list[Any], group: str) -> Any:
    """The rule that runs AWS managed rule group ``group``, or ``None``."""
    for rule in rules:
        statement = known_dig(rule, "statement", "managedRuleGroupStatement")
        if is_mapping(statement) and known(statement, "name") == group and known(statement, "vendorName") == "AWS":
            return rule
    return None


def _blocks(rule: Any) -> bool:
    return is_mapping(known_dig(rule, "action", "block"))


def _references_ip_set(statement: Any) -> bool:
    """An IP set reference, directly or as one of an OR's statements (the arn itself may be unknown)."""
    if is_mapping(known(statement, "ipSetReferenceStatement")):
        return True
    return any(_references_ip_set(s) for s in as_list(known_dig(statement, "orStatement", "statements")))


def _acl_problems(graph: StackGraph, acl: PolicyResource, *, sql: bool, allow_list: bool) -> list[str]:
    problems: list[str] = []
    scope = known(acl.props, "scope")
    if scope not in ("REGIONAL", UNKNOWN):
        problems.append(f"has scope {scope}; API Gateway stages and AppSync APIs take REGIONAL web ACLs only")
    if known_dig(acl.props, "visibilityConfig", "cloudwatchMetricsEnabled") is not True:
        problems.append("publishes no CloudWatch metrics; set visibilityConfig.cloudwatchMetricsEnabled")
    rules = _rules(acl)
    if rules is UNKNOWN:
        rules = []  # judged at `pulumi up`
    else:
        wanted = dict(REQUIRED_RULE_GROUPS)
        if sql:
            wanted[SQL_INJECTION] = "SQL injection (the API reaches a data store)"
        for group, label in wanted.items():
            rule = _managed_rule(rules, group)
            if rule is None:
                problems.append(f"does not run the AWS managed rule group {group} ({label})")
            elif is_mapping(known_dig(rule, "overrideAction", "count")):
                problems.append(f"runs {group} with overrideAction count: the group blocks nothing; use none")
        if not any(is_mapping(known_dig(r, "statement", "rateBasedStatement")) and _blocks(r) for r in rules):
            problems.append("has no rate-based rule that blocks a client IP over its limit")
        if allow_list and not any(
            _blocks(r) and _references_ip_set(known_dig(r, "statement", "notStatement", "statement")) for r in rules
        ):
            problems.append(
                "does not block addresses outside the service's allowedSenderRanges (a blocking rule "
                "whose statement is NOT an IP set reference)"
            )
    logging = graph.referrers(acl, LOGGING, prop="resourceArn")
    if not logging:
        problems.append(
            "is not logged: add a WebAclLoggingConfiguration (resourceArn from the ACL) to an aws-waf-logs-* "
            "destination"
        )
    for config in logging:
        destinations = graph.refs(config, "logDestinationConfigs", *LOG_DESTINATIONS)
        names = [known(d.props, "name") or known(d.props, "bucket") for d in destinations] or [
            str(arn).rsplit(":", 1)[-1].rsplit("/", 1)[-1]
            for arn in as_list(known(config.props, "logDestinationConfigs"))
            if isinstance(arn, str)
        ]
        if not any(isinstance(n, str) and n.startswith(WAF_LOG_PREFIX) for n in names):
            problems.append(
                f"logs to {names or 'nothing'}; AWS WAF delivers only to a destination named {WAF_LOG_PREFIX}..."
            )
        redacted = {
            str(known_dig(field, "singleHeader", "name")).lower()
            for field in as_list(known(config.props, "redactedFields"))
        }
        if "authorization" not in redacted:
            problems.append(
                f"logs the Authorization header ('{config.name}' redactedFields has no singleHeader authorization)"
            )
    return problems


def validate_api_waf_protected(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Every public REST API stage and AppSync API has a regional web ACL with AWS's managed rule groups
    (core rule set, known bad inputs, IP reputation; SQL injection for the services in
    ``sqlInjectionServices``), a blocking rate-based rule, the sender allow-list of the services in
    ``senderAllowListServices``, CloudWatch metrics, and logs to an ``aws-waf-logs-`` destination with
    the Authorization header redacted."""
    graph = StackGraph(args.resources)
    config = args.get_config()
    sql_services = set(config.get("sqlInjectionServices") or ())
    allow_listed = set(config.get("senderAllowListServices") or ())
    for api in graph.of_type(REST_STAGE, GRAPHQL_API):
        if api.resource_type == REST_STAGE and _is_private(graph, api):
            continue
        label = "REST API stage" if api.resource_type == REST_STAGE else "AppSync API"
        acls = [
            acl
            for association in graph.referrers(api, ASSOCIATION, prop="resourceArn")
            for acl in graph.refs(association, "webAclArn", WEB_ACL)
        ]
        if not acls:
            report_violation(
                f"{label} '{api.name}' has no WAFv2 web ACL: associate one (WebAclAssociation, resourceArn from "
                "the API) with AWS's managed rule groups, a rate-based rule and logging (arcblueprint.platform.waf; "
                f"stack config waf.enabled or waf.services.{tags_of(api.props).get('service', '<service>')}.enabled).",
                api.urn,
            )
            continue
        service = tags_of(api.props).get("service")
        for acl in acls:
            for problem in _acl_problems(graph, acl, sql=service in sql_services, allow_list=service in allow_listed):
                report_violation(f"Web ACL '{acl.name}' in front of {label} '{api.name}' {problem}.", acl.urn)


API_WAF_PROTECTED = stack_policy(
    "api-waf-protected",
    "Public REST API stages and AppSync APIs sit behind a logged WAFv2 web ACL with managed rules and a rate limit.",
    validate_api_waf_protected,
    parameters={
        "sqlInjectionServices": {"type": "array", "items": {"type": "string"}, "default": []},
        "senderAllowListServices": {"type": "array", "items": {"type": "string"}, "default": []},
    },
)

POLICIES = [API_WAF_PROTECTED]
