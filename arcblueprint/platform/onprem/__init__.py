"""The path from VPC-attached functions to on-prem: proxies in a small routable VPC, published over PrivateLink.

``access`` composes it: the proxy VPC and the endpoint the application VPC uses (:class:`OnPremAccess`);
``fleet`` is the self-healing proxy fleet (:class:`ProxyFleet`); ``routing`` routes the on-prem
ranges to the gateway (:class:`OnPremRouting`). What the instances run is pure code in
:mod:`arcblueprint.planning.proxy_config`.
"""

from __future__ import annotations

from arcblueprint.platform.onprem.access import OnPremAccess, OnPremAccessArgs
from arcblueprint.platform.onprem.fleet import ProxyFleet, ProxyFleetArgs
from arcblueprint.platform.onprem.routing import OnPremRouting, OnPremRoutingArgs

__all__ = ["OnPremAccess", "OnPremAccessArgs", "OnPremRouting", "OnPremRoutingArgs", "ProxyFleet", "ProxyFleetArgs"]
