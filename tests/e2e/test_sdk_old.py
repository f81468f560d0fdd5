"""The official old SDK (aliyun-python-sdk-core + -ecs) against ``taskcancel serve``.

``AcsClient`` signs with V1 HMAC-SHA1, sends ``Format=JSON`` (or XML through the
deprecated ``do_action``), returns raw body bytes on 2xx and raises its own
``ServerException`` for everything else (``aliyunsdkcore.client.AcsClient``).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from typing import Any

import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdkecs.request.v20140526.CancelTaskRequest import CancelTaskRequest
from aliyunsdkecs.request.v20140526.DescribeTaskAttributeRequest import (
    DescribeTaskAttributeRequest,
)
from aliyunsdkecs.request.v20140526.DescribeTasksRequest import DescribeTasksRequest
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


def client(
    region_id: str | None = HANGZHOU, key_id: str = KEY_ID, secret: str = SECRET
) -> AcsClient:
    # The old SDK takes RegionId from the client; "" makes it send RegionId= (missing).
    return AcsClient(key_id, secret, region_id if region_id is not None else "")


def request(server: ServedEmulator, cls: Any, **params: str | None) -> Any:
    req = cls()
    req.set_endpoint(server.netloc)
    for name, value in params.items():
        if value is not None:
            getattr(req, f"set_{name}")(value)
    return req


def test_cancel_returns_the_raw_json_body(served: ServedEmulator) -> None:
    raw = client().do_action_with_exception(
        request(served, CancelTaskRequest, TaskId=served.fresh_task())
    )

    assert isinstance(raw, bytes)
    body = json.loads(raw)
    assert list(body) == ["RequestId"]
    assert REQUEST_ID.fullmatch(body["RequestId"])


@pytest.mark.parametrize(("region_id", "task_id", "reason"), REJECTIONS)
def test_every_rejection_is_a_server_exception(
    served: ServedEmulator, region_id: str | None, task_id: str | None, reason: str
) -> None:
    expected = EXPECTED[reason][served.profile]

    with pytest.raises(ServerException) as caught:
        client(region_id).do_action_with_exception(
            request(served, CancelTaskRequest, TaskId=task_id)
        )

    error = caught.value
    assert error.get_error_code() == expected.code
    assert error.get_http_status() == expected.http_status
    assert error.get_error_msg() == expected.message
    assert REQUEST_ID.fullmatch(error.get_request_id())
    assert str(error) == (
        f"HTTP Status: {expected.http_status} Error:{expected.code} {expected.message} "
        f"RequestID: {error.get_request_id()}"
    )


def test_special_characters_in_parameters_are_signed_and_decoded(
    served: ServedEmulator,
) -> None:
    """The old SDK sends a space as '%20' (as observed); the task (Finished) is found."""
    with pytest.raises(ServerException) as caught:
        client().do_action_with_exception(request(served, CancelTaskRequest, TaskId=WEIRD))
    assert caught.value.get_error_code() == EXPECTED["INCORRECT_TASK_STATUS"][served.profile].code


def test_wrong_secret_is_reported_as_invalid_secret_not_a_crash(served: ServedEmulator) -> None:
    """The old SDK splits SignatureDoesNotMatch's message on ':' (IndexError without one)
    and, when the server's string to sign equals its own, reports InvalidAccessKeySecret."""
    with pytest.raises(ServerException) as caught:
        client(secret="not-the-secret").do_action_with_exception(
            request(served, CancelTaskRequest, TaskId=served.fresh_task())
        )

    error = caught.value
    assert error.get_error_code() == "InvalidAccessKeySecret"
    assert error.get_http_status() == 400
    assert REQUEST_ID.fullmatch(error.get_request_id())


def test_unknown_access_key(served: ServedEmulator) -> None:
    with pytest.raises(ServerException) as caught:
        client(key_id="nobody", secret="whatever").do_action_with_exception(
            request(served, CancelTaskRequest, TaskId=served.fresh_task())
        )
    assert caught.value.get_error_code() == "InvalidAccessKeyId.NotFound"
    assert caught.value.get_http_status() == 404
    assert caught.value.get_error_msg() == "Specified access key is not found."


def test_another_accounts_task_is_not_found_for_us_but_visible_to_it(
    served: ServedEmulator,
) -> None:
    with pytest.raises(ServerException) as caught:
        client().do_action_with_exception(request(served, CancelTaskRequest, TaskId=OTHERS))
    assert caught.value.get_error_code() == "InvalidTaskId.NotFound"

    raw = client(key_id=OTHER_KEY_ID, secret=OTHER_SECRET).do_action_with_exception(
        request(served, DescribeTaskAttributeRequest, TaskId=OTHERS)
    )
    assert json.loads(raw)["TaskStatus"] == "Processing"

    with pytest.raises(ServerException) as caught:
        client(key_id=OTHER_KEY_ID, secret=OTHER_SECRET).do_action_with_exception(
            request(served, CancelTaskRequest, TaskId=served.fresh_task())
        )
    assert caught.value.get_error_code() == "InvalidTaskId.NotFound"


def test_describe_task_attribute_shows_deleted_after_cancel(served: ServedEmulator) -> None:
    task_id = served.fresh_task()
    acs = client()

    def attribute() -> dict[str, Any]:
        raw = acs.do_action_with_exception(
            request(served, DescribeTaskAttributeRequest, TaskId=task_id)
        )
        return dict(json.loads(raw))

    before = attribute()
    assert (before["TaskStatus"], before["SupportCancel"]) == ("Processing", "true")

    acs.do_action_with_exception(request(served, CancelTaskRequest, TaskId=task_id))

    after = attribute()
    assert (after["TaskId"], after["RegionId"]) == (task_id, HANGZHOU)
    assert (after["TaskStatus"], after["SupportCancel"]) == ("Deleted", "false")
    assert after["FinishedTime"]


def test_describe_tasks_lists_only_our_tasks(served: ServedEmulator) -> None:
    raw = client(SHANGHAI).do_action_with_exception(request(served, DescribeTasksRequest))
    body = json.loads(raw)
    ids = {task["TaskId"] for task in body["TaskSet"]["Task"]}
    assert ids == {task_id for task_id, *_ in SHANGHAI_TASKS}
    assert SHANGHAI_OTHER not in ids
    assert body["TotalCount"] == len(SHANGHAI_TASKS)


DO_ACTION_IS_DEPRECATED = pytest.mark.filterwarnings(
    r"ignore:do_action\(\) method is deprecated:DeprecationWarning"
)


@DO_ACTION_IS_DEPRECATED
def test_xml_success_through_do_action(served: ServedEmulator) -> None:
    req = request(served, CancelTaskRequest, TaskId=served.fresh_task())
    req.set_accept_format("XML")

    raw = client().do_action(req)

    root = ElementTree.fromstring(raw)
    assert root.tag == "CancelTaskResponse"
    assert [child.tag for child in root] == ["RequestId"]
    assert REQUEST_ID.fullmatch(root.findtext("RequestId") or "")


@DO_ACTION_IS_DEPRECATED
def test_xml_error_through_do_action(served: ServedEmulator) -> None:
    expected = EXPECTED["ACTION_NOT_SUPPORTED"][served.profile]
    req = request(served, CancelTaskRequest, TaskId="t-ro-redeploy")
    req.set_accept_format("XML")

    raw = client().do_action(req)

    root = ElementTree.fromstring(raw)
    assert root.tag == "Error"
    assert root.findtext("Code") == expected.code
    assert root.findtext("Message") == expected.message
    assert REQUEST_ID.fullmatch(root.findtext("RequestId") or "")
    assert root.findtext("HostId")
    assert expected.code in (root.findtext("Recommend") or "")
