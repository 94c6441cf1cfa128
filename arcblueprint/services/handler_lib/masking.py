"""Mask or remove sensitive data in a JSON document before it is logged or leaves the function.

Fields match by name at any depth: a configured path ``card.number`` matches ``{"card": {"number"}}``
anywhere in the document, a key ``"card.number"``, ``"Card_Number"`` or ``"ＣＡＲＤ．number"`` (names
are compared NFKC-folded, case-folded, trimmed, with separators and invisible characters dropped).
Values match by shape: a card number (13-19 digits with spaces or dashes, a card-network first
digit and a valid Luhn check digit) is masked wherever it appears, inside longer text and inside
strings that hold JSON too. A few names are always masked (``ALWAYS_MASKED``: card security codes,
passwords, secrets), so a forgotten config entry does not put them in a log.

The walk is iterative and bounded: it never raises, whatever the input (100k levels deep, odd
types, unhashable keys). When it cannot tell (a subtree deeper than ``MAX_DEPTH``, a value it cannot
inspect), it masks: data is lost from a log, never leaked into one.

Pure and dependency-free, so it ships inside each function's zip that needs it (``shared.txt``).
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "ALWAYS_MASKED",
    "MASK",
    "MAX_DEPTH",
    "find_card_numbers",
    "mask_fields",
    "mask_text",
    "masked_json",
    "remove_fields",
]

MASK = "*****"
#: Subtrees below this depth are replaced whole by ``MASK``: nothing legitimate nests deeper, and
#: an input that does is not inspected (or serialized, which would recurse) any further.
MAX_DEPTH = 64
#: Strings up to this size that look like JSON are parsed and masked inside.
MAX_EMBEDDED_JSON_CHARS = 256 * 1024
#: Names masked in every document, compared folded (see ``_fold``).
ALWAYS_MASKED = frozenset(
    {
        "cvc",
        "cvv",
        "cvc2",
        "cvv2",
        "csc",
        "cid",
        "securitycode",
        "cardsecuritycode",
        "cardverificationcode",
        "cardnumber",
        "pan",
        "pin",
        "password",
        "passwd",
        "secret",
        "clientsecret",
        "apikey",
        "accesstoken",
        "refreshtoken",
        "authorization",
        "paymenttoken",
    }
)
#: Keeps the last few path segments of a node (enough for any configured path).
_MAX_SEGMENTS = 8
#: A run of digits with single spaces or dashes between them, long enough to hold a card number.
_DIGIT_RUN = re.compile(r"(?<!\d)\d(?:[ \-\u00a0\u2010-\u2015]?\d){12,}(?!\d)")
_SEPARATORS = re.compile(r"[ \-\u00a0\u2010-\u2015]")
#: First digits of the card networks: 2 and 5 Mastercard (5 Maestro too), 3 Amex/Diners/JCB, 4 Visa,
#: 6 Discover/UnionPay.
_CARD_FIRST_DIGITS = frozenset("23456")


def mask_fields(document: Any, paths: Iterable[str] = (), *, always: bool = True) -> Any:
    """A copy of ``document`` with the fields named by ``paths`` (and ``ALWAYS_MASKED``) set to ``MASK``
    and every card number masked. Never raises: on any internal failure the whole document is ``MASK``.
    """
    try:
        names = _compile(paths) | (ALWAYS_MASKED if always else frozenset())
        return _walk(document, names, remove=frozenset())
    except Exception:  # noqa: BLE001 - fail closed: an unmaskable document is not passed on
        return MASK


def remove_fields(document: Any, paths: Iterable[str], *, mask_values: bool = False) -> Any:
    """A copy of ``document`` without the fields named by ``paths`` (matched like ``mask_fields``).

    With ``mask_values`` card numbers are masked in the same pass. Never raises (``MASK`` on failure).
    """
    try:
        return _walk(document, frozenset(), remove=_compile(paths), scan=mask_values)
    except Exception:  # noqa: BLE001 - fail closed
        return MASK


def mask_text(text: str) -> str:
    """``text`` with every card number in it replaced by ``MASK`` (for log messages and error reasons)."""
    try:
        return _mask_cards(text if isinstance(text, str) else str(text))
    except Exception:  # noqa: BLE001 - fail closed
        return MASK


def masked_json(document: Any) -> str:
    """``document`` masked (``ALWAYS_MASKED`` and card numbers) and serialized: a Powertools Logger
    ``json_serializer``, so no log line a handler writes, at any level, carries those values."""
    try:
        return json.dumps(mask_fields(document), default=str, separators=(",", ":"), ensure_ascii=False)
    except Exception:  # noqa: BLE001 - a log line is never worth a crash, nor a leak
        return json.dumps({"message": MASK, "masking": "failed"})


def find_card_numbers(text: str) -> list[str]:
    """The card numbers (digits only) in ``text``."""
    found = []
    for match in _DIGIT_RUN.finditer(text):
        card = _card_in(match.group())
        if card:
            found.append(card)
    return found


# ---------------------------------------------------------------- internals


def _fold(name: str) -> str:
    """A name as compared: NFKC (full-width to ASCII), case-folded, letters and digits only."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", name).casefold() if ch.isalnum())


def _segments(name: Any) -> list[str]:
    """A key or path as folded segments: ``" Card.Number "`` -> ``["card", "number"]``."""
    text = unicodedata.normalize("NFKC", name if isinstance(name, str) else str(name))
    return [folded for part in text.split(".") if (folded := _fold(part))]


def _compile(paths: Iterable[str]) -> frozenset[str]:
    """Each path as its folded segments joined, the form ``_matches`` compares with."""
    if isinstance(paths, str):
        paths = [paths]
    return frozenset(joined for path in paths if (joined := "".join(_segments(path))))


def _matches(chain: tuple[str, ...], names: frozenset[str]) -> bool:
    """Whether the last segments of ``chain`` (one or more, whole segments) spell one of ``names``."""
    if not names:
        return False
    suffix = ""
    for segment in reversed(chain):
        suffix = segment + suffix
        if suffix in names:
            return True
    return False


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card_in(run: str) -> str | None:
    """A card number made of whole consecutive digit groups of ``run``, if there is one."""
    groups = [str(int(g)).zfill(len(g)) if not g.isascii() else g for g in _SEPARATORS.split(run) if g]
    for start in range(len(groups)):
        digits = ""
        for group in groups[start:]:
            digits += group
            if len(digits) > 19:
                break
            if len(digits) >= 13 and digits[0] in _CARD_FIRST_DIGITS and _luhn(digits):
                return digits
    return None


def _mask_cards(text: str) -> str:
    if len(text) < 13:
        return text
    return _DIGIT_RUN.sub(lambda m: MASK if _card_in(m.group()) else m.group(), text)


def _scalar(value: Any, chain: tuple[str, ...], names: frozenset[str], remove: frozenset[str], depth: int) -> Any:
    """A leaf: strings are scanned (and parsed when they hold JSON), card-shaped integers masked."""
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        return MASK if 13 <= len(str(abs(value))) <= 19 and _card_in(str(abs(value))) else value
    if not isinstance(value, str):
        return _mask_cards(str(value))  # an object in a log record: only its text is passed on
    stripped = value.strip()
    if stripped[:1] in ("{", "[") and len(stripped) <= MAX_EMBEDDED_JSON_CHARS:
        try:
            embedded = json.loads(stripped)
        except (ValueError, RecursionError):
            embedded = None
        if isinstance(embedded, dict | list):
            masked = _walk(embedded, names, remove, chain=chain, depth=depth + 1)
            return value if masked == embedded else json.dumps(masked, separators=(",", ":"), ensure_ascii=False)
    return _mask_cards(value)


def _walk(
    document: Any,
    names: frozenset[str],
    remove: frozenset[str],
    *,
    scan: bool = True,
    chain: tuple[str, ...] = (),
    depth: int = 0,
) -> Any:
    """The masked copy, built with an explicit stack (no recursion on the document's depth)."""

    def leaf(value: Any, at: tuple[str, ...], level: int) -> Any:
        return _scalar(value, at, names, remove, level) if scan else value

    if not isinstance(document, dict | list | tuple):
        return leaf(document, chain, depth)
    root: list[Any] = [None]
    # (source container, target container, key in target, chain of the source, depth of the source)
    stack: list[tuple[Any, list[Any] | dict[Any, Any], Any, tuple[str, ...], int]] = [(document, root, 0, chain, depth)]
    while stack:
        source, target, slot, at, level = stack.pop()
        if level >= MAX_DEPTH:
            target[slot] = MASK  # too deep to inspect: masked, not passed on
            continue
        if isinstance(source, dict):
            copy: dict[Any, Any] = {}
            target[slot] = copy
            for key, value in source.items():
                key_chain = (*at, *_segments(key))[-_MAX_SEGMENTS:]
                if _matches(key_chain, remove):
                    continue
                out_key = _mask_cards(key) if scan and isinstance(key, str) else key
                if _matches(key_chain, names):
                    copy[out_key] = MASK
                elif isinstance(value, dict | list | tuple):
                    copy[out_key] = None
                    stack.append((value, copy, out_key, key_chain, level + 1))
                else:
                    copy[out_key] = leaf(value, key_chain, level + 1)
        else:
            items: list[Any] = [None] * len(source)
            target[slot] = items
            for i, value in enumerate(source):
                if isinstance(value, dict | list | tuple):
                    stack.append((value, items, i, at, level + 1))  # list items share their parent's name
                else:
                    items[i] = leaf(value, at, level + 1)
    return root[0]
