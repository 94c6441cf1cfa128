"""Contract: the Strangler's notifications renderer answers every request of API Gateway's shape with a
response below 500, and every error is a JSON message that names nothing internal."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import event as note
from hypothesis import given
from hypothesis import strategies as st

from arcblueprint.services.testing import load_handler
from tests.strategies import contracts as cs

HANDLER = Path(__file__).resolve().parents[3] / "arcblueprint/services/strangler/handlers/notifications"
TEMPLATE = cs.api_event(
    cs.sample("apiGatewayProxyEventCognitoAuthorizer.json"),
    method="POST",
    path="/api/notifications/render",
    resource="/api/notifications/{proxy+}",
    path_parameters={"proxy": "render"},
)

messages = st.fixed_dictionaries(
    {
        "platform": st.sampled_from(["ios", "android", "web"]),
        "title": st.text(min_size=1, max_size=20),
        "body": st.text(min_size=1, max_size=20),
    },
    optional={
        "badge": st.one_of(st.integers(0, 9999), st.just(1.0), st.just(True)),
        "data": st.dictionaries(
            st.sampled_from(["k", "aps", "deep", "n"]),
            st.one_of(st.integers(), st.text(max_size=5), cs.deep_values),
            max_size=3,
        ),
    },
)


@pytest.fixture(scope="module")
def notifications():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ROUTE_PATH", "/api/notifications")
        patch.setenv("POWERTOOLS_SERVICE_NAME", "facade")
        patch.setenv("POWERTOOLS_METRICS_NAMESPACE", "arcblueprint-tests")
        patch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
        yield load_handler(HANDLER, "notifications_contract_under_test")


def _document(body: str | None, is_base64: bool):
    try:
        return json.loads(base64.b64decode(body) if is_base64 else body)
    except Exception:  # noqa: BLE001 - not a document: nothing to compare
        return None


@cs.contract
@given(
    event=cs.mutated(TEMPLATE, protect=[("body",), ("isBase64Encoded",)]),
    body=cs.bodies(messages.flatmap(cs.with_junk)),
)
def test_every_request_gets_a_4xx_or_a_rendering_never_a_crash(lambda_context, notifications, event, body):
    event["body"], event["isBase64Encoded"] = body
    status, payload = cs.assert_api_contract(
        notifications.lambda_handler(event, lambda_context("arcbp-dev-facade-notifications")), sent=str(body)
    )
    note(f"-> {status}")
    if status != 200:
        return
    sent = _document(*body)
    assert isinstance(sent, dict) and payload["platform"] == sent["platform"]
    assert type(sent.get("badge", 0)) is int and "aps" not in sent.get("data", {})
    if sent["platform"] == "ios":  # the rendered aps is the renderer's, whatever data holds
        assert payload["payload"]["aps"]["alert"] == {"title": sent["title"], "body": sent["body"]}
