"""serialize() builds an answer's bytes the quick way; here it is held to the plain one."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from taskcancel import wire
from taskcancel.server._http11 import _REASONS, serialize


def plain(response: wire.Response, close: bool, kept: bool, head: bool) -> bytes:
    reason = _REASONS.get(response.status, b"Status")
    parts = [b"HTTP/1.1 %d %s\r\n" % (response.status, reason)]
    parts += [
        b"%s: %s\r\n" % (k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers
    ]
    if close:
        parts.append(b"connection: close\r\n\r\n")
    elif kept:
        parts.append(b"connection: keep-alive\r\n\r\n")
    else:
        parts.append(b"\r\n")
    if not head:
        parts.append(response.body)
    return b"".join(parts)


_LATIN1 = st.text(st.characters(max_codepoint=255, exclude_characters="\r\n"), max_size=12)


@settings(max_examples=300)
@given(
    st.sampled_from([200, 400, 404, 408, 413, 500, 503, 299, 599]),
    st.lists(st.tuples(_LATIN1, _LATIN1), max_size=5),
    st.binary(max_size=20),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)
def test_serialize_is_the_plain_join(
    status: int,
    headers: list[tuple[str, str]],
    body: bytes,
    close: bool,
    kept: bool,
    head: bool,
) -> None:
    response = wire.Response(status, tuple(headers), body)
    assert serialize(response, close, kept=kept, head=head) == plain(response, close, kept, head)
