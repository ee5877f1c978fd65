"""The Amazon Connect access layer: the only package that imports boto3 or botocore."""

from chatbridge.connect.gateway import (
    ConnectGateway,
    ContinuationRefused,
    FirstConnection,
    get_gateway,
)

__all__ = ["ConnectGateway", "ContinuationRefused", "FirstConnection", "get_gateway"]
