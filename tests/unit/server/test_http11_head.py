"""What a request's head decides before its body is read: the framing, and the first
rule it breaks (target, then Content-Length, then Host), as read_head reports it."""

from __future__ import annotations

import pytest

from taskcancel.server._http11 import read_head, upgrade_refusal

HOST = (b"Host", b"x")


def detail(error: object) -> str:
    return getattr(error, "code", "") + ": " + getattr(error, "message", "")


def test_a_plain_request_has_its_length_and_keeps_the_connection() -> None:
    head = read_head(b"/", [HOST, (b"Content-Length", b"12")], "1.1", True, 100)
    assert (head.refusal, head.body_length, head.keep_alive, head.expects_continue) == (
        None,
        12,
        True,
        False,
    )


def test_a_chunked_body_has_no_length() -> None:
    head = read_head(b"/", [HOST, (b"Transfer-Encoding", b"chunked")], "1.1", True, 100)
    assert head.body_length == -1 and head.keep_alive


def test_chunked_in_http_1_0_closes_the_connection_and_never_continues() -> None:
    headers = [(b"Transfer-Encoding", b"chunked"), (b"Expect", b"100-continue")]
    head = read_head(b"/", headers, "1.0", True, 100)
    assert head.refusal is None and not head.keep_alive and not head.expects_continue


@pytest.mark.parametrize(
    ("target", "headers", "version", "says"),
    [
        (b"*", [(b"Content-Length", b"999")], "1.1", "target must be a path"),
        (b"/", [(b"Content-Length", b"999")], "1.1", "body"),
        (b"/", [(b"Content-Length", b"5")], "1.1", "Host header"),
    ],
    ids=["target-first", "length-before-host", "host"],
)
def test_the_first_rule_broken_is_the_refusal(
    target: bytes, headers: list[tuple[bytes, bytes]], version: str, says: str
) -> None:
    head = read_head(target, headers, version, True, 100)
    assert head.refusal is not None and says in detail(head.refusal)
    assert not head.expects_continue


def test_continue_only_when_asked_and_nothing_is_refused() -> None:
    asks = [HOST, (b"Expect", b"100-Continue"), (b"Content-Length", b"5")]
    assert read_head(b"/", asks, "1.1", True, 100).expects_continue
    assert not read_head(b"/", asks, "1.1", True, 4).expects_continue


def test_an_upgrade_is_refused_for_connect_or_any_body() -> None:
    assert upgrade_refusal(b"GET", [HOST, (b"Upgrade", b"h2c")]) is None
    assert upgrade_refusal(b"GET", [(b"Content-Length", b"0")]) is None
    assert "CONNECT" in detail(upgrade_refusal(b"CONNECT", [HOST]))
    for body in [(b"Content-Length", b"3"), (b"Transfer-Encoding", b"chunked")]:
        assert "may not carry a body" in detail(upgrade_refusal(b"GET", [HOST, body]))
