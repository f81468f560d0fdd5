"""TASKCANCEL_LOOP chooses the server's event loop (CI runs a leg on asyncio's own)."""

from __future__ import annotations

import asyncio
import sys

import pytest

from taskcancel.server import _loop


def test_asyncio_is_chosen_even_when_uvloop_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKCANCEL_LOOP", "asyncio")
    loop = _loop.new_event_loop()
    try:
        assert type(loop).__module__.startswith("asyncio")
    finally:
        loop.close()


def test_auto_takes_uvloop_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    uvloop = pytest.importorskip("uvloop")
    monkeypatch.setenv("TASKCANCEL_LOOP", "auto")
    # The unit tier hands out asyncio's guarded loop for uvloop's (a C loop cannot be
    # guarded): what is checked here is that uvloop's factory is the one called.
    made = asyncio.new_event_loop()
    monkeypatch.setattr(uvloop, "new_event_loop", lambda: made)
    loop = _loop.new_event_loop()
    try:
        assert loop is made
    finally:
        loop.close()


def test_a_bad_choice_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKCANCEL_LOOP", "trio")
    with pytest.raises(ValueError, match="TASKCANCEL_LOOP must be one of auto, asyncio, uvloop"):
        _loop.new_event_loop()


def test_asking_for_uvloop_without_it_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKCANCEL_LOOP", "uvloop")
    monkeypatch.setitem(sys.modules, "uvloop", None)
    with pytest.raises(ImportError, match="uvloop is not installed"):
        _loop.new_event_loop()
