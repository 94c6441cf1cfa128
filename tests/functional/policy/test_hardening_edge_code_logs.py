"""The edge, code and logs controls of issue 18, on the synthesized stacks.

Each control is a component default in prod and a hardening rule of the pack (mandatory in prod,
advisory in dev through the stack's enforcement). The shipped prod stack passes every rule, also
as a first ``pulumi preview`` sees it; the real prod graph with one control taken away fails with
a message that names the resource and the control.
"""

from __future__ import annotations

import copy
import dataclasses
import json

import pytest

from arcblueprint.policy.access_logs import validate_load_balancer_traffic_logged
from arcblueprint.policy.base import stack_policy
from arcblueprint.policy.offline import evaluate
from arcblueprint.policy.testing import resource, run_stack

RULES = [
    "api-waf-protected",
    "lambda-code-signed",
    "s3-server-access-logged",
    "s3-lifecycle-aborts-uploads",
    "load-balancer-traffic-logged",
    "vpc-dns-queries-logged",
]
FUNCTION = "aws:lambda/function:Function"
BUCKET = "aws:s3/bucket:Bucket"


def _mine():
    from arcblueprint.policy.pack import all_policies

    return [p for p in all_policies() if p.name in RULES]


def _evaluate(graph, *, first_preview=False):
    """One evaluation of the six rules with the stack's own pack config (cheaper than one per rule)."""
    from arcblueprint.policy.config import pack_config_for

    return evaluate(graph, policies=_mine(), config=pack_config_for(graph.config), first_preview=first_preview)


@pytest.mark.parametrize("first_preview", [False, True])
def test_the_shipped_prod_stack_passes_also_in_a_first_preview(synthesized, first_preview):
    report = _evaluate(synthesized("prod"), first_preview=first_preview)
    assert sorted(report.evaluated) == sorted(RULES)
    assert report.skipped == []  # no rule read a value a first preview cannot know
    assert report.mandatory == report.advisory == [], report.summary_lines()


def test_dev_is_told_what_prod_has_and_dev_leaves_off(synthesized):
    """Dev runs without most web ACLs and without query logs by default: advisories, never mandatory."""
    report = _evaluate(synthesized("dev"))
    mine = report.advisory + report.mandatory
    assert all(v.level == "advisory" for v in mine)
    unprotected = sorted(v.urn.rsplit("::", 1)[1] for v in mine if v.policy == "api-waf-protected")
    # hooks has its web ACL in dev (waf.services.hooks.enabled: its sender allow-list needs it).
    assert unprotected == ["bookings-api", "facade-stage-stage", "fan-stage-stage", "orders-stage-stage"]
    # Both VPCs resolve private names (the app VPC's zones, the proxy VPC's on-prem resolver rules).
    unlogged = sorted(v.urn.rsplit("::", 1)[1] for v in mine if v.policy == "vpc-dns-queries-logged")
    assert unlogged == ["network-vpc", "onprem-vpc"]
    assert {v.policy for v in mine} == {"api-waf-protected", "vpc-dns-queries-logged"}  # the rest is on in dev too


def test_prod_covers_every_public_api_bucket_function_and_resolving_vpc(synthesized):
    graph = synthesized("prod")
    by_type = {t: graph.by_type(t) for t in {r.type for r in graph.resources}}
    apis = by_type["aws:apigateway/stage:Stage"] + by_type["aws:appsync/graphQLApi:GraphQLApi"]
    associations = by_type["aws:wafv2/webAclAssociation:WebAclAssociation"]
    assert len(apis) == len(associations) == len(by_type["aws:wafv2/webAcl:WebAcl"]) == 5
    buckets = by_type[BUCKET]
    loggings = by_type["aws:s3/bucketLogging:BucketLogging"]
    assert len(loggings) == len(buckets) - 1  # all but the access-log bucket itself
    assert len(by_type["aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"]) == len(buckets)
    functions = by_type[FUNCTION]
    assert functions and all(f.inputs.get("s3Key", "").startswith("lambda/signed/") for f in functions)
    assert all("code" not in f.inputs for f in functions)
    [config] = by_type["aws:lambda/codeSigningConfig:CodeSigningConfig"]
    assert config.inputs["policies"] == {"untrustedArtifactOnDeployment": "Enforce"}
    assert len(by_type["aws:route53/resolverQueryLogConfigAssociation:ResolverQueryLogConfigAssociation"]) == 2


# --- mutations: the real prod graph with one control taken away -----------------------------------


def _without(*names):
    def change(graph):
        return dataclasses.replace(graph, resources=[r for r in graph.resources if r.name not in names])

    return change


def _rules(change_rules):
    def change(acl):
        acl.inputs["rules"] = change_rules(copy.deepcopy(acl.inputs["rules"]))
        acl.outputs["rules"] = acl.inputs["rules"]

    return change


def _drop_rule(rule_name):
    return _rules(lambda rules: [r for r in rules if r["name"] != rule_name])


def _count_core_rule_set(rules):
    for rule in rules:
        if rule["name"] == "core-rule-set":
            rule["overrideAction"] = {"count": {}}
    return rules


def _set(path, value):
    def change(resource):
        for target in (resource.inputs, resource.outputs):
            node = target
            for step in path[:-1]:
                node = node.setdefault(step, {})
            node[path[-1]] = value

    return change


def _drop(prop):
    def change(resource):
        resource.inputs.pop(prop, None)
        resource.outputs.pop(prop, None)
        resource.property_dependencies.pop(prop, None)

    return change


def _local_archive(function):
    for prop in ("s3Bucket", "s3Key"):
        _drop(prop)(function)
    function.inputs["code"] = {"assets": {"app.py": {"path": "app.py"}}}


def _policy_without_log_delivery(policy):
    document = json.loads(policy.inputs["policy"])
    document["Statement"] = [s for s in document["Statement"] if s["Sid"] != "S3ServerAccessLogsOfThisStack"]
    policy.inputs["policy"] = policy.outputs["policy"] = json.dumps(document)


def _without_whole_bucket_rule(lifecycle):
    rules = [r for r in lifecycle.inputs["rules"] if r["filter"] != {"prefix": ""}]
    lifecycle.inputs["rules"] = lifecycle.outputs["rules"] = rules


CASES = [
    # (rule, resource to change or None, change, logical name the violation names, words of the message)
    ("api-waf-protected", None, _without("orders-stage-waf-association"), "orders-stage-stage", "no WAFv2 web ACL"),
    ("api-waf-protected", None, _without("bookings-api-waf-association"), "bookings-api", "no WAFv2 web ACL"),
    ("api-waf-protected", "orders-stage-waf-acl", _drop_rule("ip-reputation"), "orders-stage-waf-acl", "IpReputation"),
    ("api-waf-protected", "fan-stage-waf-acl", _drop_rule("known-bad-inputs"), "fan-stage-waf-acl", "KnownBadInputs"),
    ("api-waf-protected", "facade-stage-waf-acl", _drop_rule("sql-injection"), "facade-stage-waf-acl", "SQLiRuleSet"),
    (
        "api-waf-protected",
        "bookings-api-waf-acl",
        _drop_rule("rate-limit-per-ip"),
        "bookings-api-waf-acl",
        "rate-based",
    ),
    ("api-waf-protected", "orders-stage-waf-acl", _rules(_count_core_rule_set), "orders-stage-waf-acl", "count"),
    ("api-waf-protected", "hooks-stage-waf-acl", _drop_rule("allowed-senders"), "hooks-stage-waf-acl", "allowedSender"),
    (
        "api-waf-protected",
        "orders-stage-waf-acl",
        _set(["visibilityConfig", "cloudwatchMetricsEnabled"], False),
        "orders-stage-waf-acl",
        "CloudWatch metrics",
    ),
    ("api-waf-protected", None, _without("fan-stage-waf-logging"), "fan-stage-waf-acl", "is not logged"),
    ("api-waf-protected", "orders-stage-waf-logging", _drop("redactedFields"), "orders-stage-waf-acl", "Authorization"),
    ("lambda-code-signed", "orders-api-function", _drop("codeSigningConfigArn"), "orders-api-function", "code signing"),
    (
        "lambda-code-signed",
        "code-signing-config",
        _set(["policies", "untrustedArtifactOnDeployment"], "Warn"),
        "code-signing-config",
        "Enforce",
    ),
    ("lambda-code-signed", "hooks-receiver-function", _local_archive, "hooks-receiver-function", "local archive"),
    ("s3-server-access-logged", None, _without("lake-lake-access-logging"), "lake-lake-bucket", "server access logs"),
    (
        "s3-server-access-logged",
        "logging-access-logs-encryption",
        _set(["rules"], [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}]),
        "logging-access-logs",
        "SSE-S3",
    ),
    (
        "s3-server-access-logged",
        "logging-access-logs-policy",
        _policy_without_log_delivery,
        "logging-access-logs",
        "logging.s3.amazonaws.com",
    ),
    ("s3-lifecycle-aborts-uploads", "lake-lake-lifecycle", _without_whole_bucket_rule, "lake-lake-lifecycle", "abort"),
    ("s3-lifecycle-aborts-uploads", None, _without("fan-payloads-lifecycle"), "fan-payloads-bucket", "lifecycle"),
    ("load-balancer-traffic-logged", "onprem-flow-log", _set(["trafficType"], "REJECT"), "onprem-nlb", "flow logs"),
    ("vpc-dns-queries-logged", None, _without("dns-queries-app"), "network-vpc", "query logging"),
    ("vpc-dns-queries-logged", None, _without("dns-queries-onprem"), "onprem-vpc", "Resolver rule"),
]


# One broken graph per group carries all its cases (one evaluation instead of one per case). The
# shipped graph has no violation at all, and within a group no case hides another's resource (an
# API's association is never removed in the group that edits its web ACL), so each violation found
# comes from its own case's change.
GROUPS = {
    "a": [0, 3, 4, 5, 7, 9, 11, 13, 14, 15, 17, 18, 19, 20],
    "b": [1, 2, 6, 8, 10, 12, 16, 21],
}


def _broken(graph, cases):
    resources = list(graph.resources)
    broken = dataclasses.replace(graph, resources=resources)
    for _, name, change, _, _ in cases:
        if name is None:
            broken = change(broken)
            continue
        [index] = [i for i, r in enumerate(broken.resources) if r.name == name]
        copied = copy.deepcopy(broken.resources[index])  # only what a case edits is copied
        change(copied)
        broken.resources[index] = copied
    return broken


@pytest.fixture(scope="module")
def broken_reports(synthesized):
    graph = synthesized("prod")
    reports = {}
    for group, indexes in GROUPS.items():
        broken = _broken(graph, [CASES[i] for i in indexes])
        reports[group] = _evaluate(broken)
        if group == "a":
            reports["a-first-preview"] = _evaluate(broken, first_preview=True)
    return reports


def test_every_case_is_in_one_group():
    assert sorted(i for indexes in GROUPS.values() for i in indexes) == list(range(len(CASES)))


@pytest.mark.parametrize("index", range(len(CASES)), ids=[f"{c[0]}-{c[3]}-{c[4]}" for c in CASES])
def test_removing_the_control_from_prod_fails_with_a_message_naming_it(broken_reports, index):
    rule, _, _, reported, words = CASES[index]
    [group] = [g for g, indexes in GROUPS.items() if index in indexes]
    report = broken_reports[group]
    assert report.skipped == []
    found = [v for v in report.mandatory if v.policy == rule and v.urn.endswith(f"::{reported}")]
    assert found, report.summary_lines()
    assert any(words in v.message and f"'{reported}'" in v.message for v in found), [v.message for v in found]


@pytest.mark.parametrize("index", GROUPS["a"], ids=[f"{CASES[i][0]}-{CASES[i][3]}" for i in GROUPS["a"]])
def test_the_defect_is_reported_in_a_first_preview_too(broken_reports, index):
    """Ids and ARNs are unknown there: the rules judge the edges, so nothing is left unjudged."""
    rule, _, _, reported, words = CASES[index]
    report = broken_reports["a-first-preview"]
    assert report.skipped == []
    assert any(v.policy == rule and v.urn.endswith(f"::{reported}") and words in v.message for v in report.mandatory), (
        report.summary_lines()
    )


# --- a network load balancer with a TLS listener writes access logs -------------------------------


def _balancer(*, protocol, access_logs):
    vpc = resource("aws:ec2/vpc:Vpc", "vpc", {"cidrBlock": "10.0.0.0/24"})
    subnet = resource("aws:ec2/subnet:Subnet", "subnet", {"vpcId": "vpc-1"}, depends={"vpcId": [vpc]})
    flow = resource(
        "aws:ec2/flowLog:FlowLog", "flow", {"vpcId": "vpc-1", "trafficType": "ALL"}, depends={"vpcId": [vpc]}
    )
    props = {"loadBalancerType": "network", "subnets": ["subnet-1"]}
    if access_logs:
        props["accessLogs"] = {"enabled": True, "bucket": "nlb-logs"}
    balancer = resource("aws:lb/loadBalancer:LoadBalancer", "nlb", props, depends={"subnets": [subnet]})
    listener = resource(
        "aws:lb/listener:Listener",
        "listener",
        {"protocol": protocol, "port": 443},
        depends={"loadBalancerArn": [balancer]},
    )
    return [vpc, subnet, flow, balancer, listener]


@pytest.mark.parametrize(
    ("protocol", "access_logs", "violated"),
    [("TLS", False, True), ("TLS", True, False), ("TCP", False, False)],
)
def test_access_logs_are_asked_of_load_balancers_whose_listeners_elb_logs(protocol, access_logs, violated):
    policy = stack_policy("load-balancer-traffic-logged", "test", validate_load_balancer_traffic_logged)
    recorder = run_stack(policy, _balancer(protocol=protocol, access_logs=access_logs))
    assert recorder.skipped == []
    assert bool(recorder.violations) is violated
    if violated:
        [(urn, message)] = recorder.violations
        assert urn.endswith("::nlb") and "writes no access logs" in message and "TLS listener" in message


# --- what the components declare, beyond what the rules require ------------------------------------


def _named(graph, name):
    [found] = [r for r in graph.resources if r.name == name]
    return found


def test_the_webhook_acl_lets_only_its_senders_through_at_its_own_rate(synthesized):
    graph = synthesized("prod")
    spec = graph.config.services["hooks"]
    acl = _named(graph, "hooks-stage-waf-acl")
    rules = acl.inputs["rules"]
    assert [r["priority"] for r in rules] == list(range(len(rules)))  # WAF refuses duplicate priorities
    assert rules[0]["name"] == "allowed-senders" and rules[0]["action"] == {"block": {}}
    sets = [_named(graph, f"hooks-stage-waf-senders-{v}") for v in ("ipv4", "ipv6")]
    assert sorted(a for s in sets for a in s.inputs["addresses"]) == sorted(spec.allowed_sender_ranges)
    assert {s.inputs["ipAddressVersion"] for s in sets} == {"IPV4", "IPV6"}
    [rate] = [r for r in rules if r["name"] == "rate-limit-per-ip"]
    assert rate["statement"]["rateBasedStatement"]["limit"] == graph.config.waf_rate_limit("hooks") == 20000
    [core] = [r for r in rules if r["name"] == "core-rule-set"]  # webhook bodies may exceed 8 KB: counted only
    overrides = core["statement"]["managedRuleGroupStatement"]["ruleActionOverrides"]
    assert overrides == [{"name": "SizeRestrictions_BODY", "actionToUse": {"count": {}}}]
    assert not [r for r in rules if r["name"] == "sql-injection"]  # third-party payloads, passed on unread


def test_waf_logs_reach_the_sink_without_credentials(synthesized):
    graph = synthesized("prod")
    [group] = [
        g for g in graph.by_type("aws:cloudwatch/logGroup:LogGroup") if g.inputs["name"].startswith("aws-waf-logs-")
    ]
    filters = [
        f for f in graph.by_type("aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter") if f.parent == group.urn
    ]
    assert len(filters) == 1 and group.inputs["kmsKeyId"]  # the central sink, the platform key
    for logging in graph.by_type("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"):
        assert logging.property_dependencies["logDestinationConfigs"] == [group.urn]
        redacted = {f["singleHeader"]["name"] for f in logging.inputs["redactedFields"]}
        assert redacted == {"authorization", "x-api-key"}
        policy = _named(graph, "logging-vended-logs-policy")
        assert policy.urn in logging.dependencies  # delivery is allowed before logging starts
    document = json.loads(_named(graph, "logging-vended-logs-policy").inputs["policyDocument"])
    [statement] = document["Statement"]
    assert statement["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
    assert f"log-group:{group.inputs['name']}:log-stream:*" in " ".join(statement["Resource"])
    # Dev has web ACLs but no query logs: its policy names the WAF group only.
    [dev_statement] = json.loads(_named(synthesized("dev"), "logging-vended-logs-policy").inputs["policyDocument"])[
        "Statement"
    ]
    assert [r.split(":log-group:")[1] for r in dev_statement["Resource"]] == [
        f"aws-waf-logs-{synthesized('dev').config.naming_prefix}-waf:log-stream:*"
    ]


def test_access_logs_go_to_an_sse_s3_bucket_each_under_its_own_prefix(synthesized):
    graph = synthesized("prod")
    target = _named(graph, "logging-access-logs")
    encryption = _named(graph, "logging-access-logs-encryption")
    assert encryption.inputs["rules"] == [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]
    [allow] = [
        s
        for s in json.loads(_named(graph, "logging-access-logs-policy").inputs["policy"])["Statement"]
        if s["Effect"] == "Allow"
    ]
    assert allow["Principal"] == {"Service": "logging.s3.amazonaws.com"} and allow["Action"] == "s3:PutObject"
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": graph.config.account_id}
    assert allow["Condition"]["ArnLike"]["aws:SourceArn"] == f"arn:aws:s3:::{graph.config.naming_prefix}-*"
    buckets = {b.urn: b for b in graph.by_type(BUCKET)}
    for logging in graph.by_type("aws:s3/bucketLogging:BucketLogging"):
        [source] = logging.property_dependencies["bucket"]
        assert logging.property_dependencies["targetBucket"] == [target.urn] and source != target.urn
        name = buckets[source].inputs["bucket"]
        assert logging.inputs["targetPrefix"] == f"s3/{name}/" and name.startswith(f"{graph.config.naming_prefix}-")
        # The target's policy is S3's only way to deliver (ACLs disabled): it exists before logging starts.
        assert _named(graph, "logging-access-logs-policy").urn in logging.dependencies


def test_bucket_logging_started_before_its_targets_policy_is_reported(synthesized):
    """S3's only grant to deliver is the target's bucket policy (ACLs disabled): logging must wait for it."""
    from arcblueprint.policy.testing import mutated

    graph = synthesized("prod")
    policy = _named(graph, "logging-access-logs-policy").urn
    [logging, *_] = sorted(r.name for r in graph.by_type("aws:s3/bucketLogging:BucketLogging"))
    racing = mutated(graph, logging, lambda r: r.dependencies.remove(policy))
    violations = [v for v in _evaluate(racing).mandatory if v.policy == "s3-server-access-logged"]
    assert [v.urn.rsplit("::", 1)[1] for v in violations] == [logging]
    assert "does not wait for the policy of its target 'logging-access-logs'" in violations[0].message
