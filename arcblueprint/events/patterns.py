"""Validate EventBridge event patterns before deploying them, and build the pattern of a subscription.

A pattern EventBridge rejects fails ``PutRule`` half-way through ``pulumi up``; one it accepts but
that means something else (``"numeric": [">", "5"]``, a bare string instead of a list) silently
matches nothing. Checked here: nested objects hold conditions, ``$or`` holds two or more patterns, the whole pattern
fits the default size quota, and every leaf follows EventBridge's dialect (:data:`EVENTBRIDGE`) of the
grammar SNS filter policies share (:mod:`arcblueprint.planning.event_patterns`).
Pure: no Pulumi here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from arcblueprint.planning.event_patterns import Dialect, PatternError, check_conditions, join, plain

__all__ = [
    "EVENTBRIDGE",
    "MAX_PATTERN_CHARACTERS",
    "EventPatternError",
    "subscription_pattern",
    "validate_event_pattern",
]

#: The default quota for an event pattern's size (adjustable to 4096 by a quota increase).
MAX_PATTERN_CHARACTERS = 2048


class EventPatternError(PatternError):
    """``path`` (like ``detail.$or[1].price[0].numeric``) is not valid event pattern syntax."""

    root = "(pattern)"


#: EventBridge's leaf grammar (event buses; Pipes accept less): what it adds to SNS's is explicit here.
EVENTBRIDGE = Dialect(
    service="EventBridge",
    error=EventPatternError,
    operators=("prefix", "suffix", "equals-ignore-case", "anything-but", "numeric", "exists", "cidr", "wildcard"),
    booleans=True,
    prefix_ignore_case=True,
    anything_but_operators=("prefix", "suffix", "equals-ignore-case", "wildcard"),
    #: Numeric matching: values from -5.0e9 to +5.0e9, 15 digits of precision.
    number_limit=5_000_000_000,
    number_limit_text="5e9",
)


def validate_event_pattern(pattern: Any) -> None:
    """Raise :class:`EventPatternError` unless ``pattern`` is a pattern EventBridge accepts as meant."""
    if not isinstance(pattern, Mapping) or not pattern:
        raise EventPatternError("", pattern, "must be a non-empty object of fields to lists of conditions")
    _object(pattern, "")
    size = len(json.dumps(pattern, separators=(",", ":")))
    if size > MAX_PATTERN_CHARACTERS:
        raise EventPatternError(
            "", size, f"is {size} characters; EventBridge's default quota is {MAX_PATTERN_CHARACTERS}"
        )


def subscription_pattern(
    source: str, detail_types: Sequence[str], detail_filter: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The rule pattern of a subscription: ``source`` matched exactly, then detail types, then the filter.

    ``source`` is always one exact value, never a prefix: with each producer limited to its own
    source by the bus policy, a rule can then only receive events its producer sent.
    """
    pattern: dict[str, Any] = {"source": [source]}
    if detail_types:
        pattern["detail-type"] = sorted(set(detail_types))
    if detail_filter:
        pattern["detail"] = plain(detail_filter)
    validate_event_pattern(pattern)
    return pattern


def _object(node: Mapping[str, Any], path: str) -> None:
    for key, value in node.items():
        here = join(path, str(key))
        if not isinstance(key, str) or not key:
            raise EventPatternError(here, key, "field names must be non-empty strings")
        if key == "$or":
            _or(value, here)
        elif isinstance(value, Mapping):
            if not value:
                raise EventPatternError(here, value, "a nested field must hold conditions")
            _object(value, here)
        else:
            check_conditions(value, here, EVENTBRIDGE)


def _or(value: Any, path: str) -> None:
    if not isinstance(value, list | tuple) or len(value) < 2 or not all(isinstance(v, Mapping) and v for v in value):
        raise EventPatternError(path, value, "$or must be a list of at least two non-empty patterns")
    for i, branch in enumerate(value):
        _object(branch, f"{path}[{i}]")
