"""The platform registry: every per-platform fact, written down once.

Each platform is one `PlatformSpec` in `PLATFORMS`. Everything that lists or describes platforms
derives from it: the adapters' `Platform` type, the queues, the budget defaults and estimates, the
labels in messages, the simulator's platforms, the settings (`DRAVO_<NAME>_...`), the pinned API versions with their sunsets, the database's `platforms`
table (`models.migrate.upgrade` fills it), the connect rules (account id forms, logins) with the
connect body's JSON Schema, and which adapter and simulator modules serve the
platform (named by import path: loaded by `adapters.registry` and `simulator.catalog`, so this
module needs no import of them). Adding a platform means one entry here, one adapter module and
one simulator module (docs/architecture.md, "Adding a platform");
`tests/unit/foundation/test_platform_registry.py` checks nothing else lists them.

A platform can also come from another installed distribution: a `PlatformSpec` published under
the entry point group `dravo_sync.platforms` joins the registry after the built-in ones, in every
process that sees that distribution (`tests/e2e/sixth` does this with a sixth platform).

This module imports nothing of ours: it is the bottom of the house.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Final, Literal

ENTRY_POINT_GROUP = "dravo_sync.platforms"

SUNSET_WARNING_DAYS = 60


@dataclass(frozen=True)
class PinnedVersion:
    """An API version with the release and sunset dates its platform publishes.

    `dravo-sync status` and `/metrics` warn `SUNSET_WARNING_DAYS` before a sunset. A sunset the
    platform has not announced yet ("TBD" in Meta's changelog) is `None`: nothing to warn about.
    """

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


@dataclass(frozen=True)
class Spelling:
    """One way of writing an account id, and the form it is stored in (`re.Match.expand`)."""

    pattern: str  # matched against the whole id, surrounding whitespace aside
    stored: str = r"\g<0>"


@dataclass(frozen=True)
class AccountIds:
    """What a platform's account ids look like, as the ways in (API, import, CLI) check them.

    `pattern` is a regular expression both Python and JSON Schema (ECMA-262) read alike; it is
    matched against the whole id, surrounding whitespace aside. `spellings`, for a platform whose
    ids have several spellings, say which one is stored, so a reconnect finds the row it
    replaces; an id with none of them is refused even where `pattern` is not checked (the
    operator's `connect_account`), because its stored form is unknown.
    """

    rule: str  # what a good id is, as the reason a bad one is refused: "must be ..."
    pattern: str | None = None  # None: the alternatives of `spellings`
    spellings: tuple[Spelling, ...] = ()

    @property
    def accepted(self) -> str:
        return self.pattern or "|".join(f"(?:{s.pattern})" for s in self.spellings)

    @property
    def json_pattern(self) -> str:
        """`accepted` as a JSON Schema pattern (which matches anywhere unless anchored)."""
        return rf"^\s*(?:{self.accepted})\s*$"

    def problem(self, value: str) -> str | None:
        """`rule` when `value` is not an id of this form, else None."""
        return None if re.fullmatch(self.accepted, value.strip()) else self.rule

    def stored(self, value: str) -> str | None:
        """The stored spelling of `value` (stripped), or None when no spelling matches it."""
        value = value.strip()
        if not self.spellings:
            return value
        for spelling in self.spellings:
            if match := re.fullmatch(spelling.pattern, value):
                return match.expand(spelling.stored)
        return None


@dataclass(frozen=True)
class Login:
    """One way a platform's accounts are connected (`accounts.auth`, the connect body's `auth`)."""

    name: str
    label: str


# A platform with one way to log in: what `auth` is for it (or left out).
ONE_LOGIN: Final = (Login("default", "the platform's own login"),)


@dataclass(frozen=True)
class PlatformSpec:
    """What we know about one platform before any settings are read."""

    name: str  # the wire name: accounts.platform, API JSON, DRAVO_<NAME>_... variables
    label: str  # how messages name it
    api_base: str  # default of DRAVO_<NAME>_API_BASE
    pinned: PinnedVersion  # default of DRAVO_<NAME>_API_VERSION, with its sunset
    # Platform calls one sync usually makes: an estimate the dispatcher divides the app budget by,
    # not a count (adapters may make more or fewer; FetchResult.calls is the observed count).
    estimated_calls_per_sync: int
    app_budget: str  # "CALLS/SECONDS" default of DRAVO_<NAME>_APP_BUDGET
    user_budget: str  # "CALLS/SECONDS" default of DRAVO_<NAME>_USER_BUDGET
    # The contract's metric keys in the published order (docs/contract.md, section 3). Empty:
    # the adapter derives the keys from the API (LinkedIn).
    metric_keys: tuple[str, ...]
    # "module:attribute" of the adapter factory (`adapters.registry.AdapterFactory`, usually
    # "adapters.<name>:<Adapter>.build") and of the simulated platform
    # (`simulator.platform.SimPlatform`); strings, because this layer may not import either.
    adapter: str
    simulator: str
    oauth_base: str | None = None  # a separate token host (LinkedIn's), DRAVO_<NAME>_OAUTH_BASE
    # Platform calls one healthy sync really makes, from the adapter's call sequence (what the
    # simulator counts and the capacity simulation spends); 0: the same as the estimate. The
    # dispatcher keeps planning with `estimated_calls_per_sync`.
    calls_per_sync: int = 0
    # What a connect of one of its accounts must say (models.connect_input checks it at the API and
    # the import, adapters.input_rules at the CLI, and the OpenAPI document states it):
    # the form of its account ids (None: any non-blank display string, stored as given) and the
    # logins its accounts connect with, the first being the default.
    account_ids: AccountIds | None = None
    logins: tuple[Login, ...] = ONE_LOGIN

    @property
    def typical_calls_per_sync(self) -> int:
        return self.calls_per_sync or self.estimated_calls_per_sync

    @property
    def queue(self) -> str:
        """Scheduled syncs go to one queue per platform, so a slow platform can't starve the others."""
        return f"sync.{self.name}"


# The newest Graph API version (Meta's changelog, "Available Graph API Versions", updated
# 2026-10-29, checked 2026-12-01: v27.0 introduced 2026-11-04, available until TBD).
# DRAVO_INSTAGRAM_API_VERSION / DRAVO_FACEBOOK_API_VERSION override it.
GRAPH_API: Final = PinnedVersion(
    "v27.0",
    released=date(2026, 11, 4),
    sunset=None,
    source="https://developers.facebook.com/documentation/development/graph-api/changelog (checked 2026-12-01)",
)
# X API v2 has no dated versions or announced end (xdevplatform/docs changelog, HEAD 2026-08-22,
# checked 2026-12-01): changes come as dated changelog entries to the one version.
X_API: Final = PinnedVersion(
    "2",
    released=None,
    sunset=None,
    source="xdevplatform/docs changelog.mdx (checked 2026-12-01)",
)
# The newest Marketing version found (202607, "current" in LinkedIn's versioning page as
# summarised 2026-08-13; the official page stored here stops at 202603). LinkedIn keeps each
# monthly version "for a minimum of one year": the sunset below is the earliest that allows, the
# defensive reading until the migrations table lists it (202603 is listed: March 16, 2027).
# Checked 2026-12-01; DRAVO_LINKEDIN_API_VERSION overrides the version.
LINKEDIN_API: Final = PinnedVersion(
    "202607",
    released=date(2026, 7, 1),
    sunset=date(2027, 7, 1),
    source="https://learn.microsoft.com/en-us/linkedin/marketing/versioning and "
    ".../integrations/migrations (checked 2026-12-01)",
)
# TikTok's Display API has one path version, v2, with no announced end (TikTok for Developers
# "Get User Info" reference, checked 2026-12-01; its "migration plan" note is an open question).
TIKTOK_API: Final = PinnedVersion(
    "v2",
    released=None,
    sunset=None,
    source="https://developers.tiktok.com/doc/tiktok-api-v2-get-user-info (checked 2026-12-01)",
)

# Graph API node ids are digits (https://developers.facebook.com/docs/graph-api/overview#nodes);
# [0-9], not \d, which in Python also matches other scripts' digits.
GRAPH_IDS: Final = AccountIds(rule="must be the numeric id of the account", pattern="[0-9]+")
# LinkedIn accounts are organization or member URNs (docs/platforms.md); an organization's bare
# number is stored as its URN.
LINKEDIN_IDS: Final = AccountIds(
    rule="must be urn:li:organization:ID (or its numeric id) or urn:li:person:ID",
    spellings=(
        Spelling(r"(?:urn:li:organization:)?(\d+)", r"urn:li:organization:\1"),
        Spelling(r"urn:li:person:[A-Za-z0-9_-]+"),
    ),
)
# Instagram's two logins (docs/platforms.md): Instagram Login reads graph.instagram.com,
# Facebook Login reads the same account through graph.facebook.com.
INSTAGRAM_LOGINS: Final = (Login("instagram", "Instagram Login"), Login("facebook", "Facebook Login"))

# Budgets: the platforms' published limits per app and per user token (docs/platforms.md).
BUILT_IN: Final[tuple[PlatformSpec, ...]] = (
    PlatformSpec(
        name="instagram",
        label="Instagram",
        api_base="https://graph.instagram.com",
        pinned=GRAPH_API,
        estimated_calls_per_sync=3,
        app_budget="5000/3600",
        user_budget="200/3600",
        calls_per_sync=2,  # account + insights
        adapter="adapters.instagram:InstagramAdapter.build",
        simulator="simulator.meta:INSTAGRAM",
        account_ids=GRAPH_IDS,
        logins=INSTAGRAM_LOGINS,
        metric_keys=(
            "follower_count",
            "reach",
            "views",
            "accounts_engaged",
            "total_interactions",
            "likes",
            "comments",
            "shares",
            "saves",
            "replies",
            "profile_views",
            "website_clicks",
            "profile_links_taps",
        ),
    ),
    PlatformSpec(
        name="facebook",
        label="Facebook",
        api_base="https://graph.facebook.com",
        pinned=GRAPH_API,
        estimated_calls_per_sync=3,
        app_budget="5000/3600",
        user_budget="200/3600",
        calls_per_sync=2,  # page + insights
        adapter="adapters.facebook:FacebookAdapter.build",
        simulator="simulator.meta:FACEBOOK",
        account_ids=GRAPH_IDS,
        metric_keys=(
            "followers_count",
            "talking_about_count",
            "were_here_count",
            "checkins",
            "page_post_engagements",
            "page_consumptions",
            "page_actions_post_reactions_total",
            "page_video_views",
            "page_views_total",
            "page_total_actions",
        ),
    ),
    PlatformSpec(
        name="x",
        label="X",
        api_base="https://api.x.com",
        pinned=X_API,
        estimated_calls_per_sync=1,
        app_budget="10000/900",
        user_budget="75/900",
        calls_per_sync=1,  # users/me
        adapter="adapters.x:XAdapter.build",
        simulator="simulator.x:SIMULATED",
        metric_keys=(
            "followers_count",
            "following_count",
            "tweet_count",
            "listed_count",
            "like_count",
            "media_count",
            "verified_followers_count",
        ),
    ),
    PlatformSpec(
        name="linkedin",
        label="LinkedIn",
        api_base="https://api.linkedin.com",
        pinned=LINKEDIN_API,
        estimated_calls_per_sync=3,
        app_budget="100000/86400",
        user_budget="500/86400",
        calls_per_sync=3,  # follower statistics + page statistics + network size
        adapter="adapters.linkedin:LinkedInAdapter.build",
        simulator="simulator.linkedin:SIMULATED",
        account_ids=LINKEDIN_IDS,
        metric_keys=(),
        oauth_base="https://www.linkedin.com",
    ),
    PlatformSpec(
        name="tiktok",
        label="TikTok",
        api_base="https://open.tiktokapis.com",
        pinned=TIKTOK_API,
        estimated_calls_per_sync=1,
        app_budget="600/60",
        user_budget="600/60",
        calls_per_sync=1,  # user/info
        adapter="adapters.tiktok:TikTokAdapter.build",
        simulator="simulator.tiktok:SIMULATED",
        metric_keys=("follower_count", "following_count", "likes_count", "video_count"),
    ),
)


def _installed() -> tuple[PlatformSpec, ...]:
    """The specs other distributions publish under ENTRY_POINT_GROUP, by entry point name."""
    found = []
    for point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda p: p.name):
        spec = point.load()
        if not isinstance(spec, PlatformSpec) or spec.name != point.name:
            raise TypeError(f"entry point {point.value!r} is not the PlatformSpec named {point.name!r}")
        found.append(spec)
    return tuple(found)


PLATFORMS: Final[tuple[PlatformSpec, ...]] = (*BUILT_IN, *_installed())
PLATFORM_NAMES: Final[tuple[str, ...]] = tuple(spec.name for spec in PLATFORMS)

# A literal type, so mypy checks every `platform == "..."`; the registry test proves it names the
# built-in platforms in order. At run time it is the whole registry, installed platforms too, so
# the pydantic models built on it (API bodies, replies) accept them.
if TYPE_CHECKING:
    Platform = Literal["instagram", "facebook", "x", "linkedin", "tiktok"]
else:
    Platform = Literal[PLATFORM_NAMES]

_BY_NAME: Final[dict[str, PlatformSpec]] = {spec.name: spec for spec in PLATFORMS}


def spec(name: str) -> PlatformSpec:
    """The spec of `name`; KeyError for a platform we don't know."""
    return _BY_NAME[name]


def find(name: str) -> PlatformSpec | None:
    """The spec of `name`, or None for a platform we don't know."""
    return _BY_NAME.get(name)


def logins(name: str) -> tuple[Login, ...]:
    """How accounts of `name` connect (one `default` login for a platform we don't know)."""
    known = find(name)
    return ONE_LOGIN if known is None else known.logins


def account_ids(name: str) -> AccountIds | None:
    """The form of `name`'s account ids, if the registry states one."""
    known = find(name)
    return None if known is None else known.account_ids


def labels() -> dict[str, str]:
    return {s.name: s.label for s in PLATFORMS}


def queues() -> tuple[str, ...]:
    return tuple(s.queue for s in PLATFORMS)


def metric_keys() -> dict[str, tuple[str, ...]]:
    return {s.name: s.metric_keys for s in PLATFORMS}


def estimated_calls_per_sync() -> dict[str, int]:
    return {s.name: s.estimated_calls_per_sync for s in PLATFORMS}


def calls_per_sync() -> dict[str, int]:
    """Calls one healthy sync really makes, per platform (`PlatformSpec.calls_per_sync`)."""
    return {s.name: s.typical_calls_per_sync for s in PLATFORMS}
