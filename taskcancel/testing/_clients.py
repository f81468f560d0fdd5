"""Clients for a target (the emulator or the real service): the one home of their set-up.

:class:`~taskcancel.testing.EmulatorServer` and the fixtures' ``CloudTarget`` both hand
out a signed :class:`~taskcancel.Client` and an official-SDK ``Config`` built here.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from .. import Client, HttpTransport

__all__ = ["sdk_config", "signed_client"]


def signed_client(
    endpoint: str,
    access_key_id: str,
    access_key_secret: str,
    *,
    signature: str = "acs3",
    timeout: float = 10.0,
) -> Client:
    """A :class:`~taskcancel.Client` over a signing :class:`~taskcancel.HttpTransport`."""
    transport = HttpTransport(
        endpoint,
        access_key_id=access_key_id,
        access_key_secret=access_key_secret,
        signature=signature,
        timeout=timeout,
    )
    return Client(transport)


def sdk_config(
    endpoint: str,
    access_key_id: str,
    access_key_secret: str,
    region_id: str = "cn-hangzhou",
    **options: Any,
) -> Any:
    """A ready ``alibabacloud_tea_openapi`` ``Config`` for the official new SDK.

    The endpoint's scheme becomes ``protocol`` (``HTTP`` for the emulator: every ECS API
    otherwise insists on HTTPS) and its host and port the SDK's ``endpoint``. Pass
    ``signature_algorithm="v2"`` for V1 signing.
    """
    from alibabacloud_tea_openapi.models import Config

    parts = urlsplit(endpoint)
    return Config(
        access_key_id=access_key_id,
        access_key_secret=access_key_secret,
        region_id=region_id,
        endpoint=parts.netloc,
        protocol=parts.scheme.upper(),
        **options,
    )
