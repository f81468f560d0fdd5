"""The container image: the ``Containerfile`` built from the wheel, run with podman.

The image is built from this checkout's wheel (``python -m build --wheel``) on a base
image of Debian bookworm made here (``debootstrap --variant=minbase
--include=python3,python3-venv``, then ``podman import``; no container registry is
reachable from CI). That base is cached: under the tag ``BASE_TAG`` in podman's storage,
and as a tarball in ``$XDG_CACHE_HOME/taskcancel-ci/`` (else ``~/.cache/taskcancel-ci/``),
both keyed by the recipe, so later runs skip the debootstrap. ``TASKCANCEL_TEST_BASE``
names another base instead (e.g. ``docker.io/library/python:3.12-slim``).

podman runs as ``podman --runtime runc`` with ``CONTAINERS_CONF=.ci/containers.conf``
(crun cannot set rlimits on these hosts). The container's port is published with ``-p``;
where that does not work (or with ``TASKCANCEL_TEST_NETWORK=host``) it shares the host's
network, on a free port (``TASKCANCEL_PORT``). Without podman the tests are skipped,
saying so, except under CI (``CI`` set), where that is a failure (``.ci/run`` installs
podman, runc, debootstrap).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from _distribution import (
    PROXY_VARIABLES,
    REPO,
    build_wheel,
    control,
    free_port,
    unavailable,
    wait_for_health,
)

CONTAINERS_CONF = REPO / ".ci" / "containers.conf"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
NODE_DIR = REPO / "examples" / "node"

#: How the base image is made; its hash names the cached image, so a change rebuilds it.
BASE_RECIPE = (
    "debootstrap --variant=minbase --include=python3,python3-venv bookworm "
    "http://deb.debian.org/debian; trim: var/cache/apt var/lib/apt/lists usr/share/doc "
    "usr/share/man usr/share/locale"
)
BASE_KEY = hashlib.sha256(BASE_RECIPE.encode()).hexdigest()[:12]
BASE_TAG = f"localhost/taskcancel-ci-base:bookworm-{BASE_KEY}"
_TRIM = ("var/cache/apt", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/locale")

ACCESS = ("testid", "testsecret")  # the demo world's (and the Node example's) account
TOKEN = "container-test-token"
REGION = "cn-hangzhou"


# --- podman ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Podman:
    executable: str
    env: dict[str, str] = field(repr=False)

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 120, input: bytes | None = None
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [self.executable, "--runtime", "runc", *args],
            env=self.env,
            stdin=subprocess.DEVNULL if input is None else None,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and done.returncode != 0:
            pytest.fail(f"podman {' '.join(args)}: exit {done.returncode}\n{_err(done)}")
        return done


def _err(done: subprocess.CompletedProcess[str]) -> str:
    # Without systemd podman cannot schedule health checks; it says so on every command.
    lines = (done.stderr or "").splitlines()
    kept = [line for line in lines if "systemd" not in line]
    return "\n".join([*(done.stdout or "").splitlines()[-40:], *kept[-40:]])


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "taskcancel-ci"


@pytest.fixture(scope="module")
def podman() -> Podman:
    executable = shutil.which("podman")
    if executable is None:
        unavailable(
            "podman is not installed: the container tests need podman, runc and "
            "debootstrap (apt-get install podman runc debootstrap; .ci/run does)"
        )
    if shutil.which("runc") is None:
        unavailable("runc is not installed (apt-get install runc): podman needs it here")
    env = dict(os.environ, CONTAINERS_CONF=str(CONTAINERS_CONF))
    return Podman(executable, env)


@pytest.fixture(scope="module")
def base_image(podman: Podman) -> str:
    """The base image: ``TASKCANCEL_TEST_BASE``, or the cached Debian bookworm image."""
    named = os.environ.get("TASKCANCEL_TEST_BASE")
    if named:
        return named
    cache = _cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / "base.lock", "w") as lock:  # one maker at a time; the rest reuse it
        fcntl.flock(lock, fcntl.LOCK_EX)
        if podman("image", "exists", BASE_TAG, check=False).returncode == 0:
            return BASE_TAG
        tarball = cache / f"base-bookworm-{BASE_KEY}.tar"
        if not tarball.is_file():
            _debootstrap(tarball)
        podman("import", str(tarball), BASE_TAG, timeout=300)
    return BASE_TAG


def _debootstrap(tarball: Path) -> None:
    debootstrap = shutil.which("debootstrap") or (
        "/usr/sbin/debootstrap" if Path("/usr/sbin/debootstrap").is_file() else None
    )
    if debootstrap is None:
        unavailable(
            "debootstrap is not installed (apt-get install debootstrap): it makes the base image"
        )
    with tempfile.TemporaryDirectory(dir=tarball.parent) as work:
        root = Path(work) / "rootfs"
        done = subprocess.run(
            [debootstrap, "--variant=minbase", "--include=python3,python3-venv",
             "bookworm", str(root), "http://deb.debian.org/debian"],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=1200,
        )  # fmt: skip
        assert done.returncode == 0, f"debootstrap failed:\n{done.stdout[-3000:]}{done.stderr}"
        for part in _TRIM:
            for child in (root / part).glob("*"):
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        partial = tarball.with_name(f"{tarball.name}.{os.getpid()}")
        subprocess.run(["tar", "-C", str(root), "-cf", str(partial), "."], check=True)
        partial.rename(tarball)


@pytest.fixture(scope="module")
def image(
    podman: Podman,
    base_image: str,
    tmp_path_factory: pytest.TempPathFactory,
    pytestconfig: pytest.Config,
) -> Iterator[str]:
    """The image, built from a fresh wheel of this checkout on ``base_image``."""
    context = tmp_path_factory.mktemp("image-context")
    build_wheel(context / "dist")
    shutil.copyfile(REPO / ".containerignore", context / ".containerignore")
    tag = f"localhost/taskcancel-test:{uuid.uuid4().hex[:12]}"
    build = ["build", "--format", "docker", "--network", "host", "--build-arg",
             f"BASE={base_image}", "-f", str(REPO / "Containerfile"), "-t", tag]  # fmt: skip
    if CA_BUNDLE.is_file():  # pip in the build trusts what the host trusts
        build += ["-v", f"{CA_BUNDLE}:{CA_BUNDLE}:ro"]
    podman(*build, str(context), timeout=900)
    try:
        size = int(podman("image", "inspect", "--format", "{{.Size}}", tag).stdout.strip())
        line = f"image {tag} on {base_image}: {size / 1e6:.1f} MB"
        capture = pytestconfig.pluginmanager.get_plugin("capturemanager")
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            print(f"\n{line}")  # in the run's output, not only when a test fails
        yield tag
    finally:
        podman("rmi", "--force", tag, check=False)


# --- a running container ---------------------------------------------------------------


@dataclass
class Container:
    podman: Podman
    name: str
    endpoint: str

    @property
    def host_port(self) -> tuple[str, int]:
        netloc = self.endpoint.removeprefix("http://")
        host, _, port = netloc.rpartition(":")
        return host, int(port)

    def state(self) -> dict[str, Any]:
        done = self.podman(
            "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", self.name
        )
        status, code = done.stdout.split()
        return {"Status": status, "ExitCode": int(code)}

    def gone(self) -> str | None:
        state = self.state()
        if state["Status"] in ("exited", "stopped", "dead"):
            return f"exited {state['ExitCode']}\n{self.logs()}"
        return None

    def logs(self) -> str:
        done = self.podman("logs", self.name, check=False)
        return done.stdout + done.stderr


#: Whether -p works here: found out once (TASKCANCEL_TEST_NETWORK=host skips -p).
_published: bool | None = False if os.environ.get("TASKCANCEL_TEST_NETWORK") == "host" else None


@contextlib.contextmanager
def running(
    podman: Podman,
    image: str,
    *args: str,
    env: dict[str, str] | None = None,
    options: tuple[str, ...] = (),
) -> Iterator[Container]:
    """The image running detached and healthy: ``podman run OPTIONS IMAGE ARGS``."""
    global _published
    env = dict(env or {})
    attempts = [True, False] if _published is None else [_published]
    for publish in attempts:
        name = f"taskcancel-test-{uuid.uuid4().hex[:12]}"
        run = ["run", "-d", "--name", name, "--health-interval", "disable", *options]
        if publish:
            run += ["-p", "127.0.0.1::8080"]
            port_env = env
        else:
            port_env = dict(env, TASKCANCEL_PORT=str(free_port()))
            run += ["--network", "host"]
        for key, value in port_env.items():
            run += ["-e", f"{key}={value}"]
        started = podman(*run, image, *args, check=False)
        container = Container(podman, name, "")
        try:
            if started.returncode != 0:
                if publish and len(attempts) > 1:
                    print(f"podman run -p failed; trying --network host:\n{_err(started)}")
                    continue
                pytest.fail(f"podman run failed:\n{_err(started)}")
            if publish:
                mapped = podman("port", name, "8080/tcp").stdout.strip().splitlines()[0]
                host, _, port = mapped.rpartition(":")
                host = "127.0.0.1" if host in ("0.0.0.0", "") else host
                container.endpoint = f"http://{host}:{port}"
            else:
                container.endpoint = f"http://127.0.0.1:{port_env['TASKCANCEL_PORT']}"
            try:
                # A published port that never answers counts as -p not working here.
                wait_for_health(
                    container.endpoint, alive=container.gone, timeout=30 if publish else 60
                )
            except pytest.fail.Exception as exc:
                if publish and len(attempts) > 1:
                    print(f"-p published no answer; trying --network host: {exc}")
                    continue
                raise
            _published = publish
            yield container
            return
        finally:
            podman("rm", "--force", "--time", "0", name, check=False)


@pytest.fixture
def volume(podman: Podman) -> Iterator[str]:
    name = f"taskcancel-test-{uuid.uuid4().hex[:12]}"
    podman("volume", "create", name)
    try:
        yield name
    finally:
        podman("volume", "rm", "--force", name, check=False)


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The official SDKs send even loopback calls through a proxy variable's proxy."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


# --- SDK clients ------------------------------------------------------------------------


def _sdk(endpoint: str) -> Any:
    from alibabacloud_ecs20140526.client import Client as EcsClient
    from alibabacloud_tea_openapi.models import Config

    return EcsClient(
        Config(
            access_key_id=ACCESS[0],
            access_key_secret=ACCESS[1],
            region_id=REGION,
            endpoint=endpoint.removeprefix("http://"),
            protocol="HTTP",
        )
    )


def _sdk_cancel(endpoint: str, task_id: str) -> Any:
    from alibabacloud_ecs20140526 import models as ecs

    return _sdk(endpoint).cancel_task(ecs.CancelTaskRequest(region_id=REGION, task_id=task_id))


def _sdk_status(endpoint: str, task_id: str) -> str:
    from alibabacloud_ecs20140526 import models as ecs

    request = ecs.DescribeTaskAttributeRequest(region_id=REGION, task_id=task_id)
    return str(_sdk(endpoint).describe_task_attribute(request).body.task_status)


def _seed(endpoint: str, task_id: str) -> None:
    task = {"TaskId": task_id, "RegionId": REGION, "TaskAction": "ImportImage",
            "TaskStatus": "Processing"}  # fmt: skip
    status, body = control(endpoint, "POST", "tasks", {"Tasks": [task]}, token=TOKEN)
    assert status == 201, body


def _node_modules() -> Path:
    """The Node example's npm packages, installed (and cached) as tests/test_node_sdk.py
    does it: ``npm ci`` into ``~/.cache/taskcancel/npm-<hash of the manifests>/``."""
    manifests = ("package.json", "package-lock.json")
    digest = hashlib.sha256()
    for name in manifests:
        digest.update((NODE_DIR / name).read_bytes())
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    target = Path(base) / "taskcancel" / f"npm-{digest.hexdigest()[:16]}"
    if (target / "node_modules" / "@alicloud" / "ecs20140526" / "package.json").is_file():
        return target / "node_modules"
    npm = shutil.which("npm")
    if shutil.which("node") is None or npm is None:
        unavailable("node and npm are needed to run the Node SDK example against the image")
    work = target.with_name(f"{target.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    work.mkdir(parents=True)
    try:
        for name in manifests:
            shutil.copyfile(NODE_DIR / name, work / name)
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=work, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        if done.returncode != 0:
            unavailable(f"npm ci failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
        with contextlib.suppress(OSError):  # another run got there first: use its copy
            work.rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target / "node_modules"


# --- the tests --------------------------------------------------------------------------


def test_the_image_serves_the_node_example_and_a_python_sdk_cancel(
    podman: Podman, image: str, no_proxy: None
) -> None:
    node_modules = _node_modules()
    env = {"TASKCANCEL_CONTROL_TOKEN": TOKEN}
    with running(podman, image, "--clock", "fake", env=env) as container:
        health = podman("healthcheck", "run", container.name, check=False)
        assert health.returncode == 0, f"the image's HEALTHCHECK failed: {_err(health)}"

        status, body = control(container.endpoint, "GET", "state")  # no token: refused
        assert status == 403, body

        node_env = {k: v for k, v in os.environ.items() if k not in PROXY_VARIABLES}
        node_env.update(NODE_PATH=str(node_modules), TASKCANCEL_CONTROL_TOKEN=TOKEN)
        node = subprocess.run(
            ["node", str(NODE_DIR / "cancel-task.js"), container.endpoint],
            cwd=NODE_DIR, env=node_env, stdin=subprocess.DEVNULL, capture_output=True,
            text=True, timeout=120,
        )  # fmt: skip
        report = f"exit {node.returncode}\n{node.stdout}{node.stderr}\n{container.logs()}"
        assert node.returncode == 0, report
        assert node.stdout.splitlines()[-1].startswith("all "), report

        _seed(container.endpoint, "t-container-python")
        response = _sdk_cancel(container.endpoint, "t-container-python")
        assert response.status_code == 200
        assert response.body.request_id
        assert _sdk_status(container.endpoint, "t-container-python") == "Deleted"


def test_sigterm_stops_it_with_exit_0_and_a_volume_store_keeps_the_cancel(
    podman: Podman, image: str, volume: str, no_proxy: None
) -> None:
    env = {"TASKCANCEL_CONTROL_TOKEN": TOKEN, "TASKCANCEL_STORE": "/data/store.db"}
    on_volume = ("-v", f"{volume}:/data")
    with running(podman, image, env=env, options=on_volume) as first:
        _seed(first.endpoint, "t-container-kept")
        assert _sdk_cancel(first.endpoint, "t-container-kept").status_code == 200
        stop = podman("stop", "--time", "5", first.name)  # SIGTERM; SIGKILL after 5 s
        assert stop.returncode == 0
        state = first.state()
        logs = first.logs()
        # Killed after the 5 s it would be 137: 0 means it stopped by itself, in time.
        assert state == {"Status": "exited", "ExitCode": 0}, logs
        assert "stopping (SIGTERM)" in logs, logs
        assert logs.rstrip().endswith("taskcancel.serve: stopped"), logs

    with running(podman, image, env=env, options=on_volume) as second:
        assert _sdk_status(second.endpoint, "t-container-kept") == "Deleted"
        status, body = control(second.endpoint, "GET", "health")
        assert (status, body["Store"]) == (200, "sqlite"), body


def test_the_health_check_fails_rather_than_hangs_when_the_server_is_stuck(
    podman: Podman, image: str
) -> None:
    with running(podman, image) as container:
        podman("kill", "--signal", "STOP", container.name)  # PID 1 stops answering
        try:
            stuck = podman("healthcheck", "run", container.name, check=False, timeout=60)
        finally:
            podman("kill", "--signal", "CONT", container.name, check=False)
        assert stuck.returncode != 0, _err(stuck)
        assert "unhealthy" in stuck.stdout + stuck.stderr, _err(stuck)


def _outside(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``taskcancel serve ARGS`` from this checkout, outside any container."""
    return subprocess.run(
        [sys.executable, "-m", "taskcancel", "serve", *args],
        env=dict(os.environ, PYTHONPATH=str(REPO), **(env or {})),
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_a_bad_variable_is_the_same_one_line_error_with_exit_2_in_the_image(
    podman: Podman, image: str
) -> None:
    inside = podman("run", "--rm", "-e", "TASKCANCEL_PORT=eighty", image, check=False)
    outside = _outside(env={"TASKCANCEL_PORT": "eighty"})

    assert inside.returncode == outside.returncode == 2, _err(inside)
    assert inside.stdout == ""
    errors = [line for line in inside.stderr.splitlines() if "systemd" not in line]
    assert errors == outside.stderr.splitlines(), _err(inside)
    assert len(errors) == 1 and errors[0].startswith("taskcancel: error: TASKCANCEL_PORT")


@pytest.mark.parametrize("where", ["a missing directory", "a volume it cannot write"])
def test_a_store_it_cannot_open_is_the_same_one_line_error_as_outside(
    podman: Podman, image: str, where: str, tmp_path: Path
) -> None:
    options: tuple[str, ...] = ()
    if where == "a missing directory":
        path = "/data/missing/store.db"
        outside_path = tmp_path / "missing" / "store.db"
    else:  # a host directory owned by root, mode 0755: the image's user cannot write it
        mount = tmp_path / "root-owned"
        mount.mkdir(mode=0o755)
        path, options = "/data/store.db", ("-v", f"{mount}:/data")
        outside_path = mount / "store.db"
    inside = podman("run", "--rm", *options, image, "--store", path, check=False)
    errors = [line for line in inside.stderr.splitlines() if "systemd" not in line]

    assert inside.returncode == 2, _err(inside)
    assert len(errors) == 1, _err(inside)
    assert errors[0].startswith(f"taskcancel: error: {path}: "), errors
    if where == "a missing directory":  # outside, the same words for the same path
        outside = _outside("--store", str(outside_path))
        assert outside.returncode == 2
        assert outside.stderr == errors[0].replace(path, str(outside_path)) + "\n"


def test_the_image_runs_as_its_own_user_with_the_server_extra_and_no_test_tools(
    podman: Podman, image: str
) -> None:
    probe = (
        "import json, os, importlib.metadata as m; print(json.dumps({'uid': os.getuid(), "
        "'data': os.stat('/data').st_uid, 'writable': os.access('/data', os.W_OK), "
        "'dists': sorted(d.metadata['Name'].lower() for d in m.distributions())}))"
    )
    done = podman("run", "--rm", "--entrypoint", "python", image, "-c", probe)
    seen = json.loads(done.stdout.splitlines()[-1])

    assert seen["uid"] != 0 and seen["data"] == seen["uid"] and seen["writable"], seen
    assert {"taskcancel", "attrs", "httptools", "uvloop"} <= set(seen["dists"]), seen
    assert not {"pytest", "hypothesis", "mypy", "ruff", "build"} & set(seen["dists"]), seen
    config = podman("image", "inspect", "--format", "{{json .Config}}", image).stdout
    assert json.loads(config)["Entrypoint"] == ["taskcancel", "serve"], config


def test_sigterm_while_it_starts_still_stops_it_with_exit_0(podman: Podman, image: str) -> None:
    name = f"taskcancel-test-{uuid.uuid4().hex[:12]}"
    podman("run", "-d", "--name", name, "--health-interval", "disable", image)
    try:
        # Right after the start: the interpreter is most likely still importing.
        podman("stop", "--time", "5", name)
        state = podman("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip()
        logs = podman("logs", name, check=False)
        text = logs.stdout + logs.stderr
        # 137 would be SIGKILL after 5 s: the SIGTERM was lost.
        assert state == "0", text
        assert "stopped" in text, text
    finally:
        podman("rm", "--force", "--time", "0", name, check=False)
