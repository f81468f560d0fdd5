"""``mock_ecs(server)``: point every official-SDK ECS client created inside at an emulator.

The official SDKs read no endpoint from the environment, so code under test that builds
its own client cannot be told where to go. Inside ``with mock_ecs(server):`` (or a
function decorated with ``@mock_ecs(server)``, or a test using the ``ecs_mock``
fixture), every client of either SDK *created* there talks plain HTTP to the emulator's
``host:port``. Requests are still signed by the SDK and verified by the emulator: only
endpoint resolution and protocol change.

What is patched, and why
------------------------

Both patches replace one constructor, at class level (so threads started inside see
them), with a wrapper that calls the original constructor through the SDK's public,
documented settings; on leaving, the original constructor is put back, also when the
block raised.

``alibabacloud_ecs20140526.client.Client.__init__`` (the new SDK)
    The client takes everything from its ``alibabacloud_tea_openapi`` ``Config``, whose
    ``endpoint`` and ``protocol`` fields are the documented way to choose where it
    sends (an explicit ``endpoint`` skips the SDK's region-to-host rules, and
    ``protocol`` overrides the ``HTTPS`` every ECS API asks for). The wrapper hands the
    original constructor a shallow *copy* of the caller's ``Config`` with
    ``endpoint="HOST:PORT"`` and ``protocol="HTTP"`` (the caller's object is left as it
    was), and -- only when the code set no ``access_key_id``, ``bearer_token`` or
    ``credential`` -- the emulator's access key. Subclasses are covered.

``aliyunsdkcore.client.AcsClient.__init__`` (the old SDK)
    ``AcsClient`` resolves each request's endpoint through its resolver chain, whose
    per-client entries are set with the public ``AcsClient.add_endpoint(region_id,
    product_code, endpoint)``. After the original constructor, the wrapper adds
    ``http://HOST:PORT`` for product ``Ecs`` in the client's own region and in every
    built-in ECS region (:data:`taskcancel.ECS_REGIONS`). The ``http://`` in the entry is
    what makes the request plain HTTP: the SDK sends to an endpoint that carries a scheme
    as it stands, whatever the request's own protocol (``set_protocol_type("https")``).
    When the code passes no credentials at all (no ``ak``/``secret``, ``credential`` or
    key pair), the constructor gets the emulator's access key instead of the SDK's
    ``ALIYUN_ACCESS_KEY_ID`` fallback.

Not redirected, by design: clients created before the block (nothing about them
changes), and, in the old SDK, what the code itself chooses over the resolver -- a
request with its own ``set_endpoint(...)``, a later ``client.add_endpoint(...)`` for
``Ecs``, or ``set_region_id`` to a region that is neither built in nor the client's
first. The SDKs read ``HTTP(S)_PROXY`` themselves and ignore ``NO_PROXY``: unset them
(the ``ecs_mock`` fixture does, through ``ecs_emulator``).

Nested blocks work (the innermost server wins until it ends), as do blocks entered and
left from different threads.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib
import inspect
import threading
from collections.abc import Callable, Iterator
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import attrs

from .. import ECS_REGIONS

__all__ = ["EcsMock", "EmulatorLike", "mock_ecs"]

F = TypeVar("F", bound=Callable[..., Any])


class EmulatorLike(Protocol):
    """What ``mock_ecs`` needs of a server: where it is, and an access key it accepts."""

    @property
    def endpoint(self) -> str: ...

    access_key_id: str
    access_key_secret: str


@attrs.frozen(eq=False)
class _Target:
    scheme: str  # "http"
    netloc: str  # "127.0.0.1:PORT"
    access_key_id: str
    access_key_secret: str = attrs.field(repr=False)


# The targets of the blocks now open, innermost last, and the constructors they replaced.
_lock = threading.Lock()
_targets: list[_Target] = []
_originals: list[tuple[type, Callable[..., None]]] = []


def _current() -> _Target | None:
    with _lock:
        return _targets[-1] if _targets else None


def _sdk_class(module: str, name: str) -> type | None:
    try:
        cls: type = getattr(importlib.import_module(module), name)
    except ImportError:
        return None
    return cls


def _new_sdk_init(original: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(original)
    def __init__(self: Any, config: Any, *args: Any, **kwargs: Any) -> None:
        target = _current()
        if target is not None and config is not None:
            config = copy.copy(config)
            config.endpoint = target.netloc
            config.protocol = target.scheme.upper()
            if not (config.access_key_id or config.bearer_token or config.credential):
                config.access_key_id = target.access_key_id
                config.access_key_secret = target.access_key_secret
        original(self, config, *args, **kwargs)

    return __init__


_OLD_SDK_CREDENTIALS = ("ak", "secret", "credential", "public_key_id", "private_key")


def _old_sdk_init(original: Callable[..., None]) -> Callable[..., None]:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        target = _current()
        if target is None:
            original(self, *args, **kwargs)
            return
        bound = signature.bind(self, *args, **kwargs)
        if all(bound.arguments.get(name) is None for name in _OLD_SDK_CREDENTIALS):
            bound.arguments["ak"] = target.access_key_id
            bound.arguments["secret"] = target.access_key_secret
        original(*bound.args, **bound.kwargs)
        endpoint = f"{target.scheme}://{target.netloc}"
        region = self.get_region_id()
        for region_id in ECS_REGIONS | ({region} if isinstance(region, str) else set()):
            self.add_endpoint(region_id, "Ecs", endpoint)

    return __init__


_PATCHES = (
    ("alibabacloud_ecs20140526.client", "Client", _new_sdk_init),
    ("aliyunsdkcore.client", "AcsClient", _old_sdk_init),
)


def _install() -> None:
    """Wrap the constructors of the SDKs that are installed (called under ``_lock``)."""
    for module, name, wrap in _PATCHES:
        cls = _sdk_class(module, name)
        if cls is None:
            continue
        original = cls.__dict__["__init__"]
        _originals.append((cls, original))
        cls.__init__ = wrap(original)  # type: ignore[misc]
    if not _originals:
        raise ImportError(
            "mock_ecs needs an official ECS SDK: pip install alibabacloud-ecs20140526, "
            "or aliyun-python-sdk-core and aliyun-python-sdk-ecs"
        )


def _uninstall() -> None:
    """Put the original constructors back (called under ``_lock``)."""
    while _originals:
        cls, original = _originals.pop()
        cls.__init__ = original  # type: ignore[misc]


@contextlib.contextmanager
def _redirected(server: EmulatorLike) -> Iterator[None]:
    parts = urlsplit(server.endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"mock_ecs: the server's endpoint must be an http(s) URL, got {server.endpoint!r}"
        )
    target = _Target(parts.scheme, parts.netloc, server.access_key_id, server.access_key_secret)
    with _lock:
        if not _targets:
            _install()
        _targets.append(target)
    try:
        yield
    finally:
        with _lock:
            _targets.remove(target)
            if not _targets:
                _uninstall()


class EcsMock:
    """What :func:`mock_ecs` returns: a context manager and a decorator.

    As a context manager it gives the server (the one passed, or one it started).
    One instance is entered once at a time; as a decorator, each call of the decorated
    function gets a block of its own.
    """

    def __init__(self, server: EmulatorLike | None = None) -> None:
        self._server = server
        self._stack: contextlib.ExitStack | None = None

    def __enter__(self) -> Any:
        if self._stack is not None:
            raise RuntimeError("this mock_ecs block is already open; make another mock_ecs()")
        with contextlib.ExitStack() as stack:
            server = self._server
            if server is None:
                from ._server import EmulatorServer

                server = stack.enter_context(EmulatorServer())
            stack.enter_context(_redirected(server))
            self._stack = stack.pop_all()
        return server

    def __exit__(self, *_: object) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()

    def __call__(self, func: F) -> F:
        if isinstance(func, type):
            raise TypeError("mock_ecs decorates functions (test functions, methods), not classes")
        server = self._server
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with EcsMock(server):
                    return await func(*args, **kwargs)

            return run_async  # type: ignore[return-value]

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            with EcsMock(server):
                return func(*args, **kwargs)

        return run  # type: ignore[return-value]


def mock_ecs(server: EmulatorLike | None = None) -> EcsMock:
    """Point every official-SDK ECS client created inside at ``server``.

    ``server`` is a running :class:`~taskcancel.testing.EmulatorServer` (or anything
    with ``endpoint``, ``access_key_id`` and ``access_key_secret``), read when the block
    starts; without one, the block runs an ``EmulatorServer()`` of its own. Use it as
    ``with mock_ecs(server) as server:`` or as the decorator ``@mock_ecs(server)``.
    Both SDKs are restored when the block ends, however it ends. See the module
    documentation for exactly what changes.
    """
    return EcsMock(server)
