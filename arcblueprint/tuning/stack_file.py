"""Write one tuned memory size into ``Pulumi.<stack>.yaml``, keeping every other line as it was.

The stack files are hand-written, commented YAML; loading and dumping them would drop the comments
and reorder keys. This edits the text instead: it sets ``functions.memoryMibByFunction.<function>``
under ``arcblueprint:functions`` (adding the key, or the section, where missing), then parses the
result and checks it differs from the original in that one value only. A layout it does not know
(the section written in flow style, ``{...}`` on one line) stops with the ``pulumi config set``
command that does the same.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import yaml

__all__ = ["StackFileError", "set_function_memory"]

SECTION = "arcblueprint:functions"
KEY = "memoryMibByFunction"


class StackFileError(ValueError):
    """The stack file could not be edited safely; nothing was written."""


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_filler(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _block_end(lines: list[str], start: int, indent: int) -> int:
    """Index after the block below ``lines[start]``: its lines are indented more than ``indent``."""
    end = start + 1
    last = start
    while end < len(lines):
        if not _is_filler(lines[end]):
            if _indent(lines[end]) <= indent:
                break
            last = end
        end += 1
    return last + 1


def _find(lines: list[str], start: int, stop: int, indent: int, key: str) -> int | None:
    pattern = re.compile(rf"^ {{{indent}}}{re.escape(key)}:(\s|$)")
    for i in range(start, stop):
        if pattern.match(lines[i]):
            return i
    return None


def _command(function: str, memory: int) -> str:
    return f"pulumi config set --path '{SECTION}.{KEY}.{function}' {memory}"


def set_function_memory(text: str, function: str, memory: int) -> str:
    """``text`` with ``arcblueprint:functions.memoryMibByFunction.<function>`` set to ``memory``."""
    before = yaml.safe_load(text) or {}
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    config = next((i for i, line in enumerate(lines) if re.match(r"^config:\s*(#.*)?$", line)), None)
    if config is None:
        raise StackFileError(f"no block 'config:' in the stack file; run: {_command(function, memory)}")
    config_end = _block_end(lines, config, 0)
    section = next(
        (i for i in range(config + 1, config_end) if re.match(rf"^\s+{re.escape(SECTION)}:", lines[i])), None
    )
    if section is None:
        indent = next((_indent(lines[i]) for i in range(config + 1, config_end) if not _is_filler(lines[i])), 2)
        pad = " " * indent
        insert = [f"{pad}{SECTION}:\n", f"{pad}  {KEY}:\n", f"{pad}    {function}: {memory}\n"]
        lines[config_end:config_end] = insert
    else:
        if not re.match(rf"^\s+{re.escape(SECTION)}:\s*(#.*)?$", lines[section]):
            raise StackFileError(f"{SECTION} is written on one line (flow style); run: {_command(function, memory)}")
        section_indent = _indent(lines[section])
        section_end = _block_end(lines, section, section_indent)
        children = [i for i in range(section + 1, section_end) if not _is_filler(lines[i])]
        child_indent = _indent(lines[children[0]]) if children else section_indent + 2
        key_line = _find(lines, section + 1, section_end, child_indent, KEY)
        if key_line is None:
            pad = " " * child_indent
            lines[section_end:section_end] = [f"{pad}{KEY}:\n", f"{pad}  {function}: {memory}\n"]
        elif re.match(rf"^ {{{child_indent}}}{KEY}:\s*\{{", lines[key_line]):
            current = yaml.safe_load(lines[key_line].split(":", 1)[1]) or {}
            current[function] = memory
            flow = ", ".join(f"{name}: {value}" for name, value in current.items())
            lines[key_line] = f"{' ' * child_indent}{KEY}: {{{flow}}}\n"
        else:
            key_end = _block_end(lines, key_line, child_indent)
            entries = [i for i in range(key_line + 1, key_end) if not _is_filler(lines[i])]
            entry_indent = _indent(lines[entries[0]]) if entries else child_indent + 2
            entry = _find(lines, key_line + 1, key_end, entry_indent, function)
            if entry is None:
                lines[key_end:key_end] = [f"{' ' * entry_indent}{function}: {memory}\n"]
            else:
                comment = re.search(r"\s+#.*$", lines[entry].rstrip("\n"))
                lines[entry] = f"{' ' * entry_indent}{function}: {memory}{comment.group(0) if comment else ''}\n"
    result = "".join(lines)
    _verify(before, yaml.safe_load(result), function, memory)
    return result


def _verify(before: Any, after: Any, function: str, memory: int) -> None:
    expected = copy.deepcopy(before) if isinstance(before, dict) else {}
    config = expected.setdefault("config", {})
    section = config.get(SECTION)
    if section is None:
        section = config[SECTION] = {}
    section.setdefault(KEY, {})
    if section[KEY] is None:
        section[KEY] = {}
    section[KEY][function] = memory
    if after != expected:
        raise StackFileError(
            f"editing the stack file would change more than {SECTION}.{KEY}.{function}; nothing was written. "
            f"Run: {_command(function, memory)}"
        )
