"""The error catalogue, row by row, and end to end through the in-memory client.

The expected strings below are copied independently from the CancelTask API page's error
tables, old and current (docs/contract.md, "Two profiles"), not from the catalogue
module, so a typo in either shows up here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pytest

from taskcancel import (
    ApiError,
    ApiRequest,
    ApiResponse,
    CancelRejected,
    CancelTaskFailed,
    Client,
    IncorrectTaskStatus,
    InMemoryTransport,
    MemoryStore,
    MissingParameter,
    Reason,
    RegionNotFound,
    Task,
    TaskActionNotSupported,
    TaskCancelError,
    TaskNotFound,
    TaskStatus,
)
from taskcancel.catalogue import (
    DEFAULT_PROFILE,
    PROFILES,
    ErrorSpec,
    Profile,
    get_profile,
    reason_for_code,
)

_MISSING_REGION = (
    'An input parameter "RegionId" that is mandatory for processing the request is not supplied.'
)
_MISSING_TASK = (
    'An input parameter "TaskId" that is mandatory for processing the request is not supplied.'
)
_FAILED = "The task is failed to cancel, Please contact the administrator."

EXPECTED: dict[str, dict[Reason, tuple[str, int, str]]] = {
    "2017": {
        Reason.MISSING_REGION_ID: ("MissingParameter", 400, _MISSING_REGION),
        Reason.MISSING_TASK_ID: ("MissingParameter", 400, _MISSING_TASK),
        Reason.REGION_NOT_FOUND: ("RegionId.NotFound", 400, "The specified region is not found."),
        Reason.TASK_NOT_FOUND: (
            "InvalidTaskId.NotFound",
            400,
            "The specified taskId is not found.",
        ),
        Reason.ACTION_NOT_SUPPORTED: (
            "TaskActionNotSupport",
            400,
            "The specified task action is not support",
        ),
        Reason.INCORRECT_TASK_STATUS: (
            "IncorrectTaskStatus",
            403,
            "The specified task status is not invalid.",
        ),
        Reason.CANCEL_FAILED: ("CancelTaskFailed", 400, _FAILED),
    },
    "current": {
        Reason.MISSING_REGION_ID: ("MissingParameter", 400, _MISSING_REGION),
        Reason.MISSING_TASK_ID: ("MissingParameter", 400, _MISSING_TASK),
        Reason.REGION_NOT_FOUND: (
            "InvalidRegionId.NotFound",
            400,
            "The specified RegionId does not exist.",
        ),
        Reason.TASK_NOT_FOUND: (
            "InvalidTaskId.NotFound",
            400,
            'The specified "TaskId" is not found.',
        ),
        Reason.ACTION_NOT_SUPPORTED: (
            "InvalidTaskId.TaskActionNotSupport",
            403,
            "The specified task action not support.",
        ),
        Reason.INCORRECT_TASK_STATUS: (
            "InvalidTaskId.IncorrectTaskStatus",
            403,
            "The specified task status is invalid.",
        ),
        Reason.CANCEL_FAILED: ("CancelTaskFailed", 403, _FAILED),
    },
}

EXCEPTION_FOR: dict[Reason, type[CancelRejected]] = {
    Reason.MISSING_REGION_ID: MissingParameter,
    Reason.MISSING_TASK_ID: MissingParameter,
    Reason.REGION_NOT_FOUND: RegionNotFound,
    Reason.TASK_NOT_FOUND: TaskNotFound,
    Reason.ACTION_NOT_SUPPORTED: TaskActionNotSupported,
    Reason.INCORRECT_TASK_STATUS: IncorrectTaskStatus,
    Reason.CANCEL_FAILED: CancelTaskFailed,
}

# The machine-translated seed's lower-cased codes: never to be emitted.
MANGLED = {
    "Regionid.notfound",
    "Incorrecttaskstatus",
    "Taskactionnotsupport",
    "Canceltaskfailed",
    "Missingparameter",
    "Invalidtaskid.notfound",
}

ROWS = [(name, reason) for name in ("2017", "current") for reason in Reason]
UUID_UPPER = re.compile(r"[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}")

REGION = "cn-hangzhou"


def _world() -> MemoryStore:
    return MemoryStore(
        [
            Task(task_id="t-run", region_id=REGION, action="ImportImage", status="Processing"),
            Task(
                task_id="t-redeploy",
                region_id=REGION,
                action="RedeployInstance",
                status="Processing",
            ),
            Task(task_id="t-done", region_id=REGION, action="ExportImage", status="Finished"),
            Task(
                task_id="t-broken",
                region_id=REGION,
                action="ExportImage",
                status="Processing",
                cancel_fails=True,
            ),
        ]
    )


# (region_id, task_id) that yields each reason against _world().
REQUEST_FOR: dict[Reason, tuple[str | None, str | None]] = {
    Reason.MISSING_REGION_ID: (None, "t-run"),
    Reason.MISSING_TASK_ID: (REGION, None),
    Reason.REGION_NOT_FOUND: ("xx-nowhere-9", "t-run"),
    Reason.TASK_NOT_FOUND: (REGION, "t-nope"),
    Reason.ACTION_NOT_SUPPORTED: (REGION, "t-redeploy"),
    Reason.INCORRECT_TASK_STATUS: (REGION, "t-done"),
    Reason.CANCEL_FAILED: (REGION, "t-broken"),
}


def test_profiles_are_exactly_2017_and_current_with_2017_default() -> None:
    assert set(PROFILES) == {"2017", "current"}
    assert DEFAULT_PROFILE is PROFILES["2017"]
    for name, profile in PROFILES.items():
        assert profile.name == name
        assert set(profile.errors) == set(Reason)


@pytest.mark.parametrize(("profile_name", "reason"), ROWS)
def test_catalogue_row(profile_name: str, reason: Reason) -> None:
    code, status, message = EXPECTED[profile_name][reason]
    spec = get_profile(profile_name).error(reason)
    assert spec == ErrorSpec(code, status, message)
    assert (spec.code, spec.http_status, spec.message) == (code, status, message)


def test_no_profile_emits_the_mangled_lower_case_codes() -> None:
    for profile in PROFILES.values():
        for spec in profile.errors.values():
            assert spec.code not in MANGLED
            # every dotted segment starts upper-case, like every real Aliyun code
            assert all(part[:1].isupper() for part in spec.code.split("."))


@pytest.mark.parametrize("bad", ["2018", "CURRENT", "", "v0", None, 2017])
def test_unknown_profile_is_refused_naming_the_valid_ones(bad: Any) -> None:
    with pytest.raises(ValueError) as info:
        get_profile(bad)
    text = str(info.value)
    assert "2017" in text
    assert "current" in text


def test_unknown_profile_refused_by_in_memory_transport() -> None:
    with pytest.raises(ValueError, match="current"):
        InMemoryTransport(MemoryStore(), profile="2019")


def test_get_profile_passes_a_profile_through() -> None:
    custom = Profile("mine", dict(PROFILES["current"].errors))
    assert get_profile(custom) is custom
    assert get_profile(PROFILES["current"]) is PROFILES["current"]
    assert get_profile("current") is PROFILES["current"]


@pytest.mark.parametrize(("profile_name", "reason"), ROWS)
def test_reason_for_code_round_trip(profile_name: str, reason: Reason) -> None:
    code, _, message = EXPECTED[profile_name][reason]
    assert reason_for_code(code, message) is reason
    assert get_profile(profile_name).reason(code, message) is reason


def test_reason_for_code_unknown_code_is_none() -> None:
    for code in ("InvalidAction.NotFound", "Throttling.User", "", "missingparameter"):
        assert reason_for_code(code, "whatever") is None
    assert PROFILES["2017"].reason("InvalidRegionId.NotFound") is None
    assert PROFILES["current"].reason("RegionId.NotFound") is None


def test_missing_parameter_is_told_apart_by_its_message() -> None:
    assert reason_for_code("MissingParameter", _MISSING_TASK) is Reason.MISSING_TASK_ID
    assert reason_for_code("MissingParameter", _MISSING_REGION) is Reason.MISSING_REGION_ID


def test_rejection_classes_form_the_documented_tree() -> None:
    for cls in set(EXCEPTION_FOR.values()):
        assert issubclass(cls, CancelRejected)
        assert issubclass(cls, TaskCancelError)
    assert issubclass(ApiError, TaskCancelError)
    assert not issubclass(ApiError, CancelRejected)


@pytest.mark.parametrize(("profile_name", "reason"), ROWS)
def test_each_reason_end_to_end_through_the_client(profile_name: str, reason: Reason) -> None:
    code, status, message = EXPECTED[profile_name][reason]
    store = _world()
    client = Client(InMemoryTransport(store, profile=profile_name))
    region_id, task_id = REQUEST_FOR[reason]
    with pytest.raises(CancelRejected) as info:
        client.cancel_task(region_id, task_id)
    error = info.value
    assert type(error) is EXCEPTION_FOR[reason]
    assert isinstance(error, TaskCancelError)
    assert error.reason is reason
    assert error.code == code
    assert error.http_status == status
    assert error.message == message
    assert UUID_UPPER.fullmatch(error.request_id)


@pytest.mark.parametrize("profile_name", ["2017", "current"])
def test_profile_object_works_in_the_transport(profile_name: str) -> None:
    client = Client(InMemoryTransport(_world(), profile=PROFILES[profile_name]))
    with pytest.raises(RegionNotFound) as info:
        client.cancel_task("xx-nowhere-9", "t-run")
    assert info.value.code == EXPECTED[profile_name][Reason.REGION_NOT_FOUND][0]


@pytest.mark.parametrize("reason", [Reason.MISSING_REGION_ID, Reason.MISSING_TASK_ID])
def test_empty_string_is_missing_end_to_end(reason: Reason) -> None:
    client = Client(InMemoryTransport(_world()))
    region_id, task_id = ("", "t-run") if reason is Reason.MISSING_REGION_ID else (REGION, "")
    with pytest.raises(MissingParameter) as info:
        client.cancel_task(region_id, task_id)
    assert info.value.reason is reason
    assert info.value.message == EXPECTED["2017"][reason][2]


@pytest.mark.parametrize("profile_name", ["2017", "current"])
def test_cancel_fails_flag_leaves_the_task_unchanged(profile_name: str) -> None:
    store = _world()
    client = Client(InMemoryTransport(store, profile=profile_name))
    before = store.find_task(REGION, "t-broken")
    for _ in range(2):  # the fault is persistent, not one-shot
        with pytest.raises(CancelTaskFailed) as info:
            client.cancel_task(REGION, "t-broken")
        assert info.value.http_status == EXPECTED[profile_name][Reason.CANCEL_FAILED][1]
    assert store.find_task(REGION, "t-broken") == before
    info_after = client.describe_task_attribute(REGION, "t-broken")
    assert info_after.status is TaskStatus.PROCESSING
    assert info_after.finished_time is None
    assert info_after.support_cancel is True


@pytest.mark.parametrize("profile_name", ["2017", "current"])
def test_set_cancel_fails_injects_and_clears_the_fault(profile_name: str) -> None:
    store = _world()
    client = Client(InMemoryTransport(store, profile=profile_name))
    store.set_cancel_fails(REGION, "t-run")
    with pytest.raises(CancelTaskFailed) as info:
        client.cancel_task(REGION, "t-run")
    code, status, message = EXPECTED[profile_name][Reason.CANCEL_FAILED]
    assert (info.value.code, info.value.http_status, info.value.message) == (code, status, message)
    assert info.value.reason is Reason.CANCEL_FAILED
    assert client.describe_task_attribute(REGION, "t-run").status is TaskStatus.PROCESSING
    store.set_cancel_fails(REGION, "t-run", False)
    client.cancel_task(REGION, "t-run")
    assert client.describe_task_attribute(REGION, "t-run").status is TaskStatus.DELETED


class _Canned:
    """A transport that always answers with one error body (a server of any era)."""

    def __init__(self, status: int, body: Mapping[str, Any]) -> None:
        self.status = status
        self.body = body

    def handle_request(self, request: ApiRequest) -> ApiResponse:
        return ApiResponse(self.status, self.body)

    def close(self) -> None:
        pass


@pytest.mark.parametrize(("profile_name", "reason"), ROWS)
def test_client_recognises_the_codes_of_both_profiles(profile_name: str, reason: Reason) -> None:
    code, status, message = EXPECTED[profile_name][reason]
    body = {"RequestId": "ABC", "HostId": "ecs.aliyuncs.com", "Code": code, "Message": message}
    client = Client(_Canned(status, body))
    with pytest.raises(CancelRejected) as info:
        client.cancel_task(REGION, "t-1")
    assert type(info.value) is EXCEPTION_FOR[reason]
    assert info.value.reason is reason
    assert (info.value.code, info.value.http_status) == (code, status)
    assert info.value.request_id == "ABC"


def test_missing_parameter_fallback_reads_the_parameter_name() -> None:
    # A message that matches no table row exactly still names the parameter.
    variant = 'An input parameter "TaskId" that is mandatory is not supplied'
    assert reason_for_code("MissingParameter", variant) is Reason.MISSING_TASK_ID


def test_missing_parameter_with_curly_quotes_is_the_task_id() -> None:
    curly = (
        "An input parameter \u201cTaskId\u201d that is mandatory for processing the request"
        " is not supplied."
    )
    assert reason_for_code("MissingParameter", curly) is Reason.MISSING_TASK_ID
