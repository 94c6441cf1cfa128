"""VPC reachability: a VPC-attached function has a network path to every AWS API its role lets it call.

Attached to a VPC, a function's traffic leaves through Lambda's Hyperplane ENIs in its subnets,
under its security groups; Lambda gives it no internet access there. It reaches an AWS API only
through (AWS Lambda guide, "Giving Lambda functions access to resources in an Amazon VPC"):

* an interface endpoint of that API in its VPC with private DNS (so the SDK's default host
  resolves to the endpoint), whose security group admits HTTPS from the function's group (or
  CIDR) and to which the function's group allows HTTPS out;
* for S3 and DynamoDB, a gateway endpoint on the route tables of all the function's subnets,
  with HTTPS egress to its prefix list;
* or a ``0.0.0.0/0`` route to a NAT gateway from those route tables, with HTTPS egress anywhere.

Nothing fails at deploy time without a path: the SDK call times out when the function runs (the
Strangler's router could not invoke the new service this way). So each Allow action of the
function's role (inline policies, ``RolePolicy`` resources, attached managed policies whose
document is in the stack) needs a path to its service, except the calls AWS makes with the role
on the function's behalf, which do not leave through the function's VPC:

* :data:`LAMBDA_OWN_ACTIONS`: Lambda itself writes the function's logs and manages its ENIs;
* :data:`ON_BEHALF_ACTIONS`, in statements whose Sid starts with ``OnBehalf``
  (:data:`arcblueprint.vpc_access.ON_BEHALF`) or, for KMS, whose use is bound to other services by
  ``kms:ViaService``: event-source pollers, destinations, environment decryption, server-side KMS.

Hosts that are not AWS APIs count too: every ``http(s)://`` URL in the function's environment
(the Strangler router's ``LEGACY_URL``) must be reachable, judged the way the code's HTTP client
(urllib, botocore) will judge it from the same environment:

* through the proxy that ``HTTP_PROXY``/``HTTPS_PROXY`` name, when ``NO_PROXY`` does not exempt the
  host: the proxy's name is a Route 53 record, in a zone associated with the function's VPC, that
  aliases an interface endpoint the function's security group may reach on the proxy port (what
  lies behind the endpoint is ``onprem-path-complete``'s to check);
* directly: an address inside the function's VPC, or covered by a route from all its subnets, with
  egress to it on the port; a name needs a route to a NAT gateway (Lambda gives no other internet).

And a function with a proxy must keep its AWS calls off it: ``NO_PROXY`` must exempt the AWS
endpoints (``.amazonaws.com``), or every SDK call goes to the proxy, which refuses anything but on-prem.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Any

from arcblueprint.policy.base import as_list, dig, json_document, stack_policy, truthy
from arcblueprint.policy.graph import StackGraph
from arcblueprint.policy.wiring._network import (
    Placement,
    SecurityGroups,
    SecurityRule,
    Traffic,
    covers,
    placement_of,
    subnet_cidr,
)
from arcblueprint.policy.wiring._props import UNKNOWN, known
from arcblueprint.vpc_access import GATEWAY_SERVICES, ON_BEHALF, endpoint_service

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from pulumi_policy import PolicyResource, ReportViolation, StackValidationArgs

__all__ = ["LAMBDA_OWN_ACTIONS", "ON_BEHALF_ACTIONS", "POLICIES", "REACHES_ITS_APIS", "called_apis", "exempt"]

FUNCTION = "aws:lambda/function:Function"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
MANAGED_POLICY = "aws:iam/policy:Policy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ROUTE = "aws:ec2/route:Route"
NAT_GATEWAY = "aws:ec2/natGateway:NatGateway"
RECORD = "aws:route53/record:Record"
ZONE = "aws:route53/zone:Zone"

HTTPS = 443
ANYWHERE = ipaddress.IPv4Network("0.0.0.0/0")

_LOGS = ("Lambda captures the function's output and sends it to CloudWatch Logs with the role "
         "(Lambda guide, 'Sending Lambda function logs to CloudWatch Logs').")
_ENI = ("Lambda uses the role to create and manage the function's network interfaces (Lambda guide, "
        "'Execution role and user permissions'; AWSLambdaVPCAccessExecutionRole).")
#: Actions only Lambda itself performs with the role, whoever's Sid: no call from the function's VPC.
LAMBDA_OWN_ACTIONS: dict[str, str] = {
    "logs:CreateLogGroup": _LOGS,
    "logs:CreateLogStream": _LOGS,
    "logs:PutLogEvents": _LOGS,
    "ec2:CreateNetworkInterface": _ENI,
    "ec2:DescribeNetworkInterfaces": _ENI,
    "ec2:DescribeSubnets": _ENI,
    "ec2:DeleteNetworkInterface": _ENI,
    "ec2:AssignPrivateIpAddresses": _ENI,
    "ec2:UnassignPrivateIpAddresses": _ENI,
}

_KMS = ("KMS use for data at rest is made by the service holding the data, with the caller's "
        "permissions ('When Amazon Kinesis Data Streams calls AWS KMS on your behalf...'), and Lambda "
        "decrypts environment variables with the role before the code runs (a denial fails the Invoke "
        "API call with KMSAccessDeniedException).")
_POLLER = ("'When you use an event source mapping to invoke your function, Lambda uses the execution role "
           "to read event data' (Lambda guide); the poller runs in Lambda, not in the function's VPC.")
_DESTINATION = ("Lambda sends records of failed invocations to the destination (Lambda guide, 'Capturing "
                "records of Lambda asynchronous invocations': failures show as its DestinationDeliveryFailures).")
#: Actions AWS services perform with the role on the function's behalf; exempt only in statements
#: marked so (Sid prefix ``OnBehalf``), because the function's code could call them too.
ON_BEHALF_ACTIONS: dict[str, str] = {
    "kms:Decrypt": _KMS,
    "kms:GenerateDataKey": _KMS,
    "sqs:ReceiveMessage": _POLLER,
    "sqs:DeleteMessage": _POLLER,
    "sqs:GetQueueAttributes": _POLLER,
    "sqs:ChangeMessageVisibility": _POLLER,
    "kinesis:GetRecords": _POLLER,
    "kinesis:GetShardIterator": _POLLER,
    "kinesis:DescribeStream": _POLLER,
    "kinesis:DescribeStreamSummary": _POLLER,
    "kinesis:ListShards": _POLLER,
    "kinesis:SubscribeToShard": _POLLER,
    "kinesis:DescribeStreamConsumer": _POLLER,
    "dynamodb:GetRecords": _POLLER,
    "dynamodb:GetShardIterator": _POLLER,
    "dynamodb:DescribeStream": _POLLER,
    "dynamodb:ListStreams": _POLLER,
    "sqs:SendMessage": _DESTINATION,
    "sns:Publish": _DESTINATION,
}


def exempt(statement: dict[str, Any], action: str) -> bool:
    """Whether ``action`` of Allow ``statement`` is used by AWS on the function's behalf, not by its code."""
    if action in LAMBDA_OWN_ACTIONS:
        return True
    if action not in ON_BEHALF_ACTIONS:
        return False
    if str(statement.get("Sid") or "").startswith(ON_BEHALF):
        return True
    # kms:ViaService limits the statement to requests other services make: the code cannot use it directly.
    return action.startswith("kms:") and any(
        isinstance(keys, dict) and any(str(k).lower() == "kms:viaservice" for k in keys)
        for keys in (statement.get("Condition") or {}).values())


def called_apis(documents: Iterable[Any]) -> dict[str, list[str]]:
    """IAM prefix -> the Allow actions of ``documents`` the function's code may call (exemptions removed)."""
    apis: dict[str, set[str]] = {}
    for document in documents:
        for statement in as_list(dig(document, "Statement")):
            if not isinstance(statement, dict) or statement.get("Effect", "Allow") != "Allow":
                continue
            for action in as_list(statement.get("Action")):
                if isinstance(action, str) and ":" in action and not exempt(statement, action):
                    apis.setdefault(action.split(":", 1)[0].lower(), set()).add(action)
    return {api: sorted(actions) for api, actions in sorted(apis.items())}


# --- the network as the rule sees it -------------------------------------------------------------


class _Network:
    def __init__(self, graph: StackGraph) -> None:
        self.graph = graph
        self.security_groups = SecurityGroups(graph)

    def placement(self, function: PolicyResource) -> Placement | None:
        return placement_of(self.graph, function)

    def endpoints(self, placement: Placement, service: str, kind: str) -> list[PolicyResource]:
        """The ``kind`` (Interface/Gateway) endpoints of ``service`` in the function's VPC."""
        found = []
        for endpoint in self.graph.of_type(ENDPOINT):
            name = endpoint.props.get("serviceName")
            parts = name.split(".", 3) if isinstance(name, str) else []
            if (endpoint.props.get("vpcEndpointType") == kind and len(parts) == 4 and parts[3] == service
                    and {v.urn for v in self.graph.refs(endpoint, "vpcId", VPC)} & placement.vpcs):
                found.append(endpoint)
        return found

    def _https(self, egress: bool, groups: set[str]) -> Iterator[SecurityRule]:
        return self.security_groups.matching(egress, groups, HTTPS)

    def interface_problems(self, placement: Placement, endpoint: PolicyResource) -> list[str]:
        """Why ``endpoint`` does not serve the function (empty: it does)."""
        graph = self.graph
        problems = []
        if not truthy(endpoint.props.get("privateDnsEnabled")):
            problems.append("has private DNS off, so the SDK's default host does not resolve to it")
        groups = {g.urn for g in graph.refs(endpoint, "securityGroupIds", SECURITY_GROUP)}
        own = [subnet_cidr(s) for s in placement.subnets]
        if not any(r.groups & placement.groups or covers(r.cidrs, own) for r in self._https(False, groups)):
            problems.append("admits no HTTPS (443) from the function's security group or subnets")
        where = [subnet_cidr(s) for s in graph.refs(endpoint, "subnetIds", SUBNET)]
        if not any(r.groups & groups or covers(r.cidrs, where) for r in self._https(True, placement.groups)):
            problems.append("is not a destination the function's security group allows HTTPS (443) to")
        return problems

    def through_gateway(self, placement: Placement, service: str) -> bool:
        tables = set().union(*placement.route_tables.values()) if placement.route_tables else set()
        if not all(placement.route_tables.values()):
            return False
        for endpoint in self.endpoints(placement, service, "Gateway"):
            routed = {t.urn for t in self.graph.refs(endpoint, "routeTableIds", ROUTE_TABLE)}
            if tables <= routed and any(endpoint.urn in r.prefix_lists or covers(r.cidrs, [str(ANYWHERE)])
                                        for r in self._https(True, placement.groups)):
                return True
        return False

    def through_nat(self, placement: Placement, port: int = HTTPS) -> bool:
        if not placement.route_tables or not all(placement.route_tables.values()):
            return False
        to_nat = set()
        for route in self.graph.of_type(ROUTE):
            if route.props.get("destinationCidrBlock") == str(ANYWHERE) and (
                    route.props.get("natGatewayId") or self.graph.refs(route, "natGatewayId", NAT_GATEWAY)):
                to_nat |= {t.urn for t in self.graph.refs(route, "routeTableId", ROUTE_TABLE)}
        for table in self.graph.of_type(ROUTE_TABLE):
            if any(isinstance(r, dict) and r.get("cidrBlock") == str(ANYWHERE) and r.get("natGatewayId")
                   for r in as_list(table.props.get("routes"))):
                to_nat.add(table.urn)
        every_subnet = all(tables & to_nat for tables in placement.route_tables.values())
        return every_subnet and any(covers(r.cidrs, [str(ANYWHERE)])
                                    for r in self.security_groups.matching(True, placement.groups, port))

    def routed(self, placement: Placement, address: str) -> bool:
        """Whether every subnet of the function routes ``address`` (its VPC's own CIDR is always local)."""
        graph = self.graph
        local = [v.props.get("cidrBlock") for v in graph.of_type(VPC) if v.urn in placement.vpcs]
        if covers([c for c in local if isinstance(c, str)], [address]):
            return True
        if not placement.route_tables or not all(placement.route_tables.values()):
            return False
        routed_tables = {t.urn for route in graph.of_type(ROUTE)
                         if covers([str(route.props.get("destinationCidrBlock") or "")], [address])
                         for t in graph.refs(route, "routeTableId", ROUTE_TABLE)}
        return all(tables & routed_tables for tables in placement.route_tables.values())

    def proxy_problems(self, placement: Placement, host: str, port: int) -> list[str]:
        """Why the function cannot reach the proxy ``host:port`` (empty: it can)."""
        graph = self.graph
        records = [r for r in graph.of_type(RECORD) if str(known(r.props, "name") or "").rstrip(".") == host]
        if not records:
            return [f"no Route 53 record in the stack names the proxy host {host}"]
        problems: list[str] = []
        for record in records:
            found = []
            zone = graph.ref(record, "zoneId", ZONE)
            if zone is not None and not {v.urn for v in graph.refs(zone, "vpcs", VPC)} & placement.vpcs:
                found.append(f"record '{record.name}' is in a zone not associated with the function's VPC")
            endpoints = [e for e in graph.refs(record, "aliases", ENDPOINT)
                         if e.props.get("vpcEndpointType") == "Interface"]
            if not endpoints:
                found.append(f"record '{record.name}' is no alias of an interface endpoint in the stack")
            for endpoint in endpoints:
                target = Traffic(frozenset(g.urn for g in graph.refs(endpoint, "securityGroupIds", SECURITY_GROUP)),
                                 tuple(subnet_cidr(s) for s in graph.refs(endpoint, "subnetIds", SUBNET)))
                if not self.security_groups.sends(placement.traffic, target, port):
                    found.append(f"the function's security group sends nothing on port {port} to endpoint "
                                 f"'{endpoint.name}'")
                if not self.security_groups.admits(placement.traffic, target, port):
                    found.append(f"endpoint '{endpoint.name}' admits nothing on port {port} from the function")
            if not found:
                return []
            problems += found
        return problems


def _role_documents(graph: StackGraph, role: PolicyResource) -> Iterator[Any]:
    """The identity policy documents of ``role`` the stack holds (unknown ones, in preview, are skipped)."""
    for inline in as_list(role.props.get("inlinePolicies")):
        yield json_document(dig(inline, "policy"))
    for policy in graph.referrers(role, ROLE_POLICY, prop="role"):
        yield json_document(policy.props.get("policy"))
    for attachment in graph.referrers(role, ATTACHMENT, prop="role"):
        for managed in graph.refs(attachment, "policyArn", MANAGED_POLICY):
            yield json_document(managed.props.get("policy"))


def _region(graph: StackGraph, function: PolicyResource) -> str:
    """The function's region, for the endpoint service name in messages (from its ARN, else any endpoint's)."""
    arn = function.props.get("arn")
    if isinstance(arn, str) and arn.count(":") >= 4 and arn.split(":")[3]:
        return arn.split(":")[3]
    for endpoint in graph.of_type(ENDPOINT):
        name = endpoint.props.get("serviceName")
        if isinstance(name, str) and name.startswith("com.amazonaws.") and name.count(".") >= 3:
            return name.split(".")[2]
    return "<region>"


_URL = re.compile(r"https?://[^\s/?#]+")
_PROXY_VARIABLES = frozenset({"http_proxy", "https_proxy", "no_proxy", "all_proxy"})


class _ClientEnvironment:
    """How an HTTP client in the function (urllib, botocore) picks a proxy from its environment."""

    def __init__(self, variables: dict[str, Any]) -> None:
        def read(name: str) -> str:
            # urllib lets the lowercase spelling win over the uppercase one.
            value = variables.get(name.lower()) or variables.get(name.upper())
            return value if isinstance(value, str) else ""

        self.proxies = {scheme: read(f"{scheme}_proxy") for scheme in ("http", "https") if read(f"{scheme}_proxy")}
        self.no_proxy = read("no_proxy")
        self.urls = {name: value for name, value in sorted(variables.items())
                     if isinstance(value, str) and name.lower() not in _PROXY_VARIABLES and _URL.match(value)}

    def proxy_for(self, scheme: str, host: str) -> tuple[str, int] | None:
        proxy = self.proxies.get(scheme)
        if not proxy or urllib.request.proxy_bypass_environment(host, {"no": self.no_proxy}):
            return None
        parsed = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        return (parsed.hostname, parsed.port or 80) if parsed.hostname else None


def _environment(function: PolicyResource) -> dict[str, Any]:
    environment = known(function.props, "environment")
    variables = known(environment, "variables") if isinstance(environment, dict) else None
    if not isinstance(variables, dict):
        return {}
    return {k: v for k, v in ((k, known(variables, k)) for k in variables) if v is not UNKNOWN}


def _host_problems(network: _Network, placement: Placement, client: _ClientEnvironment,
                   url: str) -> tuple[str, str] | None:
    """(why, fix) when the function cannot reach ``url``; ``None`` when it can."""
    parsed = urllib.parse.urlsplit(url)
    host, scheme = parsed.hostname or "", parsed.scheme
    port = parsed.port or (443 if scheme == "https" else 80)
    if host.endswith(".amazonaws.com"):
        return None  # an AWS API: judged with the role's actions above
    proxy = client.proxy_for(scheme, host)
    if proxy is not None:
        problems = network.proxy_problems(placement, *proxy)
        if not problems:
            return None
        return (f"it goes through the proxy {proxy[0]}:{proxy[1]}, but {'; '.join(problems)}",
                "Let the function use the platform's proxy (FunctionArgs.use_onprem_proxy), which names the proxy "
                "endpoint in the VPC's private zone and opens the Lambda security group to it.")
    try:
        address = str(ipaddress.ip_address(host))
    except ValueError:
        if network.through_nat(placement, port):
            return None
        return (f"no proxy serves it (HTTP(S)_PROXY unset, or NO_PROXY exempts {host}) and its subnets have no "
                "route to a NAT gateway, the only other way to a name outside the VPC",
                "Reach it through the on-prem proxy (FunctionArgs.use_onprem_proxy) or route 0.0.0.0/0 to a NAT "
                "gateway.")
    egress = any(covers(r.cidrs, [address]) for r in network.security_groups.matching(True, placement.groups, port))
    if network.routed(placement, address) and egress:
        return None
    return (f"no proxy serves it and {address} is neither routed from all its subnets nor allowed out on port {port}",
            "Reach it through the on-prem proxy (FunctionArgs.use_onprem_proxy), or route its network and allow "
            "the port in the function's security group.")


def validate_reaches_its_apis(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Each VPC-attached function has an endpoint, gateway or NAT path to every API its role lets its code call,
    and a path to every host its environment names."""
    graph = StackGraph(args.resources)
    network = _Network(graph)
    for function in graph.of_type(FUNCTION):
        if not function.props.get("vpcConfig"):
            continue
        placement = network.placement(function)
        role = graph.ref(function, "role", ROLE)
        if placement is None or role is None:
            continue
        client = _ClientEnvironment(_environment(function))
        for name, url in client.urls.items():
            problem = _host_problems(network, placement, client, url)
            if problem is not None:
                host = urllib.parse.urlsplit(url).netloc
                report_violation(
                    f"VPC-attached function '{function.name}' cannot reach {host}, the host of its {name}: "
                    f"{problem[0]}. Its requests time out when the function runs. {problem[1]}", function.urn)
        apis = called_apis(d for d in _role_documents(graph, role) if d is not None)
        region = _region(graph, function)
        through_proxy = [s for s in ("https", "http") if client.proxy_for(s, f"sts.{region}.amazonaws.com")]
        if apis and through_proxy:
            report_violation(
                f"VPC-attached function '{function.name}' sends its AWS API calls ({', '.join(apis)}) to the proxy "
                f"its {through_proxy[0].upper()}_PROXY names: NO_PROXY does not exempt .amazonaws.com, and the "
                "proxy refuses everything but on-prem destinations. Add .amazonaws.com to NO_PROXY (the platform's "
                "proxy environment does).", function.urn)
        for api, actions in apis.items():
            service = endpoint_service(api)
            endpoints = network.endpoints(placement, service, "Interface")
            problems = {e.name: network.interface_problems(placement, e) for e in endpoints}
            if any(not p for p in problems.values()) or network.through_nat(placement) or (
                    service in GATEWAY_SERVICES and network.through_gateway(placement, service)):
                continue
            shown = ", ".join(actions[:3]) + (", ..." if len(actions) > 3 else "")
            if problems:
                why = "; ".join(f"interface endpoint '{name}' {' and '.join(p)}" for name, p in problems.items())
                fix = ("Enable private DNS on the endpoint and allow HTTPS (443) from the function's security group "
                       "to the endpoint's group and into it.")
            else:
                why = (f"its VPC has no interface endpoint for com.amazonaws.{_region(graph, function)}.{service}"
                       + (" nor a gateway endpoint on its route tables" if service in GATEWAY_SERVICES else "")
                       + ", and its subnets have no route to a NAT gateway")
                fix = (f"Declare the '{service}' interface endpoint with private DNS in the function's VPC "
                       f"(ServerlessFunction grants ask the platform network for it: platform.vpc.endpoints."
                       f"require('{api}')), or route 0.0.0.0/0 to a NAT gateway.")
            report_violation(
                f"VPC-attached function '{function.name}' cannot reach the {api} API its role allows ({shown}): "
                f"{why}. The call times out when the function runs. {fix}", function.urn)


REACHES_ITS_APIS = stack_policy(
    "vpc-function-reaches-its-apis",
    "Every VPC-attached function has a network path (interface endpoint, gateway endpoint or NAT) to each AWS "
    "API its role lets its code call, and (through its proxy, a route or NAT) to each host its environment names.",
    validate_reaches_its_apis,
    remediation_steps="Let the function's grants declare the endpoints they need (platform.vpc.endpoints), or "
                      "add the endpoint to network.interfaceEndpoints; keep HTTPS open between the function's "
                      "and the endpoints' security groups.",
)

POLICIES = [REACHES_ITS_APIS]
