"""The exceptions taskcancel raises. One root; each branch says who refused and why.

::

    TaskCancelError
     ├── CancelRejected              the CancelTask contract refused the call
     │    ├── MissingParameter         RegionId or TaskId missing (reason tells which)
     │    ├── RegionNotFound           RegionId.NotFound / InvalidRegionId.NotFound
     │    ├── TaskNotFound             InvalidTaskId.NotFound
     │    ├── TaskActionNotSupported   TaskActionNotSupport / InvalidTaskId.TaskActionNotSupport
     │    ├── IncorrectTaskStatus      IncorrectTaskStatus / InvalidTaskId.IncorrectTaskStatus
     │    └── CancelTaskFailed         CancelTaskFailed
     ├── ApiError                    the API gateway (or another action) refused the call
     │    ├── AuthenticationError      bad key, signature, timestamp or nonce
     │    └── ThrottlingError          Throttling*; ``retry_after_ms`` when the server said
     └── TransportError              the call never got an answer (network, timeout, bad reply)

Every :class:`CancelRejected` and :class:`ApiError` carries ``code``, ``http_status``,
``message`` and ``request_id``, exactly as the server sent them; rejections also carry
the :class:`~taskcancel.Reason`. :class:`TransportError` keeps its cause as
``__cause__``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from .._core._rules import Reason

__all__ = [
    "REJECTIONS",
    "ApiError",
    "AuthenticationError",
    "CancelRejected",
    "CancelTaskFailed",
    "IncorrectTaskStatus",
    "MissingParameter",
    "RegionNotFound",
    "TaskActionNotSupported",
    "TaskCancelError",
    "TaskNotFound",
    "ThrottlingError",
    "TransportError",
    "rejection_for",
]


class TaskCancelError(Exception):
    """Root of every exception taskcancel raises on purpose."""


class _ServerError(TaskCancelError):
    def __init__(self, code: str, http_status: int, message: str, request_id: str = "") -> None:
        super().__init__(f"{code} (HTTP {http_status}): {message}")
        self.code = code
        self.http_status = http_status
        self.message = message
        self.request_id = request_id

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.code, self.http_status, self.message, self.request_id))


class CancelRejected(_ServerError):
    """CancelTask refused the call for one of the contract's reasons."""

    reason: Reason

    def __init__(
        self, reason: Reason, code: str, http_status: int, message: str, request_id: str = ""
    ) -> None:
        super().__init__(code, http_status, message, request_id)
        self.reason = reason

    def __reduce__(self) -> tuple[object, ...]:
        args = (self.reason, self.code, self.http_status, self.message, self.request_id)
        return (type(self), args)


class MissingParameter(CancelRejected):
    """RegionId or TaskId was absent or empty."""


class RegionNotFound(CancelRejected):
    """The RegionId is not a known region."""


class TaskNotFound(CancelRejected):
    """No such task in that region for the calling account."""


class TaskActionNotSupported(CancelRejected):
    """The task was not made by ImportImage or ExportImage."""


class IncorrectTaskStatus(CancelRejected):
    """The task is not running (Processing)."""


class CancelTaskFailed(CancelRejected):
    """The cancel was accepted but could not be carried out."""


class ApiError(_ServerError):
    """An error from the API gateway or an action other than CancelTask's contract."""


class AuthenticationError(ApiError):
    """The access key, signature, timestamp or nonce was refused."""


class ThrottlingError(ApiError):
    """The caller was throttled; ``retry_after_ms`` is the server's hint, if any."""

    def __init__(
        self,
        code: str,
        http_status: int,
        message: str,
        request_id: str = "",
        retry_after_ms: int | None = None,
    ) -> None:
        super().__init__(code, http_status, message, request_id)
        self.retry_after_ms = retry_after_ms

    def __reduce__(self) -> tuple[object, ...]:
        args = (self.code, self.http_status, self.message, self.request_id, self.retry_after_ms)
        return (type(self), args)


class TransportError(TaskCancelError):
    """The request got no usable answer; the underlying error is ``__cause__``."""


#: The exception class a client raises for each reason.
REJECTIONS: Mapping[Reason, type[CancelRejected]] = MappingProxyType(
    {
        Reason.MISSING_REGION_ID: MissingParameter,
        Reason.MISSING_TASK_ID: MissingParameter,
        Reason.REGION_NOT_FOUND: RegionNotFound,
        Reason.TASK_NOT_FOUND: TaskNotFound,
        Reason.ACTION_NOT_SUPPORTED: TaskActionNotSupported,
        Reason.INCORRECT_TASK_STATUS: IncorrectTaskStatus,
        Reason.CANCEL_FAILED: CancelTaskFailed,
    }
)


def rejection_for(
    reason: Reason, code: str, http_status: int, message: str, request_id: str = ""
) -> CancelRejected:
    """Build the :class:`CancelRejected` subclass for ``reason``."""
    return REJECTIONS[reason](reason, code, http_status, message, request_id)
