"""``check_transport``: a conformance check for any transport, driven by hypothesis.

For each generated world (a list of tasks) the state machine builds a fresh transport
with the caller's factory, wraps it in a :class:`~taskcancel.Client`, and makes random
calls: CancelTask always, DescribeTaskAttribute and DescribeTasks while the transport
answers them. A shadow world -- a plain dictionary, updated through
:func:`~taskcancel.decide` alone -- says what every call must return. The first
disagreement fails with an ``AssertionError`` that shows the request, the expected and
the actual outcome side by side, why the rules expect what they expect, the world, and
the calls made so far; hypothesis then shrinks it to a minimal example.

How accounts work, and how to check a transport over HTTP, is in
:func:`check_transport`'s documentation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs
import hypothesis
from hypothesis import HealthCheck
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)

from .. import (
    DEFAULT_POLICY,
    ECS_REGIONS,
    REJECTIONS,
    Accepted,
    ApiError,
    CancelRejected,
    CancelRequest,
    Client,
    Policy,
    Reason,
    Task,
    TaskInfo,
    Transport,
    apply_cancel,
    decide,
    supports_cancel,
)
from ..catalogue import Profile, get_profile
from ._scripted import explain
from ._world import DictWorld
from .strategies import UNKNOWN_REGIONS, cancel_requests, task_ids, worlds

# Hypothesis annotated run_state_machine_as_test only in later 6.x releases; calling it
# through a typed name keeps `mypy --strict` clean whichever release is installed.
_run_machine: Callable[..., None] = run_state_machine_as_test

__all__ = ["CHECK_TRANSPORT_SETTINGS", "TransportFactory", "check_transport"]

#: Builds a transport over a world: ``factory(tasks) -> Transport``.
TransportFactory = Callable[[list[Task]], Transport]

#: The settings :func:`check_transport` uses unless given others; derive from them with
#: ``hypothesis.settings(CHECK_TRANSPORT_SETTINGS, max_examples=10)``.
CHECK_TRANSPORT_SETTINGS = hypothesis.settings(
    max_examples=50,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

_OTHER_TENANTS = ("tenant-b", "tenant-c", "tenant-d")
_SORTED_REGIONS = tuple(sorted(ECS_REGIONS))
_UNSUPPORTED = "InvalidAction.NotFound"


@attrs.frozen
class _Outcome:
    """What a call came to: ``success``, or an exception's class, reason, code, status."""

    kind: str
    reason: Reason | None = None
    code: str | None = None
    http_status: int | None = None
    message: str = attrs.field(default="", eq=False)

    @classmethod
    def rejected(cls, reason: Reason, profile: Profile) -> _Outcome:
        spec = profile.error(reason)
        kind = REJECTIONS[reason].__name__
        return cls(kind, reason, spec.code, spec.http_status, spec.message)

    @classmethod
    def raised(cls, exc: BaseException) -> _Outcome:
        if isinstance(exc, CancelRejected):
            return cls(type(exc).__name__, exc.reason, exc.code, exc.http_status, exc.message)
        if isinstance(exc, ApiError):
            return cls(type(exc).__name__, None, exc.code, exc.http_status, exc.message)
        return cls(type(exc).__name__, message=str(exc))


def _show(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, Reason):
        return value.name
    return str(value)


def _diff(rows: Sequence[tuple[str, object, object]]) -> str:
    """A side-by-side table of expected and actual fields, differences marked."""
    table = [("", "expected", "actual")] + [(n, _show(e), _show(a)) for n, e, a in rows]
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    lines = []
    for i, (name, want, got) in enumerate(table):
        mark = "" if i == 0 or want == got else "   <-- differs"
        if mark and name == "message":
            mark = "   (differs; not compared)"
        line = f"  {name:<{widths[0]}}  {want:<{widths[1]}}  {got:<{widths[2]}}{mark}"
        lines.append(line.rstrip())
    return "\n".join(lines)


def _outcome_rows(expected: _Outcome, actual: _Outcome) -> list[tuple[str, object, object]]:
    return [
        ("outcome", expected.kind, actual.kind),
        ("reason", expected.reason, actual.reason),
        ("code", expected.code, actual.code),
        ("http_status", expected.http_status, actual.http_status),
        ("message", expected.message or None, actual.message or None),
    ]


_INFO_FIELDS = ("task_id", "region_id", "action", "status", "support_cancel", "creation_time")


def _info_of(task: Task, policy: Policy) -> dict[str, object]:
    return {
        "task_id": task.task_id,
        "region_id": task.region_id,
        "action": task.action.value,
        "status": task.status.value,
        "support_cancel": supports_cancel(task, policy),
        "creation_time": task.creation_time,
    }


def _info_from(info: TaskInfo) -> dict[str, object]:
    return {
        "task_id": info.task_id,
        "region_id": info.region_id,
        "action": info.action.value,
        "status": info.status.value,
        "support_cancel": info.support_cancel,
        "creation_time": info.creation_time,
    }


def _visible(world: DictWorld, region_id: str, account: str | None) -> list[Task]:
    """The account's tasks in a region, by task id."""
    found = [t for t in world.tasks.values() if t.region_id == region_id and t.owner == account]
    return sorted(found, key=lambda t: t.task_id)


def _task_line(task: Task) -> str:
    return (
        f"    {task.region_id:<15} {task.task_id:<24} {task.action.value:<17} "
        f"{task.status.value:<10} owner={task.owner!r}"
        + (" cancel_fails" if task.cancel_fails else "")
    )


def _machine_class(
    factory: TransportFactory, account: str | None, profile: Profile, policy: Policy
) -> type[RuleBasedStateMachine]:
    others = [name for name in _OTHER_TENANTS if name != account][:2]
    owners = st.sampled_from([account, *others])

    class TransportConformance(RuleBasedStateMachine):
        """One example: one world, one transport, a run of calls."""

        def __init__(self) -> None:
            super().__init__()
            self.initial: list[Task] = []
            self.world = DictWorld()
            self.client: Client | None = None
            self.history: list[str] = []
            self.supported = {"DescribeTaskAttribute": True, "DescribeTasks": True}
            self.requests: st.SearchStrategy[CancelRequest] = st.nothing()
            self.regions: st.SearchStrategy[str] = st.nothing()
            self.targets: st.SearchStrategy[tuple[str, str]] = st.nothing()

        @initialize(world=worlds(owners=owners))
        def build(self, world: list[Task]) -> None:
            self.initial = list(world)
            self.world = DictWorld(world)
            # Built once per example: hypothesis validates a strategy on first use.
            self.requests = cancel_requests(world=self.initial)
            known_regions = sorted({t.region_id for t in world}) or ["cn-hangzhou"]
            self.regions = st.one_of(
                st.sampled_from(known_regions),
                st.sampled_from(_SORTED_REGIONS),
                st.sampled_from(UNKNOWN_REGIONS),
                st.just(""),
            )
            known_ids = sorted({t.task_id for t in world}) or ["t-0"]
            loose = st.tuples(self.regions, st.one_of(st.sampled_from(known_ids), task_ids()))
            exact = [st.sampled_from(sorted(t.key for t in world))] if world else []
            self.targets = st.one_of(*exact, loose)
            self.client = Client(factory(list(world)))

        def teardown(self) -> None:
            if self.client is not None:
                self.client.close()

        # -- reporting --------------------------------------------------------------

        def fail(self, call: str, table: str, why: str, cause: BaseException | None) -> None:
            tasks = [_task_line(t) for t in sorted(self.world.tasks.values(), key=_key)]
            history = [f"    {i}. {line}" for i, line in enumerate(self.history, 1)]
            message = "\n".join(
                [
                    f"the transport disagrees with the CancelTask rules on {call}",
                    f"(calling as account {account!r}, profile {profile.name!r})",
                    table,
                    f"  the rules expect this because {why}",
                    "  world before the call:",
                    *(tasks or ["    (no tasks)"]),
                    "  calls before it:",
                    *(history or ["    (none)"]),
                ]
            )
            raise AssertionError(message) from cause

        # -- rules ------------------------------------------------------------------

        @rule(data=st.data())
        def cancel(self, data: st.DataObject) -> None:
            assert self.client is not None
            request = data.draw(self.requests, label="request")
            call = f"CancelTask(RegionId={request.region_id!r}, TaskId={request.task_id!r})"
            decision = decide(request, self.world, account=account, policy=policy)
            why = explain(decision, request, self.world, account=account, policy=policy)
            outcome = apply_cancel(decision, None)
            if isinstance(outcome, Accepted):
                expected = _Outcome("success")
            else:
                expected = _Outcome.rejected(outcome.reason, profile)
            cause: BaseException | None = None
            try:
                self.client.cancel_task(request.region_id, request.task_id)
                actual = _Outcome("success")
            except Exception as exc:
                actual, cause = _Outcome.raised(exc), exc
            if actual != expected:
                self.fail(call, _diff(_outcome_rows(expected, actual)), why, cause)
            if isinstance(outcome, Accepted):
                self.world.record(outcome.task)
            self.history.append(f"{call} -> {actual.kind}")

        @precondition(lambda self: self.supported["DescribeTaskAttribute"])
        @rule(data=st.data())
        def describe_task_attribute(self, data: st.DataObject) -> None:
            assert self.client is not None
            region, task_id = data.draw(self.targets, label="region and task id")
            call = f"DescribeTaskAttribute(RegionId={region!r}, TaskId={task_id!r})"
            request = CancelRequest(region, task_id)
            decision = decide(request, self.world, account=account, policy=DEFAULT_POLICY)
            why = explain(decision, request, self.world, account=account)
            expected: _Outcome | dict[str, object]
            if isinstance(decision, Accepted) or decision.reason in (
                Reason.ACTION_NOT_SUPPORTED,
                Reason.INCORRECT_TASK_STATUS,
            ):
                task = self.world.find_task(region, task_id)
                assert task is not None
                expected = _info_of(task, policy)
                why = f"task {task_id!r} is visible to the caller"
            else:
                expected = _Outcome.rejected(decision.reason, profile)
            client = self.client

            def observe() -> object:
                return _info_from(client.describe_task_attribute(region, task_id))

            self.compare("DescribeTaskAttribute", call, expected, why, observe)

        @precondition(lambda self: self.supported["DescribeTasks"])
        @rule(data=st.data())
        def describe_tasks(self, data: st.DataObject) -> None:
            assert self.client is not None
            region = data.draw(self.regions, label="region")
            call = f"DescribeTasks(RegionId={region!r}, PageSize=100)"
            expected: _Outcome | list[dict[str, object]]
            if not region:
                expected = _Outcome.rejected(Reason.MISSING_REGION_ID, profile)
                why = "RegionId is missing"
            elif not self.world.has_region(region):
                expected = _Outcome.rejected(Reason.REGION_NOT_FOUND, profile)
                why = f"region {region!r} is not in the world"
            else:
                visible = _visible(self.world, region, account)
                expected = [_info_of(t, policy) for t in visible]
                why = f"the caller sees {len(visible)} task(s) in {region!r}"
            client = self.client

            def observe() -> object:
                page = client.describe_tasks(region, page_size=100)
                found: list[dict[str, object]] = sorted(
                    (_info_from(t) for t in page.tasks), key=_by_task_id
                )
                if page.total_count != len(page.tasks):
                    found.append({"TotalCount": page.total_count})
                return found

            self.compare("DescribeTasks", call, expected, why, observe)

        def compare(
            self,
            action: str,
            call: str,
            expected: object,
            why: str,
            observe: Callable[[], object],
        ) -> None:
            """What ``observe()`` gives (or raises) must be ``expected``; an action the
            transport does not serve is not checked from then on."""
            cause: BaseException | None = None
            actual: object
            try:
                actual = observe()
            except ApiError as exc:
                if exc.code == _UNSUPPORTED:
                    self.supported[action] = False
                    return
                actual, cause = _Outcome.raised(exc), exc
            except Exception as exc:
                actual, cause = _Outcome.raised(exc), exc
            if actual != expected:
                self.fail(call, self.describe_diff(expected, actual), why, cause)
            self.history.append(f"{call} -> ok")

        def describe_diff(self, expected: object, actual: object) -> str:
            if isinstance(expected, _Outcome) and isinstance(actual, _Outcome):
                return _diff(_outcome_rows(expected, actual))
            if isinstance(expected, dict) and isinstance(actual, dict):
                return _diff([(f, expected.get(f), actual.get(f)) for f in _INFO_FIELDS])
            return _diff([("reply", _brief(expected), _brief(actual))])

    return TransportConformance


def _key(task: Task) -> tuple[str, str]:
    return task.key


def _by_task_id(info: dict[str, object]) -> str:
    return str(info["task_id"])


def _brief(value: object) -> str:
    if isinstance(value, _Outcome):
        return f"{value.kind} {value.code or ''} {value.http_status or ''}".strip()
    if isinstance(value, list):
        items = ", ".join(f"{v.get('task_id')}:{v.get('status')}" for v in value)
        return f"[{items}]"
    return repr(value)


def check_transport(
    factory: TransportFactory,
    *,
    settings: hypothesis.settings | None = None,
    account: str | None = None,
    profile: str | Profile = "2017",
    policy: Policy = DEFAULT_POLICY,
) -> None:
    """Check that the transports ``factory`` builds keep the CancelTask contract.

    ``factory(tasks)`` must return a fresh :class:`~taskcancel.Transport` over exactly
    ``tasks`` (a list of :class:`~taskcancel.Task`; the regions are the built-in ECS
    ones) that calls as ``account``, answers errors in ``profile``'s words and cancels
    under ``policy``. The machine closes it after each example.

    Accounts: every generated task belongs either to ``account`` or to another tenant
    (``"tenant-b"``, ``"tenant-c"``), whose tasks must stay invisible.

    - in memory: ``lambda tasks: InMemoryTransport(MemoryStore(tasks))``, with the default
      ``account=None``;
    - over HTTP the caller is the AccessKeyId, so there are two consistent set-ups.
      (a) One :class:`EmulatorServer` for the whole run, a fresh store per example
      (``server.store = server.app.store = MemoryStore(tasks)``), and
      ``account=server.access_key_id``: the tasks keep the owners they were given. Fast.
      (b) A new ``EmulatorServer(tasks)`` per example, stopped when the transport is
      closed, with ``account=None``: the server gives every task without an owner to its
      access key, which is the machine's world seen from that key (tenants keep their
      tasks). Simple, but each example pays for a server stop (about 0.2 s).

    Compared for every call: success, or the exception class, ``reason``, ``code`` and
    ``http_status`` (the message is shown, not compared); DescribeTaskAttribute and
    DescribeTasks are checked too unless the transport answers them with
    ``InvalidAction.NotFound``. Raises ``AssertionError`` on the first disagreement.

    ``settings`` defaults to :data:`CHECK_TRANSPORT_SETTINGS` (50 examples of up to 20
    calls, no deadline); derive from it to change one thing.
    """
    if not callable(factory):
        raise TypeError(f"factory must be callable as factory(tasks), got {factory!r}")
    machine = _machine_class(factory, account, get_profile(profile), policy)
    _run_machine(machine, settings=settings or CHECK_TRANSPORT_SETTINGS)
