"""Writing a tuned memory size into a stack file keeps every other line, comment and key order."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from arcblueprint.preview.harness import REPO_ROOT
from arcblueprint.tuning.stack_file import StackFileError, set_function_memory


def _changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    old, new = before.splitlines(), after.splitlines()
    return [line for line in old if line not in new], [line for line in new if line not in old]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_shipped_stack_files_gain_one_key_and_lose_nothing(stack):
    text = (REPO_ROOT / f"Pulumi.{stack}.yaml").read_text()
    written = set_function_memory(text, "orders-api", 1024)
    removed, added = _changed_lines(text, written)
    assert removed == []
    assert added == ["    memoryMibByFunction:", "      orders-api: 1024"]
    assert yaml.safe_load(written)["config"]["arcblueprint:functions"]["memoryMibByFunction"] == {"orders-api": 1024}
    # every comment is still there, in order
    comments = [line for line in text.splitlines() if line.lstrip().startswith("#")]
    assert [line for line in written.splitlines() if line.lstrip().startswith("#")] == comments
    # a second run replaces the value in place, a second function is appended
    again = set_function_memory(set_function_memory(written, "orders-api", 512), "fan-billing", 256)
    assert _changed_lines(written, again) == (
        ["      orders-api: 1024"],
        ["      orders-api: 512", "      fan-billing: 256"],
    )
    from arcblueprint.config import stack_config

    document = yaml.safe_load(again)["config"]
    config = stack_config({k if ":" in k else f"arcblueprint:{k}": v for k, v in document.items()}, stack)
    assert dict(config.functions.memory_mib_by_function) == {"orders-api": 512, "fan-billing": 256}


def test_a_value_keeps_its_comment_and_a_flow_map_stays_flow():
    text = (
        "config:\n"
        "  arcblueprint:functions:\n"
        "    memoryMib: 256  # the default\n"
        "    memoryMibByFunction:\n"
        "      orders-api: 1024  # tuned 2026-12-01\n"
    )
    assert set_function_memory(text, "orders-api", 768).splitlines()[-1] == "      orders-api: 768  # tuned 2026-12-01"
    flow = "config:\n  arcblueprint:functions:\n    memoryMibByFunction: {orders-api: 1024}\n"
    assert set_function_memory(flow, "fan-billing", 256).splitlines()[-1] == (
        "    memoryMibByFunction: {orders-api: 1024, fan-billing: 256}"
    )


def test_a_missing_section_is_added_inside_config():
    text = "# prod\nconfig:\n  aws:region: eu-west-1\n  arcblueprint:environment: prod\n"
    written = set_function_memory(text, "orders-api", 2048)
    assert written.startswith(text)
    assert yaml.safe_load(written)["config"]["arcblueprint:functions"] == {"memoryMibByFunction": {"orders-api": 2048}}


def test_layouts_it_cannot_edit_safely_stop_with_the_pulumi_command():
    flow_section = "config:\n  arcblueprint:functions: {memoryMib: 256}\n"
    with pytest.raises(StackFileError, match=r"flow style.*pulumi config set --path"):
        set_function_memory(flow_section, "orders-api", 512)
    with pytest.raises(StackFileError, match="no block 'config:'"):
        set_function_memory("encryptionsalt: x\n", "orders-api", 512)


names = st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True)


@given(existing=st.dictionaries(names, st.integers(128, 10240), max_size=4), name=names, memory=st.integers(128, 10240))
def test_only_the_one_value_changes(existing, name, memory):
    block = "".join(f"      {k}: {v}\n" for k, v in existing.items())
    text = (
        "# header\nconfig:\n  aws:region: eu-west-1\n  arcblueprint:functions:\n    memoryMib: 256\n"
        + ("    memoryMibByFunction:\n" + block if existing else "")
        + "    timeoutSeconds: 10\n  arcblueprint:tags:\n    owner: me\n"
    )
    written = yaml.safe_load(set_function_memory(text, name, memory))
    expected = yaml.safe_load(text)
    expected["config"]["arcblueprint:functions"].setdefault("memoryMibByFunction", {})[name] = memory
    assert written == expected
