"""The notifications renderer's answers to bad requests: a 4xx JSON error, never a crash or a silent fix."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path

import pytest

from arcblueprint.services.testing import load_handler

HANDLER = Path(__file__).resolve().parents[3] / "arcblueprint/services/strangler/handlers/notifications"


@pytest.fixture
def render(lambda_context, monkeypatch, load_event):
    monkeypatch.setenv("ROUTE_PATH", "/api/notifications")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "facade")
    module = load_handler(HANDLER, "strangler_notifications_bad_input")
    template = load_event("apiGatewayProxyEventCognitoAuthorizer.json")

    def call(body, *, is_base64=False, event_changes=None):
        event = copy.deepcopy(template)
        event.update(
            httpMethod="POST",
            path="/api/notifications/render",
            resource="/api/notifications/{proxy+}",
            body=body,
            isBase64Encoded=is_base64,
        )
        event.update(event_changes or {})
        response = module.lambda_handler(event, lambda_context("arcbp-dev-facade-notifications"))
        return response["statusCode"], json.loads(response["body"])

    call.module = module
    return call


MESSAGE = {"platform": "ios", "title": "Hi", "body": "There"}


@pytest.mark.parametrize(
    ("body", "is_base64", "status"),
    [
        ("{not json", False, 400),
        (json.dumps(MESSAGE)[:-1], False, 400),
        ('{"platform": "ios", "title": "Hi", "body": "There", "badge": NaN}', False, 400),
        (base64.b64encode(b'{"platform": "ios", "title": "\xe9"}').decode(), True, 400),  # not UTF-8
        ("%%% not base64", True, 400),
        ("[" * 100_000 + "]" * 100_000, False, 413),
        ("[" * 3_000 + "]" * 3_000, False, 400),  # under the size cap, deeper than the parser goes
        (json.dumps({**MESSAGE, "data": {"k": "x" * 9000}}), False, 413),
        ('{"platform": "ios", "title": "Hi", "body": "There", "badge": ' + "9" * 5000 + "}", False, 400),
    ],
)
def test_a_body_that_is_not_a_small_utf8_json_document_is_a_4xx(render, body, is_base64, status):
    code, payload = render(body, is_base64=is_base64)
    assert code == status and payload["message"] and "Error" not in payload["message"]


@pytest.mark.parametrize("badge", [1.0, True, "1", -1, 10_000])
def test_a_badge_that_is_not_a_whole_number_in_range_is_400(render, badge):
    code, payload = render(json.dumps({**MESSAGE, "badge": badge}))
    assert code == 400 and "badge" in payload["message"]


def test_data_cannot_replace_the_rendered_aps(render):
    code, payload = render(json.dumps({**MESSAGE, "data": {"aps": {"alert": "pwned"}}}))
    assert code == 400 and "data.aps" in payload["message"]
    rendered = render.module.render({**MESSAGE, "badge": 3, "data": {"aps": {"alert": "pwned"}, "k": 1}})
    assert rendered["aps"] == {"alert": {"title": "Hi", "body": "There"}, "sound": "default", "badge": 3}
    assert rendered["k"] == 1


def test_data_nested_deeper_than_the_cap_is_400(render):
    data: dict = {}
    cursor = data
    for _ in range(20):
        cursor["n"] = {}
        cursor = cursor["n"]
    code, payload = render(json.dumps({**MESSAGE, "data": data}))
    assert code == 400 and "nested" in payload["message"]


def test_android_data_values_are_strings_and_nested_values_their_json(render):
    code, payload = render(json.dumps({**MESSAGE, "platform": "android", "data": {"n": 1, "o": {"a": [1]}, "s": "x"}}))
    assert code == 200
    assert payload["payload"]["message"]["data"] == {"n": "1", "o": '{"a":[1]}', "s": "x"}


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"httpMethod": None}, 400),
        ({"path": 7}, 400),
        ({"path": "no-slash"}, 400),
        # Fields a resolver only reads are normalized: the request itself is fine.
        ({"headers": ["x"]}, 200),
        ({"multiValueHeaders": {"Accept-Encoding": [None, {"a": 1}]}}, 200),
        ({"requestContext": "nope"}, 200),
    ],
)
def test_an_event_api_gateway_would_not_send_is_answered_not_raised(render, changes, status):
    code, payload = render(json.dumps(MESSAGE), event_changes=changes)
    assert code == status and (status == 200 or payload["message"] == "Malformed request")
