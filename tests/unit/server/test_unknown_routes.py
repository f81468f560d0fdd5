"""What a person who opens the emulator in a browser gets: the control plane's routes at
``GET /_taskcancel/``, and a ``MissingAction`` at ``GET /`` that says what answered."""

from __future__ import annotations

import json

from taskcancel.server import Answer, Emulator, RawRequest, create_app


def _emulator() -> Emulator:
    return create_app()  # its control plane open, as on loopback


def _get(app: Emulator, target: bytes) -> tuple[int, dict[str, object]]:
    answer = app.handle(RawRequest("GET", target, [(b"host", b"127.0.0.1:8080")], b""))
    assert isinstance(answer, Answer)
    response = answer.response
    return response.status, json.loads(response.body)


def test_the_control_plane_root_lists_its_routes_and_the_page() -> None:
    status, body = _get(_emulator(), b"/_taskcancel/")
    assert status == 200
    routes = body["Routes"]
    assert isinstance(routes, list)
    for route in ("GET /_taskcancel/health", "GET /_taskcancel/state", "POST /_taskcancel/reset",
                  "PATCH /_taskcancel/tasks/{RegionId}/{TaskId}", "GET /_taskcancel/requests",
                  "GET /_taskcancel/requests/{RequestId}", "GET /_taskcancel/faults",
                  "GET /_taskcancel/ui"):  # fmt: skip
        assert route in routes
    assert "GET /_taskcancel/" not in routes  # the index itself is not a route to list
    assert body["Ui"] == "/_taskcancel/ui"


def test_a_bare_get_of_the_root_says_this_is_the_taskcancel_emulator() -> None:
    status, body = _get(_emulator(), b"/")
    # The real service's code and status, with a hint a person can act on.
    assert (status, body["Code"]) == (400, "MissingAction")
    message = str(body["Message"])
    assert message.startswith("Action is mandatory for this action.")
    assert "taskcancel ECS emulator" in message and "/_taskcancel/" in message


def test_a_control_plane_body_with_an_unknown_status_lists_the_valid_ones() -> None:
    task = {"TaskId": "t-1", "RegionId": "cn-hangzhou", "TaskAction": "ImportImage"}
    body = json.dumps({"Tasks": [{**task, "TaskStatus": "running"}]})
    headers = [(b"host", b"127.0.0.1:8080"), (b"content-type", b"application/json")]
    app = _emulator()
    answer = app.handle(RawRequest("POST", b"/_taskcancel/tasks", headers, body.encode()))
    assert isinstance(answer, Answer)
    document = json.loads(answer.response.body)
    assert answer.response.status == 400
    assert "Tasks[0].TaskStatus: 'running' is not a valid TaskStatus" in document["Message"]
    assert "did you mean 'Processing'?" not in document["Message"]  # 'running' is no case slip
    assert (
        "valid values: Waiting, Processing, Finished, Failed, Deleted, Paused"
        in (document["Message"])
    )
