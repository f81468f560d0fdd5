"""``Settings``: every option of a running emulator, in one frozen value.

The CLI's option table (:mod:`taskcancel.cli._serve_options`),
:class:`~taskcancel.testing.EmulatorServer` and the benchmarks fill one in; :func:`build`
hands its parts to the app, the control plane and the connection layer. Nothing reads an
option from anywhere else, and nothing changes one while the server runs (the world does
change: see :mod:`._world`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import attrs

from .. import wire
from .._core._model import Schedule
from .._core._rules import DEFAULT_POLICY, Policy
from ..api._actions import DEFAULT_NEW_TASK_SCHEDULE
from ..catalogue import Profile, get_profile

__all__ = [
    "DEFAULT_KEEP_ALIVE",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_REQUEST_TIMEOUT",
    "DEFAULT_SHUTDOWN_TIMEOUT",
    "Settings",
]

#: Seconds a request may take to arrive, be answered and be read (one deadline).
DEFAULT_REQUEST_TIMEOUT = 30.0
#: Open connections at most; past it a new one gets ServiceUnavailable and is closed.
DEFAULT_MAX_CONNECTIONS = 1000
#: Seconds an idle keep-alive connection is kept after its last answer.
DEFAULT_KEEP_ALIVE = 5.0
#: Seconds a graceful stop waits for answers owed before cutting connections off.
DEFAULT_SHUTDOWN_TIMEOUT = 5.0


def _seconds(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 86400:
        raise ValueError(f"{attribute.name} must be a number of seconds > 0, got {value!r}")


def _at_least(low: int) -> Callable[[object, attrs.Attribute[int], int], None]:
    def check(_: object, attribute: attrs.Attribute[int], value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{attribute.name} must be an int of at least {low}, got {value!r}")

    return check


@attrs.frozen(kw_only=True)
class Settings:
    """Every option of an emulator; the defaults are ``taskcancel serve``'s."""

    # -- the gateway and the rules ------------------------------------------------------
    #: The error profile (docs/contract.md): ``"2017"`` or ``"current"``, or a Profile.
    profile: Profile = attrs.field(default=get_profile("2017"), converter=get_profile)
    policy: Policy = DEFAULT_POLICY
    #: How far a request's Timestamp may be from the gateway's clock.
    timestamp_window: timedelta = timedelta(minutes=15)
    #: Nonces remembered per window at most (past it: Throttling.User, never a replay).
    nonce_capacity: int = attrs.field(default=100_000, validator=_at_least(1))
    limits: wire.Limits = wire.DEFAULT_LIMITS
    max_tasks_per_account: int = attrs.field(default=10_000, validator=_at_least(1))
    #: How a task made through ImportImage/ExportImage moves on by itself.
    new_task_schedule: Schedule = DEFAULT_NEW_TASK_SCHEDULE
    #: Seeds the ids ImportImage/ExportImage make and every random fault draw.
    seed: int | None = None

    # -- connections --------------------------------------------------------------------
    request_timeout: float = attrs.field(default=DEFAULT_REQUEST_TIMEOUT, validator=_seconds)
    keep_alive: float = attrs.field(default=DEFAULT_KEEP_ALIVE, validator=_seconds)
    max_connections: int = attrs.field(default=DEFAULT_MAX_CONNECTIONS, validator=_at_least(1))
    shutdown_timeout: float = attrs.field(default=DEFAULT_SHUTDOWN_TIMEOUT, validator=_seconds)

    # -- the control plane --------------------------------------------------------------
    #: ``None``: on where the server listens on loopback or has a token; ``False``: off.
    control: bool | None = None
    control_token: str | None = None

    # -- journal and log ----------------------------------------------------------------
    #: Newest journal entries kept (docs/journal.md); 0 turns the journal off.
    journal_size: int = attrs.field(default=10_000, validator=_at_least(0))
    #: Every journal entry also appended here as a JSON line.
    journal_file: str | None = None
    #: Put each request's parameters in its log line (``--log-level debug``).
    debug: bool = False
    #: What ``health`` reports as the version.
    version: str = ""

    def control_enabled(self, *, loopback: bool) -> bool:
        """Whether the control plane is on for a server listening on such an address."""
        if self.control is False:
            return False
        return loopback or self.control_token is not None
