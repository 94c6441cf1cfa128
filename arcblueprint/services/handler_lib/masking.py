"""Mask sensitive fields of a JSON document before it is logged or leaves the function.

Pure and dependency-free, so it ships inside each function's zip that needs it (a function's
zip holds only its own folder). The copies are kept identical by a test.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["MASK", "mask_fields", "remove_fields"]

MASK = "*****"


def mask_fields(document: Any, paths: Iterable[str]) -> Any:
    """A copy of ``document`` with each dotted ``path`` replaced by ``MASK`` (lists are searched item by item).

    Missing fields are ignored: senders omit optional fields, and masking must never fail a message.
    """
    return _apply(document, [path.split(".") for path in paths], remove=False)


def remove_fields(document: Any, paths: Iterable[str]) -> Any:
    """A copy of ``document`` without the fields at the dotted ``paths``."""
    return _apply(document, [path.split(".") for path in paths], remove=True)


def _apply(document: Any, paths: list[list[str]], *, remove: bool) -> Any:
    if not paths:
        return document
    if isinstance(document, list):
        return [_apply(item, paths, remove=remove) for item in document]
    if not isinstance(document, dict):
        return document
    result = dict(document)
    nested: dict[str, list[list[str]]] = {}
    for head, *rest in paths:
        if head not in result:
            continue
        if rest:
            nested.setdefault(head, []).append(rest)
        elif remove:
            del result[head]
        else:
            result[head] = MASK
    for head, rests in nested.items():
        if head in result and result[head] != MASK:
            result[head] = _apply(result[head], rests, remove=remove)
    return result
