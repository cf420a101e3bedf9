"""The sixth platform's registry entry: a `PlatformSpec`, published to the registry through the
`dravo_sync.platforms` entry point the test installs (a built-in platform's entry is a line of
`ops.foundation.platforms.BUILT_IN` instead).

Its connect rules are here too, and nowhere else: the API refuses an account id of another form
and its OpenAPI document states the form (`test_sixth_platform.py` checks both).
"""

from __future__ import annotations

from ops.foundation.platforms import AccountIds, PinnedVersion, PlatformSpec

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
    # The `id` of verify_credentials: a string of digits on the servers this test platform
    # stands for (Mastodon's Account entity, https://docs.joinmastodon.org/entities/Account/#id).
    account_ids=AccountIds(rule="must be the numeric id verify_credentials reports", pattern="[0-9]+"),
)
