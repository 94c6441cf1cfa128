"""Large-payload codec shared by the publisher helper and the consumers (pure: storage is passed in).

SNS and SQS carry at most 256 KiB. A payload above the threshold is gzip-compressed; if it is still
too large it is stored in S3 and the message carries a pointer (the claim-check pattern). Either way
the message is a small JSON document ``{"arcbpPayload": {...}}`` that :func:`decode` turns back into
the original text, so consumers read large and small messages the same way.

A payload is at most :data:`MAX_PAYLOAD_BYTES` once inflated: :func:`encode` refuses a larger one, and
:func:`decode` inflates as a stream and stops past the cap, so a small message cannot expand into
more memory than the consumer has (a 252 KiB message of zeros inflates to about 250 MiB).

This file lives in the consumer's folder because each function's zip holds only its own folder;
``arcblueprint.services.big_fan.publisher`` imports this same file, so there is one codec.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import json
import uuid
import zlib
from collections.abc import Callable

__all__ = ["MARKER", "MAX_PAYLOAD_BYTES", "PayloadError", "decode", "encode"]

MARKER = "arcbpPayload"
#: The largest payload a consumer inflates (and a publisher may send): well within a consumer's memory.
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024
PutObject = Callable[[str, str, bytes], None]
GetObject = Callable[[str, str], bytes]


class PayloadError(ValueError):
    """The message claims to be an encoded payload but cannot be decoded."""


def encode(
    text: str,
    *,
    threshold_bytes: int,
    bucket: str | None = None,
    put_object: PutObject | None = None,
    key_prefix: str = "payloads/",
) -> str:
    """The message body to publish for ``text``: itself, compressed, or a claim check."""
    raw = text.encode()
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise PayloadError(f"payload of {len(raw)} bytes is above the {MAX_PAYLOAD_BYTES} bytes consumers accept")
    if len(raw) <= threshold_bytes:
        return text
    compressed = gzip.compress(raw, compresslevel=6)
    inline = json.dumps({MARKER: {"encoding": "gzip+base64", "data": base64.b64encode(compressed).decode()}})
    if len(inline.encode()) <= threshold_bytes:
        return inline
    if bucket is None or put_object is None:
        raise PayloadError(
            f"payload of {len(raw)} bytes is above {threshold_bytes} even compressed, "
            "and no claim-check bucket is configured"
        )
    key = f"{key_prefix}{uuid.uuid4()}.json.gz"
    put_object(bucket, key, compressed)
    return json.dumps(
        {
            MARKER: {
                "encoding": "gzip",
                "bucket": bucket,
                "key": key,
                "sha256": hashlib.sha256(raw).hexdigest(),
                "size": len(raw),
            }
        }
    )


def decode(text: str, *, get_object: GetObject | None = None, max_bytes: int = MAX_PAYLOAD_BYTES) -> str:
    """The original payload text of a message body produced by :func:`encode` (or any other text).

    Raises :class:`PayloadError` for a pointer that is malformed, fails its checksum or inflates past
    ``max_bytes``. Errors of ``get_object`` other than a missing field propagate (a throttled or
    unreachable bucket is worth a retry).
    """
    if MARKER not in text[:32]:  # cheap test first: small messages are passed through untouched
        return text
    try:
        pointer = json.loads(text)[MARKER]
        if not isinstance(pointer, dict):
            raise PayloadError("the pointer is not an object")
        if "data" in pointer:
            raw = _inflate(base64.b64decode(pointer["data"], validate=True), max_bytes)
        else:
            if get_object is None:
                raise PayloadError("claim check without an object reader")
            size = pointer.get("size", 0)
            if not isinstance(size, int) or size > max_bytes:
                raise PayloadError(f"claim-checked payload of {size!r} bytes is above {max_bytes}")
            raw = _inflate(get_object(pointer["bucket"], pointer["key"]), max_bytes)
        if "sha256" in pointer and hashlib.sha256(raw).hexdigest() != pointer["sha256"]:
            raise PayloadError("claim-checked payload does not match its checksum")
        return raw.decode()
    except PayloadError:
        raise
    except (KeyError, TypeError, ValueError, RecursionError, binascii.Error, zlib.error) as error:
        raise PayloadError(f"undecodable payload: {type(error).__name__}") from error


def _inflate(compressed: bytes, max_bytes: int) -> bytes:
    """Gunzip one gzip member, at most ``max_bytes`` of it (streaming: never more in memory)."""
    if len(compressed) > max_bytes:
        raise PayloadError(f"compressed payload of {len(compressed)} bytes is above {max_bytes}")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    raw = inflater.decompress(compressed, max_bytes + 1)
    if len(raw) > max_bytes:
        raise PayloadError(f"payload inflates to more than {max_bytes} bytes")
    if not inflater.eof or inflater.unused_data:
        raise PayloadError("truncated or trailing gzip data")
    return raw
