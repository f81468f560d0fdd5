"""taskcancel: the Alibaba Cloud ECS ``CancelTask`` contract, as a library.

A pure rules core (:func:`decide`) that models tasks and decides every cancel
outcome; stores that hold a world of tasks and apply cancels atomically; a
:class:`Client` over pluggable transports (an in-memory mock, and an HTTP transport
that signs requests like the official SDKs); a local HTTP emulator
(``taskcancel serve``); and a testing kit in :mod:`taskcancel.testing`.

This namespace holds what a user imports daily. The rest lives in namespaces of its own:
:mod:`taskcancel.catalogue` (error profiles), :mod:`taskcancel.worldfile` (the world
file), :mod:`taskcancel.api` (actions and task shapes), :mod:`taskcancel.wire` (the
sans-IO wire format), :mod:`taskcancel.server` (the emulator). Names that used to live
here still import from here.
"""

from __future__ import annotations

from . import api, catalogue, wire, worldfile
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
from ._client._http import DEFAULT_ENDPOINT, AsyncHttpTransport, HttpTransport
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
    apply_cancel,
    decide,
    supports_cancel,
)
from ._store import Clock, MemoryStore, Store
from ._store.sqlite import SqliteStore, StoreFileError

__version__ = "0.1.0"

__all__ = [
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
