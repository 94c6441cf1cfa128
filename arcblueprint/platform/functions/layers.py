"""The public Powertools for AWS Lambda (Python) v3 layer, instead of bundling it in every package.

AWS publishes one layer per Python version and architecture from account 017000801446 in every
commercial region (format checked against the Powertools docs' install page):
``arn:aws:lambda:{region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-{python313}-{arm64}:{version}``.
China (cn-north-1) is published from another account; GovCloud is not covered here.
"""

from __future__ import annotations

import re

from arcblueprint.config.schema import ConfigError

__all__ = ["POWERTOOLS_ACCOUNTS", "powertools_layer_arn"]

#: Partition -> account that publishes the layer there.
POWERTOOLS_ACCOUNTS = {"aws": "017000801446", "aws-cn": "498634801083"}
_CHINA_REGIONS = frozenset({"cn-north-1"})
_RUNTIMES = {"python3.12": "python312", "python3.13": "python313"}
_ARCHITECTURES = frozenset({"arm64", "x86_64"})


def powertools_layer_arn(region: str, *, architecture: str, runtime: str, version: int) -> str:
    """The layer version ARN for a function of ``runtime`` on ``architecture`` in ``region``.

    Raises :class:`ConfigError` for a runtime, architecture or region the layer is not published for.
    """
    if runtime not in _RUNTIMES:
        raise ConfigError("functions.runtime", runtime, "must be one of " + ", ".join(_RUNTIMES))
    if architecture not in _ARCHITECTURES:
        raise ConfigError("functions.architecture", architecture, "must be arm64 or x86_64")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ConfigError("functions.powertoolsLayerVersion", version, "must be a whole number of at least 1")
    if not re.fullmatch(r"[a-z]{2}(-gov)?-[a-z]+-\d", region):
        raise ConfigError("region", region, "must be an AWS region name such as eu-west-1")
    if region.startswith("cn-"):
        if region not in _CHINA_REGIONS:
            raise ConfigError("region", region, "the Powertools layer is published in China only in cn-north-1")
        partition = "aws-cn"
    elif "-gov-" in region:
        raise ConfigError("region", region, "the blueprint does not know the Powertools layer account for GovCloud")
    else:
        partition = "aws"
    return (
        f"arn:{partition}:lambda:{region}:{POWERTOOLS_ACCOUNTS[partition]}:layer:"
        f"AWSLambdaPowertoolsPythonV3-{_RUNTIMES[runtime]}-{architecture}:{version}"
    )
