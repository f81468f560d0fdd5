"""An unexpected failure inside the app is an InternalError envelope in the format asked for."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from support.app import build_app

from taskcancel import MemoryStore, Task, wire
from taskcancel.worldfile import DEFAULT_ACCOUNTS

RUNNING = Task(
    task_id="t-hardening0000000001",
    region_id="cn-hangzhou",
    action="ImportImage",
    status="Processing",
)


def test_an_internal_error_answers_in_the_format_asked_for() -> None:
    class Broken(MemoryStore):
        def cancel(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("boom")

    with build_app(accounts=DEFAULT_ACCOUNTS, store=Broken([RUNNING])) as server:
        ((key, secret),) = DEFAULT_ACCOUNTS.items()
        request = wire.v1.build_request(
            "CancelTask",
            {"RegionId": "cn-hangzhou", "TaskId": RUNNING.task_id},
            access_key_id=key,
            secret=secret,
            nonce="internal-error-xml",
            timestamp=datetime.now(UTC),
            response_format="XML",
        )
        with server.client() as http:
            reply = http.post(request.target, headers=list(request.headers))
    assert reply.status_code == 500
    assert reply.headers["content-type"] == wire.XML_CONTENT_TYPE
    assert b"<Code>InternalError</Code>" in reply.content
    assert b"Traceback" not in reply.content
