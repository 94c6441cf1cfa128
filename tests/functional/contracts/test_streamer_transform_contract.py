"""Contract: for any Firehose batch of the real event's shape, the transformation answers every record
(same ids, same order), fails exactly the bad ones (in the one stream that owns unroutable records),
and delivers the good ones as one JSON line without the removed fields or a card number."""

from __future__ import annotations

import base64
import copy
import json
import random
import re
from pathlib import Path

import pytest
from hypothesis import event as note
from hypothesis import given
from hypothesis import strategies as st

from arcblueprint.services.testing import load_handler
from tests.strategies import contracts as cs

HANDLER = Path(__file__).resolve().parents[3] / "arcblueprint/services/streamer/handlers/transform"
STREAMS = {
    "lake-orders": {
        "domain": "orders",
        "remove": ["card", "customer.email"],
        "mask": ["customer.name"],
        "timestampField": "occurredAt",
        "unroutable": True,
    },
    "lake-payments": {
        "domain": "payments",
        "remove": ["card"],
        "mask": [],
        "timestampField": None,
        "unroutable": False,
    },
}
SAMPLES = [cs.sample("kinesisFirehoseKinesisEvent.json"), cs.sample("kinesisFirehosePutEvent.json")]


def _card(seed: int) -> str:
    rng = random.Random(seed)
    body = "4" + "".join(rng.choice("0123456789") for _ in range(14))
    return next(body + d for d in "0123456789" if _luhn(body + d))


def _luhn(digits: str) -> bool:
    total = sum(
        int(d) if i % 2 == 0 else (int(d) * 2 - 9 if int(d) > 4 else int(d) * 2) for i, d in enumerate(reversed(digits))
    )
    return total % 10 == 0


def _b64(document) -> str:
    return base64.b64encode(json.dumps(document).encode()).decode()


timestamps = st.one_of(st.none(), st.just("2026-03-09T23:59:59+01:00"), st.integers(1_600_000_000, 1_900_000_000))
bad_timestamps = st.sampled_from(["last tuesday", 10**40, {"at": 1}, [1], True, 1e308, "9" * 100])
sensitive = st.fixed_dictionaries(
    {
        "card": st.integers(0, 10**6).map(lambda s: {"number": _card(s), "cvc": "123"}),
        "customer": st.just({"email": "a@example.com", "name": "Ada", "tier": "gold"}),
        "note": st.integers(0, 10**6).map(lambda s: f"paid with {_card(s)}"),
    }
)
#: (label, data): what each record is, and its data as Firehose sends it.
records = st.one_of(
    st.tuples(
        st.just("orders"),
        st.tuples(sensitive, timestamps).map(
            lambda x: _b64({"domain": "orders", "id": "o", **x[0], **({"occurredAt": x[1]} if x[1] else {})})
        ),
    ),
    st.tuples(st.just("payments"), sensitive.map(lambda s: _b64({"domain": "payments", "id": "p", **s}))),
    st.tuples(st.just("orders-bad"), bad_timestamps.map(lambda t: _b64({"domain": "orders", "occurredAt": t}))),
    st.tuples(st.just("orders-bad"), st.just(_b64({"domain": "orders", "x": cs.deep(200, as_dict=True)}))),
    st.tuples(
        st.just("unroutable"),
        cs.junk.filter(lambda v: not isinstance(v, str) or v not in ("orders", "payments")).map(
            lambda d: base64.b64encode(cs.dumps({"domain": d}).encode("utf-8", "surrogatepass")).decode()
        ),
    ),
    st.tuples(st.just("unroutable"), st.just(_b64({"id": "no-domain"}))),
    st.tuples(st.just("unroutable"), cs.firehose_data(st.just([1, 2]))),
)


@pytest.fixture(scope="module")
def transform():
    with pytest.MonkeyPatch.context() as patch:
        for key, value in {
            "DELIVERY_STREAMS": json.dumps(STREAMS),
            "DOMAIN_FIELD": "domain",
            "POWERTOOLS_SERVICE_NAME": "lake",
            "POWERTOOLS_METRICS_NAMESPACE": "arcblueprint-tests",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }.items():
            patch.setenv(key, value)
        yield load_handler(HANDLER, "streamer_transform_contract")


@cs.contract
@given(
    sample=st.sampled_from(SAMPLES),
    stream=st.sampled_from(sorted(STREAMS)),
    batch=st.lists(records, min_size=1, max_size=8),
    arrival=cs.either(st.integers(1_600_000_000_000, 1_900_000_000_000), cs.junk, first_in=4),
)
def test_exactly_the_bad_records_fail_and_the_good_ones_carry_nothing_sensitive(
    lambda_context, transform, sample, stream, batch, arrival
):
    event = copy.deepcopy(sample)
    event["deliveryStreamArn"] = f"arn:aws:firehose:eu-west-1:111111111111:deliverystream/{stream}"
    template = event["records"][0]
    event["records"] = [
        {**copy.deepcopy(template), "recordId": f"r{i}", "data": data, "approximateArrivalTimestamp": arrival}
        for i, (_, data) in enumerate(batch)
    ]
    response = transform.lambda_handler(event, lambda_context("arcbp-dev-lake-transform"))
    results = response["records"]
    assert [r["recordId"] for r in results] == [r["recordId"] for r in event["records"]]
    own, owner = STREAMS[stream]["domain"], STREAMS[stream]["unroutable"]
    for (label, _), result in zip(batch, results, strict=True):
        unroutable = "ProcessingFailed" if owner else "Dropped"
        expected = {own: "Ok", f"{own}-bad": "ProcessingFailed", "unroutable": unroutable}.get(label, "Dropped")
        note(f"{label} -> {result['result']}")
        assert result["result"] == expected, (label, result)
        if expected != "Ok":
            assert result["data"] == event["records"][int(result["recordId"][1:])]["data"]  # as received
            continue
        line = base64.b64decode(result["data"], validate=True)
        document = json.loads(line)
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        assert set(result["metadata"]["partitionKeys"]) == {"year", "month", "day"}
        assert "card" not in document  # removed by config in both streams
        if own == "orders":
            assert "email" not in document["customer"] and document["customer"]["name"] == "*****"
        assert b"paid with *****" in line and not re.search(rb"4\d{15}", line)  # card numbers masked by shape
