"""The request log's shortcuts: escaped values remembered (bounded), stamps per millisecond.

Each line must read exactly as it would without them, whatever the values.
"""

from __future__ import annotations

import io
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskcancel import wire
from taskcancel.server import Answer, RequestLog, _log

_VALUES = st.sampled_from(["cn-hangzhou", "OK", "a b", 'q"', "x=y", "\\", "é", "\n", ""]) | st.text(
    max_size=12
)


def _answer(action: str, region: str, task: str, key: str, code: str) -> Answer:
    response = wire.Response(200, (), b"")
    return Answer(
        response, "RID", code=code, action=action, region_id=region, task_id=task, access_key_id=key
    )


def _fresh_line(answer: Answer) -> str:
    log = RequestLog(io.StringIO())
    line = log._text(answer, 0.001)
    return line.split(" ", 1)[1]  # past the stamp


@settings(max_examples=300)
@given(st.lists(st.tuples(_VALUES, _VALUES, _VALUES, _VALUES, _VALUES), max_size=8))
def test_remembered_escapes_give_the_same_lines(rows: list[tuple[str, ...]]) -> None:
    log = RequestLog(io.StringIO())
    for row in rows + rows:  # the second time, every value comes from the memo
        answer = _answer(*row)
        assert log._text(answer, 0.001).split(" ", 1)[1] == _fresh_line(answer)
        assert len(log._escaped) <= _log._ESCAPED_MAX


def test_memo_stays_bounded() -> None:
    log = RequestLog(io.StringIO())
    for index in range(3 * _log._ESCAPED_MAX):
        log._text(_answer("CancelTask", "cn-hangzhou", f"t-{index}", "testid", "OK"), 0.0)
        assert len(log._escaped) <= _log._ESCAPED_MAX


def test_stamp_is_the_time_to_the_millisecond(monkeypatch: pytest.MonkeyPatch) -> None:
    stamp = _log.Stamp()
    times = iter([1_800_000_000.1234, 1_800_000_000.1236, 1_800_000_000.9991, 1_800_000_001.0])
    monkeypatch.setattr(time, "time", lambda: next(times))
    assert [stamp() for _ in range(4)] == [
        "2027-01-15T08:00:00.123Z",
        "2027-01-15T08:00:00.123Z",
        "2027-01-15T08:00:00.999Z",
        "2027-01-15T08:00:01.000Z",
    ]


@settings(max_examples=300)
@given(st.lists(st.tuples(_VALUES, _VALUES, _VALUES, _VALUES, _VALUES), max_size=8))
def test_a_line_holds_exactly_the_fields_in_order(rows: list[tuple[str, ...]]) -> None:
    log = RequestLog(io.StringIO())
    for row in rows + rows:
        answer = _answer(*row)
        fields = " ".join(f"{key}={_log.escape(value)}" for key, value in _log._fields(answer))
        tail = f" {fields} Status=200 LatencyMs=1.00\n"
        assert log._text(answer, 0.001).split(" RequestId=RID", 1)[1] == tail


def test_lines_are_written_in_batches_soon_after() -> None:
    import asyncio

    stream = io.StringIO()
    log = RequestLog(stream)
    answer = _answer("CancelTask", "cn-hangzhou", "t-1", "testid", "OK")

    async def main() -> list[int]:
        seen = []
        for _ in range(_log._FLUSH_LINES - 1):
            log.record(answer, 0.001)
        await asyncio.sleep(0)  # a loop iteration writes nothing yet: the lines wait
        seen.append(stream.getvalue().count("\n"))
        log.record(answer, 0.001)  # the 512th: written at once, whatever the time
        seen.append(stream.getvalue().count("\n"))
        log.record(answer, 0.001)  # one more waits for the timer, then is written
        seen.append(stream.getvalue().count("\n"))
        for _ in range(2000):  # polled: at most 10 s
            if stream.getvalue().count("\n") > _log._FLUSH_LINES:
                break
            await asyncio.sleep(0.005)
        seen.append(stream.getvalue().count("\n"))
        return seen

    assert asyncio.run(main()) == [0, 512, 512, 513]
