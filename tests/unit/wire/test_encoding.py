"""taskcancel.wire._encoding: percent-encoding, canonical queries, form decoding, timestamps."""

from __future__ import annotations

from datetime import timedelta, timezone
from urllib.parse import quote, unquote, unquote_to_bytes

from hypothesis import given, settings
from hypothesis import strategies as st
from support.signing import (
    NOW,
    SECRET,
    parse_request,
    v1_request,
)

from taskcancel import wire
from taskcancel.wire import (
    Call,
    verify_signature,
)
from taskcancel.wire._encoding import (
    canonical_from_raw,
    canonical_query,
    decode_form,
    parse_timestamp,
    percent_encode,
)


def test_percent_encode_rules() -> None:
    assert percent_encode("a b*c~d/e+f&g=h%\u00e9") == "a%20b%2Ac~d%2Fe%2Bf%26g%3Dh%25%C3%A9"
    assert percent_encode("AZaz09-_.~") == "AZaz09-_.~"
    assert percent_encode("") == ""


def test_canonical_query_sorts_and_keeps_empty() -> None:
    pairs = [("b", "2"), ("a", ""), ("a b", "x y"), ("b", "1")]
    assert canonical_query(pairs) == "a=&a%20b=x%20y&b=1&b=2"


_FORM_BYTES = st.lists(
    st.sampled_from(
        [
            *(b"a", b"Z", b"0", b"-", b"~", b"=", b"&", b"+", b"%", b"%2", b"%41", b"%3D"),
            *(b"%26", b"%C3", b"%A9", b"%c3%a9", b"%FF", b"\xc3", b"\xa9", b"\xc3\xa9"),
            b"\xe2\x82",
        ]
    ),
    max_size=12,
).map(b"".join)


def _decode_bytewise(data: bytes) -> list[tuple[str, str]] | None:
    """The reference: form rules over bytes, strict UTF-8 on the fully unescaped bytes."""
    pairs = []
    for piece in data.split(b"&"):
        if piece:
            name, _, value = piece.replace(b"+", b" ").partition(b"=")
            try:
                pairs.append((unquote_to_bytes(name).decode(), unquote_to_bytes(value).decode()))
            except UnicodeDecodeError:
                return None
    return pairs


@settings(max_examples=300)
@given(_FORM_BYTES)
def test_query_decoding_matches_bytewise_parse_qsl(data: bytes) -> None:
    assert decode_form(data) == _decode_bytewise(data)


_PARAM_NAMES = st.text(st.sampled_from("AaZz09-_.~ %+=é&"), min_size=1, max_size=6)


@settings(max_examples=300)
@given(
    st.dictionaries(_PARAM_NAMES, st.text(max_size=8), max_size=6),
    st.randoms(use_true_random=False),
)
def test_already_canonical_query_signs_like_canonical_query(
    params: dict[str, str], rng: object
) -> None:
    pairs = list(params.items())
    rng.shuffle(pairs)  # type: ignore[attr-defined]
    raw = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in pairs)
    fast = canonical_from_raw(raw)
    if all(percent_encode(name) == name for name in params):
        assert fast == canonical_query(params.items())
    if fast is not None:
        assert fast == canonical_query(params.items())
        without = next(iter(params), "")
        assert canonical_from_raw(raw, without=without) == canonical_query(
            (k, v) for k, v in params.items() if k != without
        )


@settings(max_examples=300)
@given(st.text(st.sampled_from("aZ09-_.~%=&+2AFf3D"), max_size=24))
def test_raw_canonical_shortcut_only_taken_when_exact(raw: str) -> None:
    fast = canonical_from_raw(raw)
    pairs = decode_form(raw.encode())
    # The server signs only queries that decoded (else InvalidParameter.Format) and whose
    # names are unique (else the same): for those the shortcut must be exact.
    if fast is not None and pairs is not None:
        names = [name for name, _ in pairs]
        if len(set(names)) == len(names):
            assert fast == canonical_query(pairs)


def test_signatures_agree_on_both_paths() -> None:
    # A request whose query is not canonical as sent (lower-case escapes, "+" for a
    # space) verifies exactly like its canonical twin.
    request = v1_request({"RegionId": "cn-hangzhou", "TaskId": "t a/é"})
    target = request.target.replace("%20", "+").replace("%C3%A9", "%c3%a9")
    assert target != request.target
    for sent in (request.target, target):
        call = parse_request(request.method, "/", sent.split("?", 1)[1].encode(), [], b"")
        assert isinstance(call, Call)
        assert call.params["TaskId"] == "t a/é"
        assert verify_signature(call, SECRET) is None


@settings(max_examples=200)
@given(st.text())
def test_percent_encode_matches_quote_and_inverts(text: str) -> None:
    encoded = percent_encode(text)
    assert encoded == quote(text, safe="-_.~")
    assert unquote(encoded) == text
    assert set(encoded) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~%"
    )


def test_timestamp_helpers() -> None:
    assert wire.format_timestamp(NOW) == "2026-11-28T15:15:45Z"
    assert wire.format_timestamp(NOW.replace(tzinfo=None)) == "2026-11-28T15:15:45Z"
    shanghai = NOW.astimezone(timezone(timedelta(hours=8)))
    assert wire.format_timestamp(shanghai) == "2026-11-28T15:15:45Z"
    assert parse_timestamp("2026-11-28T15:15:45Z") == NOW
    assert parse_timestamp("2026-11-28T15:15:45.5Z") == NOW + timedelta(milliseconds=500)
    for bad in (
        "",
        "2026-11-28 15:15:45Z",
        "2026-13-28T15:15:45Z",
        "2026-11-28T15:15:45",
        "\u0662026-11-28T15:15:45Z",
        "2026-11-28T15:15Z",
    ):
        assert parse_timestamp(bad) is None, bad
