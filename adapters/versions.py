"""API versions have lifetimes: each adapter pins its version as a `PinnedVersion`, with the
release and sunset dates its platform publishes, in the one constant the simulator imports too.

`dravo-sync status` and `/metrics` warn `SUNSET_WARNING_DAYS` before a sunset. A sunset the
platform has not announced yet ("TBD" in Meta's changelog) is `None`: nothing to warn about.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

SUNSET_WARNING_DAYS = 60


@dataclass(frozen=True)
class PinnedVersion:
    version: str
    released: date | None  # None: not published where we looked
    sunset: date | None  # None: not announced yet
    source: str  # where the dates come from, with the day they were checked

    def days_to_sunset(self, today: date) -> int | None:
        return None if self.sunset is None else (self.sunset - today).days

    def warning(self, label: str, today: date, window_days: int = SUNSET_WARNING_DAYS) -> str | None:
        """ "LinkedIn API version 202607 is switched off on 2027-07-01; ..." within the window."""
        days = self.days_to_sunset(today)
        if days is None or days > window_days:
            return None
        when = "was switched off" if days < 0 else "is switched off"
        assert self.sunset is not None
        return (
            f"{label} API version {self.version} {when} on {self.sunset.isoformat()}; "
            "pin a newer version (see docs/platforms.md)"
        )
