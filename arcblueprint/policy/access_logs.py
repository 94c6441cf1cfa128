"""Logs of every data path and storage hygiene: S3 server access logs, aborted multipart uploads,
load balancer traffic records, DNS query logs.

Hardening rules (mandatory in prod, advisory in dev through the stack's enforcement). Each judges
relationships through the engine's property dependencies, so a first ``pulumi preview``, where the
buckets' and VPCs' ids are unknown, judges them too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from arcblueprint.policy.base import (
    UNKNOWN,
    as_list,
    dig,
    is_mapping,
    json_document,
    known,
    known_dig,
    known_list,
    stack_policy,
    truthy,
)
from arcblueprint.policy.data import BUCKET_TYPES, ENCRYPTION_TYPES
from arcblueprint.policy.graph import StackGraph

if TYPE_CHECKING:
    from pulumi_policy import PolicyResource, StackValidationArgs

    from arcblueprint.policy.base import ReportViolation

__all__ = [
    "LOAD_BALANCER_TRAFFIC_LOGGED",
    "POLICIES",
    "S3_LIFECYCLE_ABORTS_UPLOADS",
    "S3_SERVER_ACCESS_LOGGED",
    "VPC_DNS_QUERIES_LOGGED",
]

BUCKET_LOGGING = ("aws:s3/bucketLogging:BucketLogging", "aws:s3/bucketLoggingV2:BucketLoggingV2")
LIFECYCLE = (
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
)
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
LOAD_BALANCERS = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
LISTENERS = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")
SUBNET = "aws:ec2/subnet:Subnet"
VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
ZONE = "aws:route53/zone:Zone"
ZONE_ASSOCIATION = "aws:route53/zoneAssociation:ZoneAssociation"
RESOLVER_RULE_ASSOCIATION = "aws:route53/resolverRuleAssociation:ResolverRuleAssociation"
QUERY_LOG_CONFIG = "aws:route53/resolverQueryLogConfig:ResolverQueryLogConfig"
QUERY_LOG_ASSOCIATION = "aws:route53/resolverQueryLogConfigAssociation:ResolverQueryLogConfigAssociation"
#: The service principal S3 writes server access logs as.
S3_LOG_DELIVERY = "logging.s3.amazonaws.com"


def _attached(graph: StackGraph, bucket: PolicyResource, types: tuple[str, ...], prop: str) -> list[PolicyResource]:
    """Resources of ``types`` whose ``prop`` is ``bucket`` (computed from it, or its literal name)."""
    found = graph.referrers(bucket, *types, prop=prop)
    name = known(bucket.props, "bucket")
    if isinstance(name, str) and name:
        found += [r for r in graph.of_type(*types) if r not in found and known(r.props, prop) == name]
    return found


def _allows_log_delivery(policy: Any) -> bool:
    """A bucket policy statement letting ``logging.s3.amazonaws.com`` put objects."""
    for statement in as_list(dig(json_document(policy), "Statement")):
        if not is_mapping(statement) or statement.get("Effect") != "Allow":
            continue
        services = as_list(dig(statement, "Principal", "Service"))
        actions = as_list(statement.get("Action"))
        if S3_LOG_DELIVERY in services and any(a in ("s3:PutObject", "s3:*", "*") for a in actions):
            return True
    return False


def _check_log_target(graph: StackGraph, target: PolicyResource, report: ReportViolation) -> None:
    """S3 delivers server access logs to an SSE-S3 target only, and only where its policy lets it."""
    for config in _attached(graph, target, ENCRYPTION_TYPES, "bucket"):
        rules = known_list(config.props, "rules")
        if rules is UNKNOWN:
            continue
        algorithms = {known_dig(r, "applyServerSideEncryptionByDefault", "sseAlgorithm") for r in rules}
        if algorithms - {"AES256", UNKNOWN, None}:
            report(
                f"S3 bucket '{target.name}' receives server access logs but its default encryption is "
                f"{sorted(str(a) for a in algorithms - {UNKNOWN, None})}: S3 delivers them only to a bucket "
                "encrypted with SSE-S3 (AES256), so none arrive.",
                target.urn,
            )
    policies = [known(p.props, "policy") for p in _attached(graph, target, (BUCKET_POLICY,), "bucket")]
    if policies and all(p is not UNKNOWN for p in policies) and not any(_allows_log_delivery(p) for p in policies):
        report(
            f"S3 bucket '{target.name}' receives server access logs but its bucket policy does not allow "
            f"{S3_LOG_DELIVERY} s3:PutObject (with ACLs disabled, only the policy can): none arrive.",
            target.urn,
        )


def validate_s3_server_access_logged(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Every bucket logs its requests (S3 server access logs) to a bucket S3 can deliver them to.

    The target of the logs is exempt from logging itself (each delivery would log another), and is
    checked instead: SSE-S3 default encryption, a policy for ``logging.s3.amazonaws.com``.
    """
    graph = StackGraph(args.resources)
    targets: dict[str, PolicyResource] = {}
    for logging in graph.of_type(*BUCKET_LOGGING):
        for target in graph.refs(logging, "targetBucket", *BUCKET_TYPES):
            targets[target.urn] = target
    for bucket in graph.of_type(*BUCKET_TYPES):
        if bucket.urn in targets:
            continue
        configs = _attached(graph, bucket, BUCKET_LOGGING, "bucket")
        if not any(known(c.props, "targetBucket") for c in configs):
            report_violation(
                f"S3 bucket '{bucket.name}' has no server access logs: add a BucketLogging (bucket from it) with a "
                "targetBucket, the platform's access-log bucket (logging.s3AccessLogs).",
                bucket.urn,
            )
    for target in targets.values():
        _check_log_target(graph, target, report_violation)
    for logging in graph.of_type(*BUCKET_LOGGING):
        for target in graph.refs(logging, "targetBucket", *BUCKET_TYPES):
            granting = _attached(graph, target, (BUCKET_POLICY,), "bucket")
            if granting and not any(graph.waits_for(logging, policy) for policy in granting):
                report_violation(
                    f"Bucket logging '{logging.name}' does not wait for the policy of its target '{target.name}': "
                    f"with ACLs disabled that policy is {S3_LOG_DELIVERY}'s only grant, so logs written before it "
                    "exists are lost. Make the BucketLogging depend on the target's BucketPolicy.",
                    logging.urn,
                )


S3_SERVER_ACCESS_LOGGED = stack_policy(
    "s3-server-access-logged",
    "Every S3 bucket writes server access logs to an SSE-S3 bucket whose policy admits S3's log delivery.",
    validate_s3_server_access_logged,
)


def _whole_bucket(rule: Any) -> bool:
    """A lifecycle rule whose filter selects every object (no filter, or an empty prefix and no tags)."""
    filter_ = known(rule, "filter")
    legacy_prefix = known(rule, "prefix")
    if filter_ is None:
        return not legacy_prefix
    if not is_mapping(filter_):
        return False
    keys = {k for k in filter_ if known(filter_, k) not in (None, "", [])}
    return not keys


def validate_s3_lifecycle_aborts_uploads(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Every bucket has a lifecycle configuration, and each configuration aborts incomplete multipart uploads
    in the whole bucket: their parts are billed as storage until aborted, and are invisible in listings."""
    graph = StackGraph(args.resources)
    for bucket in graph.of_type(*BUCKET_TYPES):
        configs = _attached(graph, bucket, LIFECYCLE, "bucket")
        inline = known_list(bucket.props, "lifecycleRules")
        if not configs and not (inline and inline is not UNKNOWN):
            report_violation(
                f"S3 bucket '{bucket.name}' has no lifecycle configuration: add one whose whole-bucket rule "
                "aborts incomplete multipart uploads (abortIncompleteMultipartUpload.daysAfterInitiation).",
                bucket.urn,
            )
        for config in configs:
            rules = known_list(config.props, "rules")
            if rules is UNKNOWN:
                continue
            if not any(
                known(r, "status") == "Enabled"
                and _whole_bucket(r)
                and known_dig(r, "abortIncompleteMultipartUpload", "daysAfterInitiation")
                for r in rules
            ):
                report_violation(
                    f"Lifecycle configuration '{config.name}' of S3 bucket '{bucket.name}' does not abort incomplete "
                    "multipart uploads in the whole bucket: add an enabled rule with an empty prefix and "
                    "abortIncompleteMultipartUpload.daysAfterInitiation.",
                    config.urn,
                )


S3_LIFECYCLE_ABORTS_UPLOADS = stack_policy(
    "s3-lifecycle-aborts-uploads",
    "Every S3 lifecycle configuration aborts incomplete multipart uploads in the whole bucket.",
    validate_s3_lifecycle_aborts_uploads,
)


def _vpcs_of(graph: StackGraph, balancer: PolicyResource) -> list[PolicyResource]:
    subnets = graph.refs(balancer, "subnets", SUBNET) + graph.refs(balancer, "subnetMappings", SUBNET)
    return [vpc for subnet in subnets for vpc in graph.refs(subnet, "vpcId", VPC)]


def validate_load_balancer_traffic_logged(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """A load balancer's traffic is on record.

    Application load balancers, and network load balancers with a TLS listener, write access logs
    (``accessLogs.enabled`` with a bucket). ELB writes access logs for a network load balancer's TLS
    listeners only, so one with TCP/UDP listeners alone records nothing there: its VPC's flow logs are
    the record of its connections, and must keep accepted traffic (``ALL`` or ``ACCEPT``).
    """
    graph = StackGraph(args.resources)
    for balancer in graph.of_type(*LOAD_BALANCERS):
        kind = known(balancer.props, "loadBalancerType") or "application"
        if kind == "gateway" or kind is UNKNOWN:
            continue
        protocols = {
            known(listener.props, "protocol")
            for listener in graph.referrers(balancer, *LISTENERS, prop="loadBalancerArn")
        }
        if kind == "application" or "TLS" in protocols:
            if not (
                truthy(known_dig(balancer.props, "accessLogs", "enabled"))
                and known_dig(balancer.props, "accessLogs", "bucket")
            ):
                what = (
                    "application load balancer"
                    if kind == "application"
                    else "network load balancer with a TLS listener"
                )
                report_violation(
                    f"Load balancer '{balancer.name}' ({what}) writes no access logs: set accessLogs "
                    "(enabled, bucket) to a bucket whose policy admits ELB's log delivery.",
                    balancer.urn,
                )
            continue
        vpcs = _vpcs_of(graph, balancer)
        recorded = [
            vpc
            for vpc in vpcs
            if any(
                known(flow.props, "trafficType") in ("ALL", "ACCEPT", UNKNOWN)
                for flow in graph.referrers(vpc, FLOW_LOG, prop="vpcId")
            )
        ]
        if not vpcs or len(recorded) < len({v.urn for v in vpcs}):
            missing = sorted({v.name for v in vpcs} - {v.name for v in recorded}) or ["(its subnets' VPC)"]
            report_violation(
                f"Network load balancer '{balancer.name}' has only {sorted(str(p) for p in protocols)} listeners, "
                "for which ELB writes no access logs (TLS listeners only): its connections are recorded by its "
                f"VPC's flow logs, and VPC {', '.join(missing)} has none with trafficType ALL or ACCEPT.",
                balancer.urn,
            )


LOAD_BALANCER_TRAFFIC_LOGGED = stack_policy(
    "load-balancer-traffic-logged",
    "Load balancers write access logs; a TCP-only network load balancer's VPC keeps flow logs of accepted traffic.",
    validate_load_balancer_traffic_logged,
)


def _resolving_vpcs(graph: StackGraph) -> dict[str, tuple[PolicyResource, str]]:
    """VPC urn -> (VPC, why): VPCs that resolve a private hosted zone or forward names through Resolver rules."""
    found: dict[str, tuple[PolicyResource, str]] = {}
    for zone in graph.of_type(ZONE):
        for vpc in graph.refs(zone, "vpcs", VPC):
            found.setdefault(vpc.urn, (vpc, f"private hosted zone '{zone.name}'"))
    for association in graph.of_type(ZONE_ASSOCIATION):
        associated = graph.ref(association, "zoneId", ZONE)
        for vpc in graph.refs(association, "vpcId", VPC):
            found.setdefault(vpc.urn, (vpc, f"private hosted zone '{associated.name if associated else '?'}'"))
    for association in graph.of_type(RESOLVER_RULE_ASSOCIATION):
        for vpc in graph.refs(association, "vpcId", VPC):
            found.setdefault(vpc.urn, (vpc, f"Resolver rule association '{association.name}'"))
    return found


def validate_vpc_dns_queries_logged(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Every VPC that resolves the stack's private names (a private hosted zone, a Resolver rule) has
    Route 53 Resolver query logging: flow logs show addresses, only query logs show the names asked for."""
    graph = StackGraph(args.resources)
    for vpc, why in _resolving_vpcs(graph).values():
        logged = [
            config
            for association in graph.referrers(vpc, QUERY_LOG_ASSOCIATION, prop="resourceId")
            for config in graph.refs(association, "resolverQueryLogConfigId", QUERY_LOG_CONFIG)
            if known(config.props, "destinationArn")
        ]
        if not logged:
            report_violation(
                f"VPC '{vpc.name}' resolves names through {why} but has no Route 53 Resolver query logging: "
                "associate a ResolverQueryLogConfig with a destination (logging.resolverQueryLogs).",
                vpc.urn,
            )


VPC_DNS_QUERIES_LOGGED = stack_policy(
    "vpc-dns-queries-logged",
    "VPCs that resolve private hosted zones or Resolver rules log their DNS queries.",
    validate_vpc_dns_queries_logged,
)

POLICIES = [
    S3_SERVER_ACCESS_LOGGED,
    S3_LIFECYCLE_ABORTS_UPLOADS,
    LOAD_BALANCER_TRAFFIC_LOGGED,
    VPC_DNS_QUERIES_LOGGED,
]
