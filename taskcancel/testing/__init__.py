"""The testing kit: everything a test suite needs to test code that cancels ECS tasks.

- :class:`EmulatorServer` -- the real HTTP emulator on a free port, in a thread;
- :class:`ServeProcess` -- ``taskcancel serve`` as a subprocess (with :func:`clean_env`
  and :data:`PROXY_VARIABLES`, the environment it runs in);
- :class:`DictWorld` -- the smallest :class:`~taskcancel.World`, for tests of the rules;
- :class:`FakeClock` -- a clock that moves only when told (for stores and the emulator);
- :func:`mock_ecs` -- point every official-SDK client created inside at an emulator;
- :class:`RequestJournal` -- assertions on the calls an emulator received (``ecs_journal``);
- :class:`ScriptedTransport` -- scripted answers, refused when the rules forbid them;
- :func:`check_transport` -- a hypothesis state machine that checks any transport
  against the rules;
- hypothesis strategies :func:`tasks`, :func:`worlds`, :func:`cancel_requests` (also
  in :mod:`taskcancel.testing.strategies`);
- a pytest plugin (:mod:`taskcancel.testing.plugin`, loaded automatically) with the
  fixtures ``ecs_memory``, ``ecs_memory_store``, ``ecs_emulator``, ``ecs_clock``,
  ``ecs_endpoint``, ``ecs_client``, ``ecs_mock``, ``ecs_journal`` and the ``real_cloud`` marker.

hypothesis is needed only by the strategies and :func:`check_transport`; they are
imported on first use, so the pytest plugin (loaded in every pytest run once taskcancel
is installed) works without it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .._store._clock import FakeClock
from ._journal import RequestJournal
from ._mock import EcsMock, mock_ecs
from ._process import PROXY_VARIABLES, ServeProcess, clean_env
from ._scripted import ScriptedTransport
from ._server import EmulatorServer
from ._world import DictWorld

if TYPE_CHECKING:
    from ._machine import CHECK_TRANSPORT_SETTINGS, TransportFactory, check_transport
    from .strategies import accounts, cancel_requests, task_ids, tasks, worlds

__all__ = [
    "CHECK_TRANSPORT_SETTINGS",
    "PROXY_VARIABLES",
    "DictWorld",
    "EcsMock",
    "EmulatorServer",
    "FakeClock",
    "RequestJournal",
    "ScriptedTransport",
    "ServeProcess",
    "TransportFactory",
    "accounts",
    "cancel_requests",
    "check_transport",
    "clean_env",
    "mock_ecs",
    "task_ids",
    "tasks",
    "worlds",
]

_LAZY = {
    "CHECK_TRANSPORT_SETTINGS": "._machine",
    "TransportFactory": "._machine",
    "check_transport": "._machine",
    "accounts": ".strategies",
    "cancel_requests": ".strategies",
    "task_ids": ".strategies",
    "tasks": ".strategies",
    "worlds": ".strategies",
}


def __getattr__(name: str) -> Any:
    """The hypothesis-backed names, imported on first use (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)


def __dir__() -> list[str]:
    return sorted(__all__)
