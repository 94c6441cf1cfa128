"""Event patterns: generated subscriptions give patterns EventBridge accepts (source exactly, types, filter);
bad filters and subscriptions are one-line config errors naming the key."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arcblueprint.config import ConfigError, read_stack_file, stack_config
from arcblueprint.config.schema import parse
from arcblueprint.events.patterns import MAX_PATTERN_CHARACTERS, EventPatternError, validate_event_pattern
from arcblueprint.preview.harness import REPO_ROOT
from arcblueprint.services.event_wiring import SubscriptionSpec

field_name = st.from_regex(r"[a-zA-Z][a-zA-Z0-9_]{0,10}", fullmatch=True)
text = st.text(min_size=1, max_size=8)
number = st.integers(-(10**6), 10**6)
condition = st.one_of(
    text,
    number,
    st.none(),
    st.booleans(),
    st.builds(lambda s: {"prefix": s}, text),
    st.builds(lambda s: {"suffix": {"equals-ignore-case": s}}, text),
    st.builds(lambda s: {"equals-ignore-case": s}, text),
    st.builds(lambda s: {"anything-but": s}, st.lists(text, min_size=1, max_size=3)),
    st.builds(lambda s: {"anything-but": {"prefix": s}}, text),
    st.builds(lambda b: {"exists": b}, st.booleans()),
    st.builds(lambda s: {"wildcard": s}, st.from_regex(r"[a-z]{1,4}\*[a-z]{0,4}", fullmatch=True)),
    st.builds(lambda n: {"numeric": ["=", n]}, number),
    st.builds(lambda lo, span: {"numeric": [">=", lo, "<", lo + span]}, number, st.integers(1, 1000)),
    st.builds(lambda c: {"cidr": c}, st.sampled_from(["10.0.0.0/24", "192.168.1.0/24", "2001:db8::/32"])),
)
leaf = st.lists(condition, min_size=1, max_size=3)
detail_filter = st.recursive(
    st.dictionaries(field_name, leaf, min_size=1, max_size=3),
    lambda inner: st.dictionaries(field_name, st.one_of(leaf, inner), min_size=1, max_size=3),
    max_leaves=6,
)
detail_types = st.lists(st.from_regex(r"[A-Z][A-Za-z0-9]{2,20}", fullmatch=True), max_size=3)


@given(
    source=st.from_regex(r"arcblueprint\.[a-z][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True),
    types=detail_types,
    filters=st.none() | detail_filter,
)
def test_generated_subscriptions_give_valid_patterns_matching_the_source_exactly(source, types, filters):
    data = {"source": source, "detailType": types}
    if filters is not None:
        data["filter"] = filters
    try:
        subscription = parse(SubscriptionSpec, data, "services.fan.subscribe[0]")
    except ConfigError as error:  # only a pattern over EventBridge's size quota may be refused
        assert "\n" not in str(error) and str(MAX_PATTERN_CHARACTERS) in str(error)
        return
    pattern = subscription.pattern()
    validate_event_pattern(pattern)
    assert pattern["source"] == [source]  # exactly one value: never a prefix, never a list of sources
    assert pattern.get("detail-type", []) == sorted(set(types))
    assert pattern.get("detail") == (json.loads(json.dumps(filters)) if filters else None)


@pytest.mark.parametrize(
    ("filters", "key", "words"),
    [
        ({"quantity": 5}, "filter.quantity", "bare value matches nothing"),
        ({"quantity": []}, "filter.quantity", "empty list matches nothing"),
        ({"quantity": [{"numeric": [">", "5"]}]}, "filter.quantity[0].numeric[1]", "must be a number"),
        ({"quantity": [{"numeric": [">", 10, "<", 5]}]}, "filter.quantity[0].numeric", "lower bound"),
        ({"quantity": [{"numeric": ["=>", 1]}]}, "filter.quantity[0].numeric[0]", "one of"),
        ({"name": [{"prefix": ""}]}, "filter.name[0].prefix", "non-empty string"),
        ({"name": [{"wildcard": "a**b"}]}, "filter.name[0].wildcard", "consecutive"),
        ({"name": [{"anything-but": [1, "a"]}]}, "filter.name[0].anything-but", "all strings or all numbers"),
        ({"name": [{"contains": "x"}]}, "filter.name[0].contains", "unknown operator"),
        ({"name": [{"prefix": "a", "suffix": "b"}]}, "filter.name[0]", "one operator"),
        ({"$or": [{"a": ["x"]}]}, "filter.$or", "at least two"),
        ({"ip": [{"cidr": "10.0.0.0/33"}]}, "filter.ip[0].cidr", "IP prefix"),
        ({"n": [{"numeric": ["=", 6e9]}]}, "filter.n[0].numeric[1]", "-5e9 and 5e9"),
    ],
)
def test_bad_filters_are_one_line_config_errors_naming_the_key(filters, key, words):
    with pytest.raises(ConfigError) as caught:
        parse(SubscriptionSpec, {"source": "arcblueprint.orders", "filter": filters}, "services.fan.subscribe[0]")
    message = str(caught.value)
    assert "\n" not in message and caught.value.key == f"services.fan.subscribe[0].{key}" and words in message


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"source": "orders"}, "source"),
        ({"source": "aws.cloudwatch"}, "source"),
        ({"source": "arcblueprint.orders", "detailType": "order-created"}, "detailType"),
        ({"source": "arcblueprint.orders", "detailType": ["OrderCreated", "x"]}, "detailType[1]"),
        ({"source": "arcblueprint.orders", "target": "Billing"}, "target"),
        ({"source": "arcblueprint.orders", "name": "a b"}, "name"),
    ],
)
def test_bad_subscriptions_name_the_key(data, key):
    with pytest.raises(ConfigError) as caught:
        parse(SubscriptionSpec, data, "services.fan.subscribe[0]")
    assert caught.value.key == f"services.fan.subscribe[0].{key}" and "\n" not in str(caught.value)


def test_an_oversized_pattern_is_refused():
    with pytest.raises(EventPatternError, match="default quota"):
        validate_event_pattern({"source": ["arcblueprint.orders"], "detail": {"id": ["x" * 100] * 25}})


def _prod_with(service: str, **changes):
    values = read_stack_file(REPO_ROOT, "prod")
    services = dict(values["arcblueprint:services"])
    services[service] = {**services[service], **changes}
    values["arcblueprint:services"] = services
    return values


@pytest.mark.parametrize(
    ("service", "changes", "key", "words"),
    [
        (
            "fan",
            {"subscribe": [{"source": "arcblueprint.payments", "target": "billing"}]},
            "services.fan.subscribe[0].source",
            "no service of this stack publishes it",
        ),
        (
            "fan",
            {"subscribe": [{"source": "arcblueprint.orders", "detailType": "OrderShipped", "target": "billing"}]},
            "services.fan.subscribe[0].detailType",
            "publishes OrderCreated, OrderUpdated",
        ),
        (
            "fan",
            {"subscribe": [{"source": "arcblueprint.orders", "target": "shipping"}]},
            "services.fan.subscribe[0].target",
            "must name a consumer",
        ),
        ("fan", {"subscribe": [{"source": "arcblueprint.orders"}]}, "services.fan.subscribe[0].target", "is required"),
        (
            "lake",
            {
                "subscribe": [
                    {"source": "arcblueprint.orders", "target": "orders"},
                    {"source": "arcblueprint.orders", "target": "orders", "detailType": "OrderUpdated"},
                ]
            },
            "services.lake.subscribe[1].name",
            "give one a name",
        ),
        (
            "ops",
            {"subscribe": [{"source": "arcblueprint.hooks", "target": "pager"}]},
            "services.ops.subscribe[0].target",
            "must name a target (one of audit, workflow)",
        ),
    ],
)
def test_routes_are_checked_against_the_whole_stack(service, changes, key, words):
    with pytest.raises(ConfigError) as caught:
        stack_config(_prod_with(service, **changes), "prod", source="Pulumi.prod.yaml")
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"Pulumi.prod.yaml: arcblueprint:{key}") and words in message


def test_a_publishing_service_without_schemas_is_a_config_error():
    values = read_stack_file(REPO_ROOT, "prod")
    services = dict(values["arcblueprint:services"])
    services["catalog"] = {"pattern": "comfortable-rest", "resourceName": "products"}
    values["arcblueprint:services"] = services
    with pytest.raises(ConfigError) as caught:
        stack_config(values, "prod")
    assert caught.value.key == "arcblueprint:services.catalog"
    assert "arcblueprint/events/schemas/catalog/" in str(caught.value)
