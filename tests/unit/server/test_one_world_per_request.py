"""One request sees one world, from authentication to answer, and control-plane work
keeps ECS calls flowing: driven through the sans-IO app (no socket, no subprocess)."""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

from taskcancel import MemoryStore, SqliteStore, Task, TaskAction, TaskStatus, wire
from taskcancel.server import Answer, Pending, RawRequest, Settings, build
from taskcancel.worldfile import WorldSpec

REGION = "cn-hangzhou"
OLD = {"key": "old-secret"}
NEW = {"key": "new-secret"}


def _task(task_id: str) -> Task:
    return Task(
        task_id=task_id,
        region_id=REGION,
        action=TaskAction.IMPORT_IMAGE,
        status=TaskStatus.PROCESSING,
        owner="key",
    )


def _signed(action: str, params: dict[str, str], secret: str) -> RawRequest:
    request = wire.v1.build_request(
        action,
        {"RegionId": REGION, **params},
        access_key_id="key",
        secret=secret,
        nonce=uuid.uuid4().hex,
        timestamp=datetime.now(UTC),
    )
    headers = [(b"host", b"127.0.0.1")] + [(k.encode(), v.encode()) for k, v in request.headers]
    return RawRequest(request.method, request.target.encode(), headers, b"")


def _control(method: str, route: str, document: object) -> RawRequest:
    headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")]
    return RawRequest(
        method, f"/_taskcancel/{route}".encode(), headers, json.dumps(document).encode()
    )


def _world(secret: str, *task_ids: str) -> dict[str, object]:
    return {
        "Regions": [REGION],
        "Accounts": [{"AccessKeyId": "key", "AccessKeySecret": secret}],
        "Tasks": [
            {
                "TaskId": t,
                "RegionId": REGION,
                "TaskAction": "ImportImage",
                "TaskStatus": "Processing",
                "AccessKeyId": "key",
            }
            for t in task_ids
        ],
    }


def _answer(staged: object) -> Answer:
    if isinstance(staged, Pending):
        staged = staged.run()
    assert isinstance(staged, Answer)
    return staged


def test_a_cancel_signed_with_a_secret_rotated_out_meanwhile_is_refused_on_disk(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "store.db", [_task("t-1")], regions=[REGION])
    built = build(Settings(), store, WorldSpec(regions=frozenset({REGION}), accounts=OLD))
    app = built.app
    try:
        # The cancel arrives and is staged (its store part waits for a worker) ...
        staged = app.stage(_signed("CancelTask", {"TaskId": "t-1"}, OLD["key"]))
        assert isinstance(staged, Pending) and staged.offload
        # ... a PUT world rotates the secret and brings a new t-1 ...
        loaded = _answer(app.stage(_control("PUT", "world", _world(NEW["key"], "t-1"))))
        assert loaded.response.status == 200, loaded.response.body
        # ... and the old signature must not cancel the new world's task.
        answer = _answer(staged)
        assert answer.response.status == 400, answer.response.body
        assert json.loads(answer.response.body)["Code"] == "SignatureDoesNotMatch"
        assert store.find_task(REGION, "t-1").status is TaskStatus.PROCESSING  # type: ignore[union-attr]
    finally:
        store.close()


def test_control_plane_work_is_offloaded_from_the_loop_in_memory_too() -> None:
    built = build(Settings(), MemoryStore(regions=[REGION]), WorldSpec())
    for method, route in (("PUT", "world"), ("POST", "tasks"), ("POST", "reset"), ("GET", "state")):
        staged = built.app.stage(_control(method, route, {}))
        assert isinstance(staged, Pending) and staged.offload, (method, route)


def test_adding_tasks_while_another_process_holds_the_store_lock_does_not_hold_up_reads(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.db"
    store = SqliteStore(path, [_task("t-1")], regions=[REGION], timeout=10.0)
    built = build(Settings(), store, WorldSpec(regions=frozenset({REGION}), accounts=OLD))
    foreign = sqlite3.connect(path, isolation_level=None)
    foreign.execute("BEGIN IMMEDIATE")  # another process's write lock
    adding = threading.Thread(target=built.ops.add_tasks, args=([_task("t-2")],))
    try:
        adding.start()
        # While the add waits for the lock, a read is answered (not held behind the gate).
        answer = _answer(built.app.stage(_signed("DescribeTasks", {}, OLD["key"])))
        assert answer.response.status == 200, answer.response.body
        assert adding.is_alive()  # the add was still waiting: the read did not wait for it
    finally:
        foreign.execute("ROLLBACK")
        foreign.close()
        adding.join()
        store.close()
    assert SqliteStore(path).find_task(REGION, "t-2") is not None
