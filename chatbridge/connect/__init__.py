"""The Amazon Connect access layer: the only package that imports boto3 or botocore."""

from chatbridge.connect.gateway import ConnectGateway, ContinuationRefused, get_gateway

__all__ = ["ConnectGateway", "ContinuationRefused", "get_gateway"]
