"""The error catalogue as a public namespace: profiles, error specs, code <-> reason.

``get_profile("2017")`` / ``get_profile("current")`` give each :class:`~taskcancel.Reason`
its code, HTTP status and message (:class:`ErrorSpec`); :func:`reason_for_code` reads a
code of either profile back; :data:`REJECTIONS` maps each reason to its exception class.
"""

from __future__ import annotations

from ._core._catalogue import (
    DEFAULT_PROFILE,
    PROFILES,
    ErrorSpec,
    Profile,
    get_profile,
    reason_for_code,
)
from ._core._exceptions import REJECTIONS

__all__ = [
    "DEFAULT_PROFILE",
    "PROFILES",
    "REJECTIONS",
    "ErrorSpec",
    "Profile",
    "get_profile",
    "reason_for_code",
]
