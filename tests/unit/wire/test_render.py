"""taskcancel.wire.render: success and error responses in JSON and XML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskcancel.wire import (
    JSON_CONTENT_TYPE,
    XML_CONTENT_TYPE,
    GatewayError,
    gateway_error,
    render_error,
    render_success,
)
from taskcancel.wire.render import _json_bytes


@settings(max_examples=200)
@given(st.text(), st.one_of(st.text(), st.integers(), st.none()))
def test_one_key_json_bodies_match_the_json_module(key: str, value: object) -> None:
    body = _json_bytes({key: value})
    assert json.loads(body) == {key: value}
    try:
        expected = json.dumps({key: value}, ensure_ascii=False, separators=(",", ":"))
        assert body == expected.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: escaped instead
        assert body == json.dumps({key: value}, separators=(",", ":")).encode("ascii")


def test_render_success_json() -> None:
    response = render_success("CancelTask", {}, request_id="R-1")
    assert response.status == 200
    headers = dict(response.headers)
    assert headers["content-type"] == "application/json;charset=utf-8"
    assert headers["content-length"] == str(len(response.body))
    assert headers["x-acs-request-id"] == "R-1"
    assert response.body == b'{"RequestId":"R-1"}'

    data = {"TotalCount": 1, "RequestId": "ignored", "TaskSet": {"Task": [{"TaskId": "t-\u00e9"}]}}
    response = render_success("DescribeTasks", data, request_id="R-2")
    document = json.loads(response.body)
    assert list(document) == ["RequestId", "TotalCount", "TaskSet"]
    assert document["RequestId"] == "R-2"
    assert document["TaskSet"]["Task"][0]["TaskId"] == "t-\u00e9"
    assert "t-\u00e9".encode() in response.body  # ensure_ascii=False


def test_render_success_xml() -> None:
    data: dict[str, object] = {
        "TotalCount": 2,
        "TaskSet": {
            "Task": [
                {"TaskId": "a<&>", "SupportCancel": True},
                {"TaskId": "b", "SupportCancel": False},
            ]
        },
        "Empty": None,
        "Control": "x\x01y",
    }
    response = render_success("DescribeTasks", data, request_id="R", response_format="XML")
    assert dict(response.headers)["content-type"] == "text/xml;charset=utf-8"
    assert response.body.startswith(
        b"<?xml version='1.0' encoding='UTF-8'?><DescribeTasksResponse>"
    )
    root = ElementTree.fromstring(response.body)
    assert root.tag == "DescribeTasksResponse"
    assert [child.tag for child in root] == [
        "RequestId",
        "TotalCount",
        "TaskSet",
        "Empty",
        "Control",
    ]
    assert root.findtext("RequestId") == "R"
    tasks = root.findall("TaskSet/Task")
    assert [t.findtext("TaskId") for t in tasks] == ["a<&>", "b"]
    assert [t.findtext("SupportCancel") for t in tasks] == ["true", "false"]
    assert root.findtext("Empty") == ""


def test_render_cancel_task_xml_exact() -> None:
    response = render_success("CancelTask", {}, request_id="R", response_format="xml")
    assert response.body == (
        b"<?xml version='1.0' encoding='UTF-8'?><CancelTaskResponse><RequestId>R</RequestId>"
        b"</CancelTaskResponse>"
    )


def test_render_error_json() -> None:
    not_found = GatewayError("InvalidTaskId.NotFound", 400, 'The specified "TaskId" is not found.')
    response = render_error(not_found, request_id="R", host_id="ecs.aliyuncs.com")
    assert response.status == 400
    assert dict(response.headers)["content-type"] == "application/json;charset=utf-8"
    document = json.loads(response.body)
    assert list(document) == ["RequestId", "HostId", "Code", "Message", "Recommend"]
    assert document == {
        "RequestId": "R",
        "HostId": "ecs.aliyuncs.com",
        "Code": "InvalidTaskId.NotFound",
        "Message": 'The specified "TaskId" is not found.',
        "Recommend": "https://api.alibabacloud.com/troubleshoot?intl_lang=EN_US"
        "&q=InvalidTaskId.NotFound&product=Ecs&requestId=R",
    }


def test_render_error_xml() -> None:
    error = GatewayError("Code.A", 403, "a <b> & c", (("x-extra", "1"),))
    response = render_error(error, request_id="R", host_id="H", response_format="XML")
    assert response.status == 403
    headers = dict(response.headers)
    assert headers["content-type"] == "text/xml;charset=utf-8"
    assert headers["x-extra"] == "1"
    assert (
        b"<Recommend><![CDATA[https://api.alibabacloud.com/troubleshoot?intl_lang=EN_US&q=Code.A"
        in response.body
    )
    root = ElementTree.fromstring(response.body)
    assert root.tag == "Error"
    assert [child.tag for child in root] == ["RequestId", "HostId", "Code", "Message", "Recommend"]
    assert root.findtext("Message") == "a <b> & c"
    assert root.findtext("Recommend", "").endswith("&product=Ecs&requestId=R")


def test_render_error_throttling_header() -> None:
    throttled = gateway_error("Throttling.User", retry_after_ms=1500)
    response = render_error(throttled, request_id="R", host_id="H")
    assert response.status == 400
    assert response.headers[-1] == ("x-acs-retry-after", "1500")
    assert json.loads(response.body)["Code"] == "Throttling.User"
    used = gateway_error("SignatureNonceUsed")
    xml = render_error(used, request_id="R", host_id="H", response_format="XML")
    assert ElementTree.fromstring(xml.body).findtext("Code") == "SignatureNonceUsed"


@pytest.mark.parametrize("response_format", ["XML", "xml", "JSON", "json"])
def test_the_same_error_renders_in_the_format_asked_for(response_format: str) -> None:
    """The format is an argument of render_error, not a property of the error."""
    error = gateway_error("Missing{name}", name="Action")
    response = render_error(error, request_id="R", host_id="H", response_format=response_format)
    if response_format.upper() == "XML":
        assert dict(response.headers)["content-type"] == XML_CONTENT_TYPE
        assert ElementTree.fromstring(response.body).findtext("Code") == "MissingAction"
    else:
        assert dict(response.headers)["content-type"] == JSON_CONTENT_TYPE
        assert json.loads(response.body)["Code"] == "MissingAction"
