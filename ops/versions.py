"""The API version each platform is read with, and how long it has left (issue 10).

Derived from the adapters' pinned constants (`adapters.versions.PinnedVersion`), so there is one
place per platform where a version and its sunset are written down.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from adapters import linkedin, meta, tiktok, x
from adapters.base import PLATFORMS, Platform
from adapters.versions import SUNSET_WARNING_DAYS, PinnedVersion

LABELS: dict[Platform, str] = {
    "instagram": "Instagram",
    "facebook": "Facebook",
    "x": "X",
    "linkedin": "LinkedIn",
    "tiktok": "TikTok",
}
PINNED: dict[Platform, PinnedVersion] = {
    "instagram": meta.GRAPH_API,
    "facebook": meta.GRAPH_API,
    "x": x.PINNED,
    "linkedin": linkedin.PINNED,
    "tiktok": tiktok.PINNED,
}


@dataclass(frozen=True)
class VersionLifetime:
    platform: Platform
    version: str
    sunset: date | None
    days_left: int | None
    warning: str | None


def version_lifetimes(today: date, window_days: int = SUNSET_WARNING_DAYS) -> list[VersionLifetime]:
    return [
        VersionLifetime(
            platform=p,
            version=PINNED[p].version,
            sunset=PINNED[p].sunset,
            days_left=PINNED[p].days_to_sunset(today),
            warning=PINNED[p].warning(LABELS[p], today, window_days),
        )
        for p in PLATFORMS
    ]
