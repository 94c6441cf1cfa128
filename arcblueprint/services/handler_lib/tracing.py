"""The Powertools Tracer, with the X-Ray SDK imported only when tracing is on.

Powertools' ``Tracer()`` imports the X-Ray SDK's recorder even when tracing is disabled, and the
recorder builds an X-Ray client (a service model to load) for its sampling rules as it is
imported: the largest single cost of a handler's import. Powertools' own options avoid it: when
Powertools would disable tracing anyway (``POWERTOOLS_TRACE_DISABLED``, or not running in Lambda:
tests, local runs, SAM local), the tracer gets ``disabled=True`` and a provider that records
nothing, so the SDK is never imported. In Lambda, where the functions run with active tracing,
:func:`new_tracer` is exactly ``Tracer()``.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Tracer
from aws_lambda_powertools.shared import constants
from aws_lambda_powertools.shared.functions import resolve_truthy_env_var_choice
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Generator, Sequence

__all__ = ["new_tracer", "tracing_disabled"]


def tracing_disabled() -> bool:
    """What Powertools decides (``Tracer._is_tracer_disabled``): off by env var, or outside Lambda."""
    if resolve_truthy_env_var_choice(env=os.getenv(constants.TRACER_DISABLED_ENV, "false")):
        return True
    in_lambda = os.getenv(constants.LAMBDA_TASK_ROOT_ENV)
    emulated = os.getenv(constants.SAM_LOCAL_ENV) or os.getenv(constants.CHALICE_LOCAL_ENV)
    return not in_lambda or bool(emulated)


class _NoSegment(BaseSegment):
    """A segment that keeps nothing (tracing is off)."""

    def close(self, end_time: int | None = None) -> None:
        return None

    def add_subsegment(self, subsegment: Any) -> None:
        return None

    def remove_subsegment(self, subsegment: Any) -> None:
        return None

    def put_annotation(self, key: str, value: Any) -> None:
        return None

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        return None

    def add_exception(self, exception: BaseException, stack: Any, remote: bool = False) -> None:
        return None


class _NoTracing(BaseProvider):
    """A Powertools tracing provider that records nothing and imports nothing."""

    @contextlib.contextmanager
    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Generator[BaseSegment, None, None]:
        yield _NoSegment()

    @contextlib.asynccontextmanager
    async def in_subsegment_async(self, name: str | None = None, **kwargs: Any) -> AsyncGenerator[BaseSegment, None]:
        yield _NoSegment()

    def put_annotation(self, key: str, value: Any) -> None:
        return None

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        return None

    def patch(self, modules: Sequence[str]) -> None:
        return None

    def patch_all(self) -> None:
        return None


def new_tracer(**kwargs: Any) -> Tracer:
    """``Tracer(**kwargs)`` when tracing is on; a disabled tracer that never loads the X-Ray SDK otherwise."""
    if tracing_disabled():
        return Tracer(provider=_NoTracing(), disabled=True, **kwargs)
    return Tracer(**kwargs)
