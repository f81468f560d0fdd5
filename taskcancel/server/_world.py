"""The world a request sees: a frozen :class:`WorldState`, swapped whole by the control plane.

A world is the store (tasks and regions, and the clock that drives their schedules), the
accounts and the faults. :class:`LiveWorld` holds the one in force: the app reads
``live.current`` once per request and uses that value from authentication to answer; the
control plane's operations put a new value there in one assignment. A store on disk is
changed in place, so there the :class:`~._gate.WorldGate` does the rest: each request
holds it shared from authentication to answer, a change holds it alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from types import MappingProxyType

import attrs

from .. import wire
from .._store import MemoryStore, Store
from .._store.sqlite import is_busy
from ..worldfile import NO_FAULTS, Faults
from ._faults import FaultRules
from ._gate import WorldGate
from ._nonces import NonceRegistry

__all__ = ["STORE_BUSY", "LiveWorld", "WorldState", "is_busy"]


def _frozen_accounts(accounts: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(accounts))


@attrs.frozen
class WorldState:
    """The store, the accounts (AccessKeyId -> secret) and the faults, as one value."""

    store: Store
    accounts: Mapping[str, str] = attrs.field(converter=_frozen_accounts)
    faults: Faults = NO_FAULTS

    @property
    def blocking(self) -> bool:
        """Whether the store may block on I/O (a store on disk): then not on the loop."""
        return not isinstance(self.store, MemoryStore)


class LiveWorld:
    """The world in force, the gate that orders changes with requests, and the nonces;
    ``fault_rules``: the counts of the world's fault rules and the generator seeded by
    ``seed`` that every chance is drawn from.

    Only :class:`~._operations.Operations` assigns :attr:`current`.
    """

    __slots__ = ("current", "fault_rules", "gate", "nonces")

    def __init__(
        self,
        world: WorldState,
        *,
        timestamp_window: timedelta,
        nonce_capacity: int,
        seed: int | None = None,
    ) -> None:
        self.current = world
        self.gate = WorldGate()
        # A request may be stamped up to one window ahead and is then good for two:
        # remember nonces that long, or a replay slips through.
        self.nonces = NonceRegistry(window=2 * timestamp_window, max_entries=nonce_capacity)
        self.fault_rules = FaultRules(world.faults, seed=seed)


#: The answer to a store held by another connection past its busy timeout: retryable,
#: with a hint. The one mapping of "store busy" to the wire, for ECS calls and the
#: control plane alike.
STORE_BUSY = attrs.evolve(
    wire.GATEWAY_ERRORS["ServiceUnavailable"],
    headers=(("x-acs-retry-after", "1000"), ("retry-after", "1")),
)
