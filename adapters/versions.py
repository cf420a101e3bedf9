"""API versions have lifetimes: each platform's pinned version lives in its registry entry
(`ops.foundation.platforms`), with the release and sunset dates its platform publishes; the adapter
and the simulator both read it from there.
"""

from __future__ import annotations

from ops.foundation.platforms import SUNSET_WARNING_DAYS, PinnedVersion

__all__ = ["SUNSET_WARNING_DAYS", "PinnedVersion"]
