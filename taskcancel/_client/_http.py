"""The HTTP transports: sign each call like the official SDKs and send it with httpx.

``HttpTransport`` (sync) and ``AsyncHttpTransport`` talk to the emulator or to the real
endpoint. They sign with ACS3-HMAC-SHA256 by default (what the current official SDK
does) or with the V1 HMAC-SHA1 scheme (``signature="v1"``). Building and signing the
request, and reading the reply, is :mod:`taskcancel.wire`'s job; this module only adds
the clock, the nonces and the socket.

httpx is an optional dependency (``pip install 'taskcancel[client]'``); it is imported
when a transport is created.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .. import wire
from .._client._client import ApiRequest, ApiResponse
from .._core._exceptions import TransportError
from .._store import Clock, system_clock

if TYPE_CHECKING:
    import httpx

__all__ = ["DEFAULT_ENDPOINT", "AsyncHttpTransport", "HttpTransport"]

#: The real service (its host is also what error envelopes name as HostId).
DEFAULT_ENDPOINT = f"https://{wire.DEFAULT_HOST_ID}"


def _httpx() -> Any:
    try:
        import httpx
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("HttpTransport needs httpx: pip install 'taskcancel[client]'") from exc
    return httpx


class _Signer:
    """Everything both transports share: endpoint, credentials, signing, reply reading."""

    def __init__(
        self,
        endpoint: str,
        access_key_id: str | None,
        access_key_secret: str | None,
        signature: str,
        security_token: str | None,
        clock: Clock | None,
        nonces: Callable[[], str] | None,
    ) -> None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                f"endpoint must be an http(s) URL like {DEFAULT_ENDPOINT}, got {endpoint!r}"
            )
        self.endpoint = f"{parts.scheme}://{parts.netloc}"
        self.host = parts.netloc
        key_id = access_key_id or os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_ID", "")
        secret = access_key_secret or os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "")
        if not key_id or not secret:
            raise ValueError(
                "credentials missing: pass access_key_id and access_key_secret, or set "
                "ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET"
            )
        self.access_key_id = key_id
        self._secret = secret
        try:
            self.scheme = wire.Scheme(signature)
        except ValueError:
            raise ValueError(f"signature must be 'acs3' or 'v1', got {signature!r}") from None
        self.security_token = security_token or os.environ.get("ALIBABA_CLOUD_SECURITY_TOKEN")
        self.clock = clock or system_clock
        self.nonces = nonces or (lambda: uuid.uuid4().hex)

    def build(self, request: ApiRequest) -> wire.OutgoingRequest:
        common: dict[str, Any] = {
            "access_key_id": self.access_key_id,
            "secret": self._secret,
            "nonce": self.nonces(),
            "timestamp": self.clock(),
            "security_token": self.security_token,
        }
        build = wire.SCHEMES[self.scheme].build_request
        return build(request.action, request.params, host=self.host, **common)

    def read(self, status: int, headers: list[tuple[str, str]], body: bytes) -> ApiResponse:
        reply = wire.parse_reply(status, headers, body)
        header_map = {name.lower(): value for name, value in headers}
        if isinstance(reply, wire.ErrorReply):
            if 200 <= status < 300:
                raise TransportError(f"unreadable reply (HTTP {status}): {body[:200]!r}")
            error_body = {
                "RequestId": reply.request_id,
                "HostId": reply.host_id,
                "Code": reply.code,
                "Message": reply.message or body[:200].decode("utf-8", "replace"),
            }
            return ApiResponse(status, error_body, header_map)
        return ApiResponse(status, reply, header_map)


class HttpTransport:
    """A signing transport over ``httpx.Client``.

    ``endpoint`` defaults to the real service; for the emulator pass
    ``"http://127.0.0.1:8080"``. Credentials default to the official SDKs'
    environment variables. ``timeout`` is in seconds.
    """

    def __init__(
        self,
        endpoint: str = DEFAULT_ENDPOINT,
        *,
        access_key_id: str | None = None,
        access_key_secret: str | None = None,
        signature: str = "acs3",
        security_token: str | None = None,
        timeout: float = 10.0,
        client: httpx.Client | None = None,
        clock: Clock | None = None,
        nonces: Callable[[], str] | None = None,
    ) -> None:
        self._signer = _Signer(
            endpoint, access_key_id, access_key_secret, signature, security_token, clock, nonces
        )
        httpx = _httpx()
        self._owns_client = client is None
        self._client = client or httpx.Client(timeout=timeout, trust_env=False)
        self._errors = httpx.HTTPError

    @property
    def endpoint(self) -> str:
        return self._signer.endpoint

    def handle_request(self, request: ApiRequest) -> ApiResponse:
        out = self._signer.build(request)
        try:
            response = self._client.request(
                out.method,
                self._signer.endpoint + out.target,
                headers=list(out.headers),
                content=out.body,
            )
        except self._errors as exc:
            raise TransportError(f"{request.action} to {self.endpoint} failed: {exc}") from exc
        return self._signer.read(
            response.status_code, list(response.headers.items()), response.content
        )

    def close(self) -> None:
        if self._owns_client:
            self._client.close()


class AsyncHttpTransport:
    """The asyncio counterpart of :class:`HttpTransport`, over ``httpx.AsyncClient``."""

    def __init__(
        self,
        endpoint: str = DEFAULT_ENDPOINT,
        *,
        access_key_id: str | None = None,
        access_key_secret: str | None = None,
        signature: str = "acs3",
        security_token: str | None = None,
        timeout: float = 10.0,
        client: httpx.AsyncClient | None = None,
        clock: Clock | None = None,
        nonces: Callable[[], str] | None = None,
    ) -> None:
        self._signer = _Signer(
            endpoint, access_key_id, access_key_secret, signature, security_token, clock, nonces
        )
        httpx = _httpx()
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(timeout=timeout, trust_env=False)
        self._errors = httpx.HTTPError

    @property
    def endpoint(self) -> str:
        return self._signer.endpoint

    async def handle_async_request(self, request: ApiRequest) -> ApiResponse:
        out = self._signer.build(request)
        try:
            response = await self._client.request(
                out.method,
                self._signer.endpoint + out.target,
                headers=list(out.headers),
                content=out.body,
            )
        except self._errors as exc:
            raise TransportError(f"{request.action} to {self.endpoint} failed: {exc}") from exc
        return self._signer.read(
            response.status_code, list(response.headers.items()), response.content
        )

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()
