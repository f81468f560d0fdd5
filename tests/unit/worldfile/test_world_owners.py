"""A task's owner in a world file is an AccessKeyId string."""

from __future__ import annotations

import pytest

from taskcancel.worldfile import WorldFileError, parse_world


@pytest.mark.parametrize("owner", [["testid"], 7, None])
def test_a_task_owner_that_is_not_a_string_is_a_world_file_error(owner: object) -> None:
    task = {"TaskId": "t-1", "RegionId": "cn-hangzhou", "TaskAction": "ImportImage"}
    data = {"Tasks": [{**task, "TaskStatus": "Processing", "AccessKeyId": owner}]}
    with pytest.raises(WorldFileError) as error:
        parse_world(data, source="w.json")
    assert error.value.field == "Tasks[0].AccessKeyId"
