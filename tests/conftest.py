"""Shared pytest set-up for both tiers: the hypothesis profiles and the proxy-variable cleanup.

``tests/`` is on ``sys.path`` (``pythonpath`` in pyproject.toml): the helpers are the
``support`` package. Fixtures that start real processes live in ``tests/e2e/conftest.py``.
"""

from __future__ import annotations

import os as _os

import pytest as _pytest
from hypothesis import HealthCheck as _HealthCheck
from hypothesis import settings as _settings

# Two shared cores: time limits per example would only measure the machine. Developers
# get fewer examples per property; CI (``CI`` set) runs hypothesis's default 100, and
# ``HYPOTHESIS_PROFILE=thorough`` runs 1,000 for a deliberate search.
_settings.register_profile(
    "dev", max_examples=25, deadline=None, suppress_health_check=[_HealthCheck.too_slow]
)
_settings.register_profile(
    "ci", max_examples=100, deadline=None, suppress_health_check=[_HealthCheck.too_slow]
)
_settings.register_profile(
    "thorough", max_examples=1000, deadline=None, suppress_health_check=[_HealthCheck.too_slow]
)
_settings.load_profile(
    _os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if _os.environ.get("CI") else "dev")
)


@_pytest.fixture
def no_proxy_env(monkeypatch: _pytest.MonkeyPatch) -> None:
    """Unset the proxy variables: both SDKs honour them and ignore NO_PROXY."""
    from support.serve import PROXY_VARIABLES

    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
