"""Power tuning's invocation loop: one temporary version per memory setting, invoked with its log tail.

For each memory size the loop sets the function's unpublished configuration (``$LATEST``) to it,
publishes a version (the temporary version runs exactly that memory), and invokes that version
``invocations`` times with ``LogType=Tail``, reading each invocation's ``REPORT`` line. It never
invokes, updates or moves the ``live`` alias: traffic keeps going to the version ``live`` points at.
Whatever happens, it then restores the original memory on ``$LATEST`` and deletes the temporary
versions, so the newest published version is again the one Pulumi published (a later
``pulumi refresh`` finds no version of the tuning's).

Each invocation runs the function for real: give it a payload that is safe to repeat (a read, a
health check, or an event of a test tenant). ``blueprint tune`` refuses prod without ``--allow-prod``.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from arcblueprint.planning.releases import LIVE_ALIAS
from arcblueprint.tuning.analysis import Invocation, Measurement, TuningError, parse_report

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["LambdaApi", "TuningRun", "tune_function"]

#: Power tuning's default memory sizes (MB).
DEFAULT_MEMORY = (128, 256, 512, 1024, 1536, 3008)
#: How long a configuration update or a new version (with SnapStart: its snapshot) may take to be ready.
READY_TIMEOUT_SECONDS = 600
POLL_SECONDS = 2.0


class LambdaApi(Protocol):
    """The Lambda API calls the loop makes (boto3's ``lambda`` client, or a fake in tests)."""

    def get_function_configuration(self, **kwargs: Any) -> dict[str, Any]: ...
    def update_function_configuration(self, **kwargs: Any) -> dict[str, Any]: ...
    def publish_version(self, **kwargs: Any) -> dict[str, Any]: ...
    def invoke(self, **kwargs: Any) -> dict[str, Any]: ...
    def delete_function(self, **kwargs: Any) -> dict[str, Any]: ...
    def get_alias(self, **kwargs: Any) -> dict[str, Any]: ...


@dataclass
class TuningRun:
    """What a run measured, and what it created (deleted again at the end)."""

    function_name: str
    original_memory_mib: int
    live_version: str
    measurements: list[Measurement] = field(default_factory=list)
    temporary_versions: list[str] = field(default_factory=list)


def _payload_bytes(payload: bytes | str | dict[str, Any] | None) -> bytes:
    if payload is None:
        return b"{}"
    if isinstance(payload, dict):
        return json.dumps(payload).encode()
    return payload.encode() if isinstance(payload, str) else payload


def _wait_ready(
    client: LambdaApi, name: str, qualifier: str | None, sleep: Callable[[float], None], clock: Callable[[], float]
) -> dict[str, Any]:
    """Wait until an update is applied (``LastUpdateStatus``) and the version can run (``State``)."""
    deadline = clock() + READY_TIMEOUT_SECONDS
    kwargs = {"FunctionName": name, **({"Qualifier": qualifier} if qualifier else {})}
    while True:
        config = client.get_function_configuration(**kwargs)
        state, update = config.get("State", "Active"), config.get("LastUpdateStatus", "Successful")
        if state == "Failed" or update == "Failed":
            reason = config.get("StateReason") or config.get("LastUpdateStatusReason") or "no reason given"
            raise TuningError(f"{name}:{qualifier or '$LATEST'} failed to become ready: {reason}")
        if state == "Active" and update == "Successful":
            return config
        if clock() > deadline:
            raise TuningError(f"{name}:{qualifier or '$LATEST'} not ready after {READY_TIMEOUT_SECONDS} s")
        sleep(POLL_SECONDS)


def _invoke(client: LambdaApi, name: str, version: str, payload: bytes) -> Invocation:
    response = client.invoke(FunctionName=name, Qualifier=version, LogType="Tail", Payload=payload)
    payload_stream = response.get("Payload")
    if payload_stream is not None and hasattr(payload_stream, "read"):
        payload_stream.read()  # drain the response so the connection is reused
    tail = base64.b64decode(response.get("LogResult", "")).decode("utf-8", errors="replace")
    return parse_report(tail, error=response.get("FunctionError"))


def tune_function(
    client: LambdaApi,
    function_name: str,
    memory_sizes: Sequence[int] = DEFAULT_MEMORY,
    *,
    invocations: int = 10,
    payload: bytes | str | dict[str, Any] | None = None,
    progress: Callable[[str], None] = lambda _: None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> TuningRun:
    """Measure ``function_name`` at each memory size; the function is left as it was found."""
    if invocations < 1:
        raise ValueError("invocations must be at least 1")
    body = _payload_bytes(payload)
    config = _wait_ready(client, function_name, None, sleep, clock)
    architecture = (config.get("Architectures") or ["x86_64"])[0]
    live = client.get_alias(FunctionName=function_name, Name=LIVE_ALIAS)["FunctionVersion"]
    run = TuningRun(function_name=function_name, original_memory_mib=int(config["MemorySize"]), live_version=live)
    try:
        for memory in memory_sizes:
            progress(f"{memory} MB: configuring $LATEST and publishing a temporary version")
            revision = config.get("RevisionId")
            update = {"FunctionName": function_name, "MemorySize": memory}
            config = client.update_function_configuration(**update, **({"RevisionId": revision} if revision else {}))
            config = _wait_ready(client, function_name, None, sleep, clock)
            version = client.publish_version(
                FunctionName=function_name,
                Description=f"blueprint tune: {memory} MB (temporary, deleted after the run)",
                RevisionId=config["RevisionId"],
            )["Version"]
            run.temporary_versions.append(version)
            _wait_ready(client, function_name, version, sleep, clock)
            measured = [_invoke(client, function_name, version, body) for _ in range(invocations)]
            progress(f"{memory} MB: {invocations} invocations of version {version}")
            run.measurements.append(
                Measurement(memory_mib=memory, invocations=tuple(measured), architecture=architecture)
            )
    finally:
        _restore(client, run, sleep, clock, progress)
    return run


def _restore(
    client: LambdaApi,
    run: TuningRun,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    progress: Callable[[str], None],
) -> None:
    name = run.function_name
    config = _wait_ready(client, name, None, sleep, clock)
    if int(config["MemorySize"]) != run.original_memory_mib:
        client.update_function_configuration(FunctionName=name, MemorySize=run.original_memory_mib)
        _wait_ready(client, name, None, sleep, clock)
    for version in run.temporary_versions:
        client.delete_function(FunctionName=name, Qualifier=version)
    live = client.get_alias(FunctionName=name, Name=LIVE_ALIAS)["FunctionVersion"]
    if live != run.live_version:  # somebody released during the run: say so, the tuning never touches live
        progress(f"note: '{LIVE_ALIAS}' moved from version {run.live_version} to {live} during the run")
    progress(f"restored {name} to {run.original_memory_mib} MB; deleted temporary versions {run.temporary_versions}")
