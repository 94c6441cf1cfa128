"""SnapStart: what must differ between execution environments is made to differ again after a restore.

With SnapStart on, Lambda runs a function's init once, when a version is published, and resumes
every new execution environment from that snapshot, so whatever init created is shared by all of
them. Python's ``random`` module seeds its generator from the OS when it is first imported, during
init: every restored environment would then draw the same "random" numbers, including the retry
jitter of botocore and of ``exactly_once.call_with_retries``, so throttled environments would retry
in lockstep. The Python managed runtimes ship ``snapshot_restore_py`` (AWS: "Lambda SnapStart
runtime hooks for Python"); a hook registered here reseeds ``random`` from the OS after each
restore. ``uuid.uuid4``, ``secrets`` and ``os.urandom`` read the OS on every call and need nothing.

Import this module from the handler (a hook in a module the handler never imports is ignored).
:func:`create_before_snapshot` also puts the handler's lazily created clients into the snapshot.
Without SnapStart, and outside Lambda (tests, local runs, where the library is absent), nothing runs.
"""

from __future__ import annotations

import random
from typing import Any

try:
    from snapshot_restore_py import register_after_restore, register_before_snapshot
except ImportError:  # not a Lambda Python managed runtime: nothing is ever restored
    register_after_restore = register_before_snapshot = None

__all__ = ["create_before_snapshot", "reseed_after_restore"]


def reseed_after_restore() -> None:
    """Give this execution environment its own ``random`` sequence (a restored snapshot shares the seed)."""
    random.seed()


def create_before_snapshot(*clients: Any) -> None:
    """Create these lazy clients (``clients.lazy``) before the snapshot is taken, so restored environments
    start with them: their service models are loaded once, at publish time, instead of on a first request.

    Credentials are not captured with them: with SnapStart the runtime gives the SDK refreshable
    container credentials, not fixed keys (AWS: "Using SnapStart with AWS SDKs")."""
    if register_before_snapshot is None:
        return

    def create() -> None:
        for client in clients:
            if client is not None:
                client.resolve()

    register_before_snapshot(create)


if register_after_restore is not None:
    register_after_restore(reseed_after_restore)
