"""The names of the pack's policies, read from the rule modules' source: no policy object is built.

Validating a stack config checks that every override and waiver names a policy of the pack, and
that no correctness rule is weakened. Building the policies for that would load CrossGuard
(``pulumi_policy``, and with it ``pulumi``) into every config check; the names are literals in the
source, the first argument of each :func:`~arcblueprint.policy.base.resource_policy` or
:func:`~arcblueprint.policy.base.stack_policy` call, so they are read from there. A test holds this
list equal to :func:`arcblueprint.policy.pack.all_policies`, so a rule whose name is not a literal
fails the suite rather than hiding from config checks.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

from arcblueprint.policy.pack import HARDENING_MODULES
from arcblueprint.policy.wiring import correctness_modules

__all__ = ["correctness_names", "pack_names"]

_POLICY_DIR = Path(__file__).resolve().parent
_CONSTRUCTORS = frozenset({"resource_policy", "stack_policy"})


def _declared(path: Path) -> tuple[str, ...]:
    """The policy names a module declares."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if not isinstance(node, ast.Call) or getattr(node.func, "id", None) not in _CONSTRUCTORS:
            continue
        name = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "name"), None)
        if not isinstance(name, ast.Constant) or not isinstance(name.value, str):
            raise ValueError(f"{path}:{node.lineno}: a policy's name must be a string literal")
        names.append(name.value)
    return tuple(names)


@functools.cache
def correctness_names() -> frozenset[str]:
    """The correctness rules' names (``policy.wiring``): no stack may weaken them."""
    return frozenset(n for module in correctness_modules() for n in _declared(_POLICY_DIR / "wiring" / f"{module}.py"))


@functools.cache
def pack_names() -> tuple[str, ...]:
    """Every policy name of the pack, sorted (hardening rules and correctness rules)."""
    hardening = {n for module in HARDENING_MODULES for n in _declared(_POLICY_DIR / f"{module}.py")}
    return tuple(sorted(hardening | correctness_names()))
