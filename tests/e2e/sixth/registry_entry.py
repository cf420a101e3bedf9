"""The sixth platform's registry entry: a `PlatformSpec`, published to the registry through the
`dravo_sync.platforms` entry point the test installs (a built-in platform's entry is a line of
`ops.foundation.platforms.BUILT_IN` instead)."""

from __future__ import annotations

from ops.foundation.platforms import PinnedVersion, PlatformSpec

SPEC = PlatformSpec(
    name="mastodon",
    label="Mastodon",
    api_base="https://mastodon.example",
    pinned=PinnedVersion("v1", released=None, sunset=None, source="a test platform"),
    estimated_calls_per_sync=1,
    app_budget="300/300",
    user_budget="300/300",
    metric_keys=("followers_count", "following_count", "statuses_count"),
    adapter="tests.e2e.sixth.adapter:MastodonAdapter.build",
    simulator="tests.e2e.sixth.simulator:SIMULATED",
)
