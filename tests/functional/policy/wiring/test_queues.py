"""sqs-dlq-outlives-source: a dead-lettered message keeps its first enqueue time, so each DLQ keeps messages longer."""

from __future__ import annotations

import pytest

from arcblueprint.policy.testing import mutated, violations_of
from arcblueprint.policy.wiring.queues import SQS_DEFAULT_RETENTION_SECONDS, SQS_MAX_RETENTION_SECONDS

POLICY = "sqs-dlq-outlives-source"
QUEUE = "aws:sqs/queue:Queue"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_shipped_stacks_keep_every_dead_letter_longer_than_its_source(synthesized, stack):
    graph = synthesized(stack)
    assert violations_of(graph, POLICY) == []
    queues = {q.urn: q for q in graph.by_type(QUEUE)}
    sources = [q for q in queues.values() if q.property_dependencies.get("redrivePolicy")]
    assert sources
    for source in sources:
        [dlq] = [queues[u] for u in source.property_dependencies["redrivePolicy"]]
        assert dlq.inputs["messageRetentionSeconds"] == SQS_MAX_RETENTION_SECONDS
        assert source.inputs["messageRetentionSeconds"] < SQS_MAX_RETENTION_SECONDS, source.name


def _retention(seconds):
    def change(queue):
        for props in (queue.inputs, queue.outputs):
            if seconds is None:
                props.pop("messageRetentionSeconds", None)
            else:
                props["messageRetentionSeconds"] = seconds

    return change


def test_the_prod_buffer_at_14_days_is_reported_with_the_fix(synthesized):
    broken = mutated(
        synthesized("prod"), "hooks-buffer-queue", _retention(SQS_MAX_RETENTION_SECONDS), resource_type=QUEUE
    )
    [violation] = violations_of(broken, POLICY)
    assert violation.urn.endswith("::hooks-buffer-queue") and violation.level == "mandatory"
    assert "'hooks-buffer-dlq' only 1209600 s (14 days)" in violation.message
    assert "original enqueue timestamp" in violation.message and "longer messageRetentionSeconds" in violation.message


def test_a_dlq_left_at_the_sqs_default_is_reported(synthesized):
    graph = synthesized("dev")
    [source] = [q for q in graph.by_type(QUEUE) if q.name == "fan-billing-queue"]
    assert source.inputs["messageRetentionSeconds"] == SQS_DEFAULT_RETENTION_SECONDS  # the SQS default, stated
    [violation] = violations_of(mutated(graph, "fan-billing-dlq", _retention(None), resource_type=QUEUE), POLICY)
    assert violation.urn.endswith("::fan-billing-queue") and "'fan-billing-dlq'" in violation.message


def test_a_fifo_source_is_not_judged(synthesized):
    def fifo_at_14_days(queue):
        _retention(SQS_MAX_RETENTION_SECONDS)(queue)
        queue.inputs["fifoQueue"] = True

    graph = mutated(synthesized("prod"), "hooks-buffer-queue", fifo_at_14_days, resource_type=QUEUE)
    assert violations_of(graph, POLICY) == []
