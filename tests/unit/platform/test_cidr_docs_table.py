"""docs/network.md shows what the planner really computes for the three demand levels."""

from __future__ import annotations

import runpy

from arcblueprint.preview.harness import REPO_ROOT


def test_the_docs_table_is_the_planners_output() -> None:
    rows = runpy.run_path(str(REPO_ROOT / "bench" / "cidr_table.py"))["rows"]()
    docs = (REPO_ROOT / "docs" / "network.md").read_text()
    table = [line for line in rows if line.startswith("|")]
    assert len(table) == 2 + 6
    for line in table:
        assert line in docs, f"docs/network.md is out of date (run bench/cidr_table.py): {line}"


def test_the_docs_show_the_shipped_proxy_vpcs() -> None:
    proxy_rows = runpy.run_path(str(REPO_ROOT / "bench" / "cidr_table.py"))["proxy_rows"]()
    docs = (REPO_ROOT / "docs" / "network.md").read_text()
    assert len(proxy_rows) == 2 + 2
    for line in proxy_rows:
        assert line in docs, f"docs/network.md is out of date (run bench/cidr_table.py): {line}"
