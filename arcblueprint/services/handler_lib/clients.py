"""AWS clients created on first use, then kept for the life of the execution environment.

Creating a boto3 client loads its service model and endpoint rules: after the libraries
themselves, the largest part of a handler's init. Created at import, a client is paid on every
cold start, also by the requests that never call its service (a rejected signature, a validation
error, a health check) and by handlers whose configuration never uses it. :func:`lazy` returns a
stand-in that creates the client the first time it is used and forwards every use after that, so
module-level names (``table``, ``sqs``) keep working for the code and its tests (which may still
replace them). Functions with SnapStart create theirs before the snapshot instead
(``snapstart.create_before_snapshot``), so a restored environment has them ready.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools.shared.user_agent import register_feature_to_client

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Lazy", "lazy"]


class Lazy:
    """A client (or table) made by ``create()`` when an attribute of it is first used."""

    __slots__ = ("_create", "_lock", "_value")

    def __init__(self, create: Callable[[], Any]) -> None:
        self._create = create
        self._value: Any = None
        self._lock = threading.Lock()

    def resolve(self) -> Any:
        """The client, created now if it was not yet (once, even with threads). Not ``get``: the objects
        stood for may have their own (``SecretsProvider.get``)."""
        if self._value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._create()
        return self._value

    @property
    def created(self) -> bool:
        return self._value is not None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.resolve(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in Lazy.__slots__:
            object.__setattr__(self, name, value)
        else:  # a test replacing a method (monkeypatch.setattr) replaces it on the client
            setattr(self.resolve(), name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self.resolve(), name)

    def __repr__(self) -> str:
        return f"<lazy {self._value!r}>" if self._value is not None else "<lazy client, not created yet>"


def lazy(create: Callable[[], Any]) -> Any:
    """A stand-in for ``create()`` that makes it on first use (typed ``Any``: it is used as the client)."""
    return Lazy(create)


class _Pending:
    """Stands for the store's client while Powertools' ``__init__`` runs. It has no ``meta``, so the
    user-agent tagging there (which catches ``AttributeError``) passes over it; the tag is added when
    the real client is made."""


def lazy_client_store(store_class: type, /, **kwargs: Any) -> Any:
    """``store_class(**kwargs)``, a Powertools ``DynamoDBPersistenceLayer`` (or subclass), with its DynamoDB
    client made on first use instead of in its constructor (what Powertools does)."""
    given = kwargs.pop("boto3_client", None)
    session = kwargs.pop("boto3_session", None)
    config = kwargs.pop("boto_config", None)

    def create() -> Any:
        return given if given is not None else (session or boto3).client("dynamodb", config=config)

    class LazyClientStore(store_class):
        @property
        def client(self) -> Any:
            value = self.__dict__.get("_client")
            if isinstance(value, _Pending) and self.__dict__.get("_ready"):
                value = self.__dict__["_client"] = create()
                register_feature_to_client(client=value, feature="idempotency")
            return value

        @client.setter
        def client(self, value: Any) -> None:
            self.__dict__["_client"] = value

    LazyClientStore.__name__ = LazyClientStore.__qualname__ = f"Lazy{store_class.__name__}"
    store = LazyClientStore(boto3_client=_Pending(), **kwargs)
    store.__dict__["_ready"] = True
    return store
