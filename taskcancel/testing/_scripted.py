"""``ScriptedTransport``: a transport that plays back scripted CancelTask answers, honestly.

Like botocore's ``Stubber``, a test scripts the calls it expects and the answers they
get, in order. Unlike a stub, the script is checked against the rules: the transport
holds a world of tasks, judges every scripted outcome with :func:`~taskcancel.decide`,
and refuses one that the real service could never give (success for a finished task,
``TaskNotFound`` for a task that is there) at scripting time, with the reason. So a
test can never pass against a script that the service would contradict.

The script's world is a :class:`~taskcancel.testing.DictWorld`, as is the conformance
machine's shadow model.
"""

from __future__ import annotations

import threading
import uuid
from collections import deque
from collections.abc import Iterable
from typing import Literal, TypeAlias

import attrs

from .. import (
    DEFAULT_POLICY,
    REJECTIONS,
    Accepted,
    ApiRequest,
    ApiResponse,
    CancelRequest,
    Clock,
    Decision,
    InMemoryTransport,
    MemoryStore,
    Policy,
    Reason,
    Rejected,
    Task,
    TaskCancelError,
    ThrottlingError,
    apply_cancel,
    decide,
    wire,
)
from ..catalogue import Profile, get_profile
from ._world import DictWorld

__all__ = ["Outcome", "ScriptedTransport", "explain"]

#: What a scripted call answers: ``"success"``, a :class:`~taskcancel.Reason`, or an
#: exception class (a :class:`~taskcancel.CancelRejected` subclass, or
#: :class:`~taskcancel.ThrottlingError`).
Outcome: TypeAlias = Literal["success"] | Reason | type[TaskCancelError]


def explain(
    decision: Decision,
    request: CancelRequest,
    world: DictWorld,
    *,
    account: str | None,
    policy: Policy = DEFAULT_POLICY,
) -> str:
    """Why the rules decided what they did, in one sentence."""
    region, task_id = request.region_id, request.task_id
    if isinstance(decision, Accepted):
        task = decision.task
        if task.cancel_fails:
            return f"task {task.task_id!r} is cancellable, but cancelling it fails (cancel_fails)"
        return f"task {task.task_id!r} is a {task.action.value} task in {task.status.value}"
    reason = decision.reason
    if reason is Reason.MISSING_REGION_ID:
        return f"RegionId is missing ({region!r})"
    if reason is Reason.MISSING_TASK_ID:
        return f"TaskId is missing ({task_id!r})"
    if reason is Reason.REGION_NOT_FOUND:
        return f"region {region!r} is not in the world"
    if reason is Reason.TASK_NOT_FOUND:
        assert region is not None and task_id is not None
        other = world.find_task(region, task_id)
        if other is not None:
            return (
                f"task {task_id!r} in {region!r} belongs to account {other.owner!r}, "
                f"and the caller is {account!r}"
            )
        elsewhere = sorted(r for (r, t) in world.tasks if t == task_id)
        where = f" (it exists in {', '.join(elsewhere)})" if elsewhere else ""
        return f"there is no task {task_id!r} in region {region!r}{where}"
    assert region is not None and task_id is not None
    found = world.find_task(region, task_id)
    assert found is not None
    if reason is Reason.ACTION_NOT_SUPPORTED:
        allowed = ", ".join(sorted(a.value for a in policy.cancellable_actions))
        return f"task {task_id!r} is a {found.action.value} task; only {allowed} can be cancelled"
    allowed = ", ".join(sorted(s.value for s in policy.cancellable_statuses))
    return f"task {task_id!r} is {found.status.value}; only {allowed} tasks can be cancelled"


def _describe_outcome(outcome: Literal["success"] | Reason | type[TaskCancelError]) -> str:
    if outcome == "success":
        return "success"
    if isinstance(outcome, Reason):
        return f"{REJECTIONS[outcome].__name__} ({outcome.name})"
    return outcome.__name__


def _request_text(region_id: str | None, task_id: str | None) -> str:
    return f"CancelTask(RegionId={region_id!r}, TaskId={task_id!r})"


def _missing_is_none(value: str | None) -> str | None:
    return value or None


@attrs.frozen
class _Expected:
    request: CancelRequest
    outcome: Literal["success"] | Reason | type[ThrottlingError]

    def __str__(self) -> str:
        call = _request_text(self.request.region_id, self.request.task_id)
        return f"{call} -> {_describe_outcome(self.outcome)}"


class ScriptedTransport:
    """A :class:`~taskcancel.Transport` that answers scripted CancelTask calls in order.

    ``world`` holds the tasks the script may talk about (more can be added with
    :meth:`add_task`, and a :class:`~taskcancel.Task` given to :meth:`expect_cancel` is
    added if it is not there yet). ``account``, ``profile`` and ``policy`` are what the
    simulated service would use: the caller's account, the error table, what may be
    cancelled.

    Every CancelTask call must match the next scripted call's (RegionId, TaskId), or the
    transport raises ``AssertionError`` naming what was expected and what came.
    DescribeTasks and DescribeTaskAttribute are not scripted: they answer from the
    world as it stands after the calls made so far. Leaving the ``with`` block (or
    calling :meth:`assert_all_called`) fails if scripted calls were never made.

    Tasks must not have a ``schedule``: a script is timeless, so a task's status is the
    one it was given.
    """

    def __init__(
        self,
        world: Iterable[Task] = (),
        *,
        account: str | None = None,
        profile: str | Profile = "2017",
        policy: Policy = DEFAULT_POLICY,
        regions: Iterable[str] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.account = account
        self.profile = get_profile(profile)
        self.policy = policy
        self._script = DictWorld(regions=regions)
        self._live = MemoryStore(regions=self._script.regions, clock=clock)
        self._describe = InMemoryTransport(
            self._live, account=account, profile=self.profile, policy=policy
        )
        self._pending: deque[_Expected] = deque()
        self._made = 0
        self._given: dict[tuple[str, str], Task] = {}
        self._lock = threading.Lock()
        #: Every request this transport received, in order.
        self.calls: list[ApiRequest] = []
        for task in world:
            self.add_task(task)

    def __repr__(self) -> str:
        return f"<ScriptedTransport pending={len(self._pending)} made={self._made}>"

    # -- scripting ----------------------------------------------------------------------

    def add_task(self, task: Task) -> None:
        """Put a task in the world (before the calls that should see it are scripted)."""
        if isinstance(task, Task) and task.schedule is not None:
            raise ValueError(
                f"task {task.task_id!r} has a schedule; a script is timeless, so give the "
                "task the status it should have instead"
            )
        with self._lock:
            self._script.add(task)
            self._live.add_task(task)
            self._given[task.key] = task

    def expect_cancel(
        self,
        task: Task | CancelRequest | tuple[str | None, str | None],
        outcome: Outcome = "success",
    ) -> None:
        """Script the next CancelTask call: for ``task``, answer ``outcome``.

        ``task`` is a :class:`~taskcancel.Task` (added to the world if absent), or a
        :class:`~taskcancel.CancelRequest` / ``(region_id, task_id)`` pair for calls
        that name no task of the world (missing parameters, unknown ids). ``outcome``
        is ``"success"``, a :class:`~taskcancel.Reason`, a
        :class:`~taskcancel.CancelRejected` subclass, or
        :class:`~taskcancel.ThrottlingError` (always possible; changes nothing).

        Raises ``ValueError`` if the rules could never give ``outcome`` to this call
        at this point of the script, saying what they would give and why.
        """
        wanted = self._outcome(outcome)
        if isinstance(task, Task):
            given = self._given.get(task.key)
            if given is None:
                self.add_task(task)
            elif given != task:
                raise ValueError(
                    f"task {task.task_id!r} in {task.region_id!r} is already in the world "
                    f"as {given!r}; script it by (region_id, task_id) instead"
                )
            request = CancelRequest(task.region_id, task.task_id)
        elif isinstance(task, CancelRequest):
            request = task
        elif isinstance(task, tuple) and len(task) == 2:
            request = CancelRequest(task[0], task[1])
        else:
            raise TypeError(
                f"expect_cancel() takes a Task, a CancelRequest or a (region_id, task_id) "
                f"pair, got {type(task).__name__}: {task!r}"
            )
        with self._lock:
            resolved = self._check_possible(request, wanted)
            self._pending.append(_Expected(request, resolved))

    def _outcome(self, outcome: object) -> Literal["success"] | Reason | type[TaskCancelError]:
        if outcome == "success" or isinstance(outcome, Reason):
            return outcome
        if isinstance(outcome, type) and (
            issubclass(outcome, ThrottlingError) or outcome in REJECTIONS.values()
        ):
            return outcome
        raise TypeError(
            "outcome must be 'success', a Reason, a CancelRejected subclass or "
            f"ThrottlingError, got {outcome!r}"
        )

    def _check_possible(
        self, request: CancelRequest, wanted: Literal["success"] | Reason | type[TaskCancelError]
    ) -> Literal["success"] | Reason | type[ThrottlingError]:
        """The outcome to play back; raises ``ValueError`` if the rules forbid it.

        An exception class stands for the reasons it is raised for (``MissingParameter``
        for both missing parameters); the request decides which one is played back.
        """
        if isinstance(wanted, type) and issubclass(wanted, ThrottlingError):
            return wanted
        decision = decide(request, self._script, account=self.account, policy=self.policy)
        why = explain(decision, request, self._script, account=self.account, policy=self.policy)
        applied = apply_cancel(decision, None)
        if isinstance(applied, Rejected):
            possible: list[Literal["success"] | Reason] = [applied.reason]
        else:  # the rules allow it; a store may still fail to carry it out
            possible = ["success", Reason.CANCEL_FAILED]
        resolved: Literal["success"] | Reason | None
        if isinstance(wanted, type):
            matching = [p for p in possible if isinstance(p, Reason) and REJECTIONS[p] is wanted]
            resolved = matching[0] if matching else None
        else:
            resolved = wanted if wanted in possible else None
        if resolved is None:
            call = _request_text(request.region_id, request.task_id)
            could = " or ".join(_describe_outcome(p) for p in possible)
            position = len(self._pending) + self._made + 1
            raise ValueError(
                f"cannot script {_describe_outcome(wanted)} for call #{position} {call}: "
                f"the rules give {could}, because {why}"
            )
        if resolved == "success" and isinstance(applied, Accepted):
            self._script.record(applied.task)
        return resolved

    # -- the transport ------------------------------------------------------------------

    def handle_request(self, request: ApiRequest) -> ApiResponse:
        with self._lock:
            self.calls.append(request)
            if request.action != "CancelTask":
                return self._describe.handle_request(request)
            region_id = request.params.get("RegionId")
            task_id = request.params.get("TaskId")
            got = _request_text(region_id, task_id)
            if not self._pending:
                raise AssertionError(
                    f"unexpected call {got}: all {self._made} scripted CancelTask calls "
                    "were already made"
                )
            expected = self._pending[0]
            key = (_missing_is_none(region_id), _missing_is_none(task_id))
            want = (
                _missing_is_none(expected.request.region_id),
                _missing_is_none(expected.request.task_id),
            )
            if key != want:
                raise AssertionError(
                    f"CancelTask call #{self._made + 1} out of script:\n"
                    f"  expected: {expected}\n"
                    f"  got:      {got}"
                )
            self._pending.popleft()
            self._made += 1
            return self._answer(expected)

    def _answer(self, expected: _Expected) -> ApiResponse:
        request_id = str(uuid.uuid4()).upper()
        outcome = expected.outcome
        if outcome == "success":
            decision = self._live.cancel(expected.request, account=self.account, policy=self.policy)
            assert isinstance(decision, Accepted), (expected, decision)
            return ApiResponse(200, {"RequestId": request_id})
        if isinstance(outcome, Reason):
            spec = self.profile.error(outcome)
            code, status, message = spec.code, spec.http_status, spec.message
        else:
            throttled = wire.gateway_error("Throttling.User", retry_after_ms=1000)
            code, status, message = throttled.code, throttled.http_status, throttled.message
        body = {"RequestId": request_id, "HostId": "scripted", "Code": code, "Message": message}
        return ApiResponse(status, body)

    async def handle_async_request(self, request: ApiRequest) -> ApiResponse:
        return self.handle_request(request)

    # -- checks -------------------------------------------------------------------------

    def assert_all_called(self) -> None:
        """Fail with ``AssertionError`` listing the scripted calls that were never made."""
        with self._lock:
            if self._pending:
                lines = "\n".join(f"  {expected}" for expected in self._pending)
                raise AssertionError(
                    f"{len(self._pending)} scripted CancelTask call(s) never made "
                    f"(after {self._made} made):\n{lines}"
                )

    def close(self) -> None:
        """Nothing to release."""

    async def aclose(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> ScriptedTransport:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is None:
            self.assert_all_called()
