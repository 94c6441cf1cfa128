"""The booking saga's settlement events: BookingConfirmed and BookingCancelled, built from the saga's input.

The saga's input carries the payment token; the event is built field by field from what the
schemas allow (``arcblueprint/events/schemas/bookings/``), so the token can never leak onto the
bus. Published by the saga-steps function when a step settles a booking (confirm, or the last
compensation), through :class:`domain_events.DomainEvents`. Plain Python.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["SETTLEMENT_EVENTS", "publish_settlement", "settlement_detail"]

#: Status a saga step settles a booking in -> the event that says so.
SETTLEMENT_EVENTS = {"CONFIRMED": "BookingConfirmed", "CANCELLED": "BookingCancelled"}


def settlement_detail(
    booking: Mapping[str, Any], status: str, *, occurred_at: datetime | None = None, reason: str | None = None
) -> dict[str, Any]:
    """The event detail of a settled booking (only the fields the schema allows; never the payment token)."""
    detail: dict[str, Any] = {
        "bookingId": booking["id"],
        "owner": booking["owner"],
        "flightId": booking["flightId"],
        "seats": int(booking["seats"]),
        "status": status,
        "occurredAt": (occurred_at or datetime.now(UTC)).isoformat(timespec="milliseconds"),
    }
    if reason and status == "CANCELLED":
        detail["reason"] = reason[:500]
    return detail


def publish_settlement(
    publisher: Any, booking: Mapping[str, Any], status: str, *, reason: str | None = None
) -> str | None:
    """Publish the settlement event for ``status``; ``None`` (nothing published) for a status that settles nothing.

    ``publisher`` is a :class:`domain_events.DomainEvents`; a detail that breaks its schema raises
    ``InvalidEventError`` (counted) and nothing is put.
    """
    detail_type = SETTLEMENT_EVENTS.get(status)
    if detail_type is None:
        return None
    detail = settlement_detail(booking, status, reason=reason)
    return str(publisher.publish(detail_type, detail, resources=[]))
