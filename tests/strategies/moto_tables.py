"""The DynamoDB tables and the booking saga the handler tests create in moto, as the components declare them."""

from __future__ import annotations

import json
from typing import Any

import boto3


def key_table(name: str, key: str = "id", *, client: Any = None) -> None:
    """An on-demand table keyed by one string attribute (idempotency, status, bookings tables)."""
    (client or boto3.client("dynamodb")).create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
    )


def orders_table(name: str) -> None:
    """Comfortable REST's table: items keyed per owner, the ``byOwner`` index newest first."""
    boto3.client("dynamodb").create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("id", "owner", "createdAt")],
        KeySchema=[{"AttributeName": "owner", "KeyType": "HASH"}, {"AttributeName": "id", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "byOwner",
                "Projection": {"ProjectionType": "ALL"},
                "KeySchema": [
                    {"AttributeName": "owner", "KeyType": "HASH"},
                    {"AttributeName": "createdAt", "KeyType": "RANGE"},
                ],
            }
        ],
    )


def booking_saga(account: str) -> str:
    """Cherry-pick's bookings table and its saga state machine (steps at the ``live`` alias); the machine's ARN."""
    from arcblueprint.services.cherry_pick.saga import build_saga

    key_table("bookings")
    role = boto3.client("iam").create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    machine = boto3.client("stepfunctions").create_state_machine(
        name="booking-saga",
        roleArn=role,
        definition=json.dumps(build_saga(f"arn:aws:lambda:eu-west-1:{account}:function:steps:live")),
    )
    return str(machine["stateMachineArn"])
