"""Helpers for testing a pattern's Lambda handlers locally, the way the Lambda runtime loads them.

A handler folder is the root of its zip: Lambda imports ``app`` with that folder first on
``sys.path``, so sibling modules (``masking``, ``payloads``) import by their bare names.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path
    from types import ModuleType

__all__ = ["LambdaContext", "load_handler"]


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that Powertools and the handlers read."""

    function_name: str = "arcbp-dev-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:111111111111:function:arcbp-dev-test:live"
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e812345678"
    remaining_time_in_millis: int = 30_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_time_in_millis


def load_handler(code_dir: Path, module_name: str) -> ModuleType:
    """Import ``code_dir/app.py`` as a fresh module called ``module_name`` (one per test, so module
    state such as clients and caches starts clean), with ``code_dir`` and the folders of its shared
    modules (``shared.txt``) first on ``sys.path``, as they sit at the root of its zip."""
    from arcblueprint.platform.functions.packaging import shared_modules

    shared = [path for path in shared_modules(code_dir) if path.suffix == ".py"]  # importable by bare names
    siblings = {path.stem for path in [*code_dir.glob("*.py"), *shared]}
    paths = [str(code_dir), *dict.fromkeys(str(path.parent) for path in shared)]
    sys.path[:0] = paths
    try:
        for name in siblings:
            sys.modules.pop(name, None)  # another handler folder may have a module of the same name
        spec = importlib.util.spec_from_file_location(module_name, code_dir / "app.py")
        assert spec is not None and spec.loader is not None, f"no app.py in {code_dir}"
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
        return module
    finally:
        for path in paths:
            sys.path.remove(path)
