"""World files built to break the loader are refused cleanly.

Each one -- deep nesting, a lone surrogate, a 5,000-digit integer, a key or id that
would break a line -- is a :class:`WorldFileError` saying ``FILE: FIELD: reason`` on
one printable line, through :func:`load_world` (tests/e2e/test_world_hostile_served.py
runs a few through the real ``serve`` command). :func:`printable` is what the banner and
logs show ids with.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.hostile import HOSTILE, TASK

from taskcancel.worldfile import WorldFileError, load_world, parse_world, printable
from taskcancel.worldfile._world import parse_world_text


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_world_file_names_file_field_and_reason(tmp_path: Path, name: str) -> None:
    text, field, reason = HOSTILE[name]
    path = tmp_path / f"{name}.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(WorldFileError) as caught:
        load_world(path)
    error = caught.value
    assert (error.source, error.field) == (str(path), field)
    assert reason in error.reason
    message = str(error)
    assert message.startswith(f"{path}: {field}: ")
    assert message.isprintable() and len(message) < 400
    message.encode("ascii")  # nothing in it can fail to print


def test_text_and_bytes_are_checked_alike() -> None:
    text, field, _ = HOSTILE["surrogate-task-id"]
    for given in (text, text.encode("utf-8")):
        with pytest.raises(WorldFileError) as caught:
            parse_world_text(given, source="body")
        assert caught.value.field == field
    with pytest.raises(WorldFileError, match=r"body: \(file\): not UTF-8 text"):
        parse_world_text(b'{"Tasks": ["\xed\xa0\x80"]}', source="body")  # an encoded surrogate


def test_decoded_data_is_checked_without_recursion() -> None:
    nested: list[object] = []
    innermost = nested
    for _ in range(50_000):  # far past Python's recursion limit
        innermost.append([])
        innermost = innermost[0]  # type: ignore[assignment]
    with pytest.raises(WorldFileError, match=r"Regions\[0\]\[0\].*nested too deeply"):
        parse_world({"Regions": nested})


def test_a_sound_world_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "world.json"
    world = {"Tasks": [json.loads(TASK % '"t-\\u00e9-\\ud83d\\ude00"')], "Faults": {"LatencyMs": 7}}
    path.write_text(json.dumps(world), encoding="utf-8")
    spec = load_world(path)
    assert spec.tasks[0].task_id == "t-\u00e9-\U0001f600"  # a proper pair is fine
    assert spec.faults.latency_ms == 7


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("t-23ym6mvro", "t-23ym6mvro"),
        ("t-1\nlistening on http://127.0.0.1:1", "t-1\\nlistening on http://127.0.0.1:1"),
        ("a\r\x1b[2Kb\tc", "a\\r\\x1b[2Kb\\tc"),
        ("lone\ud800", "lone\\ud800"),
        ("sep\u2028\u0085", "sep\\u2028\\x85"),
        ("t-\u00e9", "t-\\xe9"),
        ("back\\slash", "back\\\\slash"),
    ],
)
def test_printable_makes_one_safe_line(text: str, shown: str) -> None:
    assert printable(text) == shown
    assert shown.isascii() and shown.isprintable()
