"""Which availability zones a VPC's subnets and the on-prem endpoint use (pure: no Pulumi here).

Zones are chosen by *id*: names map to different physical zones in every account, ids do not, and
what must match across VPCs (an interface endpoint and its service's load balancer) is the physical
zone. Errors are one-line :class:`ConfigError` naming the config key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from arcblueprint.planning.errors import ConfigError, yaml_text

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["choose_zone", "endpoint_zone_indexes"]


def choose_zone(ids: Sequence[str], pinned: Sequence[str], index: int, key: str) -> str:
    """The ``index``-th zone id among the region's ``ids`` (or the pinned one), else a one-line config error."""
    if pinned:
        if pinned[index] not in ids:
            raise ConfigError(
                key.rsplit(".", 1)[0] + ".availabilityZoneIds",
                list(pinned),
                f"{pinned[index]} is not an available zone of the region ({', '.join(ids)})",
            )
        return pinned[index]
    if index >= len(ids):
        raise ConfigError(key, index + 1, f"the region has {len(ids)} available zones ({', '.join(ids)})")
    return ids[index]


def endpoint_zone_indexes(
    app_zone_ids: Sequence[str], app_zones: int, proxy_zone_ids: Sequence[str], proxy_zones: int
) -> tuple[int, ...]:
    """Indexes of the application VPC's zones that the on-prem proxies' load balancer also serves.

    The on-prem interface endpoint lives in the application VPC and ``CreateVpcEndpoint``
    rejects a subnet in a zone the endpoint service's load balancer does not serve, so the
    endpoint takes the application subnets of these zones only. Zones are matched by id.
    ``*_zone_ids`` are the pinned ids (``network``/``onPrem.availabilityZoneIds``), ``*_zones`` the counts.
    """
    app, proxy = tuple(app_zone_ids), tuple(proxy_zone_ids)
    if proxy and not app:
        raise ConfigError(
            "onPrem.availabilityZoneIds",
            list(proxy),
            "pinning the proxy VPC's zones needs network.availabilityZoneIds pinned too "
            "(the endpoint must be placed in zones both VPCs use)",
        )
    if not proxy:  # the proxy VPC takes the application VPC's first zones
        return tuple(range(min(app_zones, proxy_zones)))
    shared = tuple(i for i, zone in enumerate(app) if zone in proxy)
    if not shared:
        raise ConfigError(
            "onPrem.availabilityZoneIds",
            list(proxy),
            f"shares no zone with network.availabilityZoneIds {yaml_text(app)}: the on-prem "
            "endpoint would have no subnet in a zone the proxies' load balancer serves",
        )
    return shared
