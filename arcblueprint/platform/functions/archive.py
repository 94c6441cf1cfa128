"""A function's package as a Pulumi asset: the Pulumi half of packaging (:mod:`.packaging` stays pure, so config
validation can check a team's ``codeDir`` without loading the SDK)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pulumi

from arcblueprint.platform.functions.packaging import package_files

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["code_archive"]


def code_archive(code_dir: Path, handler: str | None = None) -> pulumi.AssetArchive:
    """The package as a Pulumi archive of the folder's own files (the engine zips and hashes it)."""
    return pulumi.AssetArchive({name: pulumi.FileAsset(str(path)) for name, path in package_files(code_dir, handler)})
