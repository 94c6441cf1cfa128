"""Large-payload codec shared by the publisher helper and the consumers (pure: storage is passed in).

SNS and SQS carry at most 256 KiB. A payload above the threshold is gzip-compressed; if it is still
too large it is stored in S3 and the message carries a pointer (the claim-check pattern). Either way
the message is a small JSON document ``{"arcbpPayload": {...}}`` that :func:`decode` turns back into
the original text, so consumers read large and small messages the same way.

This file lives in the consumer's folder because each function's zip holds only its own folder;
``arcblueprint.services.big_fan.publisher`` imports this same file, so there is one codec.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import uuid
from collections.abc import Callable
from typing import Any

__all__ = ["MARKER", "PayloadError", "decode", "encode"]

MARKER = "arcbpPayload"
PutObject = Callable[[str, str, bytes], None]
GetObject = Callable[[str, str], bytes]


class PayloadError(ValueError):
    """The message claims to be an encoded payload but cannot be decoded."""


def encode(text: str, *, threshold_bytes: int, bucket: str | None = None, put_object: PutObject | None = None,
           key_prefix: str = "payloads/") -> str:
    """The message body to publish for ``text``: itself, compressed, or a claim check."""
    raw = text.encode()
    if len(raw) <= threshold_bytes:
        return text
    compressed = gzip.compress(raw, compresslevel=6)
    inline = json.dumps({MARKER: {"encoding": "gzip+base64", "data": base64.b64encode(compressed).decode()}})
    if len(inline.encode()) <= threshold_bytes:
        return inline
    if bucket is None or put_object is None:
        raise PayloadError(f"payload of {len(raw)} bytes is above {threshold_bytes} even compressed, "
                           "and no claim-check bucket is configured")
    key = f"{key_prefix}{uuid.uuid4()}.json.gz"
    put_object(bucket, key, compressed)
    return json.dumps({MARKER: {"encoding": "gzip", "bucket": bucket, "key": key,
                                "sha256": hashlib.sha256(raw).hexdigest(), "size": len(raw)}})


def decode(text: str, *, get_object: GetObject | None = None) -> str:
    """The original payload text of a message body produced by :func:`encode` (or any other text)."""
    if MARKER not in text[:32]:  # cheap test first: small messages are passed through untouched
        return text
    try:
        pointer: dict[str, Any] = json.loads(text)[MARKER]
        if "data" in pointer:
            return gzip.decompress(base64.b64decode(pointer["data"])).decode()
        if get_object is None:
            raise PayloadError("claim check without an object reader")
        raw = gzip.decompress(get_object(pointer["bucket"], pointer["key"]))
    except (KeyError, TypeError, ValueError, OSError) as error:
        raise PayloadError(f"undecodable payload: {error}") from error
    if "sha256" in pointer and hashlib.sha256(raw).hexdigest() != pointer["sha256"]:
        raise PayloadError("claim-checked payload does not match its checksum")
    return raw.decode()
