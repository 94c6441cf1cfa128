"""masking.py: by name at any depth (folded), by card-number shape, fail closed, never raises."""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

_PATH = Path(__file__).resolve().parents[3] / "arcblueprint/services/handler_lib/masking.py"
_SPEC = importlib.util.spec_from_file_location("masking_under_test", _PATH)
masking = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(masking)
MASK = masking.MASK


def luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    """A card number: ``prefix``, random digits, then the Luhn check digit."""
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    for check in "0123456789":
        if masking._luhn(body + check):
            return body + check
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    "key",
    [
        "card.number",
        "Card.Number",
        " CARD.NUMBER ",
        "card_number",
        "cardNumber",
        "ＣＡＲＤ．ｎｕｍｂｅｒ",
        "card\u200b.number",
    ],
)
def test_a_configured_path_matches_any_spelling_of_its_name(key):
    assert masking.mask_fields({key: "x"}, ["card.number"], always=False) == {key: MASK}


def test_paths_match_at_any_depth_in_lists_and_inside_json_strings():
    document = {
        "order": {"items": [{"Card": {"Number": "x", "brand": "visa"}}]},
        "raw": json.dumps({"card": {"number": "y"}, "ok": 1}),
        "card": {"number": "z"},
    }
    masked = masking.mask_fields(document, ["card.number"], always=False)
    assert masked["order"]["items"][0]["Card"] == {"Number": MASK, "brand": "visa"}
    assert json.loads(masked["raw"]) == {"card": {"number": MASK}, "ok": 1}
    assert masked["card"] == {"number": MASK}
    assert document["card"] == {"number": "z"}  # the input is not modified


def test_always_masked_names_need_no_config():
    masked = masking.mask_fields({"card": {"cvc": "123", "CVV2": "456"}, "Password": "p", "user": "ada"})
    assert masked == {"card": {"cvc": MASK, "CVV2": MASK}, "Password": MASK, "user": "ada"}


@pytest.mark.parametrize(
    "text",
    [
        "4111111111111111",
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "paid with 5555 5555 5555 4444 exp 12/29",
        "card 4111 1111 1111 1111 2029",
        "３７８２ ８２２４６３ １０００５",
    ],
)
def test_card_numbers_are_found_by_shape_in_any_field(text):
    masked = masking.mask_fields({"note": text, "nested": [{"free": text}]}, always=False)
    for value in (masked["note"], masked["nested"][0]["free"]):
        assert MASK in value and not masking.find_card_numbers(value)


@pytest.mark.parametrize(
    "text",
    [
        "1700000000000",
        "order 12345",
        "4111111111111112",
        "2024-01-15 10:00",
        "d2f50444-0041-7036-aea2-a955fca33d37",
        "+44 7700 900123",
    ],
)
def test_numbers_that_are_not_cards_are_kept(text):
    assert masking.mask_fields({"v": text}, always=False) == {"v": text}


def test_card_shaped_integers_are_masked_and_timestamps_are_not():
    masked = masking.mask_fields({"n": 4111111111111111, "ts": 1700000000000, "q": 3})
    assert masked == {"n": MASK, "ts": 1700000000000, "q": 3}


def test_the_dev_config_that_leaves_out_card_cvc_still_masks_it():
    """dev's sensitiveFields are [card.number, customer.email]: the receiver's DEBUG log must not show the cvc."""
    masked = masking.mask_fields(
        {"card": {"number": "4111111111111111", "cvc": "123", "brand": "visa"}, "customer": {"email": "a@example.com"}},
        ["card.number", "customer.email"],
    )
    assert masked == {"card": {"number": MASK, "cvc": MASK, "brand": "visa"}, "customer": {"email": MASK}}


def test_remove_fields_drops_names_at_any_depth():
    document = {
        "card": {"number": "1"},
        "customer": {"E-Mail": "a@example.com", "name": "Ada"},
        "history": [{"customer": {"email": "b@example.com"}}],
    }
    assert masking.remove_fields(document, ["card", "customer.email"]) == {
        "customer": {"name": "Ada"},
        "history": [{"customer": {}}],
    }


def test_a_document_100k_levels_deep_is_masked_below_the_cap_without_raising():
    deep: list = []
    cursor = deep
    for _ in range(100_000):
        cursor.append([])
        cursor = cursor[0]
    masked = masking.mask_fields({"a": deep}, ["x"])
    text = json.dumps(masked)  # serializable: the cap cut the depth
    assert MASK in text and text.count("[") <= masking.MAX_DEPTH


def test_masked_json_is_a_log_serializer_that_masks_and_never_raises():
    line = masking.masked_json({"message": "card 4111111111111111", "extra": {"cvc": "123"}, "obj": object()})
    assert "4111111111111111" not in line and "123" not in line and json.loads(line)["extra"] == {"cvc": MASK}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=30,
)


@settings(max_examples=100)
@given(document=json_values, paths=st.lists(st.text(max_size=12), max_size=3))
def test_masking_never_raises_and_keeps_the_shape_of_what_it_does_not_mask(document, paths):
    masked = masking.mask_fields(document, paths)
    json.dumps(masked)  # still JSON
    removed = masking.remove_fields(document, paths)
    json.dumps(removed)


@settings(max_examples=100)
@given(
    seed=st.integers(0, 2**32),
    prefix=st.sampled_from(["4", "51", "2221", "34", "6011"]),
    length=st.integers(13, 19),
    separator=st.sampled_from(["", " ", "-"]),
    before=st.text(max_size=8),
    after=st.text(max_size=8),
    where=st.sampled_from(["value", "key", "embedded", "list"]),
)
def test_a_luhn_valid_card_number_never_survives_masking(seed, prefix, length, separator, before, after, where):
    card = luhn_complete(prefix, length, random.Random(seed))
    grouped = separator.join(card[i : i + 4] for i in range(0, len(card), 4))
    text = f"{before} {grouped} {after}"
    document = {"value": {"t": text}, "key": {text: 1}, "embedded": {"j": json.dumps({"t": text})}, "list": [[text]]}[
        where
    ]
    out = json.dumps(masking.mask_fields(document), ensure_ascii=False)
    assert card not in out.replace(" ", "").replace("-", "")
