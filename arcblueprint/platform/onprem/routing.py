"""Routes from the proxy VPC to on-prem: every on-prem range, from every proxy subnet, to the gateway.

The gateway is the network team's (``onPrem.gatewayId``), never created here:

* a transit gateway (``tgw-...``) reaches a VPC only through a VPC attachment in that VPC's
  subnets, and a route to it fails (``InvalidTransitGatewayID.NotFound``) until the attachment
  exists, so the attachment is declared here and every route waits for it. Attachments to a
  gateway shared from another account may need accepting, and the gateway's own route tables
  (association, propagation, the route back to this VPC) are set by its owner;
* a virtual private gateway (``vgw-...``) must be attached to the VPC before a route can use it
  (one VPC at a time), so the attachment is declared and the routes wait for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["OnPremRouting", "OnPremRoutingArgs"]


@dataclass(frozen=True, kw_only=True)
class OnPremRoutingArgs:
    vpc_id: pulumi.Input[str]
    #: One route table per proxy subnet (index ``i`` is subnet ``i``'s).
    route_tables: Sequence[aws.ec2.RouteTable]
    #: The proxy subnets: a transit gateway attachment takes one address in each.
    subnet_ids: Sequence[pulumi.Input[str]]
    #: ``network.onPremRanges``.
    on_prem_ranges: Sequence[str]
    #: ``onPrem.gatewayId``: ``tgw-...`` or ``vgw-...``.
    gateway_id: str
    tags: dict[str, str]
    #: Resources holding fixed addresses in the proxy subnets (the load balancer): a transit gateway
    #: attachment, whose addresses AWS picks, is created after them so it cannot take theirs.
    address_holders: Sequence[pulumi.Resource] = ()


class OnPremRouting(pulumi.ComponentResource):
    """The gateway's attachment to the proxy VPC and one route per (route table, on-prem range).

    Attributes
    ----------
    attachment : aws.ec2transitgateway.VpcAttachment | aws.ec2.VpnGatewayAttachment
    routes : list[aws.ec2.Route]
    """

    def __init__(self, name: str, args: OnPremRoutingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("arcblueprint:platform:OnPremRouting", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        gateway = args.gateway_id
        self.attachment: aws.ec2transitgateway.VpcAttachment | aws.ec2.VpnGatewayAttachment
        if gateway.startswith("tgw-"):
            self.attachment = aws.ec2transitgateway.VpcAttachment(
                f"{name}-tgw-attachment",
                transit_gateway_id=gateway,
                vpc_id=args.vpc_id,
                subnet_ids=list(args.subnet_ids),
                dns_support="enable",
                tags={**args.tags, "Name": f"{name}-tgw-attachment"},
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.address_holders)),
            )
            target = {"transit_gateway_id": gateway}
        elif gateway.startswith("vgw-"):
            self.attachment = aws.ec2.VpnGatewayAttachment(
                f"{name}-vgw-attachment", vpn_gateway_id=gateway, vpc_id=args.vpc_id, opts=child
            )
            target = {"gateway_id": gateway}
        else:  # the config model refuses anything else; a caller building args by hand gets the same answer
            raise ValueError(f"OnPremRoutingArgs.gateway_id = {gateway!r} is invalid: must be tgw-... or vgw-...")
        self.routes = [
            aws.ec2.Route(
                f"{name}-{i}-{j}",
                route_table_id=table.id,
                destination_cidr_block=cidr,
                **target,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.attachment]),
            )
            for i, table in enumerate(args.route_tables)
            for j, cidr in enumerate(args.on_prem_ranges)
        ]
        self.register_outputs({"gatewayId": gateway, "attachmentId": self.attachment.id})
