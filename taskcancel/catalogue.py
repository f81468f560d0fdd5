"""The error catalogue: each :class:`Reason` as (Code, HTTP status, Message), per profile.

Two profiles, selected by name:

``"2017"`` (the default)
    The seed document's table (the 2017 CancelTask page), with the codes properly
    cased as in the original Chinese page -- never the lower-cased forms of the
    machine-translated repost.
``"current"``
    Today's documented codes (2020+; the 2024 English wording of the status message).

A profile maps a reason to an error and a code back to a reason. Clients recognise
the codes of every profile (:func:`reason_for_code`), so a client configured for one
era still understands a server speaking the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import attrs

from ._core._rules import Reason

__all__ = [
    "DEFAULT_PROFILE",
    "PROFILES",
    "ErrorSpec",
    "Profile",
    "get_profile",
    "missing_parameter_message",
    "reason_for_code",
]


@attrs.frozen
class ErrorSpec:
    """One row of an error table, and the error value answered from it.

    ``headers`` are extra response headers (``x-acs-retry-after`` on throttling); the
    gateway's errors (:data:`taskcancel.wire.GatewayError`) are this same type.
    """

    code: str
    http_status: int
    message: str
    headers: tuple[tuple[str, str], ...] = ()


def missing_parameter_message(name: str) -> str:
    """The documented MissingParameter message for parameter ``name``."""
    return (
        f'An input parameter "{name}" that is mandatory for processing the request is not supplied.'
    )


_MISSING_REGION = missing_parameter_message("RegionId")
_MISSING_TASK = missing_parameter_message("TaskId")
_CANCEL_FAILED = "The task is failed to cancel, Please contact the administrator."


def _read_only(errors: Mapping[Reason, ErrorSpec]) -> Mapping[Reason, ErrorSpec]:
    missing = set(Reason) - set(errors)
    if missing:
        raise ValueError(
            f"a profile must map every reason; missing {sorted(r.name for r in missing)}"
        )
    return MappingProxyType(dict(errors))


@attrs.frozen
class Profile:
    """A named error table: reason -> ErrorSpec, and code -> reason."""

    name: str
    errors: Mapping[Reason, ErrorSpec] = attrs.field(converter=_read_only)

    def error(self, reason: Reason) -> ErrorSpec:
        """The error this profile renders for ``reason``."""
        return self.errors[reason]

    def reason(self, code: str, message: str = "") -> Reason | None:
        """The reason behind ``code`` in this profile, or ``None``.

        ``MissingParameter`` serves two reasons; the parameter the message names says
        which (a MissingParameter about any other parameter is no CancelTask reason).
        """
        matches = [r for r, spec in self.errors.items() if spec.code == code]
        if len(matches) <= 1:
            return matches[0] if matches else None
        for reason, name in _MISSING_NAMES.items():
            if reason in matches and _names_parameter(message, name):
                return reason
        return None


_MISSING_NAMES = {Reason.MISSING_REGION_ID: "RegionId", Reason.MISSING_TASK_ID: "TaskId"}


def _names_parameter(message: str, name: str) -> bool:
    """Whether ``message`` quotes parameter ``name`` (straight or curly quotes)."""
    return any(f"{left}{name}{right}" in message for left, right in (('"', '"'), ("“", "”")))


PROFILE_2017 = Profile(
    "2017",
    {
        Reason.MISSING_REGION_ID: ErrorSpec("MissingParameter", 400, _MISSING_REGION),
        Reason.MISSING_TASK_ID: ErrorSpec("MissingParameter", 400, _MISSING_TASK),
        Reason.REGION_NOT_FOUND: ErrorSpec(
            "RegionId.NotFound", 400, "The specified region is not found."
        ),
        Reason.TASK_NOT_FOUND: ErrorSpec(
            "InvalidTaskId.NotFound", 400, "The specified taskId is not found."
        ),
        Reason.ACTION_NOT_SUPPORTED: ErrorSpec(
            "TaskActionNotSupport", 400, "The specified task action is not support"
        ),
        Reason.INCORRECT_TASK_STATUS: ErrorSpec(
            "IncorrectTaskStatus", 403, "The specified task status is not invalid."
        ),
        Reason.CANCEL_FAILED: ErrorSpec("CancelTaskFailed", 400, _CANCEL_FAILED),
    },
)

PROFILE_CURRENT = Profile(
    "current",
    {
        Reason.MISSING_REGION_ID: ErrorSpec("MissingParameter", 400, _MISSING_REGION),
        Reason.MISSING_TASK_ID: ErrorSpec("MissingParameter", 400, _MISSING_TASK),
        Reason.REGION_NOT_FOUND: ErrorSpec(
            "InvalidRegionId.NotFound", 400, "The specified RegionId does not exist."
        ),
        Reason.TASK_NOT_FOUND: ErrorSpec(
            "InvalidTaskId.NotFound", 400, 'The specified "TaskId" is not found.'
        ),
        Reason.ACTION_NOT_SUPPORTED: ErrorSpec(
            "InvalidTaskId.TaskActionNotSupport", 403, "The specified task action not support."
        ),
        Reason.INCORRECT_TASK_STATUS: ErrorSpec(
            "InvalidTaskId.IncorrectTaskStatus", 403, "The specified task status is invalid."
        ),
        Reason.CANCEL_FAILED: ErrorSpec("CancelTaskFailed", 403, _CANCEL_FAILED),
    },
)

PROFILES: Mapping[str, Profile] = MappingProxyType(
    {p.name: p for p in (PROFILE_2017, PROFILE_CURRENT)}
)
DEFAULT_PROFILE = PROFILE_2017


def get_profile(name: str | Profile) -> Profile:
    """The profile called ``name``; a :class:`Profile` passes through.

    Raises ``ValueError`` naming the valid profiles for an unknown name.
    """
    if isinstance(name, Profile):
        return name
    try:
        return PROFILES[name]
    except (KeyError, TypeError):
        valid = ", ".join(repr(n) for n in PROFILES)
        raise ValueError(f"unknown error profile {name!r}; valid profiles: {valid}") from None


def reason_for_code(code: str, message: str = "") -> Reason | None:
    """The reason behind an error code of any profile, or ``None`` if it is not one."""
    for profile in PROFILES.values():
        reason = profile.reason(code, message)
        if reason is not None:
            return reason
    return None
