"""Hypothesis strategies for handler contract tests, built from the real AWS sample events in tests/events/.

A contract test feeds a handler events of its trigger's shape that a caller (or a broken producer)
could send: the real sample event, with a route and a body chosen for the handler, then mutated
(keys removed, values of the wrong type, huge and deeply nested values, bad encodings). It asserts
what must hold for *every* input, whatever the handler's features:

- API handlers (``assert_api_contract``): a response, never an exception; below 500; a JSON body;
  an error is a JSON object with a ``message`` that names nothing internal (``INTERNALS``).
- GraphQL (AppSync direct Lambda) resolvers: only the resolver's declared client errors are raised,
  with clean messages (``assert_clean_message``).
- Batch handlers: exactly the bad records are reported as failed.

Import it as ``from tests.strategies import contracts as cs``, and keep each test cheap: decorate it
with ``@contract`` (100 examples at most), moto for AWS.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

EVENTS = Path(__file__).resolve().parents[1] / "events"

#: Settings of every contract test: at most 100 examples, no "explain" phase (it reruns a failure
#: hundreds of times; the shrunk example is enough), and module-scoped handler fixtures are fine.
contract = settings(
    max_examples=100,
    phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    deadline=None,
)

#: What no client-facing error may contain: stack traces, file names, exception class names, endpoint
#: URLs, object reprs, AWS error codes of the SDK.
INTERNALS = re.compile(
    r"Traceback|File \"|\.py\b|\b[A-Z][A-Za-z]*(?:Error|Exception)\b|https?://|amazonaws\.com|botocore|boto3"
    r"|object at 0x|ClientError|ConditionalCheckFailed|ResourceNotFound|ValidationException|errorType"
)


def sample(name: str) -> dict[str, Any]:
    """A real AWS sample event (a fresh copy)."""
    return json.loads((EVENTS / name).read_text())


# ---------------------------------------------------------------- values


def deep(depth: int, leaf: Any = 1, *, as_dict: bool = False) -> Any:
    """A value nested ``depth`` levels (built iteratively: 100k levels are fine)."""
    value = leaf
    for _ in range(depth):
        value = {"a": value} if as_dict else [value]
    return value


def deep_json_text(depth: int) -> str:
    return "[" * depth + "]" * depth


#: Strings that break naive parsing: unicode digits, lone surrogates, NUL, RTL marks, full-width text.
tricky_text = st.sampled_from(
    [
        "²",
        "١٢٣",
        "Ⅻ",
        "\udc80",
        "\x00",
        "\u202e",
        "ｉｄ",
        "-0",
        "1e309",
        "NaN",
        "  ",
        "",
        "%%%",
        "../..",
        "null",
        "true",
        "0x10",
        "9" * 30,
        "é" * 65,
    ]
)
huge_text = st.integers(min_value=1_000, max_value=40_000).map(lambda n: "x" * n)
big_numbers = st.sampled_from([10**40, -(10**40), 2**63, 2**64 + 1, 1e308, -1e308, 0.5, 1.0, -1, 0])
#: Built once: a 100k-deep value takes a while to build and handlers only read what they are given.
_DEEP = [deep(d, as_dict=as_dict) for d in (10, 100, 1_000, 100_000) for as_dict in (False, True)]
deep_values = st.sampled_from(_DEEP)

#: A value of any type, including the awkward ones.
junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    big_numbers,
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    tricky_text,
    huge_text,
    deep_values,
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


def either(
    first: st.SearchStrategy[Any], second: st.SearchStrategy[Any], *, first_in: int = 2
) -> st.SearchStrategy[Any]:
    """``first`` in ``first_in - 1`` draws of ``first_in``, else ``second`` (half and half by default).

    ``st.one_of`` flattens nested ``one_of``s, so a many-branched strategy would crowd out the other."""
    picks = [True] * (first_in - 1) + [False]  # hypothesis leans to the first item: the valid one
    return st.sampled_from(picks).flatmap(lambda pick: first if pick else second)


def with_junk(valid: dict[str, Any], *, keep: Sequence[str] = ()) -> st.SearchStrategy[dict[str, Any]]:
    """``valid`` with one field removed, one replaced by junk, one extra field, or unchanged."""
    keys = [k for k in valid if k not in keep]

    def removed(key: str) -> dict[str, Any]:
        return {k: v for k, v in valid.items() if k != key}

    changed: list[st.SearchStrategy[dict[str, Any]]] = [
        st.tuples(st.text(min_size=1, max_size=8), junk).map(lambda kv: {**valid, kv[0]: kv[1]})
    ]
    if keys:
        changed += [
            st.sampled_from(keys).map(removed),
            st.tuples(st.sampled_from(keys), junk).map(lambda kv: {**valid, kv[0]: kv[1]}),
        ]
    return either(st.just(valid), st.one_of(changed))  # half valid, half not


# ---------------------------------------------------------------- bodies (API Gateway, REST)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def dumps(document: Any) -> str:
    """``document`` as JSON text; a document too deep for ``json`` is sent as deep JSON text instead."""
    try:
        return json.dumps(document, allow_nan=True)
    except (RecursionError, ValueError):
        return deep_json_text(100_000)


def bodies(documents: st.SearchStrategy[Any]) -> st.SearchStrategy[tuple[str | None, bool]]:
    """``(body, isBase64Encoded)`` pairs: the documents as JSON (plain or base64), and everything that is not
    a JSON document: no body, invalid JSON, NaN, huge or unicode numbers, deep nesting, non-UTF-8 bytes,
    invalid base64."""
    as_json = documents.map(dumps)
    documents_sent = st.one_of(
        as_json.map(lambda text: (text, False)),
        as_json.map(lambda text: (_b64(text.encode("utf-8", "surrogatepass")), True)),
    )
    return either(documents_sent, _not_documents)  # half documents, half not


_not_documents: st.SearchStrategy[tuple[str | None, bool]] = st.deferred(
    lambda: st.one_of(
        st.just((None, False)),
        st.just(("", False)),
        st.sampled_from(
            [
                "{not json",
                "[",
                '{"a": NaN}',
                '{"a": Infinity}',
                '{"quantity": ²}',
                '{"version": ' + "9" * 5000 + "}",
                '"just a string"',
                "null",
                "[]",
                "0",
                '{"a":1}{"b":2}',
            ]
        ).map(lambda text: (text, False)),
        st.sampled_from([1_000, 100_000]).map(lambda depth: (deep_json_text(depth), False)),
        st.sampled_from([b"\xff\xfe\xfd", b'{"name": "\xe9"}', b"\x00\x01", b'{"a": "\xed\xa0\x80"}']).map(
            lambda raw: (_b64(raw), True)
        ),
        st.sampled_from(["%%%not-base64", "eyJh", "===="]).map(lambda text: (text, True)),
        huge_text.map(lambda text: (json.dumps({"name": text}), False)),
    )
)


# ---------------------------------------------------------------- event mutations


def _paths(value: Any, prefix: tuple[Any, ...] = (), limit: int = 400) -> list[tuple[Any, ...]]:
    """Paths to the nodes of ``value`` (breadth first, at most ``limit``)."""
    found: list[tuple[Any, ...]] = []
    queue = [(value, prefix)]
    while queue and len(found) < limit:
        node, path = queue.pop(0)
        if path:
            found.append(path)
        if isinstance(node, dict):
            queue += [(v, (*path, k)) for k, v in node.items()]
        elif isinstance(node, list):
            queue += [(v, (*path, i)) for i, v in enumerate(node)]
    return found


def _apply(event: dict[str, Any], path: tuple[Any, ...], action: str, value: Any) -> None:
    parent: Any = event
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if action == "delete":
        if isinstance(parent, dict):
            parent.pop(last, None)
        else:
            parent[last] = None
    else:
        parent[last] = value


def mutated(
    event: dict[str, Any], *, protect: Sequence[tuple[Any, ...]] = (), max_mutations: int = 2
) -> st.SearchStrategy[dict[str, Any]]:
    """``event`` with up to ``max_mutations`` nodes deleted or replaced by junk (not under ``protect``)."""
    paths = [p for p in _paths(event) if not any(p[: len(q)] == tuple(q) for q in protect)]

    @st.composite
    def build(draw: Callable[..., Any]) -> dict[str, Any]:
        copied = copy.deepcopy(event)
        for _ in range(draw(st.integers(0, max_mutations))):
            path = draw(st.sampled_from(paths))
            try:
                _apply(copied, path, draw(st.sampled_from(["delete", "replace"])), draw(junk))
            except (KeyError, IndexError, TypeError):
                pass  # an earlier mutation removed or replaced the parent
        return copied

    return build()


def api_event(
    template: dict[str, Any],
    *,
    method: str,
    path: str,
    resource: str | None = None,
    body: str | None = None,
    is_base64: bool = False,
    query: dict[str, Any] | None = None,
    path_parameters: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An API Gateway (REST) proxy event for one route, from a real sample event."""
    event = copy.deepcopy(template)
    event.update(
        httpMethod=method,
        path=path,
        resource=resource or path,
        body=body,
        isBase64Encoded=is_base64,
        queryStringParameters=query,
        pathParameters=path_parameters,
        multiValueQueryStringParameters={k: [v] for k, v in query.items()} if query else None,
    )
    context = event.setdefault("requestContext", {})
    context.update(httpMethod=method, resourcePath=resource or path, path=f"/prod{path}")
    return event


# ---------------------------------------------------------------- Firehose records


def firehose_data(documents: st.SearchStrategy[Any]) -> st.SearchStrategy[str]:
    """Record ``data`` as Firehose sends it (base64), for documents of any kind, and data that is not."""
    return st.one_of(
        documents.map(lambda d: _b64(dumps(d).encode("utf-8", "surrogatepass"))),
        st.sampled_from([b"not json", b"\xff\xfe", b"[1,2]", b'"text"', b"null", b'{"domain":']).map(_b64),
        st.sampled_from([1_000, 100_000]).map(lambda depth: _b64(deep_json_text(depth).encode())),
        st.just(_b64(json.dumps(deep(200, as_dict=True)).encode())),
        st.sampled_from(["%%%", "abc", "", "SGVsbG8"]),
    )


# ---------------------------------------------------------------- assertions


def assert_clean_message(message: Any, sent: str = "") -> None:
    """A non-empty message without internals; what the client itself ``sent`` may be echoed back."""
    assert isinstance(message, str) and message, f"no error message: {message!r}"
    shown = [m.group() for m in INTERNALS.finditer(message) if m.group() not in sent]
    assert not shown, f"error message shows internals {shown}: {message!r}"


def assert_api_contract(response: Any, sent: str = "") -> tuple[int, Any]:
    """A proxy response below 500 whose body is JSON; errors carry a clean ``message``."""
    assert isinstance(response, dict), f"not a proxy response: {response!r}"
    status = response.get("statusCode")
    assert isinstance(status, int) and 100 <= status < 500, f"status {status}: {str(response)[:300]}"
    body = response.get("body")
    payload = json.loads(body) if body else None
    if status >= 400:
        assert isinstance(payload, dict), f"error body is not a JSON object: {body!r}"
        assert_clean_message(payload.get("message"), sent)
    return status, payload
