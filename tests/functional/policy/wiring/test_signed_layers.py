"""lambda-layers-signed: under an enforcing code signing config, functions use the stack's own signed layer."""

from __future__ import annotations

from arcblueprint.platform.functions.layers import POWERTOOLS_ACCOUNTS
from arcblueprint.policy.testing import mutated, violations_of

POLICY = "lambda-layers-signed"
FUNCTION = "aws:lambda/function:Function"
LAYER_VERSION = "aws:lambda/layerVersion:LayerVersion"


def test_prod_functions_use_the_stacks_own_layer_version(synthesized):
    graph = synthesized("prod")
    assert violations_of(graph, POLICY) == []
    [layer] = graph.by_type(LAYER_VERSION)
    assert layer.inputs["s3Key"].startswith("lambda/signed/layers/AWSLambdaPowertoolsPythonV3-")
    assert layer.inputs["compatibleArchitectures"] == ["arm64"] and layer.inputs["compatibleRuntimes"]
    functions = graph.by_type(FUNCTION)
    assert functions
    for function in functions:
        assert function.property_dependencies["layers"] == [layer.urn], function.name
        assert [POWERTOOLS_ACCOUNTS["aws"] in arn for arn in function.inputs["layers"]] == [False]


def test_dev_keeps_aws_public_layer(synthesized):
    graph = synthesized("dev")
    assert violations_of(graph, POLICY) == []
    assert graph.by_type(LAYER_VERSION) == []
    for function in graph.by_type(FUNCTION):
        [arn] = function.inputs["layers"]
        assert f":{POWERTOOLS_ACCOUNTS['aws']}:layer:AWSLambdaPowertoolsPythonV3-" in arn, function.name


def test_prod_function_back_on_the_public_layer_is_reported_with_the_fix(synthesized):
    graph = synthesized("prod")
    function = graph.by_type(FUNCTION)[0]
    account = POWERTOOLS_ACCOUNTS["aws"]
    public = f"arn:aws:lambda:eu-west-1:{account}:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:18"

    def public_layer(resource):
        resource.inputs["layers"] = [public]
        if "layers" in resource.outputs:
            resource.outputs["layers"] = [public]
        resource.property_dependencies["layers"] = []

    broken = mutated(graph, function.name, public_layer)
    [violation] = violations_of(broken, POLICY)
    assert violation.urn == function.urn and violation.level == "mandatory"
    assert public in violation.message and "signed copy" in violation.message


def test_a_layer_from_no_layer_version_of_the_stack_is_reported(synthesized):
    """A known ARN named like no layer version the function's layers come from (another account's copy)."""
    graph = synthesized("prod")
    function = graph.by_type(FUNCTION)[-1]
    [ours] = function.inputs["layers"]
    theirs = ours.replace(":layer:", ":layer:shared-").replace(ours.split(":")[4], "210987654321")

    def add_theirs(resource):
        resource.inputs["layers"] = [ours, theirs]
        if "layers" in resource.outputs:
            resource.outputs["layers"] = [ours, theirs]

    [violation] = violations_of(mutated(graph, function.name, add_theirs), POLICY)
    assert theirs in violation.message and ours not in violation.message.replace(theirs, "")


def test_the_signing_profile_is_protected_where_stateful_resources_are(synthesized):
    """Its name is fixed and a canceled profile keeps it: replacing the profile must be a deliberate act."""
    for stack, protected in (("prod", True), ("dev", False)):
        [profile] = synthesized(stack).by_type("aws:signer/signingProfile:SigningProfile")
        assert (profile.protect, profile.retain_on_delete) == (protected, protected), stack
