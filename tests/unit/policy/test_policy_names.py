"""The names config checks read from the rule modules' source are exactly the pack's policies."""

from __future__ import annotations

from arcblueprint.policy.names import correctness_names, pack_names
from arcblueprint.policy.pack import all_policies, correctness_policy_names


def test_names_read_from_source_are_the_packs_policies():
    built = [p.name for p in all_policies()]
    assert sorted(built) == list(pack_names())
    assert len(set(built)) == len(built)


def test_correctness_names_read_from_source_are_the_wiring_rules():
    assert correctness_names() == correctness_policy_names()
    assert correctness_names() < set(pack_names())
