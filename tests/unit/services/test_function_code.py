"""Where a service's functions take the team's code from: parsing and validation of codeDir/handler/functions."""

from __future__ import annotations

import pytest

from arcblueprint.config.model import ServiceSpec
from arcblueprint.config.schema import ConfigError

LEGACY = {"url": "https://legacy.example.com"}


def parse(pattern: str, body: dict, name: str = "svc"):
    return ServiceSpec.parse_config({"pattern": pattern, **body}, f"services.{name}")


def refused(pattern: str, body: dict) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse(pattern, body)
    assert "\n" not in str(caught.value)
    return caught.value


def test_a_fixed_function_takes_code_under_functions():
    spec = parse("comfortable-rest", {"functions": {"api": {"codeDir": "teams/orders/api", "handler": "api.handle"}}})
    assert spec.code("api").code_dir == "teams/orders/api" and spec.code("api").handler == "api.handle"
    assert spec.code("outbox-publisher") is None
    assert list(spec.function_code()) == [("functions.api", spec.code("api"))]


def test_functions_names_only_functions_of_the_pattern():
    caught = refused("comfortable-rest", {"functions": {"apii": {"codeDir": "teams/x"}}})
    assert caught.key == "services.svc.functions.apii" and "api, outbox-publisher" in str(caught)
    caught = refused("big-fan", {"consumers": {"ab": {}}, "functions": {"ab": {"codeDir": "teams/x"}}})
    assert caught.key == "services.svc.functions.ab" and "take codeDir on their entry" in str(caught)


def test_a_big_fan_consumer_takes_its_own_code():
    spec = parse("big-fan", {"consumers": {"points": {"codeDir": "teams/loyalty/points"}, "audit": {}}})
    assert dict(spec.function_code()) == {
        "consumers.points": spec.consumers["points"],
        "consumers.audit": spec.consumers["audit"],
    }
    assert spec.consumers["audit"].code_dir is None and spec.function_names() == ("points", "audit")


@pytest.mark.parametrize(
    ("code_dir", "allowed"),
    [
        ("teams/loyalty/points", True),
        ("handlers", True),
        ("/abs/path", False),
        ("../outside", False),
        ("teams/../../etc", False),
        ("teams\\win", False),
    ],
)
def test_code_dir_stays_inside_the_repository(code_dir, allowed):
    body = {"consumers": {"points": {"codeDir": code_dir}}}
    if allowed:
        assert parse("big-fan", body).consumers["points"].code_dir == code_dir
    else:
        assert refused("big-fan", body).key == "services.svc.consumers.points.codeDir"


def test_a_handler_without_code_dir_is_refused():
    caught = refused("big-fan", {"consumers": {"points": {"handler": "app.handle"}}})
    assert caught.key == "services.svc.consumers.points.handler" and "needs codeDir" in str(caught)
    caught = refused("big-fan", {"consumers": {"points": {"codeDir": "teams/x", "handler": "lambda_handler"}}})
    assert caught.key == "services.svc.consumers.points.handler"


def test_a_strangler_route_runs_a_built_in_function_or_the_teams_code():
    spec = parse(
        "strangler",
        {
            "legacy": LEGACY,
            "routes": [
                {"path": "/api/notifications", "target": "new", "function": "notifications"},
                {"path": "/api/quotes", "target": "weighted", "percentNew": 5, "function": "quotes", "codeDir": "t/q"},
            ],
        },
    )
    assert [key for key, _ in spec.function_code()] == ["routes[0]", "routes[1]"]
    assert spec.function_names() == ("notifications", "quotes", "router")
    caught = refused("strangler", {"legacy": LEGACY, "routes": [{"path": "/q", "target": "new", "function": "quotes"}]})
    assert caught.key == "services.svc.routes[0].function" and "codeDir" in str(caught)
    caught = refused(
        "strangler",
        {"legacy": LEGACY, "routes": [{"path": "/q", "target": "new", "function": "router", "codeDir": "t"}]},
    )
    assert caught.key == "services.svc.routes[0].function" and "router" in str(caught)
    caught = refused("strangler", {"legacy": LEGACY, "routes": [{"path": "/q", "target": "legacy", "codeDir": "t"}]})
    assert caught.key == "services.svc.routes[0].codeDir"


def test_function_names_follow_what_the_config_declares():
    assert parse("streamer", {"domains": {"orders": {"columns": {"id": "string"}}}}).function_names() == ("transform",)
    assert parse("ops-automation", {"alarmResponder": None}).function_names() == ("audit", "jobs")
    legacy_only = parse("strangler", {"legacy": LEGACY, "routes": [{"path": "/a", "target": "legacy"}]})
    assert legacy_only.function_names() == ()
