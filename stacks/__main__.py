"""The Pulumi program: read and validate the stack's config, build the platform and services, export outputs.

The Pulumi CLI runs this file with ``stacks/`` first on ``sys.path``; all code it imports is
the installed ``arcblueprint`` package, so nothing here can shadow the standard library.
"""

import os

import pulumi

from arcblueprint.config import ConfigError, from_runtime, stack_config
from arcblueprint.platform.build import build_platform
from arcblueprint.platform.context import StackContext
from arcblueprint.services import build_service

try:
    config = stack_config(from_runtime(), pulumi.get_stack())
    context = StackContext(stack=config)
    platform = build_platform(context)
    services = {name: build_service(name, spec, platform.platform) for name, spec in config.services.items()}
    platform.finish()  # after every service has named the secrets it reads
except ConfigError as error:
    # RunError is reported by the CLI as one line, without a Python traceback, naming the stack.
    named = error if error.stack else error.in_stack(pulumi.get_stack(), error.source)
    raise pulumi.RunError(str(named).replace("\n", " ")) from None

pulumi.export("environment", config.environment)
pulumi.export("region", config.region)
for key, value in platform.outputs.items():
    pulumi.export(key, value)
for name, service in services.items():
    for key, value in service.outputs.items():
        pulumi.export(f"{name}:{key}", value)
releases = platform.platform.releases
pulumi.export("releases", releases.releases)
pulumi.export("rollbackAlarmNames", releases.weighted_alarm_names)
# The CI driver sets BLUEPRINT_COMMIT; prod's gate reads this output of dev ("unknown" for manual runs).
pulumi.export("deployedCommit", os.environ.get("BLUEPRINT_COMMIT", "unknown"))
