"""The public surface: ``__all__``, the fixed names of the design, py.typed, core purity."""

from __future__ import annotations

import importlib
import importlib.resources
import importlib.util
import inspect

import pytest

import taskcancel

PUBLIC = [
    "DEFAULT_ENDPOINT",
    "DEFAULT_POLICY",
    "ECS_REGIONS",
    "REJECTIONS",
    "Accepted",
    "ApiError",
    "ApiRequest",
    "ApiResponse",
    "AsyncClient",
    "AsyncHttpTransport",
    "AsyncTransport",
    "AuthenticationError",
    "CancelRejected",
    "CancelRequest",
    "CancelTaskFailed",
    "Client",
    "Clock",
    "Decision",
    "HttpTransport",
    "InMemoryTransport",
    "IncorrectTaskStatus",
    "MemoryStore",
    "MissingParameter",
    "Policy",
    "Reason",
    "RegionNotFound",
    "Rejected",
    "Schedule",
    "SqliteStore",
    "Store",
    "StoreFileError",
    "Task",
    "TaskAction",
    "TaskActionNotSupported",
    "TaskCancelError",
    "TaskInfo",
    "TaskNotFound",
    "TaskPage",
    "TaskStatus",
    "ThrottlingError",
    "Transport",
    "TransportError",
    "World",
    "__version__",
    "api",
    "apply_cancel",
    "catalogue",
    "decide",
    "supports_cancel",
    "task_at",
    "wire",
    "worldfile",
]

# Names the design marks as fixed (§2 domain, §3 profiles, §4 exceptions).
FIXED = [
    "TaskAction",
    "TaskStatus",
    "Task",
    "CancelRequest",
    "Reason",
    "decide",
    "Accepted",
    "Rejected",
    "Policy",
    "World",
    "MemoryStore",
    "Client",
    "InMemoryTransport",
    "TaskCancelError",
    "CancelRejected",
    "MissingParameter",
    "RegionNotFound",
    "TaskNotFound",
    "TaskActionNotSupported",
    "IncorrectTaskStatus",
    "CancelTaskFailed",
    "ApiError",
    "TransportError",
]


def _isort_key(name: str) -> tuple[int, str]:
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


def test_all_is_pinned_and_sorted() -> None:
    assert taskcancel.__all__ == PUBLIC
    # sorted the way ruff's RUF022 sorts __all__: CONSTANTS, then Classes, then the rest
    assert sorted(PUBLIC, key=_isort_key) == PUBLIC
    assert len(set(PUBLIC)) == len(PUBLIC)


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_name_is_an_attribute(name: str) -> None:
    assert hasattr(taskcancel, name)
    namespace: dict[str, object] = {}
    exec(f"from taskcancel import {name}", namespace)
    assert namespace[name] is getattr(taskcancel, name)


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        taskcancel.nothing  # type: ignore[attr-defined]  # noqa: B018


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from taskcancel import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(PUBLIC)


def test_py_typed_ships_with_the_package() -> None:
    marker = importlib.resources.files("taskcancel") / "py.typed"
    assert marker.is_file()


@pytest.mark.parametrize("name", FIXED)
def test_fixed_names_exist(name: str) -> None:
    assert name in taskcancel.__all__
    # Each fixed name is the class or function of that name, not an alias of another.
    value = getattr(taskcancel, name)
    assert inspect.isclass(value) or inspect.isfunction(value), value
    assert value.__name__ == name


def test_fixed_enum_values() -> None:
    assert [a.value for a in taskcancel.TaskAction] == [
        "ImportImage",
        "ExportImage",
        "RedeployInstance",
        "ModifyDiskSpec",
        "ArchiveSnapshot",
    ]
    assert {s.value for s in taskcancel.TaskStatus} == {
        "Waiting",
        "Processing",
        "Finished",
        "Failed",
        "Deleted",
        "Paused",
    }
    assert {r.name for r in taskcancel.Reason} == {
        "MISSING_REGION_ID",
        "MISSING_TASK_ID",
        "REGION_NOT_FOUND",
        "TASK_NOT_FOUND",
        "ACTION_NOT_SUPPORTED",
        "INCORRECT_TASK_STATUS",
        "CANCEL_FAILED",
    }
    assert taskcancel.TaskStatus("Processing") is taskcancel.TaskStatus.PROCESSING


def test_fixed_signatures() -> None:
    task = taskcancel.Task(
        task_id="t-1", region_id="cn-hangzhou", action="ImportImage", status="Processing"
    )
    assert task.owner is None
    assert task.action is taskcancel.TaskAction.IMPORT_IMAGE
    assert task.status is taskcancel.TaskStatus.PROCESSING
    for field in ("creation_time", "finished_time", "resource_id", "progress"):
        assert getattr(task, field) is None
    with pytest.raises(TypeError):
        taskcancel.Task("t-1", "cn-hangzhou", "ImportImage", "Processing")  # type: ignore[call-arg]
    with pytest.raises(AttributeError):
        task.status = taskcancel.TaskStatus.DELETED  # type: ignore[misc]

    request = taskcancel.CancelRequest("cn-hangzhou", "t-1")
    assert (request.region_id, request.task_id) == ("cn-hangzhou", "t-1")
    assert taskcancel.CancelRequest(region_id=None, task_id=None).region_id is None

    decide = inspect.signature(taskcancel.decide)
    assert list(decide.parameters)[:2] == ["request", "world"]
    for name in ("account", "policy"):
        assert decide.parameters[name].kind is inspect.Parameter.KEYWORD_ONLY
    assert decide.parameters["account"].default is None

    policy = taskcancel.Policy(
        cancellable_actions=frozenset({taskcancel.TaskAction.IMPORT_IMAGE}),
        cancellable_statuses=frozenset({taskcancel.TaskStatus.WAITING}),
    )
    assert policy.cancellable_statuses == {taskcancel.TaskStatus.WAITING}

    store_sig = inspect.signature(taskcancel.MemoryStore)
    assert next(iter(store_sig.parameters)) == "tasks"
    assert store_sig.parameters["regions"].kind is inspect.Parameter.KEYWORD_ONLY
    assert store_sig.parameters["regions"].default is None

    transport_sig = inspect.signature(taskcancel.InMemoryTransport)
    assert next(iter(transport_sig.parameters)) == "store"
    assert transport_sig.parameters["account"].kind is inspect.Parameter.KEYWORD_ONLY
    assert transport_sig.parameters["account"].default is None
    assert transport_sig.parameters["profile"].default == "2017"

    cancel_sig = inspect.signature(taskcancel.Client.cancel_task)
    assert list(cancel_sig.parameters) == ["self", "region_id", "task_id"]

    for method in ("has_region", "find_task"):
        assert hasattr(taskcancel.World, method)


def test_exception_tree() -> None:
    tc = taskcancel
    rejections = [
        tc.MissingParameter,
        tc.RegionNotFound,
        tc.TaskNotFound,
        tc.TaskActionNotSupported,
        tc.IncorrectTaskStatus,
        tc.CancelTaskFailed,
    ]
    for cls in rejections:
        assert issubclass(cls, tc.CancelRejected)
        assert not issubclass(cls, tc.ApiError)
    assert issubclass(tc.CancelRejected, tc.TaskCancelError)
    assert issubclass(tc.ApiError, tc.TaskCancelError)
    assert issubclass(tc.AuthenticationError, tc.ApiError)
    assert issubclass(tc.ThrottlingError, tc.ApiError)
    assert issubclass(tc.TransportError, tc.TaskCancelError)
    assert not issubclass(tc.TransportError, tc.ApiError | tc.CancelRejected)
    error = tc.TaskNotFound(tc.Reason.TASK_NOT_FOUND, "InvalidTaskId.NotFound", 400, "m", "R")
    assert (error.reason, error.code, error.http_status, error.message, error.request_id) == (
        tc.Reason.TASK_NOT_FOUND,
        "InvalidTaskId.NotFound",
        400,
        "m",
        "R",
    )


# ------------------------------------------- core isolation (purity: tests/unit/test_layers.py)


#: The public namespaces beside the top level, and what each exports.
NAMESPACES = {
    "api": ["ACTIONS", "IdGenerator", "task_from_api", "task_to_api"],
    "catalogue": [
        "DEFAULT_PROFILE",
        "PROFILES",
        "ErrorSpec",
        "Profile",
        "get_profile",
        "missing_parameter_message",
        "reason_for_code",
    ],
}


@pytest.mark.parametrize("namespace", sorted(NAMESPACES))
def test_namespaces_are_the_modules_that_define_their_names(namespace: str) -> None:
    """``taskcancel.api`` and ``taskcancel.catalogue`` are where their classes and
    functions live, not a second name for a private module."""
    module = importlib.import_module(f"taskcancel.{namespace}")
    assert module.__all__ == NAMESPACES[namespace]
    for name in module.__all__:
        value = getattr(module, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__module__.startswith(module.__name__), (name, value.__module__)
