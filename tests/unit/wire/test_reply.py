"""taskcancel.wire.reply: any reply read into a dict or an ErrorReply, never raising."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskcancel.wire import (
    ErrorReply,
    GatewayError,
    gateway_error,
    parse_reply,
    render_error,
)
from taskcancel.wire.reply import UNPARSEABLE_REPLY_CODE


def test_parse_reply_success() -> None:
    assert parse_reply(200, [], b'{"RequestId":"X"}') == {"RequestId": "X"}


def test_parse_reply_json_error() -> None:
    error = GatewayError("InvalidTaskId.NotFound", 400, "nf")
    body = render_error(error, request_id="X", host_id="H").body
    reply = parse_reply(400, [("Content-Type", "application/json")], body)
    assert isinstance(reply, ErrorReply)
    assert (reply.http_status, reply.code, reply.message) == (400, "InvalidTaskId.NotFound", "nf")
    assert (reply.request_id, reply.host_id, reply.retry_after_ms) == ("X", "H", None)
    assert reply.data["Recommend"]


def test_parse_reply_xml_error_and_throttle() -> None:
    throttled = gateway_error("Throttling.User", retry_after_ms=250)
    rendered = render_error(throttled, request_id="X", host_id="H", response_format="XML")
    reply = parse_reply(rendered.status, list(rendered.headers), rendered.body)
    assert isinstance(reply, ErrorReply)
    assert (reply.code, reply.request_id, reply.retry_after_ms) == ("Throttling.User", "X", 250)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, b""),
        (200, b"hello"),
        (200, b"[1]"),
        (502, b"<html>bad</html>"),
        (400, b"{}"),
        (500, b"\xff\xfe"),
        (200, b"<?xml version='1.0'?><CancelTaskResponse/>"),
    ],
)
def test_parse_reply_unparseable(status: int, body: bytes) -> None:
    reply = parse_reply(status, [("x-acs-retry-after", "abc")], body)
    assert isinstance(reply, ErrorReply)
    assert reply.code == UNPARSEABLE_REPLY_CODE
    assert reply.http_status == status
    assert reply.retry_after_ms is None


@settings(max_examples=200)
@given(
    st.integers(min_value=0, max_value=999),
    st.lists(
        st.tuples(
            st.sampled_from(["x-acs-retry-after", "content-type", "X"]), st.text(max_size=10)
        ),
        max_size=3,
    ),
    st.one_of(
        st.binary(max_size=200),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=10),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(
                    st.sampled_from(["Code", "Message", "RequestId", "x"]), inner, max_size=4
                )
            ),
            max_leaves=10,
        ).map(lambda v: json.dumps(v).encode()),
        st.just(b"[" * 100_000),
        st.just(b"<!DOCTYPE x [<!ENTITY a 'aaaa'>]><Error><Code>&a;</Code></Error>"),
    ),
)
def test_parse_reply_never_raises(status: int, headers: list[tuple[str, str]], body: bytes) -> None:
    reply = parse_reply(status, headers, body)
    assert isinstance(reply, dict | ErrorReply)
    if isinstance(reply, ErrorReply):
        assert isinstance(reply.code, str) and reply.code
        assert reply.retry_after_ms is None or reply.retry_after_ms > 0
    else:
        assert 200 <= status < 300
