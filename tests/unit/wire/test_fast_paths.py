"""The wire's hot-path shortcuts, each pinned to the plain definition it stands for.

``unquote_form`` decodes the SDKs' usual escapes by replacement; ``parse_timestamp``
remembers the texts it parsed; ``canonical_from_raw`` drops the ``Signature`` piece by
bisection. Each must answer exactly what the straightforward code answers, errors too.
"""

from __future__ import annotations

from urllib.parse import unquote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskcancel.wire import _encoding
from taskcancel.wire._encoding import (
    canonical_from_raw,
    canonical_query,
    decode_form,
    parse_timestamp,
    percent_encode,
    unquote_form,
)

_PIECES = st.sampled_from(
    [
        *("a", "Z", "0", "+", "%", "3", "A", "2", "F", "B", "D", " ", "é", "%3A", "%2F"),
        *("%2B", "%3D", "%3a", "%25", "%253A", "%C3%A9", "%C3", "%FF"),
    ]
)


def _plain(text: str) -> str | type[UnicodeDecodeError]:
    try:
        return unquote_plus(text, errors="strict")
    except UnicodeDecodeError:
        return UnicodeDecodeError


def _quick(text: str) -> str | type[UnicodeDecodeError]:
    try:
        return unquote_form(text)
    except UnicodeDecodeError:
        return UnicodeDecodeError


@settings(max_examples=500)
@given(st.lists(_PIECES, max_size=12).map("".join))
def test_unquote_form_is_strict_unquote_plus(text: str) -> None:
    assert _quick(text) == _plain(text)


@settings(max_examples=300)
@given(st.text())
def test_unquote_form_on_any_text(text: str) -> None:
    assert _quick(text) == _plain(text)
    assert _quick(percent_encode(text)) == text


_STAMPS = st.sampled_from(
    [
        "2026-11-28T15:15:45Z",
        "2026-11-28T15:15:45.5Z",
        "2026-11-28T15:15:46Z",
        "2026-02-30T00:00:00Z",
        "2026-11-28 15:15:45Z",
        "",
        "\u0662026-11-28T15:15:45Z",
    ]
) | st.text(max_size=24)


@settings(max_examples=300)
@given(st.lists(_STAMPS, max_size=12))
def test_parse_timestamp_cached_equals_uncached(texts: list[str]) -> None:
    for text in texts + texts:  # each one again, from the cache
        assert parse_timestamp(text) == _encoding._parse_timestamp(text)


def test_timestamp_cache_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_encoding, "_timestamps", {})
    for second in range(3 * _encoding._TIMESTAMP_CACHE_SIZE):
        text = f"2026-11-28T15:{second // 60 % 60:02d}:{second % 60:02d}Z"
        assert parse_timestamp(text) == _encoding._parse_timestamp(text)
        assert len(_encoding._timestamps) <= _encoding._TIMESTAMP_CACHE_SIZE


_NAMES = st.text(st.sampled_from("AaSsZz09-_.~"), min_size=1, max_size=10)


@settings(max_examples=300)
@given(
    st.dictionaries(_NAMES, st.text(max_size=6), max_size=8),
    st.sampled_from(["Signature", "S", "Signatures", "A", "zz", ""]),
    st.randoms(use_true_random=False),
)
def test_canonical_without_drops_exactly_that_name(
    params: dict[str, str], without: str, rng: object
) -> None:
    pairs = list(params.items())
    rng.shuffle(pairs)  # type: ignore[attr-defined]
    raw = "&".join(f"{name}={percent_encode(value)}" for name, value in pairs)
    decoded = decode_form(raw.encode())
    assert decoded is not None
    want = canonical_query((k, v) for k, v in decoded if not without or k != without)
    assert canonical_from_raw(raw, without=without) == want


@settings(max_examples=300)
@given(st.text())
def test_an_empty_json_success_renders_as_the_encoder_would(request_id: str) -> None:
    from taskcancel.wire import render

    got = render.render_success("CancelTask", {}, request_id=request_id)
    body = render._json_bytes({"RequestId": request_id})
    assert got == render._response(200, render.JSON_CONTENT_TYPE, body, request_id)


@settings(max_examples=200)
@given(
    st.lists(st.binary(max_size=80), min_size=1, max_size=4),
    st.binary(max_size=300),
    st.sampled_from(["sha1", "sha256"]),
)
def test_keyed_mac_is_hmac(keys: list[bytes], message: bytes, digest: str) -> None:
    import hmac

    from taskcancel.wire._keyed import mac

    for key in keys + keys:  # the second time from the cache
        assert mac(key, message, digest) == hmac.new(key, message, digest).digest()


def test_keyed_mac_cache_stays_bounded() -> None:
    from taskcancel.wire import _keyed

    for index in range(3 * _keyed._MAX_KEYS):
        _keyed.mac(b"key-%d" % index, b"message", "sha1")
        assert len(_keyed._keyed) <= _keyed._MAX_KEYS
