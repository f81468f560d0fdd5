"""The demo world ``taskcancel serve`` starts with when no world file is given."""

from __future__ import annotations

from datetime import datetime, timedelta

from .._core._model import Schedule, Task, TaskAction, TaskStatus
from ._world import WorldSpec

__all__ = ["demo_world"]


def demo_world(now: datetime) -> WorldSpec:
    """The world ``taskcancel serve`` starts with: every action and status, every outcome.

    All tasks belong to ``testid``. In ``cn-hangzhou`` there is one task of every
    action in every status (ids ``t-demo-<action>-<status>``, lower-case), one
    Processing ImportImage whose cancel fails, and one import that finishes ten
    minutes after start; a few more live in ``cn-shanghai`` and ``ap-southeast-1``.
    """
    created = now.replace(second=0, microsecond=0) - timedelta(minutes=30)
    tasks: list[Task] = []
    for action in TaskAction:
        for status in TaskStatus:
            done = status.is_terminal
            tasks.append(
                Task(
                    task_id=f"t-demo-{action.value.lower()}-{status.value.lower()}",
                    region_id="cn-hangzhou",
                    action=action,
                    status=status,
                    owner="testid",
                    creation_time=created,
                    finished_time=created + timedelta(minutes=5) if done else None,
                    resource_id=_resource_for(action),
                    progress="100%" if status is TaskStatus.FINISHED else "40%",
                )
            )
    extra = [
        ("t-demo-cancel-fails", "cn-hangzhou", TaskAction.IMPORT_IMAGE, True, None),
        (
            "t-demo-finishes-soon",
            "cn-hangzhou",
            TaskAction.IMPORT_IMAGE,
            False,
            Schedule(queued_seconds=0, processing_seconds=40 * 60),
        ),
        ("t-23ym6mvro", "cn-hangzhou", TaskAction.IMPORT_IMAGE, False, None),
        ("t-demo-shanghai-export", "cn-shanghai", TaskAction.EXPORT_IMAGE, False, None),
        ("t-demo-shanghai-import", "cn-shanghai", TaskAction.IMPORT_IMAGE, False, None),
        ("t-demo-singapore-import", "ap-southeast-1", TaskAction.IMPORT_IMAGE, False, None),
    ]
    for task_id, region, action, fails, schedule in extra:
        tasks.append(
            Task(
                task_id=task_id,
                region_id=region,
                action=action,
                status=TaskStatus.PROCESSING,
                owner="testid",
                creation_time=created,
                resource_id=_resource_for(action),
                progress="40%",
                cancel_fails=fails,
                schedule=schedule,
            )
        )
    return WorldSpec(tasks=tuple(tasks))


def _resource_for(action: TaskAction) -> str:
    if action in (TaskAction.IMPORT_IMAGE, TaskAction.EXPORT_IMAGE):
        return "m-demo0image0000000001"
    if action is TaskAction.REDEPLOY_INSTANCE:
        return "i-demo0instance000001"
    if action is TaskAction.MODIFY_DISK_SPEC:
        return "d-demo0disk0000000001"
    return "s-demo0snapshot000001"
