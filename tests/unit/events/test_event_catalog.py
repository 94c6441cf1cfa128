"""The domain event catalog: one draft-4 schema per event type, published as the registry expects, and
the strategies consumers' tests draw events from generate exactly what the schema accepts."""

from __future__ import annotations

import json

import fastjsonschema
import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arcblueprint.events import (
    DRAFT_04,
    SCHEMA_DIR,
    catalog,
    event_types,
    registry_content,
    registry_schema_name,
    service_of,
    source_of,
)
from arcblueprint.events.testing import UnsupportedSchemaError, details, envelopes, from_schema

EVENTS = sorted(catalog().values(), key=lambda e: (e.source, e.detail_type))


def test_the_catalog_holds_the_events_the_services_publish():
    assert {(e.source, e.detail_type) for e in EVENTS} == {
        ("arcblueprint.orders", "OrderCreated"),
        ("arcblueprint.orders", "OrderUpdated"),
        ("arcblueprint.bookings", "BookingConfirmed"),
        ("arcblueprint.bookings", "BookingCancelled"),
        ("arcblueprint.hooks", "WebhookReceived"),
    }
    assert [e.detail_type for e in event_types("orders")] == ["OrderCreated", "OrderUpdated"]
    assert event_types("nobody") == ()


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.detail_type)
def test_every_schema_is_draft_4_and_closed(event):
    jsonschema.Draft4Validator.check_schema(event.schema)
    assert event.schema["$schema"] == DRAFT_04 and event.schema["title"] == event.detail_type
    # A producer cannot add a field consumers do not know about (webhook payloads are the sender's, by design).
    assert event.schema.get("additionalProperties") is False
    assert (SCHEMA_DIR / event.service / f"{event.detail_type}.json") == event.path


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.detail_type)
def test_the_registry_document_is_the_whole_event_around_the_same_detail(event):
    document = registry_content(event)
    jsonschema.Draft4Validator.check_schema(document)
    assert registry_schema_name(event) == f"{event.source}@{event.detail_type}"
    assert document["definitions"][event.detail_type] == {k: v for k, v in event.schema.items() if k != "$schema"}
    assert document["properties"]["source"]["enum"] == [event.source]
    json.dumps(document)  # what the registry receives is JSON


def test_sources_are_namespaced_per_service():
    assert source_of("orders") == "arcblueprint.orders" and service_of("arcblueprint.orders") == "orders"
    for foreign in ("aws.cloudwatch", "orders", "arcblueprint.", "arcblueprint.Orders", "arcblueprintx.orders"):
        assert service_of(foreign) is None, foreign


@settings(max_examples=60)
@given(st.data())
def test_generated_details_and_envelopes_match_their_schemas(data):
    event = data.draw(st.sampled_from(EVENTS))
    detail = data.draw(details(event))
    fastjsonschema.compile(event.schema)(detail)  # raises when the strategy strays from the contract
    envelope = data.draw(envelopes(event, account="222222222222"))
    fastjsonschema.compile(registry_content(event))(envelope)
    assert envelope["source"] == event.source and envelope["account"] == "222222222222"


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"a": {"type": "string"}}},  # open object with properties
        {"type": "string", "format": "email"},
        {"type": "string", "oneOf": []},
        {"type": "null"},
    ],
)
def test_a_schema_the_strategies_cannot_honour_fails_loudly(schema):
    with pytest.raises(UnsupportedSchemaError):
        from_schema(schema)
