"""The Comfortable REST handler against moto's DynamoDB, driven by real API Gateway (REST) events."""

from __future__ import annotations

import base64
import copy
import json
import sys
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from arcblueprint.services.testing import load_handler
from tests.strategies.moto_tables import orders_table

HANDLER = Path(__file__).resolve().parents[3] / "arcblueprint/services/comfortable_rest/handlers/api/app.py"
OWNER = "d2f50444-0041-7036-aea2-a955fca33d37"  # the sub in the sample Cognito event


@pytest.fixture
def api(lambda_context, monkeypatch, load_event, capsys):
    monkeypatch.setenv("TABLE_NAME", "orders-table")
    monkeypatch.setenv("RESOURCE_NAME", "orders")
    monkeypatch.setenv("MAX_PAGE_SIZE", "50")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "orders")
    monkeypatch.setenv("CORS_ALLOW_ORIGIN", "https://app.example.com")
    with mock_aws():
        orders_table("orders-table")
        name = "comfortable_rest_api_app_under_test"
        module = load_handler(HANDLER.parent, name)  # with its shared modules, as in its zip
        template = load_event("apiGatewayProxyEventCognitoAuthorizer.json")

        def call(
            method: str, path: str, body=None, query=None, sub: str | None = OWNER, raw_body=None, is_base64=False
        ):
            event = copy.deepcopy(template)
            event.update(
                httpMethod=method,
                path=path,
                resource=path,
                queryStringParameters=query,
                body=raw_body if raw_body is not None else (json.dumps(body) if body is not None else None),
                isBase64Encoded=is_base64,
            )
            event["requestContext"].update(httpMethod=method, resourcePath=path, path=f"/prod{path}")
            if sub is None:
                event["requestContext"].pop("authorizer")
            else:
                event["requestContext"]["authorizer"]["claims"]["sub"] = sub
            capsys.readouterr()
            # powertools configures a service's logger once per process: point it at this test's
            # captured stdout (not setStream, which would flush an earlier test's closed stream).
            module.logger.logger_handler.stream = sys.stdout
            response = module.lambda_handler(event, lambda_context("arcbp-dev-orders-api"))
            out = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
            payload = json.loads(response["body"]) if response.get("body") else None
            return response["statusCode"], payload, response, out

        call.module = module
        yield call
        sys.modules.pop(name, None)


def _headers(response: dict) -> dict[str, str]:
    return {
        **(response.get("headers") or {}),
        **{k: v[0] for k, v in (response.get("multiValueHeaders") or {}).items()},
    }


def _metrics(out: list[dict]) -> dict[str, float]:
    """Metric name -> value from the EMF documents the handler printed."""
    values: dict[str, float] = {}
    for doc in out:
        for directive in doc.get("_aws", {}).get("CloudWatchMetrics", []):
            for metric in directive["Metrics"]:
                value = doc[metric["Name"]]
                values[metric["Name"]] = sum(value) if isinstance(value, list) else value
    return values


def test_create_then_get_returns_the_item_with_version_1(api):
    status, body, response, out = api("POST", "/orders", {"name": "tea", "quantity": 3})
    assert status == 201
    assert body["name"] == "tea" and body["quantity"] == 3 and body["version"] == 1 and "owner" not in body
    assert _headers(response)["Location"] == f"/orders/{body['id']}"
    assert _metrics(out)["ItemsCreated"] == 1.0
    namespaces = {d["_aws"]["CloudWatchMetrics"][0]["Namespace"] for d in out if "_aws" in d}
    assert namespaces == {"arcblueprint-tests"}
    logs = [d for d in out if d.get("message") == "Item created"]
    assert (
        logs
        and logs[0]["item_id"] == body["id"]
        and logs[0]["correlation_id"] == "e56434a3-0b5d-453c-9183-f07a5e91fbb3"
    )

    status, fetched, _, _ = api("GET", f"/orders/{body['id']}")
    assert status == 200 and fetched == body


def test_create_with_an_existing_id_is_a_conflict(api):
    assert api("POST", "/orders", {"id": "o-1", "name": "tea", "quantity": 1})[0] == 201
    status, body, _, out = api("POST", "/orders", {"id": "o-1", "name": "coffee", "quantity": 2})
    assert status == 409 and "already exists" in body["message"]
    assert _metrics(out)["WriteConflicts"] == 1.0
    assert api("GET", "/orders/o-1")[1]["name"] == "tea"  # the first write is untouched


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"name": "tea"}, "quantity"),
        ({"name": "", "quantity": 1}, "name"),
        ({"name": "tea", "quantity": -1}, "quantity"),
        ({"name": "tea", "quantity": 1, "owner": "someone-else"}, "owner"),
    ],
)
def test_invalid_bodies_are_400_and_write_nothing(api, body, fragment):
    status, payload, _, _ = api("POST", "/orders", body)
    assert status == 400 and fragment in payload["message"].lower()
    assert api("GET", "/orders")[1]["items"] == []


def test_a_body_that_is_not_json_is_400(api):
    status, payload, _, _ = api("POST", "/orders", raw_body="{not json")
    assert status == 400 and payload["message"] == "Request body must be JSON"


def test_update_with_the_read_version_succeeds_and_a_stale_version_conflicts(api):
    created = api("POST", "/orders", {"id": "o-2", "name": "tea", "quantity": 1, "description": "green"})[1]
    status, updated, _, out = api("PUT", "/orders/o-2", {"name": "tea", "quantity": 5, "version": created["version"]})
    assert status == 200 and updated["version"] == 2 and updated["quantity"] == 5 and "description" not in updated
    assert _metrics(out)["ItemsUpdated"] == 1.0
    status, body, _, out = api("PUT", "/orders/o-2", {"name": "tea", "quantity": 9, "version": 1})
    assert status == 409 and "version 2, not 1" in body["message"]
    assert _metrics(out)["WriteConflicts"] == 1.0
    assert api("GET", "/orders/o-2")[1]["quantity"] == 5


def test_missing_and_foreign_items_are_not_found(api):
    assert api("GET", "/orders/nope")[0] == 404
    assert api("PUT", "/orders/nope", {"name": "x", "quantity": 1, "version": 1})[0] == 404
    assert api("DELETE", "/orders/nope")[0] == 404
    api("POST", "/orders", {"id": "mine", "name": "tea", "quantity": 1})
    other = "0f0f0f0f-0000-0000-0000-000000000000"
    assert api("GET", "/orders/mine", sub=other)[0] == 404
    assert api("DELETE", "/orders/mine", sub=other)[0] == 404
    assert api("PUT", "/orders/mine", {"name": "x", "quantity": 1, "version": 1}, sub=other)[0] == 404
    assert api("GET", "/orders/mine")[0] == 200


def test_delete_removes_the_item(api):
    api("POST", "/orders", {"id": "gone", "name": "tea", "quantity": 1})
    status, body, _, out = api("DELETE", "/orders/gone")
    assert status == 204 and body is None and _metrics(out)["ItemsDeleted"] == 1.0
    assert api("GET", "/orders/gone")[0] == 404


def test_list_pages_through_only_the_callers_items(api):
    for i in range(5):
        api("POST", "/orders", {"id": f"p-{i}", "name": f"n{i}", "quantity": i})
    api("POST", "/orders", {"id": "other", "name": "x", "quantity": 1}, sub="someone-else")
    seen, token, pages = [], None, 0
    while True:
        status, body, _, _ = api("GET", "/orders", query={"limit": "2", **({"nextToken": token} if token else {})})
        assert status == 200 and len(body["items"]) <= 2
        seen += [item["id"] for item in body["items"]]
        pages += 1
        token = body.get("nextToken")
        if not token:
            break
    assert sorted(seen) == [f"p-{i}" for i in range(5)] and pages >= 3


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "0"},
        {"limit": "51"},
        {"limit": "ten"},
        {"nextToken": "%%%"},
        {"nextToken": "eyJvd25lciI6ICJzb21lb25lLWVsc2UifQ=="},
    ],
)
def test_bad_paging_parameters_are_400(api, query):
    assert api("GET", "/orders", query=query)[0] == 400


def test_a_token_issued_to_another_caller_is_rejected(api):
    for i in range(3):
        api("POST", "/orders", {"id": f"t-{i}", "name": "n", "quantity": 1}, sub="alice")
    token = api("GET", "/orders", query={"limit": "1"}, sub="alice")[1]["nextToken"]
    assert api("GET", "/orders", query={"nextToken": token}, sub="alice")[0] == 200
    assert api("GET", "/orders", query={"nextToken": token}, sub="mallory")[0] == 400


def test_health_is_public_and_crud_without_identity_is_401(api):
    assert api("GET", "/health", sub=None)[:2] == (200, {"status": "ok"})
    assert api("GET", "/orders", sub=None)[0] == 401


def test_cors_headers_name_the_configured_origin(api):
    headers = _headers(api("GET", "/health")[2])
    # The sample event has no Origin header: powertools sends CORS headers only for allowed origins.
    assert headers.get("Access-Control-Allow-Origin") in (None, "https://app.example.com")


def test_unknown_routes_are_404(api):
    assert api("GET", "/customers")[0] == 404


def test_store_failures_are_503_with_a_metric_and_an_error_log(api):
    boto3.client("dynamodb").delete_table(TableName="orders-table")
    status, body, _, out = api("POST", "/orders", {"name": "tea", "quantity": 1})
    assert status == 503 and "retry later" in body["message"]
    assert _metrics(out)["DownstreamErrors"] == 1.0
    errors = [d for d in out if d.get("level") == "ERROR"]
    assert errors and errors[0]["error_code"] == "ResourceNotFoundException" and errors[0]["operation"] == "create"
    assert api("GET", "/orders/x")[0] == 503


def test_ids_are_per_owner_so_no_answer_reveals_another_owners_item(api):
    """Alice's id neither conflicts with nor is visible to Bob: each owner has their own namespace."""
    assert api("POST", "/orders", {"id": "shared", "name": "alice's", "quantity": 1}, sub="alice")[0] == 201
    status, bobs, _, _ = api("POST", "/orders", {"id": "shared", "name": "bob's", "quantity": 2}, sub="bob")
    assert status == 201 and bobs["id"] == "shared" and bobs["version"] == 1
    assert api("GET", "/orders/shared", sub="alice")[1]["name"] == "alice's"
    assert api("GET", "/orders/shared", sub="bob")[1]["name"] == "bob's"
    assert api("POST", "/orders", {"id": "shared", "name": "again", "quantity": 1}, sub="alice")[0] == 409
    assert api("DELETE", "/orders/shared", sub="bob")[0] == 204
    assert api("GET", "/orders/shared", sub="alice")[0] == 200  # Bob's delete touched only Bob's item
    assert [i["name"] for i in api("GET", "/orders", sub="alice")[1]["items"]] == ["alice's"]


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "²"},
        {"limit": "１０"},
        {"limit": "-1"},
        {"limit": "1" * 50},
        {"limit": " 5"},
        {"nextToken": "A" * 3000},
        {"nextToken": "é"},
        {"nextToken": "eyJhIjogWzFdfQ=="},
        {"nextToken": base64.urlsafe_b64encode(b"[" * 5000 + b"]" * 5000).decode()},
        {
            "nextToken": base64.urlsafe_b64encode(
                json.dumps({"owner": OWNER, "createdAt": 5, "id": "x"}).encode()
            ).decode()
        },
        {
            "nextToken": base64.urlsafe_b64encode(
                json.dumps({"owner": OWNER, "createdAt": "2024", "id": "x" * 3000}).encode()
            ).decode()
        },
    ],
)
def test_paging_parameters_that_are_not_ours_are_400_with_a_clean_message(api, query):
    status, body, _, _ = api("GET", "/orders", query=query)
    assert status == 400 and ("limit" in body["message"] or "nextToken" in body["message"])


@pytest.mark.parametrize(
    ("raw", "is_base64", "status", "fragment"),
    [
        (base64.b64encode(b'{"name": "\xe9t\xe9", "quantity": 1}').decode(), True, 400, "UTF-8"),
        ("%%%", True, 400, "base64"),
        ('{"name": "x", "quantity": 1, "id": "\\udc80"}', False, 400, "UTF-8"),
        ("[" * 5000 + "]" * 5000, False, 400, "JSON"),
        (json.dumps({"name": "x", "quantity": 1, "description": "d" * 20_000}), False, 413, "bytes"),
        ('{"name": "x", "quantity": NaN}', False, 400, "JSON"),
        ('{"name": "x", "quantity": 1.0}', False, 400, "quantity"),
        ('{"name": "x", "quantity": ' + "9" * 5000 + "}", False, 400, "JSON"),
    ],
)
def test_bodies_that_are_not_small_utf8_json_are_4xx_and_write_nothing(api, raw, is_base64, status, fragment):
    code, body, _, _ = api("POST", "/orders", raw_body=raw, is_base64=is_base64)
    assert code == status and fragment in body["message"]
    assert api("GET", "/orders")[1]["items"] == []


@pytest.mark.parametrize("version", [10**40, 1.0, True, 0])
def test_a_version_that_is_not_a_whole_number_in_range_is_400(api, version):
    api("POST", "/orders", {"id": "v", "name": "tea", "quantity": 1})
    status, body, _, _ = api("PUT", "/orders/v", {"name": "tea", "quantity": 2, "version": version})
    assert status == 400 and "version" in body["message"]
    assert api("GET", "/orders/v")[1]["version"] == 1


def test_an_unreachable_store_is_a_503_that_names_no_endpoint(api, monkeypatch):
    from botocore.exceptions import EndpointConnectionError

    class Unreachable:
        def __getattr__(self, name):
            def call(**kwargs):
                raise EndpointConnectionError(endpoint_url="https://dynamodb.eu-west-1.amazonaws.com/")

            return call

    monkeypatch.setattr(api.module, "table", Unreachable())
    for method, path, body in (
        ("POST", "/orders", {"name": "t", "quantity": 1}),
        ("GET", "/orders/x", None),
        ("GET", "/orders", None),
        ("DELETE", "/orders/x", None),
        ("PUT", "/orders/x", {"name": "t", "quantity": 1, "version": 1}),
    ):
        status, payload, _, out = api(method, path, body)
        assert status == 503 and "amazonaws" not in json.dumps(payload) and "Endpoint" not in json.dumps(payload)
        assert [d["error_code"] for d in out if d.get("level") == "ERROR"] == ["EndpointConnectionError"]
