"""How a VPC-attached function reaches AWS APIs: the vocabulary the platform and the policy pack share (pure).

IAM names a service by its action prefix (``kinesis:PutRecord``); PrivateLink names the endpoint
service that answers its API (``com.amazonaws.<region>.kinesis-streams``). The two differ for a
few services, and the network (endpoints on demand), the config (``network.interfaceEndpoints``)
and the reachability rule must agree on the mapping, so it lives here once. Service names are
from AWS's list "AWS services that integrate with AWS PrivateLink".

Some statements of a function's role are used only by AWS services on the function's behalf
(Lambda's pollers and destinations, server-side encryption): their Sid starts with
:data:`ON_BEHALF`, and they need no path from the function's VPC.
"""

from __future__ import annotations

__all__ = ["GATEWAY_SERVICES", "INTERFACE_ENDPOINT_SERVICES", "ON_BEHALF", "endpoint_service", "service_name"]

#: Sid prefix of role statements only AWS services exercise with the function's role, on its behalf,
#: never the function's code. The reachability rule believes it only for the actions in its
#: ``ON_BEHALF_ACTIONS`` list (each with the reason and source).
ON_BEHALF = "OnBehalf"

#: Served by gateway endpoints on the route tables (free, no ENI, reached through a prefix list).
GATEWAY_SERVICES = ("s3", "dynamodb")

#: IAM action prefix -> endpoint service name, where they differ or where the blueprint may need one.
_ENDPOINT_OF_PREFIX: dict[str, str] = {
    "kinesis": "kinesis-streams",
    "firehose": "kinesis-firehose",
    "cloudwatch": "monitoring",
    "execute-api": "execute-api",
    "apigateway": "apigateway",
    "states": "states",
    "lambda": "lambda",
    "codedeploy": "codedeploy",
    "events": "events",
    "sqs": "sqs",
    "sns": "sns",
    "logs": "logs",
    "secretsmanager": "secretsmanager",
    "ssm": "ssm",
    "kms": "kms",
    "xray": "xray",
    "sts": "sts",
    "glue": "glue",
    "athena": "athena",
    "s3": "s3",
    "dynamodb": "dynamodb",
}

#: The endpoint services ``network.interfaceEndpoints`` may name (everything above but the gateway ones).
INTERFACE_ENDPOINT_SERVICES = frozenset(v for v in _ENDPOINT_OF_PREFIX.values() if v not in GATEWAY_SERVICES)


def endpoint_service(prefix: str) -> str:
    """The endpoint service answering the API of IAM prefix ``prefix`` (``cloudwatch`` -> ``monitoring``).

    A prefix not in the table is taken as its own endpoint name, which is right for most services.
    """
    return _ENDPOINT_OF_PREFIX.get(prefix, prefix)


def service_name(region: str, endpoint: str) -> str:
    """``com.amazonaws.<region>.<endpoint>``: what ``CreateVpcEndpoint`` takes as the service name."""
    return f"com.amazonaws.{region}.{endpoint}"
