"""A progress display for engine events: one rewritten line on a terminal, plain lines in CI logs."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from collections.abc import Callable

    from pulumi.automation.events import EngineEvent

__all__ = ["Progress"]


class Progress:
    """Resources done / total, the current operation and the elapsed time.

    ``total`` comes from the preview's change summary (0 when unknown: the display then counts up).
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        total: int = 0,
        interactive: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.total = total
        self.interactive = stream.isatty() if interactive is None else interactive
        self.clock = clock
        self.started = clock()
        self.done = 0
        self.failed = 0

    def __call__(self, event: EngineEvent) -> None:
        if event.resource_pre_event is not None:
            meta = event.resource_pre_event.metadata
            op = str(getattr(meta.op, "value", meta.op))
            if op != "same":
                self._show(f"{op} {meta.type} {meta.urn.rsplit('::', 1)[-1]}")
        elif event.res_outputs_event is not None:
            meta = event.res_outputs_event.metadata
            if str(getattr(meta.op, "value", meta.op)) != "same":
                self.done += 1
                self._show(f"done {meta.type} {meta.urn.rsplit('::', 1)[-1]}")
        elif event.res_op_failed_event is not None:
            self.failed += 1
            self.done += 1
            meta = event.res_op_failed_event.metadata
            self._show(f"FAILED {meta.type} {meta.urn.rsplit('::', 1)[-1]}", force_line=True)
        elif event.summary_event is not None:
            self.finish()

    def line(self, text: str) -> str:
        elapsed = self.clock() - self.started
        width = len(str(self.total)) if self.total else 3
        total = str(self.total) if self.total else "?"
        return f"[{self.done:>{width}}/{total}] {elapsed:6.1f}s {text}"

    def _show(self, text: str, *, force_line: bool = False) -> None:
        line = self.line(text)
        if self.interactive and not force_line:
            self.stream.write("\r\x1b[2K" + line[:200])
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.interactive:
            self.stream.write("\n")
        self.stream.write(self.line(f"finished: {self.done} resource steps, {self.failed} failed") + "\n")
        self.stream.flush()
