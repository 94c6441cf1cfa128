"""Publish to a Big Fan topic from code (the API path is for requests that fit): large payloads are
compressed or claim-checked with the same codec the consumers decode with."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from arcblueprint.services.big_fan.handlers.consumer.payloads import PayloadError, decode, encode

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["PayloadError", "decode", "encode", "publish"]


def publish(
    *,
    sns: Any,
    topic_arn: str,
    message: str | Mapping[str, Any],
    attributes: Mapping[str, str | int | float] | None = None,
    threshold_bytes: int = 200_000,
    s3: Any = None,
    bucket: str | None = None,
) -> str:
    """Publish ``message`` with ``attributes`` (numbers become Number attributes, which numeric filters need);
    returns the ``messageId`` attribute consumers dedupe on.

    ``attributes`` are what attribute-scope filter policies match; body-scope policies see only
    small payloads (a compressed or claim-checked body is the pointer, not the original JSON).
    """
    text = message if isinstance(message, str) else json.dumps(message, separators=(",", ":"))

    def put_object(bucket_name: str, key: str, data: bytes) -> None:
        s3.put_object(Bucket=bucket_name, Key=key, Body=data, ContentEncoding="gzip", ServerSideEncryption="aws:kms")

    body = encode(text, threshold_bytes=threshold_bytes, bucket=bucket, put_object=put_object if s3 else None)
    message_id = str(uuid.uuid4())
    message_attributes = {
        name: {"DataType": "String" if isinstance(value, str) else "Number", "StringValue": str(value)}
        for name, value in {**(attributes or {}), "messageId": message_id}.items()
        if value != ""
    }
    sns.publish(TopicArn=topic_arn, Message=body, MessageAttributes=message_attributes)
    return message_id
