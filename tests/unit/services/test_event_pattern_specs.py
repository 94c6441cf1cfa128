"""Specs of call-me-maybe, big-fan and streamer: valid specs parse; invalid ones raise a one-line
ConfigError naming the key. The SNS filter policy validator is checked on generated policies."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arcblueprint.config.schema import ConfigError, parse
from arcblueprint.services.big_fan.filter_policy import FilterPolicyError, validate_filter_policy
from arcblueprint.services.big_fan.spec import BigFanSpec
from arcblueprint.services.call_me_maybe.spec import CallMeMaybeSpec
from arcblueprint.services.streamer.spec import StreamerSpec


def error_of(cls, data) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse(cls, data, "services.svc")
    message = str(caught.value)
    assert "\n" not in message
    return caught.value


# --- call-me-maybe -------------------------------------------------------------------------------


@given(
    buffer=st.sampled_from(["sqs", "kinesis"]),
    window=st.integers(0, 300),
    batch=st.integers(1, 10000),
    concurrency=st.none() | st.integers(2, 1000),
    reserved=st.none() | st.integers(1, 10000),
)
def test_call_me_maybe_valid_combinations_parse(buffer, window, batch, concurrency, reserved):
    data = {"buffer": buffer, "maximumBatchingWindowSeconds": window, "batchSize": batch}
    if buffer == "sqs" and batch > 10 and window == 0:
        data["maximumBatchingWindowSeconds"] = 1
    if buffer == "sqs" and concurrency is not None:
        data["maximumConcurrency"] = concurrency
        if reserved is not None:
            reserved = max(reserved, concurrency)
    if reserved is not None:
        data["reservedConcurrency"] = reserved
    spec = parse(CallMeMaybeSpec, data, "services.hooks")
    assert spec.buffer == buffer and spec.visibility_timeout_seconds == 6 * spec.consumer_timeout_seconds


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"maximumConcurrency": 1}, "maximumConcurrency"),
        ({"maximumConcurrency": 1001}, "maximumConcurrency"),
        ({"buffer": "kinesis", "maximumConcurrency": 5}, "maximumConcurrency"),
        ({"maximumBatchingWindowSeconds": 301}, "maximumBatchingWindowSeconds"),
        ({"maximumBatchingWindowSeconds": -1}, "maximumBatchingWindowSeconds"),
        ({"batchSize": 50}, "batchSize"),
        ({"maximumConcurrency": 10, "reservedConcurrency": 5}, "reservedConcurrency"),
        ({"shardCount": 2}, "shardCount"),
        ({"sensitiveFields": ["card..number"]}, "sensitiveFields[0]"),
        ({"replayWindowSeconds": 5}, "replayWindowSeconds"),
        ({"buffer": "kafka"}, "buffer"),
        ({"signingSecret": "Not A Name"}, "signingSecret"),
    ],
)
def test_call_me_maybe_bad_config_names_the_key(data, key):
    assert error_of(CallMeMaybeSpec, data).key == f"services.svc.{key}"


# --- big-fan -------------------------------------------------------------------------------------

scalar = st.one_of(st.text(min_size=1, max_size=8), st.integers(-(10**9), 10**9), st.none())
condition = st.one_of(
    scalar,
    st.builds(lambda s: {"prefix": s}, st.text(min_size=1, max_size=8)),
    st.builds(lambda s: {"anything-but": s}, st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=3)),
    st.builds(lambda s: {"anything-but": {"prefix": s}}, st.text(min_size=1, max_size=5)),
    st.builds(lambda b: {"exists": b}, st.booleans()),
    st.builds(lambda n: {"numeric": ["=", n]}, st.integers(-1000, 1000)),
    st.builds(lambda lo, span: {"numeric": [">=", lo, "<", lo + span]}, st.integers(-1000, 1000), st.integers(1, 1000)),
)
attribute_name = st.from_regex(r"[a-zA-Z][a-zA-Z0-9_]{0,10}", fullmatch=True)
attribute_policy = st.dictionaries(attribute_name, st.lists(condition, min_size=1, max_size=3), min_size=1, max_size=5)


@given(attribute_policy)
def test_generated_valid_policies_are_accepted_and_counted(policy):
    expected = 1
    for values in policy.values():
        expected *= len(values)
    if expected > 150:  # SNS's limit on value combinations
        with pytest.raises(FilterPolicyError, match="at most 150"):
            validate_filter_policy(policy)
        return
    assert validate_filter_policy(policy) == expected


@given(attribute_policy, attribute_name)
def test_nested_keys_need_body_scope(policy, key):
    nested = {**policy, key: {"inner": ["x"]}}
    if len(nested) <= 5:
        validate_filter_policy(nested, "MessageBody")
    with pytest.raises(FilterPolicyError, match="MessageBody"):
        validate_filter_policy(nested, "MessageAttributes")


@pytest.mark.parametrize(
    ("policy", "path"),
    [
        ({"a": "x"}, "a"),
        ({"a": []}, "a"),
        ({"a": [{"numeric": [">", "5"]}]}, "a[0].numeric[1]"),
        ({"a": [{"numeric": ["<", 5, ">", 1]}]}, "a[0].numeric"),
        ({"a": [{"numeric": [">", 5, "<", 1]}]}, "a[0].numeric"),
        ({"a": [{"numeric": ["!=", 5]}]}, "a[0].numeric[0]"),
        ({"a": [{"numeric": ["=", 2e9]}]}, "a[0].numeric[1]"),
        ({"a": [{"anything-but": ["x", 1]}]}, "a[0].anything-but"),
        ({"a": [{"anything-but": {"exists": True}}]}, "a[0].anything-but"),
        ({"a": [{"exists": "yes"}]}, "a[0].exists"),
        ({"a": [{"prefix": ""}]}, "a[0].prefix"),
        ({"a": [{"between": [1, 2]}]}, "a[0].between"),
        ({"a": [{"prefix": "x", "suffix": "y"}]}, "a[0]"),
        ({"$and": [{"a": ["x"]}]}, "$and"),
        ({"$or": [{"a": ["x"]}]}, "$or"),
        ({"k1": ["x"], "k2": ["x"], "k3": ["x"], "k4": ["x"], "k5": ["x"], "k6": ["x"]}, ""),
        ({"a": list(range(13)), "b": list(range(12))}, ""),
    ],
)
def test_invalid_filter_policies_name_the_path(policy, path):
    with pytest.raises(FilterPolicyError) as caught:
        validate_filter_policy(policy)
    assert caught.value.path == path


def test_big_fan_bad_filter_policy_is_a_config_error_under_the_consumer():
    error = error_of(BigFanSpec, {"consumers": {"billing": {"filterPolicy": {"amount": [{"numeric": [">", "5"]}]}}}})
    assert error.key == "services.svc.consumers.billing.filterPolicy.amount[0].numeric[1]"
    assert "not valid SNS filter policy syntax" in str(error)


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"consumers": {}}, "consumers"),
        ({"consumers": {"Billing": {}}}, "consumers.Billing"),
        ({"consumers": {"billing": {"maximumConcurrency": 1}}}, "consumers.billing.maximumConcurrency"),
        ({"consumers": {"billing": {"batchSize": 100}}}, "consumers.billing.batchSize"),
        (
            {"consumers": {"billing": {"maximumBatchingWindowSeconds": 301}}},
            "consumers.billing.maximumBatchingWindowSeconds",
        ),
        ({"consumers": {"billing": {"filterPolicyScope": "Body"}}}, "consumers.billing.filterPolicyScope"),
        ({"consumers": {"billing": {}}, "payloadThresholdBytes": 300000}, "payloadThresholdBytes"),
        ({"consumers": {"billing": {}}, "attributeHeaders": {"AWS.x": "X-A"}}, "attributeHeaders.AWS.x"),
    ],
)
def test_big_fan_bad_config_names_the_key(data, key):
    assert error_of(BigFanSpec, data).key == f"services.svc.{key}"


# --- streamer ------------------------------------------------------------------------------------

hive_type = st.sampled_from(
    [
        "string",
        "int",
        "bigint",
        "double",
        "boolean",
        "timestamp",
        "date",
        "decimal(10,2)",
        "array<string>",
        "map<string,int>",
        "struct<a:int,b:string>",
    ]
)
columns = st.dictionaries(
    st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True).filter(lambda c: c not in ("year", "month", "day")),
    hive_type,
    min_size=1,
    max_size=6,
)


@given(
    st.dictionaries(st.from_regex(r"[a-z][a-z0-9]{1,10}", fullmatch=True), columns, min_size=1, max_size=3),
    st.none() | st.integers(1, 500),
)
def test_streamer_valid_specs_parse(domains, shards):
    data = {"domains": {d: {"columns": c} for d, c in domains.items()}, "consumer": {"domains": sorted(domains)[:1]}}
    if shards:
        data["shardCount"] = shards
    spec = parse(StreamerSpec, data, "services.lake")
    assert set(spec.domains) == set(domains)


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"domains": {}}, "domains"),
        ({"domains": {"orders": {"columns": {"id": "text"}}}}, "domains.orders.columns.id"),
        ({"domains": {"orders": {"columns": {"year": "string"}}}}, "domains.orders.columns.year"),
        ({"domains": {"orders": {"columns": {"Id": "string"}}}}, "domains.orders.columns.Id"),
        ({"domains": {"orders": {"columns": {}}}}, "domains.orders.columns"),
        ({"domains": {"orders": {"columns": {"id": "string"}, "bufferSizeMib": 5}}}, "domains.orders.bufferSizeMib"),
        ({"domains": {"orders": {"columns": {"n": "int"}, "maskFields": ["n"]}}}, "domains.orders.maskFields[0]"),
        (
            {"domains": {"orders": {"columns": {"id": "string"}}}, "consumer": {"domains": ["payments"]}},
            "consumer.domains[0]",
        ),
        (
            {"domains": {"orders": {"columns": {"id": "string"}}}, "consumer": {"parallelizationFactor": 11}},
            "consumer.parallelizationFactor",
        ),
        (
            {"domains": {"orders": {"columns": {"id": "string"}}}, "athenaBytesScannedCutoffMib": 1},
            "athenaBytesScannedCutoffMib",
        ),
    ],
)
def test_streamer_bad_config_names_the_key(data, key):
    assert error_of(StreamerSpec, data).key == f"services.svc.{key}"


def test_unknown_domain_message_lists_the_known_ones():
    error = error_of(
        StreamerSpec, {"domains": {"orders": {"columns": {"id": "string"}}}, "consumer": {"domains": ["payments"]}}
    )
    assert "unknown domain" in str(error) and "orders" in str(error)


@pytest.mark.parametrize("service", ["call_me_maybe", "big_fan", "streamer", "ops_automation"])
def test_stack_examples_parse_in_both_stacks(service):
    from pathlib import Path

    import yaml

    from arcblueprint.config.model import ServiceSpec

    path = Path(__file__).resolve().parents[3] / "arcblueprint" / "services" / service / "stack-example.yaml"
    document = yaml.safe_load(path.read_text())
    assert set(document) == {"dev", "prod"}
    for stack in ("dev", "prod"):
        [(name, entry)] = document[stack].items()
        assert entry["pattern"] == service.replace("_", "-")
        ServiceSpec.parse_config(entry, f"services.{name}")
