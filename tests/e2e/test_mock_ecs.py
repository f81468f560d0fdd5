"""``taskcancel.testing.mock_ecs``: official-SDK clients made by code that names no endpoint.

The "library" functions below are what code under test looks like: they build their own
client from a region (and maybe a key) and never mention an endpoint or a protocol. Each
test checks the outcome on the emulator itself (the task is ``Deleted`` there), so a call
that went anywhere else could not pass. Once a block is over, a client made by the same
code heads for the real service again: a recording proxy on 127.0.0.1 (both SDKs honour
``HTTP(S)_PROXY``) sees where it was going, so nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_tea_openapi.models import Config
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdkecs.request.v20140526.CancelTaskRequest import CancelTaskRequest
from Tea.exceptions import TeaException

from taskcancel import Task, TaskStatus
from taskcancel.testing import EmulatorServer, mock_ecs

pytestmark = pytest.mark.usefixtures("no_proxy_env")

REGION = "cn-shanghai"
OTHER_KEY = ("tenant-b", "tenant-b-secret")
ORIGINAL_INITS = (EcsClient.__init__, AcsClient.__init__)
_ids = itertools.count()

# --------------------------------------------------------- library code under test


def cancel_new_sdk(region: str, task_id: str, key: tuple[str, str] | None = None) -> str:
    """Library code on the new SDK: a Config with a region (and maybe a key), no endpoint."""
    config = Config(region_id=region)
    if key is not None:
        config = Config(access_key_id=key[0], access_key_secret=key[1], region_id=region)
    client = EcsClient(config)
    request = ecs_models.CancelTaskRequest(region_id=region, task_id=task_id)
    return str(client.cancel_task(request).body.request_id)


def cancel_old_sdk(region: str, task_id: str, key: tuple[str, str] | None = None) -> str:
    """Library code on the old SDK: ``AcsClient(region_id=...)``, maybe with a key."""
    client = AcsClient(*key, region_id=region) if key else AcsClient(region_id=region)
    request = CancelTaskRequest()
    request.set_TaskId(task_id)
    return str(json.loads(client.do_action_with_exception(request))["RequestId"])


LIBRARIES = {"new-sdk": cancel_new_sdk, "old-sdk": cancel_old_sdk}


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ServerException):
        return str(exc.get_error_code())
    assert isinstance(exc, TeaException), exc
    return str(exc.code)


# ---------------------------------------------------------------------- fixtures


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    accounts = {"testid": "testsecret", OTHER_KEY[0]: OTHER_KEY[1]}
    with EmulatorServer(accounts=accounts) as running:
        yield running


def running_task(server: EmulatorServer, owner: str | None = None) -> str:
    task = Task(
        task_id=f"t-mock{next(_ids):016d}",
        region_id=REGION,
        action="ImportImage",
        status="Processing",
        owner=owner,
    )
    return server.add_task(task).task_id


def status_on(server: EmulatorServer, task_id: str, key: tuple[str, str] | None = None) -> Any:
    """The task's status as the emulator holds it (asked with our own client)."""
    from taskcancel import Client, HttpTransport

    key_id, secret = key or (server.access_key_id, server.access_key_secret)
    transport = HttpTransport(server.endpoint, access_key_id=key_id, access_key_secret=secret)
    with Client(transport) as client:
        return client.describe_task_attribute(REGION, task_id).status


class RecordingProxy:
    """An HTTP proxy on 127.0.0.1 that records each request line and answers 502."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:  # closed
                return
            with conn:
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    head += chunk
                self.lines.append(head.split(b"\r\n", 1)[0].decode("latin-1"))
                conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")

    def close(self) -> None:
        self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept() (close alone does not)
        self._listener.close()
        self._thread.join(timeout=10)


@pytest.fixture
def proxy() -> Iterator[RecordingProxy]:
    recorder = RecordingProxy()
    yield recorder
    recorder.close()


def assert_not_redirected(
    library: Any, server: EmulatorServer, proxy: RecordingProxy, mp: pytest.MonkeyPatch
) -> None:
    """A client made by ``library`` now heads for the real service, not the emulator."""
    assert (EcsClient.__init__, AcsClient.__init__) == ORIGINAL_INITS
    task_id = running_task(server)
    with mp.context() as env:
        for name in ("HTTP_PROXY", "HTTPS_PROXY"):
            env.setenv(name, proxy.url)
        with pytest.raises(Exception):  # noqa: B017 - the proxy refuses whatever the SDK does
            library(REGION, task_id, ("testid", "testsecret"))
    assert proxy.lines, "the client sent nothing"
    assert all("aliyuncs.com" in line for line in proxy.lines), proxy.lines
    assert all(str(server.port) not in line for line in proxy.lines), proxy.lines
    assert status_on(server, task_id) is TaskStatus.PROCESSING


# ------------------------------------------------------------------------- tests


@pytest.mark.parametrize("library", LIBRARIES.values(), ids=LIBRARIES)
def test_code_that_names_no_endpoint_reaches_the_emulator(
    server: EmulatorServer, library: Any
) -> None:
    passed_key, default_key = running_task(server), running_task(server)
    other = running_task(server, owner=OTHER_KEY[0])
    with mock_ecs(server) as given:
        assert given is server
        library(REGION, passed_key, ("testid", "testsecret"))
        library(REGION, default_key)  # no key at all: the emulator's
        library(REGION, other, OTHER_KEY)  # a key the code passes is kept
    assert status_on(server, passed_key) is TaskStatus.DELETED
    assert status_on(server, default_key) is TaskStatus.DELETED
    assert status_on(server, other, OTHER_KEY) is TaskStatus.DELETED


@pytest.mark.parametrize("library", LIBRARIES.values(), ids=LIBRARIES)
def test_requests_are_still_signed_and_verified(server: EmulatorServer, library: Any) -> None:
    task_id = running_task(server)
    with mock_ecs(server), pytest.raises((ServerException, TeaException)) as refused:
        library(REGION, task_id, ("testid", "not-the-secret"))
    assert error_code(refused.value) in {"SignatureDoesNotMatch", "InvalidAccessKeySecret"}
    with mock_ecs(server), pytest.raises((ServerException, TeaException)) as unknown:
        library(REGION, task_id, ("nobody", "secret"))
    assert error_code(unknown.value) == "InvalidAccessKeyId.NotFound"
    assert status_on(server, task_id) is TaskStatus.PROCESSING


def test_explicit_endpoint_and_https_are_redirected_too(server: EmulatorServer) -> None:
    new_task, old_task = running_task(server), running_task(server)
    with mock_ecs(server):
        config = Config(region_id=REGION, endpoint="ecs.aliyuncs.com", protocol="HTTPS")
        EcsClient(config).cancel_task(
            ecs_models.CancelTaskRequest(region_id=REGION, task_id=new_task)
        )
        assert config.endpoint == "ecs.aliyuncs.com"  # the caller's Config is not changed
        request = CancelTaskRequest()
        request.set_TaskId(old_task)
        request.set_protocol_type("https")
        AcsClient(region_id=REGION).do_action_with_exception(request)
    assert status_on(server, new_task) is TaskStatus.DELETED
    assert status_on(server, old_task) is TaskStatus.DELETED


@pytest.mark.parametrize("library", LIBRARIES.values(), ids=LIBRARIES)
def test_a_thread_started_inside_sees_it(server: EmulatorServer, library: Any) -> None:
    task_id = running_task(server)
    outcome: list[BaseException | str] = []

    def work() -> None:
        try:
            outcome.append(library(REGION, task_id))
        except BaseException as exc:
            outcome.append(exc)

    with mock_ecs(server):
        thread = threading.Thread(target=work)
        thread.start()
        thread.join(timeout=60)
    assert len(outcome) == 1 and isinstance(outcome[0], str), outcome
    assert status_on(server, task_id) is TaskStatus.DELETED


@pytest.mark.parametrize("library", LIBRARIES.values(), ids=LIBRARIES)
def test_everything_is_restored_when_the_block_raises(
    server: EmulatorServer,
    library: Any,
    proxy: RecordingProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), mock_ecs(server):
        assert (EcsClient.__init__, AcsClient.__init__) != ORIGINAL_INITS
        raise Boom
    assert_not_redirected(library, server, proxy, monkeypatch)


@pytest.mark.parametrize("library", LIBRARIES.values(), ids=LIBRARIES)
def test_a_client_created_after_the_block_is_not_redirected(
    server: EmulatorServer,
    library: Any,
    proxy: RecordingProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with mock_ecs(server):
        library(REGION, running_task(server))
    assert_not_redirected(library, server, proxy, monkeypatch)


@pytest.mark.parametrize("library", LIBRARIES.values(), ids=LIBRARIES)
def test_nested_blocks_the_innermost_server_wins(server: EmulatorServer, library: Any) -> None:
    with EmulatorServer() as inner:
        outer_task, inner_task = running_task(server), running_task(server)
        inner.add_task(
            Task(task_id=inner_task, region_id=REGION, action="ImportImage", status="Processing")
        )
        with mock_ecs(server):
            with mock_ecs(inner):
                library(REGION, inner_task)
            library(REGION, outer_task)
        assert status_on(inner, inner_task) is TaskStatus.DELETED
        assert status_on(server, inner_task) is TaskStatus.PROCESSING
        assert status_on(server, outer_task) is TaskStatus.DELETED
    assert (EcsClient.__init__, AcsClient.__init__) == ORIGINAL_INITS


def test_decorator_sync_and_async(server: EmulatorServer) -> None:
    first, second = running_task(server), running_task(server)

    @mock_ecs(server)
    def cancel_first() -> str:
        return cancel_old_sdk(REGION, first)

    @mock_ecs(server)
    async def cancel_second() -> str:
        return cancel_new_sdk(REGION, second)

    assert cancel_first.__name__ == "cancel_first"
    cancel_first()
    assert (EcsClient.__init__, AcsClient.__init__) == ORIGINAL_INITS
    asyncio.run(cancel_second())
    assert (EcsClient.__init__, AcsClient.__init__) == ORIGINAL_INITS
    assert status_on(server, first) is TaskStatus.DELETED
    assert status_on(server, second) is TaskStatus.DELETED


def test_without_a_server_it_runs_its_own() -> None:
    with mock_ecs() as own:
        task_id = running_task(own)
        cancel_new_sdk(REGION, task_id)
        assert status_on(own, task_id) is TaskStatus.DELETED
    with pytest.raises(RuntimeError, match="not running"):
        own.endpoint  # noqa: B018 - stopped with the block


def test_one_block_is_entered_once_at_a_time(server: EmulatorServer) -> None:
    block = mock_ecs(server)
    with block, pytest.raises(RuntimeError, match="already open"), block:
        pass
    with block:  # and again once it is over
        pass
    assert (EcsClient.__init__, AcsClient.__init__) == ORIGINAL_INITS


def test_a_server_that_is_not_running_is_refused() -> None:
    with pytest.raises(RuntimeError, match="not running"), mock_ecs(EmulatorServer()):
        pass
    assert (EcsClient.__init__, AcsClient.__init__) == ORIGINAL_INITS


def test_the_ecs_mock_fixture(ecs_mock: EmulatorServer) -> None:
    task_id = running_task(ecs_mock)
    cancel_new_sdk(REGION, task_id)
    old_task = running_task(ecs_mock)
    cancel_old_sdk(REGION, old_task)
    assert status_on(ecs_mock, task_id) is TaskStatus.DELETED
    assert status_on(ecs_mock, old_task) is TaskStatus.DELETED
