"""Server side: results and errors -> complete responses, in JSON or XML.

The format is an argument of each function: a call's ``Format`` decides it, an error
never carries one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from ._encoding import percent_encode, scalar_text
from .gateway import GatewayError

__all__ = [
    "DEFAULT_HOST_ID",
    "JSON_CONTENT_TYPE",
    "XML_CONTENT_TYPE",
    "Response",
    "recommend_url",
    "render_error",
    "render_success",
]

#: The ``HostId`` of an error when the request named no host: the public endpoint.
DEFAULT_HOST_ID = "ecs.aliyuncs.com"
JSON_CONTENT_TYPE = "application/json;charset=utf-8"
#: The new SDK parses an XML error body only under exactly this content type.
XML_CONTENT_TYPE = "text/xml;charset=utf-8"


@dataclass(slots=True)
class Response:
    """A complete response: headers include content-type, content-length, x-acs-request-id.

    Read-only by convention (not frozen: it is made for every request)."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_XML_NAME_INVALID = re.compile(r"[^A-Za-z0-9_.\-]")


def _xml_text(value: str) -> str:
    text = _XML_INVALID.sub("\ufffd", value)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _xml_name(name: str) -> str:
    cleaned = _XML_NAME_INVALID.sub("_", name)
    if not cleaned or not (cleaned[0].isalpha() or cleaned[0] == "_"):
        cleaned = "_" + cleaned
    return cleaned


def _xml_element(tag: str, value: object, out: list[str]) -> None:
    if isinstance(value, Mapping):
        out.append(f"<{tag}>")
        for key, item in value.items():
            _xml_element(_xml_name(str(key)), item, out)
        out.append(f"</{tag}>")
    elif isinstance(value, list | tuple):
        for item in value:
            _xml_element(tag, item, out)
    else:
        out.append(f"<{tag}>{_xml_text(scalar_text(value))}</{tag}>")


def _json_default(value: object) -> object:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return str(value)


_json_string = json.encoder.encode_basestring  # what _JSON does to a str (no ASCII escaping)
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_json_default)


def _json_bytes(document: Mapping[str, object]) -> bytes:
    """Compact JSON in UTF-8 (``\\u`` escapes only for lone surrogates)."""
    if len(document) == 1:  # the usual success reply, {"RequestId": ...}: skip the encoder
        ((key, value),) = document.items()
        if isinstance(value, str):
            text = "{" + _json_string(key) + ":" + _json_string(value) + "}"
        else:
            text = _JSON.encode(document)
    else:
        text = _JSON.encode(document)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: fall back to \u escapes
        return json.dumps(document, separators=(",", ":"), default=_json_default).encode("ascii")


def _response(status: int, content_type: str, body: bytes, request_id: str) -> Response:
    headers = (
        ("content-type", content_type),
        ("content-length", str(len(body))),
        ("x-acs-request-id", request_id),
    )
    return Response(status, headers, body)


def render_success(
    action: str,
    data: Mapping[str, object],
    *,
    request_id: str,
    response_format: str = "JSON",
) -> Response:
    """200 with ``RequestId`` first, then ``data`` (a ``RequestId`` key in it is ignored).

    JSON: one compact flat object. XML: root ``<{action}Response>``; mappings nest, a
    list repeats its key (``{"TaskSet": {"Task": [a, b]}}`` -> ``<TaskSet><Task>a</Task>
    <Task>b</Task></TaskSet>``), booleans are ``true``/``false``, None is empty.
    """
    if not data and response_format == "JSON":  # CancelTask's reply: straight to bytes
        try:
            body = b'{"RequestId":' + _json_string(request_id).encode("utf-8") + b"}"
        except UnicodeEncodeError:  # lone surrogates: the encoder's ASCII escapes below
            pass
        else:
            return Response(
                200,
                (
                    ("content-type", JSON_CONTENT_TYPE),
                    ("content-length", str(len(body))),
                    ("x-acs-request-id", request_id),
                ),
                body,
            )
    document: dict[str, object] = {"RequestId": request_id}
    if data:
        document.update((k, v) for k, v in data.items() if k != "RequestId")
    if response_format.upper() == "XML":
        out = ["<?xml version='1.0' encoding='UTF-8'?>"]
        _xml_element(_xml_name(f"{action}Response"), document, out)
        body = "".join(out).encode("utf-8")
        return _response(200, XML_CONTENT_TYPE, body, request_id)
    return _response(200, JSON_CONTENT_TYPE, _json_bytes(document), request_id)


def recommend_url(code: str, request_id: str) -> str:
    """The gateway's diagnosis link for an error."""
    return (
        "https://api.alibabacloud.com/troubleshoot?intl_lang=EN_US"
        f"&q={percent_encode(code)}&product=Ecs&requestId={percent_encode(request_id)}"
    )


def render_error(
    error: GatewayError,
    *,
    request_id: str,
    host_id: str,
    response_format: str = "JSON",
) -> Response:
    """The error envelope ``RequestId, HostId, Code, Message, Recommend``, status and
    extra headers from ``error``.

    JSON object, or (``response_format`` ``XML``, any case) root ``<Error>`` with
    ``Recommend`` in CDATA. The error's ``headers`` follow the usual three.
    """
    document: dict[str, object] = {
        "RequestId": request_id,
        "HostId": host_id,
        "Code": error.code,
        "Message": error.message,
    }
    url = recommend_url(error.code, request_id)
    if response_format.upper() == "XML":
        out = ["<?xml version='1.0' encoding='UTF-8'?><Error>"]
        for key, value in document.items():
            _xml_element(key, value, out)
        cdata = _XML_INVALID.sub("\ufffd", url).replace("]]>", "]]]]><![CDATA[>")
        out.append(f"<Recommend><![CDATA[{cdata}]]></Recommend></Error>")
        body = "".join(out).encode("utf-8")
        response = _response(error.http_status, XML_CONTENT_TYPE, body, request_id)
    else:
        document["Recommend"] = url
        body = _json_bytes(document)
        response = _response(error.http_status, JSON_CONTENT_TYPE, body, request_id)
    if not error.headers:
        return response
    return Response(response.status, response.headers + error.headers, response.body)
