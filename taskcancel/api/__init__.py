"""The API: the actions every transport answers, and task shapes.

:data:`ACTIONS` are the actions (CancelTask, DescribeTasks, DescribeTaskAttribute,
ImportImage, ExportImage) the emulator and the in-memory transport serve, in
``_actions``; :func:`task_to_api` / :func:`task_from_api` convert between a
:class:`~taskcancel.Task` and the API's own field names (DescribeTasks'
``TaskSet.Task[]``) and :class:`IdGenerator` makes ECS-shaped ids (seedable) for tasks
that ImportImage/ExportImage create, in ``_shapes``.
"""

from __future__ import annotations

from ._actions import ACTIONS
from ._shapes import IdGenerator, task_from_api, task_to_api

__all__ = ["ACTIONS", "IdGenerator", "task_from_api", "task_to_api"]
