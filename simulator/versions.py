"""Which API versions the simulated platforms serve, by the calendar, like the real ones.

A version is served from its release day until its sunset; before or after, the platform refuses
it. The tables are the platforms' published ones, independent of the versions our adapters pin.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

# Meta's "Available Graph API Versions" table (developers.facebook.com/documentation/development/
# graph-api/changelog, updated 2026-10-29; checked 2026-12-01). None: "TBD".
GRAPH_VERSIONS: dict[str, tuple[date, date | None]] = {
    "v27.0": (date(2026, 11, 4), None),
    "v26.0": (date(2026, 7, 29), None),
    "v25.0": (date(2026, 2, 18), date(2028, 7, 29)),
    "v24.0": (date(2025, 10, 8), date(2028, 2, 18)),
    "v23.0": (date(2025, 5, 29), date(2027, 10, 8)),
    "v22.0": (date(2025, 1, 21), date(2027, 5, 20)),
    "v21.0": (date(2024, 10, 2), date(2027, 1, 21)),
    "v20.0": (date(2024, 5, 21), date(2026, 9, 24)),
    "v19.0": (date(2024, 1, 23), date(2026, 5, 21)),
    "v18.0": (date(2023, 9, 12), date(2026, 1, 26)),
}

# LinkedIn Marketing versions: released on the first of their month; sunset as listed on the
# migrations page (learn.microsoft.com/.../linkedin/marketing/integrations/migrations, checked
# 2026-12-01), else one year after release ("supported ... for a minimum of one year").
LINKEDIN_SUNSETS: dict[str, date] = {
    "202510": date(2026, 10, 15),
    "202511": date(2026, 11, 16),
    "202601": date(2027, 1, 15),
    "202602": date(2027, 2, 15),
    "202603": date(2027, 3, 16),
}


def today() -> date:
    return datetime.now(UTC).date()


def graph_version_served(version: str, on: date | None = None) -> bool:
    day = on or today()
    dates = GRAPH_VERSIONS.get(version)
    if dates is None:
        return False
    released, sunset = dates
    return released <= day and (sunset is None or day < sunset)


def linkedin_version_served(version: str, on: date | None = None) -> bool:
    """`YYYYMM` (or `YYYYMMDD`) served from its month's first day until its sunset."""
    day = on or today()
    if not (version.isdigit() and len(version) in (6, 8)):
        return False
    year, month = int(version[:4]), int(version[4:6])
    if not 1 <= month <= 12 or year < 2022:
        return False
    released = date(year, month, 1)
    sunset = LINKEDIN_SUNSETS.get(version[:6], date(year + 1, month, 1))
    return released <= day < sunset
