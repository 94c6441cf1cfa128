"""A team's own handler code for a service's functions: ``codeDir`` and ``handler`` in service config.

Pure (no Pulumi). Every function a pattern declares runs the pattern's built-in handler unless the
service's config points it at a folder of the team's own, relative to the repository root (the folder
of ``Pulumi.yaml``). That folder is packaged exactly like a built-in one
(``arcblueprint/platform/functions/packaging.py``: only its own files, the modules its ``shared.txt``
lists, the check that every import resolves in Lambda, Lambda's size quotas), and a missing folder,
a missing handler module or an import Lambda cannot resolve is a one-line config error naming the key.
The program never imports the team's code; it only packages it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from arcblueprint.config.schema import ConfigError, setting

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["DEFAULT_HANDLER", "FunctionCode", "resolve_code"]

#: What every built-in handler folder exports, and what a team folder exports unless ``handler`` says otherwise.
DEFAULT_HANDLER = "app.lambda_handler"
#: A relative folder that stays inside the repository: no leading ``/``, no ``..`` segment, no backslash.
_CODE_DIR = r"(?!/)(?!(?:.*/)?\.\.(?:/|$))[\w.][\w./-]*"
#: ``module.function`` (a module in a subfolder is ``package.module.function``).
_HANDLER = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+"


@dataclass(frozen=True, kw_only=True)
class FunctionCode:
    """Where one function's code comes from; default: the pattern's built-in handler folder."""

    #: A folder relative to the repository root (where ``Pulumi.yaml`` is), e.g. ``teams/loyalty/points``;
    #: only its own files (and what its ``shared.txt`` lists) are packaged.
    code_dir: str | None = setting(
        None, pattern=_CODE_DIR, doc="a folder relative to the repository root, without '..', e.g. teams/loyalty/points"
    )
    #: The handler in ``codeDir``: ``module.function``; default ``app.lambda_handler``.
    handler: str | None = setting(None, pattern=_HANDLER, doc="module.function, e.g. app.lambda_handler")

    def __post_init__(self) -> None:
        if self.handler is not None and self.code_dir is None:
            raise ConfigError(
                "handler",
                self.handler,
                f"needs codeDir: the built-in handlers are {DEFAULT_HANDLER}; name the folder of your own code too",
            )


def resolve_code(code: FunctionCode | None, *, default_dir: Path, root: Path, key: str) -> tuple[Path, str]:
    """``(folder, handler)`` of one function: the team's folder under ``root`` when ``code`` names one.

    ``key`` is the config path of the entry that holds ``codeDir`` (``services.fan.consumers.billing``);
    errors name ``<key>.codeDir`` or ``<key>.handler``. The folder goes through the packaging checks
    here, so a team's mistake is a config error rather than a failure inside the program.
    """
    from arcblueprint.platform.functions.packaging import PackagingError, package_files

    if code is None or code.code_dir is None:
        return default_dir, DEFAULT_HANDLER
    folder = (root / code.code_dir).resolve()
    handler = code.handler or DEFAULT_HANDLER
    if not folder.is_dir():
        raise ConfigError(
            f"{key}.codeDir",
            code.code_dir,
            f"is not a folder under the repository root {root} (paths are relative to the folder of Pulumi.yaml)",
        )
    try:
        package_files(folder, handler)
    except PackagingError as error:
        field = "handler" if str(error).startswith("handler ") else "codeDir"
        raise ConfigError(f"{key}.{field}", getattr(code, _FIELDS[field]), str(error)) from None
    return folder, handler


_FIELDS = {"codeDir": "code_dir", "handler": "handler"}
