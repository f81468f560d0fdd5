"""What a request log line shows of a hostile request: escaped, on one line, never forged."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from taskcancel import MemoryStore, wire
from taskcancel.server import Answer, RawRequest, RequestLog, create_app


def test_unknown_actions_are_not_logged_verbatim() -> None:
    forged = "X\n2026-01-01T00:00:00.000Z INFO request RequestId=1 Action=CancelTask Code=OK"
    app = create_app(MemoryStore())
    request = wire.v1.build_request(
        forged,
        {"RegionId": "cn-hangzhou\r\nfake"},
        access_key_id="testid",
        secret="testsecret",
        nonce="forged-log",
        timestamp=datetime.now(UTC),
    )
    # V1 reads the action from the signed query only; headers cannot hold a newline.
    headers = [(k.encode(), v.encode()) for k, v in request.headers if k.lower() != "x-acs-action"]
    answer = app.handle(RawRequest("POST", request.target.encode(), headers, b""))
    assert isinstance(answer, Answer)
    assert answer.response.status == 404
    stream = io.StringIO()
    log = RequestLog(stream)
    log.record(answer, 0.001)
    log.flush()
    (line,) = stream.getvalue().splitlines()
    assert 'Action="(unknown action)" ' in line  # a value with a space is quoted
    assert 'RegionId="cn-hangzhou\\r\\nfake" ' in line  # escaped, on the one line
    assert line.endswith("Code=InvalidAction.NotFound Status=404 LatencyMs=1.00")
