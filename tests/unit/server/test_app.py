"""The sans-IO app on its own: ``Emulator.handle(RawRequest) -> Answer``, no sockets."""

from __future__ import annotations

import json

import pytest

from taskcancel import MemoryStore
from taskcancel.server import Answer, RawRequest, create_app


@pytest.mark.parametrize(
    ("host", "host_id"),
    [
        (b"example.com:80", "example.com"),
        (b"127.0.0.1", "127.0.0.1"),
        (b"a\xc3\xa9", "ecs.aliyuncs.com"),  # not a host name: not echoed (no mojibake)
        (b"a\x00b", "ecs.aliyuncs.com"),
    ],
)
def test_an_error_names_the_host_it_was_sent_to_when_that_is_a_host_name(
    host: bytes, host_id: str
) -> None:
    answer = create_app(MemoryStore()).handle(RawRequest("GET", b"/?x=1", [(b"host", host)], b""))
    assert isinstance(answer, Answer)
    assert answer.response.status == 400
    assert json.loads(answer.response.body)["HostId"] == host_id


def test_a_refusal_is_answered_at_staging_without_store_work() -> None:
    """What the gateway refuses never becomes Pending work for a worker thread."""
    staged = create_app(MemoryStore()).stage(RawRequest("BREW", b"/", [], b""))
    assert isinstance(staged, Answer)
    assert (staged.response.status, staged.code) == (403, "UnsupportedHTTPMethod")
