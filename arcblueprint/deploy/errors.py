"""Exit codes of the driver, so CI can tell what stopped a deployment without reading logs."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["DeployError", "ExitCode"]


class ExitCode(IntEnum):
    OK = 0
    #: Invalid stack config or command-line usage.
    CONFIG = 2
    #: A mandatory policy was violated (offline or in the engine's policy pack run).
    POLICY = 3
    #: The engine preview failed (program error, provider error).
    PREVIEW = 4
    #: The update (or refresh/destroy) failed; the promotion rolled back.
    UPDATE = 5
    #: An environment gate refused: commit not deployed to dev, or replacements in prod.
    GATE = 6
    #: The machine cannot deploy: no Pulumi CLI, no passphrase, stack locked, unknown stack.
    ENVIRONMENT = 7


class DeployError(Exception):
    """A one-line reason the deployment stopped, with the exit code CI sees."""

    def __init__(self, message: str, exit_code: ExitCode) -> None:
        super().__init__(message)
        self.exit_code = exit_code
