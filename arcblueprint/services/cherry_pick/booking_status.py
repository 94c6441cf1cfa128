"""A booking's statuses and the only moves between them (pure: shipped into the bookings and saga-step zips).

The saga moves a booking forward ``PENDING -> RESERVED -> PAID -> CONFIRMED`` and, when a step fails,
back one step at a time (``CONFIRMED -> PAID -> RESERVED -> CANCELLED``, or ``PENDING -> CANCELLED``).
Every other move is refused: a cancelled booking is never paid or reserved again, a pending one is
never paid before it is reserved. ``confirmBooking`` (IAM backends) may only settle: confirm a paid
booking, or cancel one that holds no payment.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ALLOWED_MOVES", "COMPENSATIONS", "FORWARD", "MOVES", "SETTLEMENTS", "STATUSES", "Move"]

STATUSES = ("PENDING", "RESERVED", "PAID", "CONFIRMED", "CANCELLED")


@dataclass(frozen=True, kw_only=True)
class Move:
    """One saga action: to ``target`` from one of ``sources``; in a status of ``done`` there is nothing
    (more) for it to do, so a retry, or a compensation of a step that never ran, succeeds unchanged."""

    target: str
    sources: tuple[str, ...]
    done: tuple[str, ...]


MOVES: dict[str, Move] = {
    "reserve_flight": Move(target="RESERVED", sources=("PENDING",), done=("RESERVED",)),
    "collect_payment": Move(target="PAID", sources=("RESERVED",), done=("PAID",)),
    "confirm_booking": Move(target="CONFIRMED", sources=("PAID",), done=("CONFIRMED",)),
    # Compensations undo their own step only; a booking undone further already (or never moved) is left as is.
    "cancel_booking": Move(target="PAID", sources=("CONFIRMED",), done=("PAID", "RESERVED", "PENDING", "CANCELLED")),
    "refund_payment": Move(target="RESERVED", sources=("PAID",), done=("RESERVED", "PENDING", "CANCELLED")),
    "cancel_reservation": Move(target="CANCELLED", sources=("RESERVED", "PENDING"), done=("CANCELLED",)),
}
FORWARD = frozenset({"reserve_flight", "collect_payment", "confirm_booking"})
COMPENSATIONS = frozenset(MOVES) - FORWARD

#: What ``confirmBooking`` may do: settle a booking, never skip the saga's reserve and payment.
SETTLEMENTS: dict[str, tuple[str, ...]] = {"CONFIRMED": ("PAID",), "CANCELLED": ("PENDING", "RESERVED")}

#: Every (from, to) pair any code path may write.
ALLOWED_MOVES = frozenset(
    {(source, move.target) for move in MOVES.values() for source in move.sources}
    | {(source, target) for target, sources in SETTLEMENTS.items() for source in sources}
)
