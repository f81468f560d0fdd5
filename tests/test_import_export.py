"""ImportImage / ExportImage through the official new SDK (alibabacloud-ecs20140526).

The main flow runs against a real ``taskcancel serve --port 0 --seed 7 --world FILE``
subprocess, in both signing modes (ACS3-HMAC-SHA256, the SDK's default, and
``signature_algorithm="v2"``); the rest uses the in-process ``EmulatorServer``. What is
checked is what a caller of the SDK sees: ids shaped like ECS's, the task the call
started (Processing, cancellable, owned by the caller and invisible to anyone else),
MissingParameter naming the parameter, the profile's unknown-region code, and ids that
repeat for a given ``--seed``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _serve import REQUEST_ID, ServedEmulator, start_serve, stop_serve
from alibabacloud_ecs20140526 import models as ecs
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.models import Config

from taskcancel import Client, HttpTransport, TaskNotFound
from taskcancel.api import IdGenerator
from taskcancel.testing import EmulatorServer

pytestmark = pytest.mark.usefixtures("no_proxy_env")

KEY_ID, SECRET = "testid", "testsecret"
OTHER_KEY_ID, OTHER_SECRET = "tenant-b", "tenant-b-secret"
HANGZHOU, SHANGHAI = "cn-hangzhou", "cn-shanghai"
UNKNOWN_REGION = "xx-nowhere-9"

IMAGE_ID = re.compile(r"m-[a-z0-9]{20}")
TASK_ID = re.compile(r"t-[a-z0-9]{20}")

MISSING = 'An input parameter "{}" that is mandatory for processing the request is not supplied.'

# The main flow: each signing mode in its own region, so the region is echoed, not assumed.
MODES = {"acs3": (None, HANGZHOU), "v2": ("v2", SHANGHAI)}


def world_file(path: Path) -> Path:
    path.write_text(
        json.dumps(
            {
                "Regions": [HANGZHOU, SHANGHAI],
                "Accounts": [
                    {"AccessKeyId": KEY_ID, "AccessKeySecret": SECRET},
                    {"AccessKeyId": OTHER_KEY_ID, "AccessKeySecret": OTHER_SECRET},
                ],
                "Tasks": [],
            }
        )
    )
    return path


def serve(directory: Path, *args: str) -> ServedEmulator:
    world = world_file(directory / "world.json")
    return start_serve(
        ["--port", "0", "--world", str(world), "--log-level", "warning", *args],
        log_path=directory / "serve.log",
    )


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedEmulator]:
    """``taskcancel serve --port 0 --seed 7 --world FILE`` with two accounts."""
    server = serve(tmp_path_factory.mktemp("import-export"), "--seed", "7")
    yield server
    stop_serve(server.process)


def sdk(
    netloc: str,
    *,
    key_id: str = KEY_ID,
    secret: str = SECRET,
    signature_algorithm: str | None = None,
) -> EcsClient:
    config = Config(
        access_key_id=key_id,
        access_key_secret=secret,
        region_id=HANGZHOU,
        endpoint=netloc,
        protocol="HTTP",
    )
    if signature_algorithm is not None:
        config.signature_algorithm = signature_algorithm
    return EcsClient(config)


def import_image(client: EcsClient, region_id: str | None = HANGZHOU, **mapping: str) -> Any:
    disk = ecs.ImportImageRequestDiskDeviceMapping(
        ossbucket=mapping.get("ossbucket", "my-bucket"),
        ossobject=mapping.get("ossobject", "images/centos.qcow2"),
    )
    request = ecs.ImportImageRequest(region_id=region_id, disk_device_mapping=[disk])
    return client.import_image(request).body


def attribute(client: EcsClient, region_id: str, task_id: str) -> Any:
    request = ecs.DescribeTaskAttributeRequest(region_id=region_id, task_id=task_id)
    return client.describe_task_attribute(request).body


def cancel(client: EcsClient, region_id: str, task_id: str) -> Any:
    return client.cancel_task(ecs.CancelTaskRequest(region_id=region_id, task_id=task_id)).body


def listed(client: EcsClient, region_id: str, **filters: Any) -> dict[str, Any]:
    body = client.describe_tasks(ecs.DescribeTasksRequest(region_id=region_id, **filters)).body
    return {task.task_id: task for task in body.task_set.task}


# ------------------------------------------------------------------ the main flow (serve)


@pytest.mark.parametrize("mode", sorted(MODES))
def test_import_image_starts_a_cancellable_task(seeded: ServedEmulator, mode: str) -> None:
    algorithm, region_id = MODES[mode]
    other_region = SHANGHAI if region_id == HANGZHOU else HANGZHOU
    client = sdk(seeded.netloc, signature_algorithm=algorithm)

    body = import_image(client, region_id)

    assert IMAGE_ID.fullmatch(body.image_id), body.image_id
    assert TASK_ID.fullmatch(body.task_id), body.task_id
    assert body.region_id == region_id
    assert REQUEST_ID.fullmatch(body.request_id)

    before = attribute(client, region_id, body.task_id)
    assert (before.task_id, before.region_id, before.task_action) == (
        body.task_id,
        region_id,
        "ImportImage",
    )
    assert (before.task_status, before.support_cancel, before.finished_time) == (
        "Processing",
        "true",
        "",
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\dZ", before.creation_time)
    # The task lives in the region it was created in, and nowhere else.
    with pytest.raises(ClientException) as caught:
        attribute(client, other_region, body.task_id)
    assert caught.value.code == "InvalidTaskId.NotFound"

    cancelled = cancel(client, region_id, body.task_id)
    assert REQUEST_ID.fullmatch(cancelled.request_id)

    after = attribute(client, region_id, body.task_id)
    assert (after.task_status, after.support_cancel) == ("Deleted", "false")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\dZ", after.finished_time)
    assert after.creation_time == before.creation_time


def test_export_image_is_listed_as_a_cancellable_export(seeded: ServedEmulator) -> None:
    client = sdk(seeded.netloc)
    image_id = import_image(client).image_id

    body = client.export_image(
        ecs.ExportImageRequest(region_id=HANGZHOU, image_id=image_id, ossbucket="exports")
    ).body

    assert TASK_ID.fullmatch(body.task_id), body.task_id
    assert body.region_id == HANGZHOU
    assert REQUEST_ID.fullmatch(body.request_id)
    task = listed(client, HANGZHOU, task_ids=body.task_id)[body.task_id]
    assert (task.task_action, task.task_status, task.support_cancel) == (
        "ExportImage",
        "Processing",
        "true",
    )
    assert task.resource_id == image_id
    # The TaskAction filter finds it too, and only exports.
    exports = listed(client, HANGZHOU, task_action="ExportImage", page_size=100)
    assert body.task_id in exports
    assert {t.task_action for t in exports.values()} == {"ExportImage"}
    # And it can be cancelled like any running export.
    cancel(client, HANGZHOU, body.task_id)
    assert attribute(client, HANGZHOU, body.task_id).task_status == "Deleted"


def test_created_tasks_belong_to_the_caller_only(seeded: ServedEmulator) -> None:
    mine = sdk(seeded.netloc)
    theirs = sdk(seeded.netloc, key_id=OTHER_KEY_ID, secret=OTHER_SECRET)
    task_id = import_image(mine).task_id

    for call in (attribute, cancel):
        with pytest.raises(ClientException) as caught:
            call(theirs, HANGZHOU, task_id)
        assert (caught.value.code, caught.value.status_code) == ("InvalidTaskId.NotFound", 400)
    assert task_id not in listed(theirs, HANGZHOU, page_size=100)

    # Our own client, signing as the other account, gets the TaskNotFound exception.
    with (
        Client(
            HttpTransport(
                seeded.endpoint, access_key_id=OTHER_KEY_ID, access_key_secret=OTHER_SECRET
            )
        ) as client,
        pytest.raises(TaskNotFound),
    ):
        client.cancel_task(HANGZHOU, task_id)

    # The other account's attempts left the task alone; its owner still sees it running.
    assert attribute(mine, HANGZHOU, task_id).task_status == "Processing"
    assert task_id in listed(mine, HANGZHOU, page_size=100)

    # The same holds the other way round.
    their_task = import_image(theirs).task_id
    with pytest.raises(ClientException) as caught:
        cancel(mine, HANGZHOU, their_task)
    assert caught.value.code == "InvalidTaskId.NotFound"
    assert attribute(theirs, HANGZHOU, their_task).task_status == "Processing"


# ------------------------------------------------------------ bad input (EmulatorServer)


@pytest.fixture(scope="module", params=["2017", "current"])
def emulator(request: pytest.FixtureRequest) -> Iterator[EmulatorServer]:
    with EmulatorServer(profile=request.param) as server:
        yield server


def _import(**fields: Any) -> Any:
    mapping = fields.pop("mapping", None)
    disks = None if mapping is None else [ecs.ImportImageRequestDiskDeviceMapping(**mapping)]
    return lambda client: client.import_image(
        ecs.ImportImageRequest(disk_device_mapping=disks, **fields)
    )


def _export(**fields: Any) -> Any:
    return lambda client: client.export_image(ecs.ExportImageRequest(**fields))


@pytest.mark.parametrize(
    ("call", "parameter"),
    [
        pytest.param(_import(region_id=HANGZHOU), "DiskDeviceMapping.1.OSSBucket", id="import"),
        pytest.param(
            _import(region_id=HANGZHOU, mapping={"ossobject": "a.qcow2"}),
            "DiskDeviceMapping.1.OSSBucket",
            id="import-no-bucket",
        ),
        pytest.param(
            _import(region_id=HANGZHOU, mapping={"ossbucket": "b"}),
            "DiskDeviceMapping.1.OSSObject",
            id="import-no-object",
        ),
        pytest.param(
            _import(mapping={"ossbucket": "b", "ossobject": "a.qcow2"}),
            "RegionId",
            id="import-no-region",
        ),
        pytest.param(_export(region_id=HANGZHOU, ossbucket="b"), "ImageId", id="export-no-image"),
        pytest.param(
            _export(region_id=HANGZHOU, image_id="m-1"), "OSSBucket", id="export-no-bucket"
        ),
        pytest.param(_export(image_id="m-1", ossbucket="b"), "RegionId", id="export-no-region"),
    ],
)
def test_a_missing_parameter_is_named_and_nothing_is_created(
    emulator: EmulatorServer, call: Any, parameter: str
) -> None:
    client = EcsClient(emulator.sdk_config())
    before = listed(client, HANGZHOU, page_size=100)

    with pytest.raises(ClientException) as caught:
        call(client)

    error = caught.value
    assert (error.code, error.status_code) == ("MissingParameter", 400)
    assert error.data["Message"] == MISSING.format(parameter)
    assert listed(client, HANGZHOU, page_size=100).keys() == before.keys()


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(
            _import(region_id=UNKNOWN_REGION, mapping={"ossbucket": "b", "ossobject": "a.raw"}),
            id="import",
        ),
        pytest.param(_export(region_id=UNKNOWN_REGION, image_id="m-1", ossbucket="b"), id="export"),
    ],
)
def test_an_unknown_region_gets_the_profiles_region_code(
    emulator: EmulatorServer, call: Any
) -> None:
    expected = {
        "2017": ("RegionId.NotFound", 400, "The specified region is not found."),
        "current": ("InvalidRegionId.NotFound", 400, "The specified RegionId does not exist."),
    }[emulator.settings.profile.name]

    with pytest.raises(ClientException) as caught:
        call(EcsClient(emulator.sdk_config()))

    error = caught.value
    assert (error.code, error.status_code, error.data["Message"]) == expected


# ------------------------------------------------------------------------- seeded ids


def _first_ids(netloc: str) -> list[str]:
    """ImageId, TaskId of an import, TaskId of an export, ImageId, TaskId of an import."""
    client = sdk(netloc)
    first = import_image(client)
    export = client.export_image(
        ecs.ExportImageRequest(region_id=HANGZHOU, image_id=first.image_id, ossbucket="b")
    ).body
    second = import_image(client)
    return [first.image_id, first.task_id, export.task_id, second.image_id, second.task_id]


def _ids_from_serve(directory: Path, seed: str) -> list[str]:
    directory.mkdir()
    server = serve(directory, "--seed", seed)
    try:
        return _first_ids(server.netloc)
    finally:
        stop_serve(server.process)


def test_the_same_seed_gives_the_same_ids_in_fresh_servers(tmp_path: Path) -> None:
    first = _ids_from_serve(tmp_path / "a", "7")
    again = _ids_from_serve(tmp_path / "b", "7")
    other = _ids_from_serve(tmp_path / "c", "8")

    assert first == again
    assert len(set(first)) == len(first)  # and they are all distinct
    assert other != first
    assert [IMAGE_ID.fullmatch(i) is not None for i in first] == [1, 0, 0, 1, 0]
    assert [TASK_ID.fullmatch(i) is not None for i in first] == [0, 1, 1, 0, 1]


def test_id_generator_is_repeatable_in_process() -> None:
    def draw(generator: IdGenerator) -> list[str]:
        return [generator(prefix) for prefix in ("m", "t", "t", "m", "t", "g")]

    first, again = draw(IdGenerator(7)), draw(IdGenerator(7))

    assert first == again
    assert draw(IdGenerator(8)) != first
    assert draw(IdGenerator()) != draw(IdGenerator())  # unseeded: fresh every time
    assert [i.split("-")[0] for i in first] == ["m", "t", "t", "m", "t", "g"]
    assert all(re.fullmatch(r"[mtg]-[a-z0-9]{20}", i) for i in first)


def test_an_emulator_server_with_a_seeded_generator_repeats_its_ids() -> None:
    runs = []
    for _ in range(2):
        with EmulatorServer(seed=7) as server:
            runs.append(_first_ids(f"{server.host}:{server.port}"))
    assert runs[0] == runs[1]
    assert len(set(runs[0])) == 5


def test_serve_seed_matches_the_in_process_generator(tmp_path: Path) -> None:
    generator = IdGenerator(7)
    first, export, second = generator("t"), generator("t"), generator("t")
    # An imported image's id shares its task id's random part.
    expected = [f"m-{first[2:]}", first, export, f"m-{second[2:]}", second]

    assert _ids_from_serve(tmp_path / "a", "7") == expected
