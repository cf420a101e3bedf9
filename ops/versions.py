"""The API version each platform is read with, and how long it has left (docs/platforms.md,
the "Versions" rule).

Derived from the platform registry (`ops.foundation.platforms`), the one place per platform where
a version and its sunset are written down.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from adapters.base import PLATFORMS, Platform
from ops.foundation import platforms as platform_registry
from ops.foundation.platforms import SUNSET_WARNING_DAYS, PinnedVersion

LABELS: dict[str, str] = platform_registry.labels()
PINNED: dict[str, PinnedVersion] = {s.name: s.pinned for s in platform_registry.PLATFORMS}


@dataclass(frozen=True)
class VersionLifetime:
    platform: Platform
    version: str
    sunset: date | None
    days_left: int | None
    warning: str | None


def effective(platform: Platform, override: str | None) -> PinnedVersion:
    """The version really used: the pinned one, or `DRAVO_<PLATFORM>_API_VERSION`.

    An overridden LinkedIn version gets the policy's earliest sunset (one year after its month);
    an overridden Graph version has no known sunset here (Meta's table is not in our code).
    """
    pinned = PINNED[platform]
    if not override or override == pinned.version:
        return pinned
    if platform == "linkedin" and override[:6].isdigit() and 1 <= int(override[4:6]) <= 12:
        year, month = int(override[:4]), int(override[4:6])
        return PinnedVersion(override, date(year, month, 1), date(year + 1, month, 1), "overridden")
    return PinnedVersion(override, None, None, "overridden")


def version_lifetimes(
    today: date,
    overrides: Mapping[Platform, str | None] | None = None,
    window_days: int = SUNSET_WARNING_DAYS,
) -> list[VersionLifetime]:
    lifetimes = []
    for p in PLATFORMS:
        used = effective(p, (overrides or {}).get(p))
        lifetimes.append(
            VersionLifetime(
                platform=p,
                version=used.version,
                sunset=used.sunset,
                days_left=used.days_to_sunset(today),
                warning=used.warning(LABELS[p], today, window_days),
            )
        )
    return lifetimes


def configured_overrides() -> dict[Platform, str | None]:
    """The `DRAVO_<PLATFORM>_API_VERSION` overrides of this process's settings."""
    from ops.foundation.settings import get_settings  # settings are read when asked, never at import

    settings = get_settings()
    return {p: settings.platform(p).api_version for p in PLATFORMS}
