"""What lies behind an endpoint service of the stack, as the correctness rules read it (shared).

An interface endpoint to an in-stack endpoint service leads to a network load balancer, its
listeners, their target groups, the Auto Scaling groups registered in them and the launch
templates those boot. What the proxies let through is read from the launch template's user data:
the ``squid.conf`` :func:`~arcblueprint.planning.proxy_config.render_user_data` embeds, parsed by
:func:`~arcblueprint.planning.proxy_config.parse_squid_config` (the file the instances run, not a
copy of the config that may drift from it).

Every read goes through :func:`~arcblueprint.policy.base.known`: user data rendered from resources
created in the same deploy is :data:`~arcblueprint.policy.base.UNKNOWN` in a first preview, and a
caller then leaves that judgment to ``pulumi up``.
"""

from __future__ import annotations

import base64
import binascii
import urllib.parse
from typing import TYPE_CHECKING, Any

from arcblueprint.planning.proxy_config import ProxyRules, parse_squid_config, squid_config_of
from arcblueprint.policy.base import UNKNOWN, is_list, is_mapping, known, known_dig, known_list, number

if TYPE_CHECKING:
    from pulumi_policy import PolicyResource

    from arcblueprint.policy.graph import StackGraph

__all__ = [
    "ENDPOINT_SERVICE",
    "GROUP",
    "GROUP_ATTACHMENT",
    "LAUNCH_TEMPLATE",
    "LISTENER",
    "LOAD_BALANCER",
    "RECORD",
    "TARGET_ATTACHMENT",
    "TARGET_GROUP",
    "auto_scaling_groups",
    "fixed_addresses",
    "forwarded",
    "listener_ports",
    "proxy_addresses",
    "proxy_rules",
    "user_data",
]

ENDPOINT_SERVICE = "aws:ec2/vpcEndpointService:VpcEndpointService"
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
TARGET_ATTACHMENT = "aws:lb/targetGroupAttachment:TargetGroupAttachment"
GROUP = "aws:autoscaling/group:Group"
GROUP_ATTACHMENT = "aws:autoscaling/attachment:Attachment"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
RECORD = "aws:route53/record:Record"

_PROXY_VARIABLES = ("http_proxy", "https_proxy")


def forwarded(graph: StackGraph, balancer: PolicyResource) -> list[tuple[PolicyResource, PolicyResource]]:
    """(listener, target group) for every listener of ``balancer`` that forwards to a target group of the stack."""
    return [
        (listener, target_group)
        for listener in graph.referrers(balancer, LISTENER, prop="loadBalancerArn")
        for target_group in graph.refs(listener, "defaultActions", TARGET_GROUP)
    ]


def listener_ports(graph: StackGraph, balancer: PolicyResource) -> set[int] | Any:
    """The ports ``balancer`` listens on; :data:`UNKNOWN` if one is computed at deploy time."""
    ports: set[int] = set()
    for listener in graph.referrers(balancer, LISTENER, prop="loadBalancerArn"):
        port = number(known(listener.props, "port"))
        if port is None:
            return UNKNOWN
        ports.add(int(port))
    return ports


def auto_scaling_groups(graph: StackGraph, target_group: PolicyResource) -> list[PolicyResource]:
    """The Auto Scaling groups that register their instances in ``target_group``."""
    return graph.referrers(target_group, GROUP, prop="targetGroupArns") + [
        g
        for a in graph.referrers(target_group, GROUP_ATTACHMENT, prop="lbTargetGroupArn")
        for g in graph.refs(a, "autoscalingGroupName", GROUP)
    ]


def user_data(template: PolicyResource) -> str | Any:
    """The launch template's boot script (decoded); ``""`` if none or not text, :data:`UNKNOWN` if computed later."""
    value = known(template.props, "userData")
    if value is UNKNOWN:
        return UNKNOWN
    if not isinstance(value, str) or not value:
        return ""
    try:
        return base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ""


def proxy_rules(template: PolicyResource) -> ProxyRules | None | Any:
    """What the squid the template boots enforces; ``None`` without a generated ``squid.conf``, or :data:`UNKNOWN`."""
    script = user_data(template)
    if script is UNKNOWN:
        return UNKNOWN
    config = squid_config_of(script)
    return parse_squid_config(config) if config is not None else None


def proxy_addresses(function: PolicyResource) -> set[tuple[str, int]] | Any:
    """(host, port) of each proxy the function's ``HTTP(S)_PROXY`` names; :data:`UNKNOWN` if one is computed later."""
    variables = known_dig(function.props, "environment", "variables")
    if variables is UNKNOWN:
        return UNKNOWN
    if not is_mapping(variables):
        return set()
    found: set[tuple[str, int]] = set()
    for name in variables:
        if str(name).lower() not in _PROXY_VARIABLES:
            continue
        value = known(variables, name)
        if value is UNKNOWN:
            return UNKNOWN
        if isinstance(value, str) and value:
            parsed = urllib.parse.urlsplit(value if "://" in value else f"http://{value}")
            try:
                port = parsed.port or 80
            except ValueError:
                continue
            if parsed.hostname:
                found.add((parsed.hostname.rstrip("."), port))
    return found


def fixed_addresses(balancer: PolicyResource) -> list[str] | None | Any:
    """The private addresses ``balancer``'s subnet mappings fix; ``None`` if AWS picks them, or :data:`UNKNOWN`.

    Declared with ``subnets``, the mappings are computed by the provider (unknown in a preview), and AWS picks
    the addresses; declared with ``subnetMappings``, each mapping names its ``privateIpv4Address`` or leaves it
    to AWS. (The provider's state lists the addresses AWS picked too: an existing load balancer reads as fixed,
    which it is by then.)
    """
    mappings = known_list(balancer.props, "subnetMappings")
    if mappings is not UNKNOWN and mappings:
        addresses = [known(m, "privateIpv4Address") if is_mapping(m) else None for m in mappings]
        if UNKNOWN in addresses:
            return UNKNOWN
        return addresses if all(isinstance(a, str) and a for a in addresses) else None
    subnets = known(balancer.props, "subnets")  # the ids may be unknown (new subnets): that it is set is enough
    if is_list(subnets) and len(subnets) > 0:
        return None  # given as subnets: the mappings (unknown or empty) are AWS's to fill
    return UNKNOWN if mappings is UNKNOWN or subnets is UNKNOWN else None
