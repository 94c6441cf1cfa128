"""The Pulumi program: read and validate the stack's config, build the platform and services, export outputs.

The Pulumi CLI runs this file with ``stacks/`` first on ``sys.path``; all code it imports is
the installed ``arcblueprint`` package, so nothing here can shadow the standard library.
"""

import os

import pulumi

from arcblueprint.config import ConfigError, from_runtime, stack_config
from arcblueprint.platform.context import StackContext
from arcblueprint.platform.encryption import EncryptionKey, EncryptionKeyArgs

try:
    config = stack_config(from_runtime(), pulumi.get_stack())
except ConfigError as error:
    # RunError is reported by the CLI as one line, without a Python traceback.
    raise pulumi.RunError(str(error)) from None

context = StackContext(stack=config)
platform_key = EncryptionKey("platform", EncryptionKeyArgs(context=context))

pulumi.export("environment", config.environment)
pulumi.export("region", config.region)
pulumi.export("platformKeyArn", platform_key.arn)
# The CI driver sets BLUEPRINT_COMMIT; prod's gate reads this output of dev ("unknown" for manual runs).
pulumi.export("deployedCommit", os.environ.get("BLUEPRINT_COMMIT", "unknown"))
