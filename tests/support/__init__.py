"""The tests' one helper package (``tests/`` is on ``sys.path``): ``import support``.

- :mod:`support.app` -- an in-process emulator built by ``build`` (:func:`build_app`),
  an httpx transport into ``Emulator.handle``, requests written out as bytes;
- :mod:`support.control` -- control-plane and signed ECS calls, in-process or served;
- :mod:`support.serve` -- the fixture world and real ``taskcancel serve`` processes;
- :mod:`support.calls` -- calls to a served emulator and its log lines, parsed;
- :mod:`support.cli` -- the ``taskcancel`` client commands run in this process;
- :mod:`support.signing` -- signed request builders for the wire tests;
- :mod:`support.gateway` -- the gateway tests' world and signed calls, for both tiers;
- :mod:`support.hostile` -- world files built to break the loader, for both tiers;
- :mod:`support.stores` -- a small SQLite store file, and rows taskcancel would not write;
- :mod:`support.no_io` -- the unit tier's guard.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["ROOT"]

#: The repository's root (README.md, examples/, pyproject.toml).
ROOT = Path(__file__).resolve().parents[2]
