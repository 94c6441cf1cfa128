"""Contract: the Comfortable REST handler answers every request of API Gateway's shape with a response
below 500 whose errors are JSON messages naming nothing internal, and never shows one owner another's data."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import boto3
import pytest
from hypothesis import event as note
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

from arcblueprint.services.testing import load_handler
from tests.strategies import contracts as cs
from tests.strategies.moto_tables import orders_table

HANDLER = Path(__file__).resolve().parents[3] / "arcblueprint/services/comfortable_rest/handlers/api"
SAMPLE = cs.sample("apiGatewayProxyEventCognitoAuthorizer.json")
OWNER = SAMPLE["requestContext"]["authorizer"]["claims"]["sub"]
OTHER = "someone-else"

ids = st.one_of(st.sampled_from(["o-1", "theirs", "x" * 64]), st.text(max_size=70), cs.tricky_text)
items = st.fixed_dictionaries(
    {"name": st.text(min_size=1, max_size=20), "quantity": st.integers(0, 10)},
    optional={
        "id": st.sampled_from(["o-1", "theirs", "o-2"]),
        "description": st.text(max_size=20),
        "version": st.one_of(st.integers(1, 3), cs.big_numbers),
    },
)
queries = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {},
        optional={
            "limit": st.one_of(st.sampled_from(["1", "2", "50", "0", "101"]), cs.tricky_text, st.text(max_size=5)),
            "nextToken": st.one_of(
                cs.tricky_text,
                st.text(max_size=40),
                cs.huge_text,
                st.dictionaries(
                    st.sampled_from(["owner", "createdAt", "id"]),
                    st.one_of(st.just(OWNER), st.text(max_size=5), st.integers()),
                ).map(lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).decode()),
            ),
        },
    ),
)
#: Writes weigh more: they are where bad bodies meet the store.
routes = st.sampled_from(
    [
        ("POST", "/orders", False),
        ("GET", "/orders", False),
        ("PUT", "/orders/{id}", True),
        ("POST", "/orders", False),
        ("GET", "/orders/{id}", True),
        ("PUT", "/orders/{id}", True),
        ("DELETE", "/orders/{id}", True),
        ("POST", "/orders", False),
        ("GET", "/health", False),
    ]
)


@pytest.fixture(scope="module")
def api():
    with pytest.MonkeyPatch.context() as patch, mock_aws():
        for key, value in {
            "TABLE_NAME": "orders-table",
            "RESOURCE_NAME": "orders",
            "MAX_PAGE_SIZE": "100",
            "POWERTOOLS_SERVICE_NAME": "orders",
            "POWERTOOLS_METRICS_NAMESPACE": "arcblueprint-tests",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }.items():
            patch.setenv(key, value)
        orders_table("orders-table")
        # Another owner's item, with an id the generated requests use: no answer may reveal it.
        boto3.resource("dynamodb").Table("orders-table").put_item(
            Item={
                "owner": OTHER,
                "id": "theirs",
                "name": "SECRET-OF-ANOTHER-OWNER",
                "quantity": 1,
                "version": 1,
                "createdAt": "2024-01-01T00:00:00.000+00:00",
                "updatedAt": "2024-01-01T00:00:00.000+00:00",
            }
        )
        yield load_handler(HANDLER, "comfortable_rest_contract_under_test")


@cs.contract
@given(
    route=routes,
    item_id=ids,
    query=queries,
    body=cs.bodies(items.flatmap(cs.with_junk)),
    mutation=cs.mutated(
        {
            "headers": SAMPLE["headers"],
            "requestContext": SAMPLE["requestContext"],
            "multiValueHeaders": SAMPLE["multiValueHeaders"],
            "stageVariables": None,
        }
    ),
)
def test_every_request_gets_an_answer_below_500_and_never_another_owners_data(
    lambda_context, api, route, item_id, query, body, mutation
):
    method, resource, has_id = route
    path = resource.replace("{id}", item_id) if has_id else resource
    event = cs.api_event(
        SAMPLE,
        method=method,
        path=path,
        resource=resource,
        body=body[0],
        is_base64=body[1],
        query=query,
        path_parameters={"id": item_id} if has_id else None,
    )
    event.update(mutation)
    response = api.lambda_handler(event, lambda_context("arcbp-dev-orders-api"))
    status, payload = cs.assert_api_contract(response, sent=f"{body} {query} {path}")
    note(f"{method} {resource} -> {status}")
    assert "SECRET-OF-ANOTHER-OWNER" not in json.dumps(payload)
    if status == 409:  # a conflict is only ever about the caller's own item
        assert (
            api.table.get_item(
                Key={
                    "owner": OWNER,
                    "id": item_id if has_id else json.loads(base64.b64decode(body[0]) if body[1] else body[0])["id"],
                }
            ).get("Item")
            is not None
        )
