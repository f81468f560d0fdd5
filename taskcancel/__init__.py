"""taskcancel: the Alibaba Cloud ECS ``CancelTask`` contract, as a library.

A pure rules core (:func:`decide`) that models tasks and decides every cancel
outcome; stores that hold a world of tasks and apply cancels atomically; a
:class:`Client` over pluggable transports (an in-memory mock, and an HTTP transport
that signs requests like the official SDKs); a local HTTP emulator
(``taskcancel serve``); and a testing kit in :mod:`taskcancel.testing`.
"""

from __future__ import annotations

from ._api._actions import ACTIONS, IdGenerator, task_from_api, task_to_api
from ._client._client import (
    ApiRequest,
    ApiResponse,
    AsyncClient,
    AsyncTransport,
    Client,
    InMemoryTransport,
    TaskInfo,
    TaskPage,
    Transport,
)
from ._client._http import AsyncHttpTransport, HttpTransport
from ._core._catalogue import (
    DEFAULT_PROFILE,
    PROFILES,
    ErrorSpec,
    Profile,
    get_profile,
    reason_for_code,
)
from ._core._exceptions import (
    REJECTIONS,
    ApiError,
    AuthenticationError,
    CancelRejected,
    CancelTaskFailed,
    IncorrectTaskStatus,
    MissingParameter,
    RegionNotFound,
    TaskActionNotSupported,
    TaskCancelError,
    TaskNotFound,
    ThrottlingError,
    TransportError,
)
from ._core._model import (
    ECS_REGIONS,
    CancelRequest,
    Schedule,
    Task,
    TaskAction,
    TaskStatus,
    task_at,
)
from ._core._rules import (
    DEFAULT_POLICY,
    Accepted,
    Decision,
    Policy,
    Reason,
    Rejected,
    World,
    decide,
)
from ._store import Clock, MemoryStore, Store
from ._store.sqlite import SqliteStore, StoreFileError
from .worldfile._world import (
    DEFAULT_ACCOUNTS,
    Faults,
    WorldFileError,
    WorldSpec,
    load_world,
    parse_world,
    world_to_json,
)

__version__ = "0.1.0"

__all__ = [
    "ACTIONS",
    "DEFAULT_ACCOUNTS",
    "DEFAULT_POLICY",
    "DEFAULT_PROFILE",
    "ECS_REGIONS",
    "PROFILES",
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
    "ErrorSpec",
    "Faults",
    "HttpTransport",
    "IdGenerator",
    "InMemoryTransport",
    "IncorrectTaskStatus",
    "MemoryStore",
    "MissingParameter",
    "Policy",
    "Profile",
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
    "WorldFileError",
    "WorldSpec",
    "__version__",
    "decide",
    "get_profile",
    "load_world",
    "parse_world",
    "reason_for_code",
    "task_at",
    "task_from_api",
    "task_to_api",
    "world_to_json",
]
