"""The price table shipped with the project (``prices.toml``): public list prices per region.

Pure: no Pulumi, no AWS call. A price is looked up by name (``nlb_hour``) in the stack's region;
a region the table does not hold stops with one line naming the file to extend.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["HOURS_PER_MONTH", "Price", "PriceTable", "UnknownPriceError", "load_prices"]

#: Hours in the month every monthly figure assumes (AWS's pricing examples use 730).
HOURS_PER_MONTH = 730
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
PRICES_FILE = "prices.toml"


class UnknownPriceError(KeyError):
    """The table has no such region or price."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True, kw_only=True)
class Price:
    """One list price: ``usd`` per ``unit``, where it comes from and how far it was checked."""

    name: str
    usd: float
    unit: str
    source: str
    confirmed: Literal["page", "quoted", "no"]
    note: str = ""

    @property
    def unconfirmed(self) -> bool:
        return self.confirmed == "no"


@dataclass(frozen=True, kw_only=True)
class PriceTable:
    """The prices of one region, and the day the table was last checked."""

    region: str
    checked: str
    currency: str
    prices: Mapping[str, Price] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Price:
        try:
            return self.prices[name]
        except KeyError:
            raise UnknownPriceError(
                f"the price table ({PRICES_FILE}) has no price '{name}' for {self.region}"
            ) from None

    def usd(self, name: str) -> float:
        return self[name].usd

    def __contains__(self, name: object) -> bool:
        return name in self.prices


def parse_prices(document: Mapping[str, Any], region: str) -> PriceTable:
    """The table of ``region`` from a parsed ``prices.toml`` document."""
    regions = document.get("regions", {})
    if region not in regions:
        raise UnknownPriceError(
            f"the price table ({PRICES_FILE}) has no prices for region {region} "
            f'(it has: {", ".join(sorted(regions))}); add a [regions."{region}"] table'
        )
    meta = document.get("meta", {})
    prices = {}
    for name, entry in regions[region].items():
        if entry.get("confirmed") not in ("page", "quoted", "no") or not isinstance(entry.get("usd"), int | float):
            raise ValueError(f"{PRICES_FILE}: {region}.{name} needs a number 'usd' and confirmed = page, quoted or no")
        prices[name] = Price(
            name=name,
            usd=float(entry["usd"]),
            unit=str(entry["unit"]),
            source=str(entry["source"]),
            confirmed=entry["confirmed"],
            note=str(entry.get("note", "")),
        )
    return PriceTable(
        region=region, checked=str(meta.get("checked", "")), currency=meta.get("currency", "USD"), prices=prices
    )


def load_prices(region: str) -> PriceTable:
    """The shipped table's prices for ``region``."""
    text = resources.files("arcblueprint.cost").joinpath(PRICES_FILE).read_text(encoding="utf-8")
    return parse_prices(tomllib.loads(text), region)
