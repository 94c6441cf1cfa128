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
* statements whose Sid starts with ``OnBehalf`` (:data:`arcblueprint.vpc_access.ON_BEHALF`) and
  whose whole action set is one of :data:`ON_BEHALF_PURPOSES` that the function really has: an
  event source mapping (the poller's read actions on that kind of source), an on-failure
  destination or DLQ (``sqs:SendMessage`` or ``sns:Publish``), or KMS use by another service or
  for environment decryption; and KMS statements bound to other services by ``kms:ViaService``.

The Sid is the program's own claim, and the function's code could call any of those actions
too, so the claim is believed only where it is plausible: a statement that mixes in any other
action (``OnBehalf`` on ``sqs:SendMessage`` plus ``sqs:ReceiveMessage``, or on
``lambda:InvokeFunction``) is not an on-behalf statement AWS would use, and a poller or
destination statement on a function with no event source mapping or destination has no AWS
service to use it; in both cases every action counts as a call from the function's code.

In the first ``pulumi preview`` of a new stack a role policy computed from new resources' ARNs
is unknown as a whole. Its property dependencies still say which resources it names; for a
resource whose API only the code calls (a Lambda function or alias: ``lambda``; a secret:
``secretsmanager``; a state machine, event bus, bucket, deployment group, parameter or delivery
stream) the rule takes that API as called. A queue, topic, stream, table, key or log group may
be named for Lambda's own use on the function's behalf, so an unknown document naming one is
judged at ``pulumi up``, when it is known. Likewise a proxy setting (``HTTP(S)_PROXY``,
``NO_PROXY``) computed at deploy time leaves the client's choice of proxy, and so the function's
hosts, to be judged at ``pulumi up``; reading it as "no proxy" would report a path that is there.

Hosts that are not AWS APIs count too: every ``http(s)://`` URL in the function's environment
(the Strangler router's ``LEGACY_URL``) must be reachable, judged the way the code's HTTP client
(urllib, botocore) will judge it from the same environment:

* through the proxy that ``HTTP_PROXY``/``HTTPS_PROXY`` name, when ``NO_PROXY`` does not exempt the
  host: the proxy's name is a Route 53 record, in a zone associated with the function's VPC, that
  aliases an interface endpoint the function's security group may reach on the proxy port; the
  endpoint service's load balancer listens on that port, and the proxies behind it let the URL's
  host and port through (their ``squid.conf``, read from the launch template's user data: what the
  instances enforce). The rest of the path behind the endpoint is ``onprem-path-complete``'s to check;
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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from arcblueprint.policy.base import (
    UNKNOWN,
    as_list,
    functions_behind,
    is_mapping,
    json_document,
    known,
    known_dig,
    known_list,
    stack_policy,
    truthy,
)
from arcblueprint.policy.graph import StackGraph, role_policy_documents
from arcblueprint.policy.wiring._network import (
    Placement,
    SecurityGroups,
    SecurityRule,
    Traffic,
    covers,
    placement_of,
    subnet_cidr,
)
from arcblueprint.policy.wiring._proxy import (
    ENDPOINT_SERVICE,
    LAUNCH_TEMPLATE,
    LOAD_BALANCER,
    auto_scaling_groups,
    forwarded,
    listener_ports,
    proxy_rules,
)
from arcblueprint.vpc_access import GATEWAY_SERVICES, ON_BEHALF, endpoint_service

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

    from pulumi_policy import PolicyResource, StackValidationArgs

    from arcblueprint.policy.base import ReportViolation

__all__ = [
    "LAMBDA_OWN_ACTIONS",
    "ON_BEHALF_ACTIONS",
    "ON_BEHALF_PURPOSES",
    "POLICIES",
    "REACHES_ITS_APIS",
    "called_apis",
    "exempt",
    "on_behalf_uses",
]

FUNCTION = "aws:lambda/function:Function"
ROLE = "aws:iam/role:Role"
VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ROUTE = "aws:ec2/route:Route"
NAT_GATEWAY = "aws:ec2/natGateway:NatGateway"
RECORD = "aws:route53/record:Record"
ZONE = "aws:route53/zone:Zone"
ALIAS = "aws:lambda/alias:Alias"
EVENT_SOURCE_MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
EVENT_INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"

HTTPS = 443
ANYWHERE = ipaddress.IPv4Network("0.0.0.0/0")

_LOGS = (
    "Lambda captures the function's output and sends it to CloudWatch Logs with the role "
    "(Lambda guide, 'Sending Lambda function logs to CloudWatch Logs')."
)
_ENI = (
    "Lambda uses the role to create and manage the function's network interfaces (Lambda guide, "
    "'Execution role and user permissions'; AWSLambdaVPCAccessExecutionRole)."
)
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

_KMS = (
    "KMS use for data at rest is made by the service holding the data, with the caller's "
    "permissions ('When Amazon Kinesis Data Streams calls AWS KMS on your behalf...'), and Lambda "
    "decrypts environment variables with the role before the code runs (a denial fails the Invoke "
    "API call with KMSAccessDeniedException)."
)
_POLLER = (
    "'When you use an event source mapping to invoke your function, Lambda uses the execution role "
    "to read event data' (Lambda guide); the poller runs in Lambda, not in the function's VPC."
)
_DESTINATION = (
    "Lambda sends records of failed invocations to the destination (Lambda guide, 'Capturing "
    "records of Lambda asynchronous invocations': failures show as its DestinationDeliveryFailures)."
)


@dataclass(frozen=True)
class _Purpose:
    """One way AWS uses the function's role on its behalf: the actions, and what the function must have."""

    actions: frozenset[str]
    why: str
    #: What the function needs for AWS to use the statement: ``poller:<api>``, ``destination``, or nothing.
    needs: str = ""


_SQS_POLLER = frozenset(
    {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"}
)
_KINESIS_POLLER = frozenset(
    {
        "kinesis:GetRecords",
        "kinesis:GetShardIterator",
        "kinesis:DescribeStream",
        "kinesis:DescribeStreamSummary",
        "kinesis:ListShards",
        "kinesis:SubscribeToShard",
        "kinesis:DescribeStreamConsumer",
    }
)
_DYNAMODB_POLLER = frozenset(
    {"dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream", "dynamodb:ListStreams"}
)
#: The action sets AWS services use with the function's role on its behalf. An ``OnBehalf`` statement
#: is believed only when all its actions belong to one of them and the function has what that use needs.
ON_BEHALF_PURPOSES: dict[str, _Purpose] = {
    "kms": _Purpose(frozenset({"kms:Decrypt", "kms:GenerateDataKey"}), _KMS),
    "sqs-poller": _Purpose(_SQS_POLLER, _POLLER, "poller:sqs"),
    "kinesis-poller": _Purpose(_KINESIS_POLLER, _POLLER, "poller:kinesis"),
    "dynamodb-stream-poller": _Purpose(_DYNAMODB_POLLER, _POLLER, "poller:dynamodb"),
    "sqs-destination": _Purpose(frozenset({"sqs:SendMessage"}), _DESTINATION, "destination"),
    "sns-destination": _Purpose(frozenset({"sns:Publish"}), _DESTINATION, "destination"),
}
#: Actions AWS services perform with the role on the function's behalf (each with the reason and source).
ON_BEHALF_ACTIONS: dict[str, str] = {a: p.why for p in ON_BEHALF_PURPOSES.values() for a in sorted(p.actions)}


def _actions(statement: Mapping[str, Any]) -> list[str]:
    return [a for a in as_list(statement.get("Action")) if isinstance(a, str)]


def _purpose(statement: Mapping[str, Any]) -> _Purpose | None:
    """The on-behalf use whose action set holds every action of ``statement`` (``None``: no single one)."""
    actions = set(_actions(statement))
    return next((p for p in ON_BEHALF_PURPOSES.values() if actions and actions <= p.actions), None)


def exempt(statement: Mapping[str, Any], action: str, uses: frozenset[str] | None = None) -> bool:
    """Whether ``action`` of Allow ``statement`` is used by AWS on the function's behalf, not by its code.

    ``uses`` is what the function has for AWS to act on its behalf (``poller:sqs``, ``destination``;
    see :func:`_uses`); ``None`` believes any plausible ``OnBehalf`` statement.
    """
    if action in LAMBDA_OWN_ACTIONS:
        return True
    if action not in ON_BEHALF_ACTIONS:
        return False
    if str(statement.get("Sid") or "").startswith(ON_BEHALF):
        purpose = _purpose(statement)
        return purpose is not None and (
            not purpose.needs
            or uses is None
            or purpose.needs in uses
            or (purpose.needs.startswith("poller:") and "poller:?" in uses)
        )
    # kms:ViaService limits the statement to requests other services make: the code cannot use it directly.
    condition = statement.get("Condition")
    return (
        action.startswith("kms:")
        and is_mapping(condition)
        and any(
            is_mapping(keys) and any(str(k).lower() == "kms:viaservice" for k in keys) for keys in condition.values()
        )
    )


def called_apis(documents: Iterable[Any], uses: frozenset[str] | None = None) -> dict[str, list[str]]:
    """IAM prefix -> the Allow actions of ``documents`` the function's code may call (exemptions removed)."""
    apis: dict[str, set[str]] = {}
    for document in documents:
        for statement in as_list(known_dig(document, "Statement")):
            if not is_mapping(statement) or statement.get("Effect", "Allow") != "Allow":
                continue
            for action in _actions(statement):
                if ":" in action and not exempt(statement, action, uses):
                    apis.setdefault(action.split(":", 1)[0].lower(), set()).add(action)
    return {api: sorted(actions) for api, actions in sorted(apis.items())}


#: Resource type -> the API a role policy naming it lets the code call, for types AWS never uses a
#: function's role for on its behalf (see the module docstring: unknown documents in a first preview).
_CODE_ONLY_APIS = {
    "aws:lambda/function:Function": "lambda",
    ALIAS: "lambda",
    "aws:secretsmanager/secret:Secret": "secretsmanager",
    "aws:sfn/stateMachine:StateMachine": "states",
    "aws:cloudwatch/eventBus:EventBus": "events",
    "aws:s3/bucket:Bucket": "s3",
    "aws:s3/bucketV2:BucketV2": "s3",
    "aws:codedeploy/deploymentGroup:DeploymentGroup": "codedeploy",
    "aws:ssm/parameter:Parameter": "ssm",
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": "firehose",
}


def on_behalf_uses(graph: StackGraph, function: PolicyResource) -> frozenset[str]:
    """What ``function`` has for AWS to use its role on its behalf (see :func:`exempt`)."""
    return _uses(graph, function)


def _uses(graph: StackGraph, function: PolicyResource) -> frozenset[str]:
    """What ``function`` has for AWS to use its role on its behalf: ``poller:<api>`` per source, ``destination``."""
    uses: set[str] = set()
    behind = graph.referrers(function, EVENT_SOURCE_MAPPING, EVENT_INVOKE_CONFIG, prop="functionName")
    for alias in graph.referrers(function, ALIAS, prop="functionName"):
        behind += graph.referrers(alias, EVENT_SOURCE_MAPPING, EVENT_INVOKE_CONFIG, prop="functionName")
    for resource in graph.of_type(EVENT_SOURCE_MAPPING, EVENT_INVOKE_CONFIG):
        if resource not in behind and function in functions_behind(resource, "functionName", graph.resources):
            behind.append(resource)  # referred to by name or ARN
    for resource in behind:
        if known_dig(resource.props, "destinationConfig", "onFailure"):
            uses.add("destination")
        if resource.resource_type == EVENT_SOURCE_MAPPING:
            uses.add(f"poller:{_source_api(graph, resource)}")
    if known(function.props, "deadLetterConfig"):
        uses.add("destination")
    return frozenset(uses)


def _source_api(graph: StackGraph, mapping: PolicyResource) -> str:
    """The API of an event source mapping's source (``sqs``, ``kinesis``, ``dynamodb``); ``?`` if not known."""
    for source in graph.refs(mapping, "eventSourceArn"):
        api = {
            "aws:sqs/queue:Queue": "sqs",
            "aws:kinesis/stream:Stream": "kinesis",
            "aws:dynamodb/table:Table": "dynamodb",
        }.get(source.resource_type)
        if api:
            return api
    arn = known(mapping.props, "eventSourceArn")
    return arn.split(":")[2] if isinstance(arn, str) and arn.count(":") >= 5 else "?"


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
            name = known(endpoint.props, "serviceName")
            parts = name.split(".", 3) if isinstance(name, str) else []
            if (
                known(endpoint.props, "vpcEndpointType") == kind
                and len(parts) == 4
                and parts[3] == service
                and {v.urn for v in self.graph.refs(endpoint, "vpcId", VPC)} & placement.vpcs
            ):
                found.append(endpoint)
        return found

    def _https(self, egress: bool, groups: set[str]) -> Iterator[SecurityRule]:
        return self.security_groups.matching(egress, groups, HTTPS)

    def interface_problems(self, placement: Placement, endpoint: PolicyResource) -> list[str]:
        """Why ``endpoint`` does not serve the function (empty: it does)."""
        graph = self.graph
        problems = []
        if not truthy(known(endpoint.props, "privateDnsEnabled")):
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
            if tables <= routed and any(
                endpoint.urn in r.prefix_lists or covers(r.cidrs, [str(ANYWHERE)])
                for r in self._https(True, placement.groups)
            ):
                return True
        return False

    def through_nat(self, placement: Placement, port: int = HTTPS) -> bool:
        if not placement.route_tables or not all(placement.route_tables.values()):
            return False
        to_nat = set()
        for route in self.graph.of_type(ROUTE):
            # A NAT gateway's id is unknown until it exists: set is what counts.
            if known(route.props, "destinationCidrBlock") == str(ANYWHERE) and (
                known(route.props, "natGatewayId") or self.graph.refs(route, "natGatewayId", NAT_GATEWAY)
            ):
                to_nat |= {t.urn for t in self.graph.refs(route, "routeTableId", ROUTE_TABLE)}
        for table in self.graph.of_type(ROUTE_TABLE):
            routes = known_list(table.props, "routes")
            if any(
                is_mapping(r) and known(r, "cidrBlock") == str(ANYWHERE) and known(r, "natGatewayId")
                for r in (routes if routes is not UNKNOWN else ())
            ):
                to_nat.add(table.urn)
        every_subnet = all(tables & to_nat for tables in placement.route_tables.values())
        return every_subnet and any(
            covers(r.cidrs, [str(ANYWHERE)]) for r in self.security_groups.matching(True, placement.groups, port)
        )

    def routed(self, placement: Placement, address: str) -> bool:
        """Whether every subnet of the function routes ``address`` (its VPC's own CIDR is always local)."""
        graph = self.graph
        local = [known(v.props, "cidrBlock") for v in graph.of_type(VPC) if v.urn in placement.vpcs]
        if UNKNOWN in local or covers([c for c in local if isinstance(c, str)], [address]):
            return True  # a VPC range computed at deploy time may hold the address: judged at `pulumi up`
        if not placement.route_tables or not all(placement.route_tables.values()):
            return False
        routed_tables = {
            t.urn
            for route in graph.of_type(ROUTE)
            if (destination := known(route.props, "destinationCidrBlock")) is UNKNOWN
            or covers([str(destination or "")], [address])
            for t in graph.refs(route, "routeTableId", ROUTE_TABLE)
        }
        return all(tables & routed_tables for tables in placement.route_tables.values())

    def refusals(self, placement: Placement, host: str, port: int, url: str) -> list[str]:
        """Why the proxy at ``host:port`` does not carry a request for ``url`` (empty: it does, or cannot be known).

        Behind each interface endpoint the proxy's name aliases: a listener on ``port`` of the endpoint
        service's load balancer, and proxies whose squid lets ``url`` through (read from their user data).
        """
        graph = self.graph
        problems: list[str] = []
        for endpoint in self._proxy_endpoints(placement, host):
            for service in graph.refs(endpoint, "serviceName", ENDPOINT_SERVICE):
                for balancer in graph.refs(service, "networkLoadBalancerArns", LOAD_BALANCER):
                    ports = listener_ports(graph, balancer)
                    if ports is not UNKNOWN and ports and port not in ports:
                        problems.append(
                            f"load balancer '{balancer.name}' behind endpoint '{endpoint.name}' listens on "
                            f"{', '.join(map(str, sorted(ports)))}, not on port {port} of the proxy URL"
                        )
                    templates = [
                        t
                        for _, target_group in forwarded(graph, balancer)
                        for group in auto_scaling_groups(graph, target_group)
                        for t in graph.refs(group, "launchTemplate", LAUNCH_TEMPLATE)
                    ]
                    for template in templates:
                        rules = proxy_rules(template)
                        if rules and rules is not UNKNOWN and not rules.allows(url):
                            problems.append(
                                f"the proxies behind endpoint '{endpoint.name}' refuse it: squid (launch template "
                                f"'{template.name}') lets requests through only to {', '.join(rules.destinations)} "
                                f"on ports {', '.join(map(str, rules.ports))}"
                            )
        return list(dict.fromkeys(problems))

    def _proxy_endpoints(self, placement: Placement, host: str) -> list[PolicyResource]:
        """Interface endpoints that records named ``host``, in zones of the function's VPC, alias."""
        graph = self.graph
        found: dict[str, PolicyResource] = {}
        for record in graph.of_type(RECORD):
            name = known(record.props, "name")
            if not isinstance(name, str) or name.rstrip(".") != host:
                continue
            zone = graph.ref(record, "zoneId", ZONE)
            if zone is not None and not {v.urn for v in graph.refs(zone, "vpcs", VPC)} & placement.vpcs:
                continue
            for endpoint in graph.refs(record, "aliases", ENDPOINT):
                if known(endpoint.props, "vpcEndpointType") == "Interface":
                    found.setdefault(endpoint.urn, endpoint)
        return list(found.values())

    def proxy_problems(self, placement: Placement, host: str, port: int) -> list[str]:
        """Why the function cannot reach the proxy ``host:port`` (empty: it can)."""
        graph = self.graph
        names = {r.urn: known(r.props, "name") for r in graph.of_type(RECORD)}
        records = [
            r for r in graph.of_type(RECORD) if isinstance(names[r.urn], str) and names[r.urn].rstrip(".") == host
        ]
        if not records:
            if UNKNOWN in names.values():
                return []  # a record named at deploy time may be the proxy's: judged at `pulumi up`
            return [f"no Route 53 record in the stack names the proxy host {host}"]
        problems: list[str] = []
        for record in records:
            found = []
            zone = graph.ref(record, "zoneId", ZONE)
            if zone is not None and not {v.urn for v in graph.refs(zone, "vpcs", VPC)} & placement.vpcs:
                found.append(f"record '{record.name}' is in a zone not associated with the function's VPC")
            endpoints = [
                e for e in graph.refs(record, "aliases", ENDPOINT) if known(e.props, "vpcEndpointType") == "Interface"
            ]
            if not endpoints:
                found.append(f"record '{record.name}' is no alias of an interface endpoint in the stack")
            for endpoint in endpoints:
                target = Traffic(
                    frozenset(g.urn for g in graph.refs(endpoint, "securityGroupIds", SECURITY_GROUP)),
                    tuple(subnet_cidr(s) for s in graph.refs(endpoint, "subnetIds", SUBNET)),
                )
                if not self.security_groups.sends(placement.traffic, target, port):
                    found.append(
                        f"the function's security group sends nothing on port {port} to endpoint '{endpoint.name}'"
                    )
                if not self.security_groups.admits(placement.traffic, target, port):
                    found.append(f"endpoint '{endpoint.name}' admits nothing on port {port} from the function")
            if not found:
                return []
            problems += found
        return problems


@dataclass
class _Grants:
    """What a role's identity policies let the function's code call, as far as the stack shows it."""

    documents: list[Any] = field(default_factory=list)
    #: API -> resources named by documents that are unknown (first preview), for APIs only the code calls.
    named: dict[str, list[PolicyResource]] = field(default_factory=dict)

    def add(self, graph: StackGraph, holder: PolicyResource, prop: str, value: Any) -> None:
        if value is UNKNOWN:
            for resource in graph.refs(holder, prop):
                api = _CODE_ONLY_APIS.get(resource.resource_type)
                if api is not None:
                    self.named.setdefault(api, []).append(resource)
        elif (document := json_document(value)) is not None:
            self.documents.append(document)


def _role_grants(graph: StackGraph, role: PolicyResource) -> _Grants:
    """The identity policy documents of ``role`` the stack holds (inline, ``RolePolicy``, attached managed)."""
    grants = _Grants()
    for holder, prop, document in role_policy_documents(graph, role):
        grants.add(graph, holder, prop, document)
    return grants


def _region(graph: StackGraph, function: PolicyResource) -> str:
    """The function's region, for the endpoint service name in messages (from its ARN, else any endpoint's)."""
    arn = known(function.props, "arn")
    if isinstance(arn, str) and arn.count(":") >= 4 and arn.split(":")[3]:
        return arn.split(":")[3]
    for endpoint in graph.of_type(ENDPOINT):
        name = known(endpoint.props, "serviceName")
        if isinstance(name, str) and name.startswith("com.amazonaws.") and name.count(".") >= 3:
            return name.split(".")[2]
    return "<region>"


# --- hosts in the environment --------------------------------------------------------------------


_URL = re.compile(r"https?://[^\s/?#]+")
_PROXY_VARIABLES = frozenset({"http_proxy", "https_proxy", "no_proxy", "all_proxy"})


class _ClientEnvironment:
    """How an HTTP client in the function (urllib, botocore) picks a proxy from its environment."""

    def __init__(self, variables: Mapping[str, Any]) -> None:
        #: Whether the proxy settings are known: one computed at deploy time (a first preview) leaves the
        #: client's choice of proxy, and so every host of the environment, to be judged at ``pulumi up``.
        self.settled = not any(
            value is UNKNOWN for name, value in variables.items() if name.lower() in _PROXY_VARIABLES
        )

        def read(name: str) -> str:
            # urllib lets the lowercase spelling win over the uppercase one.
            value = variables.get(name.lower()) or variables.get(name.upper())
            return value if isinstance(value, str) else ""

        self.proxies = {scheme: read(f"{scheme}_proxy") for scheme in ("http", "https") if read(f"{scheme}_proxy")}
        self.no_proxy = read("no_proxy")
        self.urls = {
            name: value
            for name, value in sorted(variables.items())
            if isinstance(value, str) and name.lower() not in _PROXY_VARIABLES and _URL.match(value)
        }

    def proxy_for(self, scheme: str, host: str) -> tuple[str, int] | None:
        proxy = self.proxies.get(scheme)
        if not proxy:
            return None
        # proxy_bypass_environment is an undocumented CPython helper (urllib/request.py) that typeshed omits.
        if urllib.request.proxy_bypass_environment(host, {"no": self.no_proxy}):  # type: ignore[attr-defined]
            return None
        parsed = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        return (parsed.hostname, parsed.port or 80) if parsed.hostname else None


def _environment(function: PolicyResource) -> dict[str, Any] | None:
    """The function's environment variables (a value computed at deploy time is :data:`UNKNOWN`).

    ``None`` when the variables are unknown as a whole: nothing about its hosts can be judged yet.
    """
    variables = known_dig(function.props, "environment", "variables")
    if variables is UNKNOWN:
        return None
    if not is_mapping(variables):
        return {}
    return {str(name): known(variables, name) for name in variables}


def _host_problems(
    network: _Network, placement: Placement, client: _ClientEnvironment, url: str
) -> tuple[str, str] | None:
    """(why, fix) when the function cannot reach ``url``; ``None`` when it can."""
    parsed = urllib.parse.urlsplit(url)
    host, scheme = parsed.hostname or "", parsed.scheme
    port = parsed.port or (443 if scheme == "https" else 80)
    if host.endswith(".amazonaws.com"):
        return None  # an AWS API: judged with the role's actions above
    proxy = client.proxy_for(scheme, host)
    if proxy is not None:
        problems = network.proxy_problems(placement, *proxy)
        if problems:
            return (
                f"it goes through the proxy {proxy[0]}:{proxy[1]}, but {'; '.join(problems)}",
                "Let the function use the platform's proxy (FunctionArgs.use_onprem_proxy), which names the proxy "
                "endpoint in the VPC's private zone and opens the Lambda security group to it.",
            )
        refused = network.refusals(placement, *proxy, url)
        if not refused:
            return None
        return (
            f"it goes through the proxy {proxy[0]}:{proxy[1]}, but {'; '.join(refused)}",
            f"List {host} (or its domain, or its address's network) in onPrem.destinations and port {port} in "
            "onPrem.destinationPorts, and keep the load balancer's listener on the proxy URL's port "
            "(onPrem.proxyPort).",
        )
    try:
        address = str(ipaddress.ip_address(host))
    except ValueError:
        if network.through_nat(placement, port):
            return None
        return (
            f"no proxy serves it (HTTP(S)_PROXY unset, or NO_PROXY exempts {host}) and its subnets have no "
            "route to a NAT gateway, the only other way to a name outside the VPC",
            "Reach it through the on-prem proxy (FunctionArgs.use_onprem_proxy) or route 0.0.0.0/0 to a NAT gateway.",
        )
    egress = any(covers(r.cidrs, [address]) for r in network.security_groups.matching(True, placement.groups, port))
    if network.routed(placement, address) and egress:
        return None
    return (
        f"no proxy serves it and {address} is neither routed from all its subnets nor allowed out on port {port}",
        "Reach it through the on-prem proxy (FunctionArgs.use_onprem_proxy), or route its network and allow "
        "the port in the function's security group.",
    )


def validate_reaches_its_apis(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Each VPC-attached function has an endpoint, gateway or NAT path to every API its role lets its code call,
    and a path to every host its environment names."""
    graph = StackGraph(args.resources)
    network = _Network(graph)
    for function in graph.of_type(FUNCTION):
        if not known(function.props, "vpcConfig"):
            continue
        placement = network.placement(function)
        role = graph.ref(function, "role", ROLE)
        if placement is None or role is None:
            continue
        variables = _environment(function)
        client = _ClientEnvironment(variables or {})
        judged = variables is not None and client.settled
        for name, url in client.urls.items() if judged else ():
            problem = _host_problems(network, placement, client, url)
            if problem is not None:
                host = urllib.parse.urlsplit(url).netloc
                report_violation(
                    f"VPC-attached function '{function.name}' cannot reach {host}, the host of its {name}: "
                    f"{problem[0]}. Its requests time out when the function runs. {problem[1]}",
                    function.urn,
                )
        grants = _role_grants(graph, role)
        apis = called_apis(grants.documents, _uses(graph, function))
        for api, named in grants.named.items():
            # The document is computed at deploy time; what it names says which API the code calls.
            apis.setdefault(api, []).extend(f"an action on '{r.name}'" for r in named if r.urn != function.urn)
        apis = {api: actions for api, actions in apis.items() if actions}
        region = _region(graph, function)
        through_proxy = [s for s in ("https", "http") if judged and client.proxy_for(s, f"sts.{region}.amazonaws.com")]
        if apis and through_proxy:
            report_violation(
                f"VPC-attached function '{function.name}' sends its AWS API calls ({', '.join(apis)}) to the proxy "
                f"its {through_proxy[0].upper()}_PROXY names: NO_PROXY does not exempt .amazonaws.com, and the "
                "proxy refuses everything but on-prem destinations. Add .amazonaws.com to NO_PROXY (the platform's "
                "proxy environment does).",
                function.urn,
            )
        through_nat = network.through_nat(placement) if apis else False
        for api, actions in apis.items():
            service = endpoint_service(api)
            endpoints = network.endpoints(placement, service, "Interface")
            problems = {e.name: network.interface_problems(placement, e) for e in endpoints}
            if (
                any(not p for p in problems.values())
                or through_nat
                or (service in GATEWAY_SERVICES and network.through_gateway(placement, service))
            ):
                continue
            shown = ", ".join(actions[:3]) + (", ..." if len(actions) > 3 else "")
            if problems:
                why = "; ".join(f"interface endpoint '{name}' {' and '.join(p)}" for name, p in problems.items())
                fix = (
                    "Enable private DNS on the endpoint and allow HTTPS (443) from the function's security group "
                    "to the endpoint's group and into it."
                )
            else:
                why = (
                    f"its VPC has no interface endpoint for com.amazonaws.{region}.{service}"
                    + (" nor a gateway endpoint on its route tables" if service in GATEWAY_SERVICES else "")
                    + ", and its subnets have no route to a NAT gateway"
                )
                fix = (
                    f"Declare the '{service}' interface endpoint with private DNS in the function's VPC "
                    f"(ServerlessFunction grants ask the platform network for it: platform.vpc.endpoints."
                    f"require('{api}')), or route 0.0.0.0/0 to a NAT gateway."
                )
            report_violation(
                f"VPC-attached function '{function.name}' cannot reach the {api} API its role allows ({shown}): "
                f"{why}. The call times out when the function runs. {fix}",
                function.urn,
            )


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
