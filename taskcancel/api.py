"""The API as a public namespace: the actions every transport answers, and task shapes.

:data:`ACTIONS` are the actions the emulator and the in-memory transport serve;
:func:`task_to_api` / :func:`task_from_api` convert between a :class:`~taskcancel.Task`
and the API's own field names (DescribeTasks' ``TaskSet.Task[]``); :class:`IdGenerator`
makes ECS-shaped ids (seedable) for tasks that ImportImage/ExportImage create.
"""

from __future__ import annotations

from ._api._actions import ACTIONS, IdGenerator, task_from_api, task_to_api

__all__ = ["ACTIONS", "IdGenerator", "task_from_api", "task_to_api"]
