"""CRUD over one DynamoDB resource, per owner, behind API Gateway (REST) with a Cognito authorizer.

Items are keyed by (owner, id): ids are the caller's own namespace, so no answer depends on what
another owner stored (their ids are neither visible nor reserved). Writes are conditional: create
fails with 409 if the caller already has that id, update carries the version the client read
(optimistic locking) and fails with 409 if someone wrote since, delete fails with 404 when there is
nothing of the caller's to delete. Lists are paginated with an opaque ``nextToken``.

Every bad request is a 4xx with a JSON ``message`` naming nothing internal: a body that is not a
small UTF-8 JSON document (413 over ``MAX_BODY_BYTES``), a number that is not a whole number in
range, a ``limit`` that is not ASCII digits, a ``nextToken`` this API did not issue to the caller.
The store being unreachable is a 503; anything unexpected a generic 500.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import snapstart  # noqa: F401 - registers the after-restore reseed (SnapStart)
from api_events import BodyError, bad_request, json_body, rest_event, schema_message
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.exceptions import (
    BadRequestError,
    InternalServerError,
    NotFoundError,
    ServiceError,
    ServiceUnavailableError,
    UnauthorizedError,
)
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.validation import SchemaValidationError, validate
from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import BotoCoreError, ClientError
from clients import lazy
from masking import masked_json
from tracing import new_tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(json_serializer=masked_json)  # no log line carries a card number or an always-masked field
tracer = new_tracer()  # the X-Ray SDK is imported only when tracing is on
metrics = Metrics()

TABLE_NAME = os.environ.get("TABLE_NAME", "")
OWNER_INDEX = os.environ.get("OWNER_INDEX", "byOwner")
RESOURCE = os.environ.get("RESOURCE_NAME", "items")
DEFAULT_PAGE_SIZE = int(os.environ.get("DEFAULT_PAGE_SIZE", "20"))
MAX_PAGE_SIZE = int(os.environ.get("MAX_PAGE_SIZE", "100"))
_ORIGIN = os.environ.get("CORS_ALLOW_ORIGIN")

app = APIGatewayRestResolver(cors=CORSConfig(allow_origin=_ORIGIN, max_age=300) if _ORIGIN else None)
table = lazy(lambda: boto3.resource("dynamodb").Table(TABLE_NAME)) if TABLE_NAME else None
snapstart.create_before_snapshot(table)

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
#: Items are small (a 100-character name, a 500-character description): a larger body is not one.
MAX_BODY_BYTES = 16 * 1024
#: A token this API issues is base64 of three short strings; anything longer is not one.
MAX_TOKEN_CHARS = 512

# One copy of the request schemas: API Gateway validates with them (request models) before Lambda
# runs, and the handler validates again so that it is correct when called any other way.
_SCHEMAS = json.loads((Path(__file__).parent / "schemas.json").read_text())
CREATE_SCHEMA: dict[str, Any] = _SCHEMAS["create"]
UPDATE_SCHEMA: dict[str, Any] = _SCHEMAS["update"]


class ConflictError(ServiceError):
    """409: the write's condition did not hold (the item exists, or changed since it was read)."""

    def __init__(self, msg: str) -> None:
        super().__init__(409, msg)


class PayloadTooLargeError(ServiceError):
    def __init__(self, msg: str) -> None:
        super().__init__(413, msg)


# ---------------------------------------------------------------- business logic (plain functions)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _public(item: dict[str, Any]) -> dict[str, Any]:
    """The item as the API shows it: no owner, numbers as ints."""
    return {k: int(v) if isinstance(v, Decimal) else v for k, v in item.items() if k != "owner"}


def _downstream(error: ClientError | BotoCoreError, operation: str) -> ServiceError:
    code = (
        error.response.get("Error", {}).get("Code", "Unknown")
        if isinstance(error, ClientError)
        else type(error).__name__
    )
    logger.exception("DynamoDB call failed", extra={"operation": operation, "error_code": code})
    metrics.add_metric(name="DownstreamErrors", unit=MetricUnit.Count, value=1)
    return ServiceUnavailableError("The item store is unavailable; retry later")


def _is_condition_failure(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def validated(body: Any, schema: dict[str, Any]) -> dict[str, Any]:
    try:
        validate(event=body, schema=schema)
    except SchemaValidationError as error:
        raise BadRequestError(f"Invalid request body: {schema_message(error, body)}") from None
    for name, rules in schema.get("properties", {}).items():
        # JSON Schema counts 1.0 as an integer; the item store (and the API's promise) do not.
        if rules.get("type") == "integer" and name in body and type(body[name]) is not int:
            raise BadRequestError(f"Invalid request body: data.{name} must be a whole number")
    return body


def encode_token(last_key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(last_key, sort_keys=True, default=str).encode()).decode()


def decode_token(token: str, owner: str) -> dict[str, Any]:
    """The ``ExclusiveStartKey`` in a token; only the caller's own, well-formed tokens are accepted."""
    invalid = BadRequestError("nextToken is not a token this API issued")
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        raise invalid
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
    except (binascii.Error, ValueError, RecursionError):  # also UnicodeEncodeError/UnicodeDecodeError
        raise invalid from None
    if not isinstance(key, dict) or set(key) != {"owner", "createdAt", "id"} or key["owner"] != owner:
        raise invalid
    if (
        not isinstance(key["createdAt"], str)
        or len(key["createdAt"]) > 40
        or not isinstance(key["id"], str)
        or not re.fullmatch(ID_PATTERN.strip("^$"), key["id"])
    ):
        raise invalid
    return key


def page_size(raw: Any) -> int:
    if raw is None:
        return DEFAULT_PAGE_SIZE
    # ASCII digits only: str.isdigit() accepts "²", which int() refuses.
    if not isinstance(raw, str) or not re.fullmatch(r"[0-9]{1,4}", raw) or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise BadRequestError(f"limit must be a whole number from 1 to {MAX_PAGE_SIZE}")
    return int(raw)


def list_items(store: Any, owner: str, limit: int, token: str | None) -> dict[str, Any]:
    query: dict[str, Any] = {
        "IndexName": OWNER_INDEX,
        "KeyConditionExpression": Key("owner").eq(owner),
        "Limit": limit,
        "ScanIndexForward": False,
    }
    if token:
        query["ExclusiveStartKey"] = decode_token(token, owner)
    try:
        page = store.query(**query)
    except (ClientError, BotoCoreError) as error:
        raise _downstream(error, "list") from None
    body: dict[str, Any] = {"items": [_public(i) for i in page.get("Items", [])]}
    if "LastEvaluatedKey" in page:
        body["nextToken"] = encode_token(page["LastEvaluatedKey"])
    return body


def create_item(store: Any, owner: str, payload: dict[str, Any]) -> dict[str, Any]:
    now = _now()
    item = {
        **payload,
        "id": payload.get("id") or uuid.uuid4().hex,
        "owner": owner,
        "version": 1,
        "createdAt": now,
        "updatedAt": now,
    }
    try:
        # Keyed (owner, id): the condition can only ever see the caller's own item.
        store.put_item(Item=item, ConditionExpression=Attr("id").not_exists())
    except ClientError as error:
        if _is_condition_failure(error):
            metrics.add_metric(name="WriteConflicts", unit=MetricUnit.Count, value=1)
            raise ConflictError(f"{RESOURCE} {item['id']} already exists") from None
        raise _downstream(error, "create") from None
    except BotoCoreError as error:
        raise _downstream(error, "create") from None
    metrics.add_metric(name="ItemsCreated", unit=MetricUnit.Count, value=1)
    logger.info("Item created", extra={"item_id": item["id"]})
    return _public(item)


def get_item(store: Any, owner: str, item_id: str) -> dict[str, Any]:
    try:
        item = store.get_item(Key={"owner": owner, "id": item_id}).get("Item")
    except (ClientError, BotoCoreError) as error:
        raise _downstream(error, "get") from None
    if item is None:
        raise NotFoundError(f"{RESOURCE} {item_id} not found")
    return _public(item)


def update_item(store: Any, owner: str, item_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    expected = payload["version"]
    names = {
        "#name": "name",
        "#quantity": "quantity",
        "#version": "version",
        "#updatedAt": "updatedAt",
        "#description": "description",
    }
    values = {
        ":name": payload["name"],
        ":quantity": payload["quantity"],
        ":expected": expected,
        ":next": expected + 1,
        ":now": _now(),
    }
    update = "SET #name = :name, #quantity = :quantity, #version = :next, #updatedAt = :now"
    if "description" in payload:
        update += ", #description = :description"
        values[":description"] = payload["description"]
    else:
        update += " REMOVE #description"
    try:
        result = store.update_item(
            Key={"owner": owner, "id": item_id},
            UpdateExpression=update,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
            ConditionExpression="attribute_exists(id) AND #version = :expected",
        )
    except BotoCoreError as error:
        raise _downstream(error, "update") from None
    except ClientError as error:
        if not _is_condition_failure(error):
            raise _downstream(error, "update") from None
        current = get_item(store, owner, item_id)  # raises 404 when missing or not the caller's
        metrics.add_metric(name="WriteConflicts", unit=MetricUnit.Count, value=1)
        raise ConflictError(f"{RESOURCE} {item_id} is at version {current['version']}, not {expected}") from None
    metrics.add_metric(name="ItemsUpdated", unit=MetricUnit.Count, value=1)
    return _public(result["Attributes"])


def delete_item(store: Any, owner: str, item_id: str) -> None:
    try:
        store.delete_item(Key={"owner": owner, "id": item_id}, ConditionExpression=Attr("id").exists())
    except ClientError as error:
        if _is_condition_failure(error):
            raise NotFoundError(f"{RESOURCE} {item_id} not found") from None
        raise _downstream(error, "delete") from None
    except BotoCoreError as error:
        raise _downstream(error, "delete") from None
    metrics.add_metric(name="ItemsDeleted", unit=MetricUnit.Count, value=1)


# ---------------------------------------------------------------- routes (thin)


def _owner() -> str:
    """The caller's Cognito ``sub`` (or IAM caller) as put in the event by API Gateway's authorizer."""
    context = app.current_event.request_context
    claims = (context.authorizer.claims or {}) if context.authorizer else {}
    # ``context.identity`` raises KeyError when the event has none: read the raw value (a malformed event is a 401).
    identity = context.raw_event.get("identity")
    owner = claims.get("sub") or (identity.get("caller") if isinstance(identity, dict) else None)
    if not isinstance(owner, str) or not owner or len(owner) > 256:
        raise UnauthorizedError("Unauthorized")  # API Gateway authorizes these routes: a misconfigured stage
    return owner


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    event = app.current_event
    try:
        body = json_body(event.get("body"), event.get("isBase64Encoded"), max_bytes=MAX_BODY_BYTES)
    except BodyError as error:
        raise (PayloadTooLargeError(str(error)) if error.status == 413 else BadRequestError(str(error))) from None
    return validated(body, schema)


def _item_id(item_id: str) -> str:
    if not isinstance(item_id, str) or not re.fullmatch(ID_PATTERN.strip("^$"), item_id):
        raise BadRequestError("id must be 1-64 letters, digits, _ or -")
    return item_id


@app.exception_handler(Exception)
def _unexpected(error: Exception) -> None:
    """4xx and 503 errors pass through as they are; anything else is a 500 that names nothing internal."""
    if isinstance(error, ServiceError):
        raise error
    logger.exception("Unexpected error")
    raise InternalServerError("Internal server error")


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get(f"/{RESOURCE}")
@tracer.capture_method
def list_route() -> dict[str, Any]:
    params = app.current_event.query_string_parameters or {}
    return list_items(table, _owner(), page_size(params.get("limit")), params.get("nextToken"))


@app.post(f"/{RESOURCE}")
@tracer.capture_method
def create_route() -> Response:
    item = create_item(table, _owner(), _body(CREATE_SCHEMA))
    return Response(
        status_code=201, content_type="application/json", body=item, headers={"Location": f"/{RESOURCE}/{item['id']}"}
    )


@app.get(f"/{RESOURCE}/<item_id>")
@tracer.capture_method
def get_route(item_id: str) -> dict[str, Any]:
    return get_item(table, _owner(), _item_id(item_id))


@app.put(f"/{RESOURCE}/<item_id>")
@tracer.capture_method
def update_route(item_id: str) -> dict[str, Any]:
    return update_item(table, _owner(), _item_id(item_id), _body(UPDATE_SCHEMA))


@app.delete(f"/{RESOURCE}/<item_id>")
@tracer.capture_method
def delete_route(item_id: str) -> Response:
    delete_item(table, _owner(), _item_id(item_id))
    return Response(status_code=204, content_type="application/json", body=None)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = rest_event(event)  # the documented types, or None: a malformed event is a 400, not a crash
    if request is None:
        return bad_request()
    try:
        return app.resolve(request, context)
    except Exception:  # noqa: BLE001 - routes answer their own errors; this is an event no API sends
        logger.exception("Malformed event")
        return bad_request()
