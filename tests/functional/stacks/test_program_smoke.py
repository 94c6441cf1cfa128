"""The stack program runs under the mocks for both stacks, in preview and update mode."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("preview", [True, False])
def test_program_declares_resources_and_exports_outputs(synthesized, stack, preview):
    graph = synthesized(stack, preview=preview)
    assert graph.resources, "the program declared nothing"
    assert graph.outputs["environment"] == stack
    assert graph.outputs["platformKeyArn"].startswith(
        f"arn:aws:kms:{graph.config.region}:{graph.config.account_id}:key/"
    )


def test_component_programs_run_through_the_same_harness(run_component):
    from arcblueprint.platform.encryption import EncryptionKey, EncryptionKeyArgs

    graph = run_component(lambda ctx: EncryptionKey("k", EncryptionKeyArgs(context=ctx, purpose="data")), "prod")
    keys = graph.by_type("aws:kms/key:Key")
    assert len(keys) == 1 and keys[0].protect and keys[0].inputs["enableKeyRotation"] is True
