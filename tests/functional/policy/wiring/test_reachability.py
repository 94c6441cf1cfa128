"""vpc-function-reaches-its-apis: the Strangler's router in the prod VPC can reach what its role lets it call."""

from __future__ import annotations

import base64
import dataclasses
import json

import pytest
from pulumi_policy.proxy import UNKNOWN_OBJECT_VALUE, UNKNOWN_STRING_VALUE

from arcblueprint.policy.testing import mutated, resource, run_stack, violations_of
from arcblueprint.policy.wiring.reachability import REACHES_ITS_APIS, called_apis
from arcblueprint.preview.harness import GraphResource

POLICY = "vpc-function-reaches-its-apis"
ROUTER = "facade-router-function"
NAT = "aws:ec2/natGateway:NatGateway"
ROUTE = "aws:ec2/route:Route"
FUNCTION = "aws:lambda/function:Function"
ROLE = "aws:iam/role:Role"
SUBNET = "aws:ec2/subnet:Subnet"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"


def _by_name(graph, name):
    (resource,) = [r for r in graph.resources if r.name == name]
    return resource


def _without(graph, *names):
    """The graph with the named resources (and every edge to them) gone."""
    assert all(any(r.name == n for r in graph.resources) for n in names)
    return dataclasses.replace(graph, resources=[r for r in graph.resources if r.name not in names])


def _router_documents(graph):
    (role,) = _by_name(graph, ROUTER).property_dependencies["role"]
    return {
        p.name: json.loads(p.inputs["policy"])
        for p in graph.by_type("aws:iam/rolePolicy:RolePolicy")
        if role in p.property_dependencies["role"]
    }


def test_the_shipped_stacks_pass_and_prod_is_really_checked(synthesized):
    assert violations_of(synthesized("dev"), POLICY) == []
    prod = synthesized("prod")
    assert violations_of(prod, POLICY) == []
    # Not vacuous: the prod router is in the VPC and its code calls Lambda (invoke) and X-Ray.
    assert _by_name(prod, ROUTER).inputs["vpcConfig"]["subnetIds"]
    assert set(called_apis(_router_documents(prod).values())) == {"lambda", "xray"}
    assert _by_name(prod, "network-lambda-endpoint").inputs["privateDnsEnabled"] is True


def test_prod_without_the_lambda_endpoint_names_the_router_and_the_fix(synthesized):
    [violation] = violations_of(_without(synthesized("prod"), "network-lambda-endpoint"), POLICY)
    assert violation.urn.endswith(f"::{ROUTER}") and violation.level == "mandatory"
    assert "cannot reach the lambda API" in violation.message and "lambda:InvokeFunction" in violation.message
    assert "no interface endpoint for com.amazonaws.eu-west-1.lambda" in violation.message
    assert "Declare the 'lambda' interface endpoint with private DNS" in violation.message


def test_prod_without_https_egress_to_the_endpoints_cuts_every_api(synthesized):
    def to_the_proxy_port(rule):
        rule.inputs["fromPort"] = rule.inputs["toPort"] = 3128.0

    broken = mutated(synthesized("prod"), "network-lambda-to-endpoints", to_the_proxy_port)
    violations = violations_of(broken, POLICY)
    assert sorted(v.message.split(" API ")[0].rsplit(" ", 1)[-1] for v in violations) == ["lambda", "xray"]
    for violation in violations:
        assert violation.urn.endswith(f"::{ROUTER}")
        assert "is not a destination the function's security group allows HTTPS (443) to" in violation.message
        assert "allow HTTPS (443) from the function's security group" in violation.message


def test_an_endpoint_without_private_dns_or_ingress_does_not_count(synthesized):
    def private_dns_off(endpoint):
        endpoint.inputs["privateDnsEnabled"] = False

    [violation] = violations_of(mutated(synthesized("prod"), "network-lambda-endpoint", private_dns_off), POLICY)
    assert "'network-lambda-endpoint' has private DNS off" in violation.message
    no_ingress = violations_of(_without(synthesized("prod"), "network-endpoints-https-in"), POLICY)
    assert {v.urn.rsplit("::", 1)[-1] for v in no_ingress} == {ROUTER}
    assert all("admits no HTTPS (443) from the function's security group" in v.message for v in no_ingress)


def _with_nat(graph, route_tables):
    """``graph`` plus a NAT gateway, a default route to it from ``route_tables`` and HTTPS egress anywhere.

    The rule follows the edges (property dependencies); ids are placeholders, as in a preview.
    """
    stack = graph.resources[0].urn.split("::")[0]
    nat = GraphResource(
        urn=f"{stack}::arcblueprint::{NAT}::test-nat",
        type=NAT,
        name="test-nat",
        parent=None,
        custom=True,
        inputs={"connectivityType": "public"},
        outputs={"id": "nat-0123456789abcdef0"},
    )
    added = [nat]
    for table in route_tables:
        added.append(
            GraphResource(
                urn=f"{stack}::arcblueprint::{ROUTE}::{table.name}-default",
                type=ROUTE,
                name=f"{table.name}-default",
                parent=None,
                custom=True,
                inputs={
                    "destinationCidrBlock": "0.0.0.0/0",
                    "natGatewayId": "nat-0123456789abcdef0",
                    "routeTableId": "rtb-0123456789abcdef0",
                },
                property_dependencies={"routeTableId": [table.urn], "natGatewayId": [nat.urn]},
            )
        )
    lambda_sg = _by_name(graph, "network-lambda-sg")
    egress = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
    added.append(
        GraphResource(
            urn=f"{stack}::arcblueprint::{egress}::test-https-anywhere",
            type=egress,
            name="test-https-anywhere",
            parent=None,
            custom=True,
            inputs={
                "securityGroupId": "sg-0123456789abcdef0",
                "ipProtocol": "tcp",
                "fromPort": 443.0,
                "toPort": 443.0,
                "cidrIpv4": "0.0.0.0/0",
            },
            property_dependencies={"securityGroupId": [lambda_sg.urn]},
        )
    )
    return dataclasses.replace(graph, resources=[*graph.resources, *added])


def test_a_nat_route_from_every_subnet_is_a_path_too(synthesized):
    no_lambda = _without(synthesized("prod"), "network-lambda-endpoint")
    tables = [r for r in no_lambda.by_type("aws:ec2/routeTable:RouteTable") if r.name.startswith("network-private-rt-")]
    assert len(tables) == 3
    assert violations_of(_with_nat(no_lambda, tables), POLICY) == []
    # One AZ without the route: the function runs there too, so the API is not reachable.
    [violation] = violations_of(_with_nat(no_lambda, tables[:2]), POLICY)
    assert violation.urn.endswith(f"::{ROUTER}") and "route to a NAT gateway" in violation.message


def _add_statement(statement):
    def change(policy):
        document = json.loads(policy.inputs["policy"])
        document["Statement"].append(statement)
        policy.inputs["policy"] = json.dumps(document)
        if "policy" in policy.outputs:
            policy.outputs["policy"] = policy.inputs["policy"]

    return change


def test_dynamodb_goes_through_the_gateway_on_every_route_table(synthesized):
    prod = synthesized("prod")
    reads = _add_statement(
        {
            "Sid": "TableRead",
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem"],
            "Resource": ["arn:aws:dynamodb:eu-west-1:222222222222:table/orders"],
        }
    )
    with_reads = mutated(prod, "facade-router-invoke", reads)
    assert violations_of(with_reads, POLICY) == []
    gateway = _by_name(with_reads, "network-dynamodb-gateway")
    routed = gateway.property_dependencies["routeTableIds"]
    one_table_short = mutated(
        with_reads, "network-dynamodb-gateway", lambda g: g.property_dependencies.update(routeTableIds=routed[1:])
    )
    [violation] = violations_of(one_table_short, POLICY)
    assert "cannot reach the dynamodb API" in violation.message and "nor a gateway endpoint" in violation.message


@pytest.mark.parametrize(("sid", "reported"), [("OnBehalfLambdaEnvDecrypt", False), ("EnvDecrypt", True)])
def test_kms_used_by_lambda_needs_no_path_but_kms_called_by_code_does(synthesized, sid, reported):
    """The env-key statement is Lambda's (decrypted before the code runs); the same action unmarked is the code's."""

    def resid(policy):
        document = json.loads(policy.inputs["policy"])
        document["Statement"][0]["Sid"] = sid
        policy.inputs["policy"] = json.dumps(document)

    broken = _without(mutated(synthesized("prod"), "facade-router-env-key", resid), "network-kms-endpoint")
    violations = violations_of(broken, POLICY)
    assert bool(violations) == reported
    if reported:
        [violation] = violations
        assert "cannot reach the kms API" in violation.message and "kms:Decrypt" in violation.message


def test_dev_cannot_weaken_the_rule():
    from arcblueprint.config import load
    from arcblueprint.policy.config import pack_config_for
    from arcblueprint.preview.harness import REPO_ROOT

    assert pack_config_for(load(REPO_ROOT, "dev"))[POLICY]["enforcementLevel"] == "mandatory"


def _added(graph, resource_type, name, inputs, depends):
    stack = graph.resources[0].urn.split("::")[0]
    return GraphResource(
        urn=f"{stack}::arcblueprint::{resource_type}::{name}",
        type=resource_type,
        name=name,
        parent=None,
        custom=True,
        inputs=inputs,
        property_dependencies=depends,
    )


@pytest.mark.parametrize("form", ["inline", "ec2-rule", None])
def test_every_way_of_writing_the_egress_rule_counts(synthesized, form):
    """The HTTPS egress to the endpoints' group as an inline rule or an aws:ec2 SecurityGroupRule is the same path."""
    prod = _without(synthesized("prod"), "network-lambda-to-endpoints")
    lambda_sg, endpoints_sg = _by_name(prod, "network-lambda-sg"), _by_name(prod, "network-endpoints-sg")
    if form == "inline":

        def inline(group):
            group.inputs["egress"] = [
                {"protocol": "tcp", "fromPort": 443.0, "toPort": 443.0, "securityGroups": ["sg-0123456789abcdef0"]}
            ]
            group.property_dependencies["egress"] = [endpoints_sg.urn]

        prod = mutated(prod, "network-lambda-sg", inline)
    elif form == "ec2-rule":
        rule_type = "aws:ec2/securityGroupRule:SecurityGroupRule"
        rule = _added(
            prod,
            rule_type,
            "test-egress",
            {
                "type": "egress",
                "protocol": "tcp",
                "fromPort": 443.0,
                "toPort": 443.0,
                "securityGroupId": "sg-0123456789abcdef0",
                "sourceSecurityGroupId": "sg-0123456789abcdef1",
            },
            {"securityGroupId": [lambda_sg.urn], "sourceSecurityGroupId": [endpoints_sg.urn]},
        )
        prod = dataclasses.replace(prod, resources=[*prod.resources, rule])
    violations = violations_of(prod, POLICY)
    assert bool(violations) == (form is None)


@pytest.mark.parametrize("endpoint", [True, False])
def test_attached_managed_policies_count_like_inline_ones(synthesized, endpoint):
    prod = _without(synthesized("prod"), "facade-router-invoke", *(() if endpoint else ("network-lambda-endpoint",)))
    role = _by_name(prod, "facade-router-role")
    policy_type, attachment_type = "aws:iam/policy:Policy", "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
    policy = _added(
        prod,
        policy_type,
        "test-invoke",
        {
            "policy": json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "Invoke",
                            "Effect": "Allow",
                            "Action": "lambda:InvokeFunction",
                            "Resource": (
                                "arn:aws:lambda:eu-west-1:222222222222:function:arcbp-prod-facade-notifications:live"
                            ),
                        }
                    ],
                }
            )
        },
        {},
    )
    attachment = _added(
        prod,
        attachment_type,
        "test-invoke-attachment",
        {"role": "r", "policyArn": "arn"},
        {"role": [role.urn], "policyArn": [policy.urn]},
    )
    violations = violations_of(dataclasses.replace(prod, resources=[*prod.resources, policy, attachment]), POLICY)
    assert [v.urn.rsplit("::", 1)[-1] for v in violations] == ([] if endpoint else [ROUTER])


# --- which OnBehalf statements are believed -------------------------------------------------------


def _queue_consume_without_the_sqs_endpoint(graph):
    poller = _add_statement(
        {
            "Sid": "OnBehalfQueueConsume",
            "Effect": "Allow",
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
            "Resource": "arn:aws:sqs:eu-west-1:222222222222:arcbp-prod-hooks-buffer",
        }
    )
    return _without(mutated(graph, "facade-router-invoke", poller), "network-sqs-endpoint")


def test_a_poller_statement_on_a_function_without_an_event_source_is_the_codes(synthesized):
    """No event source mapping invokes the router, so no Lambda poller uses the statement: its code would."""
    [violation] = violations_of(_queue_consume_without_the_sqs_endpoint(synthesized("prod")), POLICY)
    assert violation.urn.endswith(f"::{ROUTER}") and "cannot reach the sqs API" in violation.message
    assert "sqs:ReceiveMessage" in violation.message


def test_a_poller_statement_is_lambdas_when_an_event_source_mapping_feeds_the_function(synthesized):
    graph = _queue_consume_without_the_sqs_endpoint(synthesized("prod"))
    router, queue = _by_name(graph, ROUTER), _by_name(graph, "hooks-buffer-queue")
    mapping = _added(
        graph,
        "aws:lambda/eventSourceMapping:EventSourceMapping",
        "test-router-queue",
        {"functionName": "arcbp-prod-facade-router:live", "eventSourceArn": "arn:aws:sqs:x"},
        {"functionName": [router.urn], "eventSourceArn": [queue.urn]},
    )
    assert violations_of(dataclasses.replace(graph, resources=[*graph.resources, mapping]), POLICY) == []


def test_an_on_behalf_sid_over_a_mixed_action_set_is_not_believed(synthesized):
    mixed = _add_statement(
        {
            "Sid": "OnBehalfKeyUse",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:Encrypt"],
            "Resource": "arn:aws:kms:eu-west-1:222222222222:key/0a1b2c3d",
        }
    )
    broken = _without(mutated(synthesized("prod"), "facade-router-invoke", mixed), "network-kms-endpoint")
    [violation] = violations_of(broken, POLICY)
    # kms:Encrypt is never Lambda's, so the statement is not an on-behalf one: kms:Decrypt in it is the code's too.
    assert "cannot reach the kms API" in violation.message and "kms:Decrypt, kms:Encrypt" in violation.message


# --- hosts in the environment: the router reaches legacy through the on-prem proxy -------------------


def _router_env(change):
    def edit(function):
        variables = function.inputs["environment"]["variables"]
        change(variables)
        if "environment" in function.outputs:
            function.outputs["environment"] = function.inputs["environment"]

    return edit


def test_prod_router_reaches_legacy_through_the_proxy_endpoint(synthesized):
    prod = synthesized("prod")
    variables = _by_name(prod, ROUTER).inputs["environment"]["variables"]
    # Not vacuous: legacy is an on-prem name only the proxy reaches, and the proxy is in the VPC's private zone.
    assert variables["LEGACY_URL"] == "http://legacy.corp.example.com:8080"
    assert variables["http_proxy"] == "http://proxy.arcbp-prod.internal:3128"
    assert _by_name(prod, "onprem-proxy-record").inputs["name"] == "proxy.arcbp-prod.internal"


def test_without_a_proxy_the_legacy_name_is_unreachable(synthesized):
    def no_proxy_at_all(variables):
        for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
            variables.pop(name)

    [violation] = violations_of(mutated(synthesized("prod"), ROUTER, _router_env(no_proxy_at_all)), POLICY)
    assert violation.urn.endswith(f"::{ROUTER}")
    assert "cannot reach legacy.corp.example.com:8080, the host of its LEGACY_URL" in violation.message
    assert "no route to a NAT gateway" in violation.message and "use_onprem_proxy" in violation.message


def test_a_proxy_without_aws_in_no_proxy_takes_the_sdk_calls_too(synthesized):
    def forget_no_proxy(variables):
        variables.pop("NO_PROXY")
        variables.pop("no_proxy")

    [violation] = violations_of(mutated(synthesized("prod"), ROUTER, _router_env(forget_no_proxy)), POLICY)
    assert "sends its AWS API calls (lambda, xray) to the proxy" in violation.message
    assert "Add .amazonaws.com to NO_PROXY" in violation.message


def test_the_proxy_endpoint_must_be_named_and_open_to_the_function(synthesized):
    prod = synthesized("prod")
    [unnamed] = violations_of(_without(prod, "onprem-proxy-record"), POLICY)
    assert "no Route 53 record in the stack names the proxy host proxy.arcbp-prod.internal" in unnamed.message
    [closed] = violations_of(_without(prod, "onprem-lambda-to-endpoint"), POLICY)
    assert "sends nothing on port 3128 to endpoint 'onprem-endpoint'" in closed.message
    [shut] = violations_of(_without(prod, "onprem-endpoint-from-lambda"), POLICY)
    assert "endpoint 'onprem-endpoint' admits nothing on port 3128 from the function" in shut.message


def test_no_proxy_exempting_the_host_sends_it_direct(synthesized):
    def exempt_corp(variables):
        variables["no_proxy"] = variables["NO_PROXY"] = variables["no_proxy"] + ",.corp.example.com"

    [violation] = violations_of(mutated(synthesized("prod"), ROUTER, _router_env(exempt_corp)), POLICY)
    assert "NO_PROXY exempts legacy.corp.example.com" in violation.message


def _squid_edit(old, new):
    """Edit the squid.conf the proxies' launch template boots with (what the proxies really enforce)."""

    def edit(template):
        script = base64.b64decode(template.inputs["userData"]).decode()
        assert old in script
        template.inputs["userData"] = base64.b64encode(script.replace(old, new).encode()).decode()

    return edit


@pytest.mark.parametrize(
    ("old", "new", "refused"),
    [
        # The proxies no longer let the legacy host's domain through...
        ("acl onprem_domains dstdomain -n .corp.example.com\n", "", "only to 172.16.0.0/12 on ports 443, 8080"),
        # ...or its port.
        ("acl onprem_ports port 443 8080\n", "acl onprem_ports port 443\n", "on ports 443"),
    ],
)
def test_the_proxies_behind_the_endpoint_must_let_the_host_and_port_through(synthesized, old, new, refused):
    broken = mutated(synthesized("prod"), "onprem-proxy-lt", _squid_edit(old, new))
    [violation] = violations_of(broken, POLICY)
    assert violation.urn.endswith(f"::{ROUTER}")
    assert "cannot reach legacy.corp.example.com:8080, the host of its LEGACY_URL" in violation.message
    assert (
        "the proxies behind endpoint 'onprem-endpoint' refuse it" in violation.message and refused in violation.message
    )
    assert "onPrem.destinations" in violation.message and "port 8080 in onPrem.destinationPorts" in violation.message


def test_a_url_outside_the_proxy_destinations_is_reported_on_the_function(synthesized):
    def elsewhere(variables):
        variables["LEGACY_URL"] = "http://legacy.partner.example.org:8080"

    [violation] = violations_of(mutated(synthesized("prod"), ROUTER, _router_env(elsewhere)), POLICY)
    assert "cannot reach legacy.partner.example.org:8080" in violation.message
    assert "refuse it: squid (launch template 'onprem-proxy-lt')" in violation.message


@pytest.mark.parametrize("unknown", ["proxy", "variables", None])
def test_proxy_settings_unknown_in_a_first_preview_are_not_read_as_no_proxy(unknown):
    """A proxy URL computed from a new resource (or the whole environment) is unknown in a new stack's first preview.

    Which proxy the client picks is then not known, so its hosts are judged at ``pulumi up``: neither reported
    as unreachable without a proxy nor by skipping the whole policy. Only a proxy really unset is reported.
    """
    subnet = resource(SUBNET, "proxy-test-subnet", {"cidrBlock": "10.0.0.0/26"})
    group = resource(SECURITY_GROUP, "proxy-test-sg", {"vpcId": UNKNOWN_STRING_VALUE})
    role = resource(ROLE, "proxy-test-role", {"assumeRolePolicy": "{}"})
    variables = {"LEGACY_URL": "http://legacy.corp.example.com:8080", "NO_PROXY": ".amazonaws.com"}
    if unknown == "proxy":
        variables["HTTP_PROXY"] = variables["HTTPS_PROXY"] = UNKNOWN_STRING_VALUE
    environment = {"variables": UNKNOWN_OBJECT_VALUE if unknown == "variables" else variables}
    function = resource(
        FUNCTION,
        "proxy-test-function",
        {
            "vpcConfig": {"subnetIds": [UNKNOWN_STRING_VALUE], "securityGroupIds": [UNKNOWN_STRING_VALUE]},
            "role": UNKNOWN_STRING_VALUE,
            "environment": environment,
        },
        depends={"vpcConfig": [subnet, group], "role": [role]},
    )
    recorder = run_stack(REACHES_ITS_APIS, [subnet, group, role, function])
    assert recorder.skipped == []
    if unknown:
        assert recorder.violations == []
    else:
        [(urn, message)] = recorder.violations
        assert urn.endswith("::proxy-test-function") and "cannot reach legacy.corp.example.com:8080" in message
        assert "no proxy serves it" in message
