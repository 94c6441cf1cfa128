"""The offline preview: the stack program under Pulumi's mock runtime, and views of its graph."""

from arcblueprint.preview.harness import GraphResource, SynthesizedStack, run_program, synthesize

__all__ = ["GraphResource", "SynthesizedStack", "run_program", "synthesize"]
