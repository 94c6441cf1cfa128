"""Signed layers: under an enforcing code signing config, a function's layers are the stack's own signed copies.

Lambda checks every layer of a function with a code signing config: each must be signed by a profile
of the config's ``allowedPublishers``, and under ``Enforce`` ``CreateFunction``/``UpdateFunctionCode``
are refused otherwise. Another account's public layer (AWS's Powertools layer, account 017000801446)
is not signed by the stack's profile, so every deploy of such a function fails. The stack publishes a
copy of the layer from an object its profile signed (``platform/code_signing.py``); the rule asks
that each layer of such a function is a layer version declared in the stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pulumi_policy.proxy import UnknownValueError

from arcblueprint.policy.base import UNKNOWN, is_list, known, known_dig, stack_policy
from arcblueprint.policy.graph import StackGraph

if TYPE_CHECKING:
    from pulumi_policy import PolicyResource, StackValidationArgs

    from arcblueprint.policy.base import ReportViolation

__all__ = ["LAYERS_SIGNED", "POLICIES"]

FUNCTION = "aws:lambda/function:Function"
CODE_SIGNING_CONFIG = "aws:lambda/codeSigningConfig:CodeSigningConfig"
LAYER_VERSION = "aws:lambda/layerVersion:LayerVersion"


def _layer_name(arn: str) -> str:
    """``arn:aws:lambda:<region>:<account>:layer:<name>:<version>`` -> ``<name>``."""
    parts = arn.split(":")
    return parts[6] if len(parts) >= 8 and parts[5] == "layer" else arn


def _entries(layers: Any) -> list[Any]:
    """The items of a ``layers`` list, :data:`UNKNOWN` for each one computed at deploy time."""
    items = []
    for index in range(len(layers)):
        try:
            items.append(layers[index])
        except UnknownValueError:
            items.append(UNKNOWN)
    return items


def _foreign_layers(graph: StackGraph, function: PolicyResource) -> list[str]:
    """Layer ARNs of ``function`` that are not layer versions of this stack.

    A layer computed from a layer version of the stack is unknown in a first preview, so entries are
    matched by the layer versions ``layers`` depends on: an unknown entry counts as one of them, a
    known one must carry the name of one of them (its ``layerName``).
    """
    layers = known(function.props, "layers")
    if not is_list(layers):
        return []
    declared = graph.refs(function, "layers", LAYER_VERSION)
    names = {known(layer.props, "layerName") for layer in declared}
    foreign = []
    unknown_entries = 0
    for entry in _entries(layers):
        if entry is UNKNOWN or not isinstance(entry, str):
            unknown_entries += 1
        elif _layer_name(entry) not in names:
            foreign.append(entry)
    if unknown_entries > len(declared):
        foreign.append(f"{unknown_entries - len(declared)} layer(s) computed from no layer version of the stack")
    return foreign


def validate_layers_signed(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """A function under an enforcing code signing config uses only layer versions the stack declares."""
    graph = StackGraph(args.resources)
    for function in graph.of_type(FUNCTION):
        config = graph.ref(function, "codeSigningConfigArn", CODE_SIGNING_CONFIG)
        if config is None or known_dig(config.props, "policies", "untrustedArtifactOnDeployment") != "Enforce":
            continue
        for layer in _foreign_layers(graph, function):
            report_violation(
                f"Lambda function '{function.name}' uses layer {layer} under an enforcing code signing config: "
                "Lambda refuses a layer the stack's profile did not sign, so CreateFunction/UpdateFunctionCode "
                "fail. Use the stack's signed copy (CodeSigning.layer: an aws.lambda_.LayerVersion from the "
                "signed object the driver puts in the artifact bucket).",
                function.urn,
            )


LAYERS_SIGNED = stack_policy(
    "lambda-layers-signed",
    "Functions under an enforcing code signing config use only the stack's own (signed) layer versions.",
    validate_layers_signed,
)

POLICIES = [LAYERS_SIGNED]
