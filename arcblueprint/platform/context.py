"""What every component needs to know about the stack it belongs to."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import pulumi

from arcblueprint.conventions import physical_name, resource_tags
from arcblueprint.platform.function_code import resolve_code

if TYPE_CHECKING:
    from arcblueprint.config.model import StackConfig
    from arcblueprint.platform.function_code import FunctionCode

__all__ = ["CodeArgs", "StackContext", "repository_root"]


class CodeArgs(TypedDict):
    """The ``code_dir``/``handler`` keyword arguments of ``FunctionArgs`` (``**ctx.code(...)`` keeps their types)."""

    code_dir: Path
    handler: str


def repository_root() -> Path:
    """The folder of ``Pulumi.yaml``, which paths in service config (``codeDir``) are relative to.

    The Pulumi CLI tells the program (``pulumi.get_root_directory()``); a CLI that does not, or a program
    whose ``main`` sits in a subfolder (``stacks/``, where the CLI then runs it), still finds it as the
    nearest folder above the working directory that holds ``Pulumi.yaml``.
    """
    root = pulumi.get_root_directory()
    if root and (Path(root) / "Pulumi.yaml").is_file():  # outside a CLI run the SDK holds a placeholder
        return Path(root)
    here = Path.cwd()
    for folder in (here, *here.parents):
        if (folder / "Pulumi.yaml").is_file():
            return folder
    return here


@dataclass(frozen=True, kw_only=True)
class StackContext:
    """The validated stack config plus the conventions derived from it (names, tags, protection)."""

    stack: StackConfig

    def name(self, *parts: str, max_length: int = 64) -> str:
        """Physical name under the stack's prefix, e.g. ``arcbp-prod-orders-table``."""
        return physical_name(self.stack.naming_prefix, *parts, max_length=max_length)

    def tags(self, service: str) -> dict[str, str]:
        return resource_tags(self.stack.tags, environment=self.stack.environment, service=service)

    def stateful(self, opts: pulumi.ResourceOptions | None = None) -> pulumi.ResourceOptions:
        """Options for a stateful resource: protected and retained on delete where the stack says so.

        ``protect`` makes ``pulumi destroy`` and replacements fail until it is lifted on purpose;
        ``retain_on_delete`` keeps the data in AWS even if the resource leaves the program.
        """
        if not self.stack.protect_stateful_resources:
            # Left unset, not False: a service the stack protects (its opts) still protects its data.
            return opts or pulumi.ResourceOptions()
        return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=True, retain_on_delete=True))

    @property
    def repository_root(self) -> Path:
        """Where a team's own code lives: service config's ``codeDir`` is relative to it."""
        return repository_root()

    def code(self, code: FunctionCode | None, default_dir: Path, *, key: str) -> CodeArgs:
        """``code_dir``/``handler`` arguments of a function: the team's folder when ``code`` names one (checked
        as the package will be built: a missing folder or handler is a config error naming ``key``)."""
        code_dir, handler = resolve_code(code, default_dir=default_dir, root=self.repository_root, key=key)
        return CodeArgs(code_dir=code_dir, handler=handler)

    @property
    def partition(self) -> str:
        return "aws-us-gov" if "-gov-" in self.stack.region else "aws"
