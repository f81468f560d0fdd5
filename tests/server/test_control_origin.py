"""The open (tokenless, loopback) control plane refuses what a web page could send.

A page the developer visits can POST to 127.0.0.1 without a preflight ("simple"
requests: no custom headers, a text/plain body), and through DNS rebinding can even read
answers under a foreign Host name. The plane is as privileged as the world file, so:
a foreign Origin or Host is 403, and a body must be application/json (which a page
cannot send cross-site without a preflight the plane never grants).
"""

from __future__ import annotations

import json
import socket

import pytest

from taskcancel.testing import EmulatorServer

BODY = json.dumps(
    {"Tasks": [{"TaskId": "t-csrf", "RegionId": "cn-hangzhou", "TaskAction": "ImportImage",
                "TaskStatus": "Processing"}]}
).encode()  # fmt: skip


def _exchange(port: int, head: bytes, body: bytes = b"") -> tuple[int, dict[str, str]]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head + b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body) + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head_, _, rest = data.partition(b"\r\n\r\n")
    return int(head_.split()[1]), json.loads(rest) if rest else {}


@pytest.mark.parametrize(
    "headers",
    [
        b"host: 127.0.0.1\r\norigin: http://evil.example\r\ncontent-type: application/json\r\n",
        b"host: rebind.evil.example\r\ncontent-type: application/json\r\n",
        b"host: 127.0.0.1\r\norigin: null\r\ncontent-type: application/json\r\n",
    ],
    ids=["cross-site-origin", "dns-rebinding-host", "opaque-origin"],
)
def test_a_foreign_origin_or_host_is_refused_and_changes_nothing(headers: bytes) -> None:
    with EmulatorServer() as server:
        status, answer = _exchange(
            server.port, b"POST /_taskcancel/tasks HTTP/1.1\r\n" + headers, BODY
        )
        assert (status, answer["Code"]) == (403, "Forbidden")
        assert "Origin" in answer["Message"] or "Host" in answer["Message"]
        status, _ = _exchange(server.port, b"GET /_taskcancel/state HTTP/1.1\r\n" + headers)
        assert status == 403  # no secrets for a rebound page either
        assert server.store.find_task("cn-hangzhou", "t-csrf") is None


def test_a_body_that_is_not_json_typed_is_refused() -> None:
    with EmulatorServer() as server:
        head = (
            b"POST /_taskcancel/tasks HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: text/plain\r\n"
        )
        status, answer = _exchange(server.port, head, BODY)
        assert (status, answer["Code"]) == (415, "UnsupportedMediaType")
        assert server.store.find_task("cn-hangzhou", "t-csrf") is None


@pytest.mark.parametrize(
    "host", [b"127.0.0.1", b"127.0.0.1:8080", b"localhost:1", b"[::1]:8080", b"127.9.9.9"]
)
def test_loopback_names_and_a_loopback_origin_are_served(host: bytes) -> None:
    with EmulatorServer() as server:
        head = (
            b"POST /_taskcancel/tasks HTTP/1.1\r\nhost: " + host + b"\r\n"
            b"origin: http://localhost:3000\r\ncontent-type: application/json; charset=utf-8\r\n"
        )
        status, _ = _exchange(server.port, head, BODY)
        assert status == 201


def test_with_a_token_the_token_decides() -> None:
    with EmulatorServer(control_token="T") as server:
        head = (
            b"POST /_taskcancel/tasks HTTP/1.1\r\nhost: emulator.internal:8080\r\n"
            b"authorization: Bearer T\r\ncontent-type: application/json\r\n"
        )
        assert _exchange(server.port, head, BODY)[0] == 201


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b'{"AdvanceSeconds": 1' + b"0" * 5000 + b"}", "body: AdvanceSeconds: "),
        (b"[" * 100_000 + b"]" * 100_000, "body: JSON nested too deeply"),
        (b'{"Now": "\\ud800"}', "body: Now: "),
    ],
    ids=["5000-digit-number", "deep-nesting", "lone-surrogate"],
)
def test_hostile_json_is_refused_in_the_plane_s_words_not_python_s(body: bytes, says: str) -> None:
    with EmulatorServer() as server:
        head = (
            b"POST /_taskcancel/clock HTTP/1.1\r\nhost: 127.0.0.1\r\n"
            b"content-type: application/json\r\n"
        )
        status, answer = _exchange(server.port, head, body)
    assert (status, answer["Code"]) == (400, "InvalidParameter")
    assert answer["Message"].startswith(says), answer["Message"]
    assert "sys.set_int_max_str_digits" not in answer["Message"]
    assert "recursion" not in answer["Message"]
