"""The policy pack's entry point: the only place that constructs PolicyPack (it starts the analyzer and blocks)."""

from pulumi_policy import EnforcementLevel, PolicyPack

from arcblueprint.policy.pack import PACK_NAME, all_policies

# Mandatory unless the pack config (`--policy-pack-config`, from arcblueprint.policy.config) says otherwise.
PolicyPack(name=PACK_NAME, policies=all_policies(), enforcement_level=EnforcementLevel.MANDATORY)
