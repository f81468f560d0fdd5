"""ACS3 through the app (``Emulator.handle``, as an SDK sends it): what decides a call is signed,
and a header that decides it is never sent twice."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime

import httpx
import pytest
from support.app import InProcess, build_app
from support.signing import hand_signed_acs3, sdk_headers

from taskcancel import wire
from taskcancel.worldfile import DEFAULT_ACCOUNTS

IMPORT = {
    "RegionId": "cn-hangzhou",
    "DiskDeviceMapping.1.OSSBucket": "bucket",
    "DiskDeviceMapping.1.OSSObject": "disk.vhd",
}
FORM = ("content-type", "application/x-www-form-urlencoded")


@pytest.fixture(scope="module")
def server() -> Iterator[InProcess]:
    running = build_app(accounts=DEFAULT_ACCOUNTS)
    yield running
    running.close()


@pytest.fixture
def http(server: InProcess) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


def _headers(server: InProcess, nonce: str, *, body: bytes = b"") -> list[tuple[str, str]]:
    """What the new SDK sends for an ImportImage now, against this server."""
    date = wire.format_timestamp(datetime.now(UTC))
    host = server.endpoint.removeprefix("http://")
    headers = sdk_headers(host=host, date=date, nonce=nonce, body=body)
    return [(k, "ImportImage" if k == "x-acs-action" else v) for k, v in headers]


def _post(
    http: httpx.Client,
    headers: list[tuple[str, str]],
    signed: list[str],
    *,
    params: Mapping[str, str] = IMPORT,
    body: bytes = b"",
) -> httpx.Response:
    out = hand_signed_acs3(headers, signed, params=params, body=body)
    return http.post(out.target, headers=list(out.headers), content=out.body)


def _refused(response: httpx.Response, code: str) -> str:
    assert response.status_code == 400, response.text
    document = response.json()
    assert document["Code"] == code, document
    return str(document["Message"])


def test_two_nonces_cannot_replay_an_import(server: InProcess, http: httpx.Client) -> None:
    """Two x-acs-signature-nonce headers, swapped: one signature, two nonces to choose from."""
    one = _headers(server, "nonce-a")
    signed = sorted({name for name, _ in one})
    accepted = _post(http, one, signed)
    assert accepted.status_code == 200, accepted.text  # the request is otherwise valid
    assert accepted.json()["TaskId"]
    nonce_at = [name for name, _ in one].index("x-acs-signature-nonce")
    for first, second in (("nonce-b", "nonce-c"), ("nonce-c", "nonce-b")):
        twice = list(one)
        twice[nonce_at : nonce_at + 1] = [
            ("x-acs-signature-nonce", first),
            ("x-acs-signature-nonce", second),
        ]
        message = _refused(_post(http, twice, signed), "InvalidParameter.Format")
        assert "Header x-acs-signature-nonce is repeated." in message


def test_a_signature_over_date_and_nonce_alone_is_refused(
    server: InProcess, http: httpx.Client
) -> None:
    """Action and region in the query, host and x-acs-* headers unsigned: refused."""
    params = {**IMPORT, "Action": "ImportImage", "Version": wire.ECS_VERSION}
    signed = ["x-acs-date", "x-acs-signature-nonce"]
    response = _post(http, _headers(server, "nonce-d"), signed, params=params)
    message = _refused(response, "IncompleteSignature")
    assert "must be signed" in message and "host" in message


def test_a_body_whose_content_type_is_unsigned_is_refused(
    server: InProcess, http: httpx.Client
) -> None:
    """Content-Type decides whether the body is parameters: it must be signed with a body."""
    body = b"DiskDeviceMapping.1.OSSObject=other.vhd"
    params = {k: v for k, v in IMPORT.items() if k != "DiskDeviceMapping.1.OSSObject"}
    headers = [*_headers(server, "nonce-e", body=body), FORM]
    assert dict(headers)["x-acs-content-sha256"] == hashlib.sha256(body).hexdigest()
    unsigned = sorted(name for name, _ in headers if name != "content-type")
    response = _post(http, headers, unsigned, params=params, body=body)
    assert "content-type must be signed" in _refused(response, "IncompleteSignature")
    headers = [*_headers(server, "nonce-f", body=body), FORM]
    signed = sorted(name for name, _ in headers)
    response = _post(http, headers, signed, params=params, body=body)
    assert response.status_code == 200, response.text
