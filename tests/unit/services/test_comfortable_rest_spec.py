"""Comfortable REST config: valid specs parse, invalid ones fail with one line naming the key."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arcblueprint.config.schema import ConfigError, parse
from arcblueprint.platform.constructs.rest_conventions import (
    ACCESS_LOG_FORMAT,
    function_timeout_seconds,
    method_settings_path,
    usage_plan_throttle_path,
)
from arcblueprint.services.comfortable_rest.spec import OPERATIONS, ComfortableRestSpec, route_table

KEY = "services.orders"

throttles = st.builds(
    lambda rate, extra: {"rateLimit": rate, "burstLimit": max(1, -(-rate // 10)) + extra},
    st.integers(1, 10000),
    st.integers(0, 100),
)


@given(
    rate=st.integers(1, 10000),
    burst=st.integers(1, 5000),
    op=st.sampled_from(sorted(OPERATIONS)),
    name=st.from_regex(r"[a-z][a-z0-9-]{1,30}", fullmatch=True),
)
def test_valid_specs_parse(rate, burst, op, name):
    burst = max(burst, -(-rate // 10))
    if name == "health" or burst > 5000:
        return
    data = {
        "resourceName": name,
        "throttle": {"rateLimit": rate, "burstLimit": burst},
        "operationThrottles": {op: {"rateLimit": max(1, rate // 2), "burstLimit": burst}},
    }
    spec = parse(ComfortableRestSpec, data, KEY)
    assert spec.throttle_for(op).rate_limit == max(1, rate // 2)
    other = next(o for o in OPERATIONS if o != op)
    assert spec.throttle_for(other).rate_limit == rate


@pytest.mark.parametrize(
    ("data", "key", "fragment"),
    [
        ({"authorizer": "oauth2"}, "services.orders.authorizer", "cognito, iam"),
        ({"resourceName": "Orders"}, "services.orders.resourceName", "must match"),
        ({"resourceName": "health"}, "services.orders.resourceName", "reserved"),
        ({"publicOperations": ["delete"]}, "services.orders.publicOperations", "health"),
        ({"throttle": {"rateLimit": 0, "burstLimit": 10}}, "services.orders.throttle.rateLimit", "from 1"),
        ({"throttle": {"rateLimit": 1000, "burstLimit": 5}}, "services.orders.throttle.burstLimit", "rateLimit/10"),
        (
            {"operationThrottles": {"purge": {"rateLimit": 1, "burstLimit": 1}}},
            "services.orders.operationThrottles.purge",
            "must be one of",
        ),
        (
            {"operationThrottles": {"create": {"rateLimit": 60, "burstLimit": 10}}},
            "services.orders.operationThrottles.create",
            "must not exceed",
        ),
        ({"defaultPageSize": 200, "maxPageSize": 100}, "services.orders.defaultPageSize", "maxPageSize"),
        (
            {"authorizer": "iam", "userPoolArn": "arn:aws:cognito-idp:eu-west-1:111111111111:userpool/eu-west-1_abc"},
            "services.orders.userPoolArn",
            "cognito",
        ),
        ({"quota": {"limit": 10, "period": "HOUR"}}, "services.orders.quota.period", "DAY"),
        ({"quota": {"limit": 10}}, "services.orders.quota", "needs apiClients"),
        ({"quota": {"limit": 10}, "apiClients": []}, "services.orders.quota", "needs apiClients"),
        ({"apiClients": ["Web App"]}, "services.orders.apiClients[0]", "must match"),
        ({"apiClients": ["web", "partner", "web"]}, "services.orders.apiClients[2]", "unique"),
        ({"apiClients": "web"}, "services.orders.apiClients", "must be a list"),
        ({"integrationTimeoutMs": 30000}, "services.orders.integrationTimeoutMs", "29000"),
        ({"integrationTimeoutMs": 1999}, "services.orders.integrationTimeoutMs", "from 2000"),
        ({"throttel": {}}, "services.orders.throttel", "did you mean 'throttle'"),
    ],
)
def test_invalid_specs_name_the_key(data, key, fragment):
    with pytest.raises(ConfigError) as caught:
        parse(ComfortableRestSpec, data, KEY)
    assert caught.value.key == key
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


def test_route_table_puts_the_resource_name_in_every_crud_path():
    routes = route_table("orders")
    assert routes["get"] == ("GET", "/orders/{id}") and routes["list"] == ("GET", "/orders")
    assert routes["health"] == ("GET", "/health")
    assert len({(m, p) for m, p in routes.values()}) == len(routes)


@given(
    parts=st.lists(st.from_regex(r"[a-z{}+-]{1,8}", fullmatch=True), min_size=1, max_size=4),
    method=st.sampled_from(["GET", "post", "ANY"]),
)
def test_method_settings_paths_escape_inner_slashes(parts, method):
    path = "/" + "/".join(parts)
    encoded = method_settings_path(path, method)
    resource, _, verb = encoded.rpartition("/")
    assert verb == method.upper() and "/" not in resource
    assert resource.replace("~1", "/").replace("~0", "~") == path
    assert method_settings_path("/", method) == f"~1/{method.upper()}"
    assert usage_plan_throttle_path(path, method) == f"{path}/{method.upper()}"


def test_access_log_format_is_one_json_object_with_the_request_id():
    import json

    fields = json.loads(ACCESS_LOG_FORMAT)
    assert fields["requestId"] == "$context.requestId" and "$context.status" in fields.values()
    assert "\n" not in ACCESS_LOG_FORMAT


def test_the_stack_example_parses_for_both_stacks_and_prod_is_stricter():
    from pathlib import Path

    import yaml

    example = Path(__file__).resolve().parents[3] / "arcblueprint/services/comfortable_rest/stack-example.yaml"
    data = yaml.safe_load(example.read_text())
    specs = {}
    for stack in ("dev", "prod"):
        ((name, entry),) = data[stack].items()
        assert entry.pop("pattern") == "comfortable-rest"
        specs[stack] = parse(ComfortableRestSpec, entry, f"services.{name}")
    assert specs["prod"].cors_allow_origin != "*" and specs["prod"].quota is not None
    assert len(specs["prod"].api_clients) == 2 and not specs["dev"].api_clients  # the quota meters each key


@given(waits_ms=st.integers(2000, 29000))
def test_the_function_stops_at_least_a_second_before_its_integration_and_at_most_two(waits_ms):
    spec = parse(ComfortableRestSpec, {"integrationTimeoutMs": waits_ms}, KEY)
    runs_s = spec.function_timeout_seconds
    assert runs_s == function_timeout_seconds(waits_ms) >= 1
    assert waits_ms - 2000 < runs_s * 1000 <= waits_ms - 1000


def test_function_timeout_needs_a_whole_second_inside_the_integration():
    assert function_timeout_seconds(5000) == 4 and function_timeout_seconds(29000) == 28
    with pytest.raises(ValueError, match="1999 ms"):
        function_timeout_seconds(1999)


def test_only_keyed_clients_make_methods_require_a_key_and_never_the_public_ones():
    keyed = parse(ComfortableRestSpec, {"apiClients": ["web"], "quota": {"limit": 5}}, KEY)
    assert [op for op in OPERATIONS if keyed.requires_api_key(op)] == [op for op in OPERATIONS if op != "health"]
    assert not any(parse(ComfortableRestSpec, {}, KEY).requires_api_key(op) for op in OPERATIONS)
