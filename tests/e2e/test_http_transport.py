"""``HttpTransport`` / ``AsyncHttpTransport`` against the emulator: the same outcomes as
the in-memory mock, and the failures only a network client has (no route, credentials,
throttling, bad signatures, unreadable replies)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from taskcancel import (
    ApiError,
    AsyncClient,
    AsyncHttpTransport,
    AuthenticationError,
    CancelRejected,
    Client,
    HttpTransport,
    InMemoryTransport,
    MemoryStore,
    Reason,
    Task,
    TaskCancelError,
    ThrottlingError,
    TransportError,
)
from taskcancel.testing import EmulatorServer
from taskcancel.worldfile import WorldSpec

REGION = "cn-hangzhou"
REGIONS = frozenset({REGION, "cn-shanghai"})
ACCOUNTS = {"testid": "testsecret", "other": "othersecret"}
CREDENTIALS: dict[str, Any] = {"access_key_id": "testid", "access_key_secret": "testsecret"}


def world_tasks() -> list[Task]:
    def task(task_id: str, action: str, status: str, **extra: Any) -> Task:
        return Task(
            task_id=task_id,
            region_id=extra.pop("region_id", REGION),
            action=action,
            status=status,
            owner=extra.pop("owner", "testid"),
            **extra,
        )

    return [
        task("t-import", "ImportImage", "Processing"),
        task("t-export", "ExportImage", "Processing"),
        task("t-finished", "ImportImage", "Finished"),
        task("t-failed", "ExportImage", "Failed"),
        task("t-waiting", "ImportImage", "Waiting"),
        task("t-paused", "ExportImage", "Paused"),
        task("t-redeploy", "RedeployInstance", "Processing"),
        task("t-disk", "ModifyDiskSpec", "Processing"),
        task("t-archive", "ArchiveSnapshot", "Processing"),
        task("t-fails", "ImportImage", "Processing", cancel_fails=True),
        task("t-theirs", "ImportImage", "Processing", owner="other"),
        task("t-shanghai", "ImportImage", "Processing", region_id="cn-shanghai"),
    ]


#: (RegionId, TaskId) in order; together they hit every Reason and success, and the
#: state changes (a cancelled task cannot be cancelled again).
CALLS: list[tuple[str | None, str | None]] = [
    (None, "t-import"),
    ("", "t-import"),
    (REGION, None),
    (REGION, ""),
    ("xx-nowhere-1", "t-import"),
    (REGION, "t-missing"),
    (REGION, "t-theirs"),
    (REGION, "t-shanghai"),
    ("cn-shanghai", "t-import"),
    (REGION, "t-redeploy"),
    (REGION, "t-disk"),
    (REGION, "t-archive"),
    (REGION, "t-finished"),
    (REGION, "t-failed"),
    (REGION, "t-waiting"),
    (REGION, "t-paused"),
    (REGION, "t-fails"),
    (REGION, "t-import"),  # success
    (REGION, "t-import"),  # now Deleted: IncorrectTaskStatus
    (REGION, "t-export"),  # success
    ("cn-shanghai", "t-shanghai"),  # success
    (REGION, "t-fails"),  # still fails
]


def outcome(client: Client, region_id: str | None, task_id: str | None) -> tuple[Any, ...]:
    try:
        request_id = client.cancel_task(region_id, task_id)
    except CancelRejected as exc:
        return (type(exc), exc.reason, exc.code, exc.http_status, exc.message)
    assert len(request_id) == 36
    return ("OK",)


def describe(client: Client) -> list[tuple[str, str, bool]]:
    page = client.describe_tasks(REGION, page_size=100)
    return sorted((t.task_id, t.status.value, t.support_cancel) for t in page.tasks)


@pytest.fixture(params=["2017", "current"])
def profile(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def emulator(profile: str) -> Iterator[EmulatorServer]:
    spec = WorldSpec(regions=REGIONS, accounts=dict(ACCOUNTS), tasks=tuple(world_tasks()))
    with EmulatorServer(spec, profile=profile) as server:
        yield server


@pytest.fixture(scope="module")
def shared() -> Iterator[EmulatorServer]:
    """One server for the tests whose outcome does not depend on the profile; each test
    that changes a task uses its own."""
    extra = [
        Task(
            task_id=f"t-throttle-{s}",
            region_id=REGION,
            action="ImportImage",
            status="Processing",
            owner="testid",
        )
        for s in ("acs3", "v1")
    ]
    spec = WorldSpec(regions=REGIONS, accounts=dict(ACCOUNTS), tasks=(*world_tasks(), *extra))
    with EmulatorServer(spec) as server:
        yield server


def memory_client(profile: str) -> Client:
    store = MemoryStore(world_tasks(), regions=REGIONS)
    return Client(InMemoryTransport(store, account="testid", profile=profile))


@pytest.mark.parametrize("signature", ["acs3", "v1"])
def test_http_transport_gives_the_same_outcomes_as_the_mock(
    emulator: EmulatorServer, profile: str, signature: str
) -> None:
    mock = memory_client(profile)
    with Client(HttpTransport(emulator.endpoint, signature=signature, **CREDENTIALS)) as http:
        for region_id, task_id in CALLS:
            expected = outcome(mock, region_id, task_id)
            assert outcome(http, region_id, task_id) == expected, (region_id, task_id)
        assert describe(http) == describe(mock)

    reasons = {
        o[1] for o in (outcome(memory_client(profile), r, t) for r, t in CALLS) if o[0] != "OK"
    }
    assert reasons == set(Reason)  # the list really covers every reason


def test_async_http_transport_gives_the_same_outcomes_as_the_mock(
    emulator: EmulatorServer, profile: str
) -> None:
    mock = memory_client(profile)

    async def run() -> list[tuple[Any, ...]]:
        results: list[tuple[Any, ...]] = []
        transport = AsyncHttpTransport(emulator.endpoint, **CREDENTIALS)
        async with AsyncClient(transport) as client:
            for region_id, task_id in CALLS:
                try:
                    await client.cancel_task(region_id, task_id)
                    results.append(("OK",))
                except CancelRejected as exc:
                    results.append((type(exc), exc.reason, exc.code, exc.http_status, exc.message))
            info = await client.describe_task_attribute(REGION, "t-import")
            results.append((info.task_id, info.status.value, info.support_cancel))
        return results

    expected = [outcome(mock, r, t) for r, t in CALLS]
    info = mock.describe_task_attribute(REGION, "t-import")
    expected.append((info.task_id, info.status.value, info.support_cancel))
    assert asyncio.run(run()) == expected


def test_rejections_carry_the_servers_request_id(shared: EmulatorServer) -> None:
    with (
        Client(HttpTransport(shared.endpoint, **CREDENTIALS)) as client,
        pytest.raises(CancelRejected) as caught,
    ):
        client.cancel_task(REGION, "t-finished")
    assert len(caught.value.request_id) == 36
    assert caught.value.request_id == caught.value.request_id.upper()


def test_credentials_come_from_the_sdk_environment_variables(
    shared: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "other")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "othersecret")

    with Client(HttpTransport(shared.endpoint)) as client:
        client.cancel_task(REGION, "t-theirs")  # only "other" can see it
        with pytest.raises(CancelRejected) as caught:
            client.cancel_task(REGION, "t-export")  # testid's task
    assert caught.value.reason is Reason.TASK_NOT_FOUND


@pytest.mark.parametrize(
    "present", [(), ("ALIBABA_CLOUD_ACCESS_KEY_ID",), ("ALIBABA_CLOUD_ACCESS_KEY_SECRET",)]
)
@pytest.mark.parametrize("factory", [HttpTransport, AsyncHttpTransport])
def test_missing_credentials_name_the_variables(
    monkeypatch: pytest.MonkeyPatch, present: tuple[str, ...], factory: Any
) -> None:
    for name in ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"):
        monkeypatch.delenv(name, raising=False)
    for name in present:
        monkeypatch.setenv(name, "x")

    with pytest.raises(ValueError) as caught:
        factory("http://127.0.0.1:1")
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in str(caught.value)
    assert "ALIBABA_CLOUD_ACCESS_KEY_SECRET" in str(caught.value)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connection_refused_is_a_transport_error_with_its_cause() -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}"
    with (
        Client(HttpTransport(endpoint, **CREDENTIALS)) as client,
        pytest.raises(TransportError) as caught,
    ):
        client.cancel_task(REGION, "t-import")
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert endpoint in str(caught.value)
    assert isinstance(caught.value, TaskCancelError)


def test_async_connection_refused_is_a_transport_error() -> None:
    async def run() -> None:
        transport = AsyncHttpTransport(f"http://127.0.0.1:{closed_port()}", **CREDENTIALS)
        async with AsyncClient(transport) as client:
            await client.cancel_task(REGION, "t-import")

    with pytest.raises(TransportError) as caught:
        asyncio.run(run())
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


@pytest.mark.parametrize("signature", ["acs3", "v1"])
def test_throttling_is_a_throttling_error(shared: EmulatorServer, signature: str) -> None:
    task_id = f"t-throttle-{signature}"
    with Client(HttpTransport(shared.endpoint, signature=signature, **CREDENTIALS)) as client:
        shared.set_faults(throttle_rate=1.0, retry_after_ms=1500)
        try:
            with pytest.raises(ThrottlingError) as caught:
                client.cancel_task(REGION, task_id)
        finally:
            shared.set_faults(throttle_rate=0.0)
        client.cancel_task(REGION, task_id)  # the throttled call left the task alone
    assert caught.value.retry_after_ms == 1500
    assert (caught.value.code, caught.value.http_status) == ("Throttling.User", 400)


@pytest.mark.parametrize("signature", ["acs3", "v1"])
def test_wrong_secret_is_an_authentication_error(shared: EmulatorServer, signature: str) -> None:
    transport = HttpTransport(
        shared.endpoint, access_key_id="testid", access_key_secret="wrong", signature=signature
    )
    with Client(transport) as client, pytest.raises(AuthenticationError) as caught:
        client.cancel_task(REGION, "t-import")
    assert (caught.value.code, caught.value.http_status) == ("SignatureDoesNotMatch", 400)
    assert isinstance(caught.value, ApiError)
    assert not isinstance(caught.value, CancelRejected)


def test_unknown_key_is_an_authentication_error(shared: EmulatorServer) -> None:
    transport = HttpTransport(shared.endpoint, access_key_id="nobody", access_key_secret="x")
    with Client(transport) as client, pytest.raises(AuthenticationError) as caught:
        client.cancel_task(REGION, "t-import")
    assert caught.value.code == "InvalidAccessKeyId.NotFound"


def test_a_stale_clock_is_an_authentication_error(shared: EmulatorServer) -> None:
    from datetime import UTC, datetime

    transport = HttpTransport(
        shared.endpoint, clock=lambda: datetime(2020, 1, 1, tzinfo=UTC), **CREDENTIALS
    )
    with Client(transport) as client, pytest.raises(AuthenticationError) as caught:
        client.cancel_task(REGION, "t-import")
    assert caught.value.code == "InvalidTimeStamp.Expired"


def test_a_repeated_nonce_is_refused(shared: EmulatorServer) -> None:
    transport = HttpTransport(shared.endpoint, nonces=lambda: "f" * 32, **CREDENTIALS)
    with Client(transport) as client:
        client.describe_tasks(REGION)
        with pytest.raises(AuthenticationError) as caught:
            client.describe_tasks(REGION)
    assert caught.value.code == "SignatureNonceUsed"


@pytest.mark.parametrize("endpoint", ["127.0.0.1:8080", "ftp://127.0.0.1", "http://"])
def test_bad_endpoints_are_refused_up_front(endpoint: str) -> None:
    with pytest.raises(ValueError, match="endpoint"):
        HttpTransport(endpoint, **CREDENTIALS)


def mock_transport(status: int, body: bytes, content_type: str) -> HttpTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"content-type": content_type})

    return HttpTransport(
        "http://127.0.0.1:1",
        client=httpx.Client(transport=httpx.MockTransport(handler)),
        **CREDENTIALS,
    )


def test_an_html_error_page_is_an_api_error_not_a_crash() -> None:
    with (
        Client(mock_transport(502, b"<html>Bad Gateway</html>", "text/html")) as client,
        pytest.raises(ApiError) as caught,
    ):
        client.cancel_task(REGION, "t-import")
    assert caught.value.http_status == 502


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<html>captive portal</html>", "text/html"),
        (b"", "application/json"),
        (b"[]", "application/json"),
    ],
)
def test_an_unreadable_success_is_a_transport_error(body: bytes, content_type: str) -> None:
    with Client(mock_transport(200, body, content_type)) as client, pytest.raises(TransportError):
        client.cancel_task(REGION, "t-import")
