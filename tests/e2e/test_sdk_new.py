"""The official new SDK (alibabacloud-ecs20140526) against a real ``taskcancel serve``.

Both signing modes (ACS3-HMAC-SHA256, the default, and ``signature_algorithm="v2"``,
V1 HMAC-SHA1) and both error profiles. The SDK is used exactly as a user would point
it at the emulator (``protocol="HTTP"``, ``endpoint``); nothing in it is patched.
"""

from __future__ import annotations

from typing import Any

import pytest
from alibabacloud_ecs20140526 import models as ecs
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.models import Config
from support.serve import (
    EXPECTED,
    HANGZHOU,
    KEY_ID,
    OTHER_KEY_ID,
    OTHER_SECRET,
    OTHERS,
    REJECTIONS,
    REQUEST_ID,
    SECRET,
    SHANGHAI,
    SHANGHAI_OTHER,
    SHANGHAI_TASKS,
    WEIRD,
    ServedEmulator,
)

pytestmark = pytest.mark.usefixtures("no_proxy_env")

MODES = {"acs3": None, "v2": "v2"}


@pytest.fixture(params=sorted(MODES))
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def sdk(
    server: ServedEmulator,
    mode: str,
    *,
    key_id: str = KEY_ID,
    secret: str = SECRET,
) -> EcsClient:
    config = Config(
        access_key_id=key_id,
        access_key_secret=secret,
        region_id=HANGZHOU,
        endpoint=server.netloc,
        protocol="HTTP",
    )
    if MODES[mode] is not None:
        config.signature_algorithm = MODES[mode]
    return EcsClient(config)


def cancel(client: EcsClient, region_id: str | None, task_id: str | None) -> Any:
    return client.cancel_task(ecs.CancelTaskRequest(region_id=region_id, task_id=task_id))


def test_cancel_succeeds_with_a_request_id(served: ServedEmulator, mode: str) -> None:
    response = cancel(sdk(served, mode), HANGZHOU, served.fresh_task())

    assert response.status_code == 200
    assert REQUEST_ID.fullmatch(response.body.request_id)
    assert response.headers["x-acs-request-id"] == response.body.request_id
    assert response.headers["content-type"] == "application/json;charset=utf-8"


@pytest.mark.parametrize(("region_id", "task_id", "reason"), REJECTIONS)
def test_every_rejection_is_a_client_exception_with_the_profile_code(
    served: ServedEmulator, mode: str, region_id: str | None, task_id: str | None, reason: str
) -> None:
    expected = EXPECTED[reason][served.profile]

    with pytest.raises(ClientException) as caught:
        cancel(sdk(served, mode), region_id, task_id)

    error = caught.value
    assert error.code == expected.code
    assert error.status_code == expected.http_status
    assert error.statusCode == expected.http_status
    assert REQUEST_ID.fullmatch(error.request_id)
    assert error.message == (
        f"code: {expected.http_status}, {expected.message} request id: {error.request_id}"
    )
    assert error.data["Code"] == expected.code
    assert error.data["Message"] == expected.message
    assert error.data["RequestId"] == error.request_id
    assert error.data["statusCode"] == expected.http_status
    assert error.data["HostId"]
    assert expected.code in error.data["Recommend"]
    assert error.request_id in error.data["Recommend"]


def test_special_characters_in_parameters_are_signed_and_decoded(
    served: ServedEmulator, mode: str
) -> None:
    """The SDK sends a space as '+' and signs it as '%20' (as observed): the server
    must verify that, then find the task by its decoded id (which is Finished)."""
    with pytest.raises(ClientException) as caught:
        cancel(sdk(served, mode), HANGZHOU, WEIRD)
    assert caught.value.code == EXPECTED["INCORRECT_TASK_STATUS"][served.profile].code


def test_empty_task_id_counts_as_missing(served: ServedEmulator, mode: str) -> None:
    expected = EXPECTED["MISSING_TASK_ID"][served.profile]
    with pytest.raises(ClientException) as caught:
        cancel(sdk(served, mode), HANGZHOU, "")
    assert (caught.value.code, caught.value.data["Message"]) == (expected.code, expected.message)


def test_a_rejected_cancel_leaves_the_task_as_it_was(served: ServedEmulator, mode: str) -> None:
    client = sdk(served, mode)
    task_id = served.fresh_task()
    with pytest.raises(ClientException):
        cancel(client, SHANGHAI, task_id)  # right task, wrong region
    attribute = client.describe_task_attribute(
        ecs.DescribeTaskAttributeRequest(region_id=HANGZHOU, task_id=task_id)
    ).body
    assert (attribute.task_status, attribute.support_cancel) == ("Processing", "true")


def test_cancelling_twice_reports_the_wrong_status(served: ServedEmulator, mode: str) -> None:
    client = sdk(served, mode)
    task_id = served.fresh_task()
    cancel(client, HANGZHOU, task_id)

    with pytest.raises(ClientException) as caught:
        cancel(client, HANGZHOU, task_id)
    assert caught.value.code == EXPECTED["INCORRECT_TASK_STATUS"][served.profile].code


def test_the_other_account_can_cancel_its_own_task_but_not_ours(
    served: ServedEmulator, mode: str
) -> None:
    other = sdk(served, mode, key_id=OTHER_KEY_ID, secret=OTHER_SECRET)
    with pytest.raises(ClientException) as caught:
        cancel(other, HANGZHOU, served.fresh_task())
    assert caught.value.code == "InvalidTaskId.NotFound"

    # Its own task is visible to it (a read, so the shared world stays unchanged).
    body = other.describe_task_attribute(
        ecs.DescribeTaskAttributeRequest(region_id=HANGZHOU, task_id=OTHERS)
    ).body
    assert (body.task_id, body.task_status) == (OTHERS, "Processing")


def test_wrong_secret_is_signature_does_not_match(served: ServedEmulator, mode: str) -> None:
    client = sdk(served, mode, secret="not-the-secret")
    task_id = served.fresh_task()

    with pytest.raises(ClientException) as caught:
        cancel(client, HANGZHOU, task_id)

    error = caught.value
    assert (error.code, error.status_code) == ("SignatureDoesNotMatch", 400)
    assert "server string to sign is:" in error.data["Message"]
    # Nothing happened to the task.
    body = (
        sdk(served, mode)
        .describe_task_attribute(
            ecs.DescribeTaskAttributeRequest(region_id=HANGZHOU, task_id=task_id)
        )
        .body
    )
    assert body.task_status == "Processing"


def test_unknown_access_key(served: ServedEmulator, mode: str) -> None:
    client = sdk(served, mode, key_id="nobody", secret="whatever")
    with pytest.raises(ClientException) as caught:
        cancel(client, HANGZHOU, served.fresh_task())
    assert caught.value.code == "InvalidAccessKeyId.NotFound"
    assert caught.value.status_code == 404
    assert caught.value.data["Message"] == "Specified access key is not found."


def test_describe_task_attribute_before_and_after_cancel(served: ServedEmulator, mode: str) -> None:
    client = sdk(served, mode)
    task_id = served.fresh_task()

    def attribute() -> Any:
        request = ecs.DescribeTaskAttributeRequest(region_id=HANGZHOU, task_id=task_id)
        return client.describe_task_attribute(request).body

    before = attribute()
    assert (before.task_id, before.region_id) == (task_id, HANGZHOU)
    assert (before.task_status, before.support_cancel, before.finished_time) == (
        "Processing",
        "true",
        "",
    )
    assert before.task_action in ("ImportImage", "ExportImage")

    cancel(client, HANGZHOU, task_id)

    after = attribute()
    assert after.task_status == "Deleted"
    assert after.support_cancel == "false"
    assert after.finished_time  # set by the cancel
    assert REQUEST_ID.fullmatch(after.request_id)


def test_describe_task_attribute_of_an_unknown_task(served: ServedEmulator, mode: str) -> None:
    with pytest.raises(ClientException) as caught:
        sdk(served, mode).describe_task_attribute(
            ecs.DescribeTaskAttributeRequest(region_id=HANGZHOU, task_id="t-ro-does-not-exist")
        )
    expected = EXPECTED["TASK_NOT_FOUND"][served.profile]
    assert (caught.value.code, caught.value.status_code) == (expected.code, expected.http_status)


def _task_ids(body: Any) -> list[str]:
    return [task.task_id for task in body.task_set.task]


def test_describe_tasks_shape(served: ServedEmulator, mode: str) -> None:
    body = sdk(served, mode).describe_tasks(ecs.DescribeTasksRequest(region_id=SHANGHAI)).body

    mine = {task_id for task_id, *_ in SHANGHAI_TASKS}
    assert set(_task_ids(body)) == mine  # and never the other account's task
    assert SHANGHAI_OTHER not in _task_ids(body)
    assert (body.total_count, body.page_number, body.page_size) == (len(mine), 1, 10)
    assert body.region_id == SHANGHAI
    assert REQUEST_ID.fullmatch(body.request_id)
    by_id = {task.task_id: task for task in body.task_set.task}
    for task_id, action, status, created in SHANGHAI_TASKS:
        task = by_id[task_id]
        assert (task.task_action, task.task_status, task.creation_time) == (
            action,
            status,
            created,
        )
        expected_cancel = "true" if (action, status) == ("ImportImage", "Processing") else "false"
        assert task.support_cancel == expected_cancel


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"task_status": "Processing"}, {"t-sh-import-processing", "t-sh-redeploy-processing"}),
        ({"task_status": "Failed"}, {"t-sh-import-failed"}),
        ({"task_action": "ImportImage"}, {"t-sh-import-processing", "t-sh-import-failed"}),
        (
            {"task_action": "ImportImage", "task_status": "Processing"},
            {"t-sh-import-processing"},
        ),
        (
            {"task_ids": "t-sh-export-finished,t-sh-disk-waiting,t-sh-other-account"},
            {"t-sh-export-finished", "t-sh-disk-waiting"},
        ),
        (
            {"start_time": "2026-11-22T00:00Z", "end_time": "2026-11-23T23:59Z"},
            {"t-sh-import-failed", "t-sh-redeploy-processing"},
        ),
    ],
)
def test_describe_tasks_filters(
    served: ServedEmulator, mode: str, filters: dict[str, str], expected: set[str]
) -> None:
    request = ecs.DescribeTasksRequest(region_id=SHANGHAI, **filters)
    body = sdk(served, mode).describe_tasks(request).body
    assert set(_task_ids(body)) == expected
    assert body.total_count == len(expected)


def test_describe_tasks_pages(served: ServedEmulator, mode: str) -> None:
    client = sdk(served, mode)
    pages = [
        client.describe_tasks(
            ecs.DescribeTasksRequest(region_id=SHANGHAI, page_size=2, page_number=n)
        ).body
        for n in (1, 2, 3, 4)
    ]
    seen = [task_id for page in pages for task_id in _task_ids(page)]
    assert [len(_task_ids(page)) for page in pages] == [2, 2, 1, 0]
    assert sorted(seen) == sorted(task_id for task_id, *_ in SHANGHAI_TASKS)
    assert {page.total_count for page in pages} == {len(SHANGHAI_TASKS)}


def test_the_other_account_sees_only_its_own_tasks(served: ServedEmulator, mode: str) -> None:
    other = sdk(served, mode, key_id=OTHER_KEY_ID, secret=OTHER_SECRET)
    body = other.describe_tasks(ecs.DescribeTasksRequest(region_id=SHANGHAI)).body
    assert _task_ids(body) == [SHANGHAI_OTHER]


def test_describe_tasks_in_an_unknown_region(served: ServedEmulator, mode: str) -> None:
    with pytest.raises(ClientException) as caught:
        sdk(served, mode).describe_tasks(ecs.DescribeTasksRequest(region_id="xx-nowhere-9"))
    expected = EXPECTED["REGION_NOT_FOUND"][served.profile]
    assert (caught.value.code, caught.value.status_code) == (expected.code, expected.http_status)
