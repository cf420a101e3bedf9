"""LinkedIn statistics replies -> metrics (docs/contract.md section 3): `follower_statistics_` /
`page_statistics_` + the snake_case path of each integer leaf; arrays are not flattened.

Time-bound statistics come per day and are summed over the window, except unique counts, which
can't be added across days (left out, docs/platforms.md). A leaf unreadable on any day is left out
of the window with a warning: one unreadable metric never fails the sync.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from adapters.errors import PlatformBroken
from adapters.values import Normalised, as_count, as_dict, as_list, require, snake_case

FOLLOWERS_PREFIX = "follower_statistics_"
PAGES_PREFIX = "page_statistics_"


def _leaves(
    node: Mapping[str, Any],
    path: str,
    what: str,
    allow_negative: bool,
    *,
    daily: bool = False,
    unreadable: list[str] | None = None,
) -> dict[str, int]:
    """Integer leaves of nested objects as snake_case paths; arrays and strings are skipped.

    `daily`: the node is one day of a window that gets summed. Unique counts (`uniquePageViews`)
    can't be added up across days and LinkedIn offers no window total for a time-bound query,
    so they are left out (docs/platforms.md, LinkedIn).
    """
    found: dict[str, int] = {}
    for key, value in node.items():
        if daily and str(key).lower().startswith("unique"):
            continue
        name = f"{path}_{snake_case(str(key))}" if path else snake_case(str(key))
        if isinstance(value, dict):
            found.update(_leaves(value, name, what, allow_negative, daily=daily, unreadable=unreadable))
        elif isinstance(value, int | float | bool) or (daily and _numeric_text(value)):
            try:
                found[name] = as_count(value, f"{what} {name}", allow_negative=allow_negative)
            except PlatformBroken:
                if unreadable is None:
                    raise
                unreadable.append(name)
    return found


def _numeric_text(value: object) -> bool:
    # A count sent as text ("3") on one day would silently drop out of the window's sum.
    return isinstance(value, str) and value.strip().lstrip("-").isdigit()


def _summed(
    elements: Sequence[Any],
    subtree: str,
    path: str,
    what: str,
    allow_negative: bool,
    unreadable: list[str],
) -> dict[str, int]:
    """The window's total of each leaf; a leaf unreadable on any day is left out entirely."""
    totals: dict[str, int] = {}
    bad: list[str] = []
    for raw in elements:
        element = as_dict(raw, f"{what} element")
        node = as_dict(require(element, subtree, f"{what} element"), f"{what} {subtree}")
        for key, value in _leaves(node, path, what, allow_negative, daily=True, unreadable=bad).items():
            totals[key] = as_count(totals.get(key, 0) + value, f"{what} {key}", allow_negative=allow_negative)
    unreadable.extend(dict.fromkeys(bad))
    return {k: v for k, v in totals.items() if k not in bad}


def normalise_organization(
    network: object, gains: object | None, pages: object | None, urn: str
) -> Normalised:
    """networkSizes + time-bound follower statistics + time-bound page statistics -> metrics.

    `gains` / `pages` None: that statistics endpoint was refused (the adapter warns about it).
    """
    out = Normalised(platform_account_id=urn)
    sizes = as_dict(network, "LinkedIn networkSizes")
    # The basic read's one value: unreadable, the reply is unreadable as a whole (failed).
    as_count(require(sizes, "firstDegreeSize", "LinkedIn networkSizes"), "LinkedIn firstDegreeSize")
    unreadable: list[str] = []
    for key, value in _leaves(sizes, "", "LinkedIn networkSizes", False, unreadable=unreadable).items():
        out.metrics[FOLLOWERS_PREFIX + key] = value
    if gains is not None:
        gain_elements = as_list(
            require(
                as_dict(gains, "LinkedIn follower statistics"), "elements", "LinkedIn follower statistics"
            ),
            "LinkedIn follower statistics elements",
        )
        # Gains can be negative (more unfollows than follows) but stay integers.
        for key, value in _summed(
            gain_elements, "followerGains", "follower_gains", "LinkedIn follower gains", True, unreadable
        ).items():
            out.metrics[FOLLOWERS_PREFIX + key] = value
        if not gain_elements:
            out.warnings.append("LinkedIn has no follower gains data for this window")
    if pages is not None:
        page_elements = as_list(
            require(as_dict(pages, "LinkedIn page statistics"), "elements", "LinkedIn page statistics"),
            "LinkedIn page statistics elements",
        )
        for key, value in _summed(
            page_elements, "totalPageStatistics", "", "LinkedIn page statistics", False, unreadable
        ).items():
            out.metrics[PAGES_PREFIX + key] = value
        if not page_elements:
            out.warnings.append("LinkedIn has no page statistics for this window")
    if unreadable:
        out.unreadable.extend(unreadable)
        out.warnings.append(
            f"LinkedIn sent {', '.join(unreadable)} in a form we cannot read; left out this time (last value kept)"
        )
    out.check_readable("LinkedIn statistics")
    return out


def normalise_member(body: object, urn: str) -> Normalised:
    """`memberFollowersCount?q=me` -> `follower_statistics_member_followers_count`."""
    elements = as_list(
        require(as_dict(body, "LinkedIn memberFollowersCount"), "elements", "LinkedIn memberFollowersCount"),
        "LinkedIn memberFollowersCount elements",
    )
    if not elements:
        raise PlatformBroken("malformed reply: LinkedIn memberFollowersCount has no elements")
    first = as_dict(elements[0], "LinkedIn memberFollowersCount element")
    count = as_count(
        require(first, "memberFollowersCount", "LinkedIn memberFollowersCount element"),
        "LinkedIn memberFollowersCount",
    )
    return Normalised(metrics={FOLLOWERS_PREFIX + "member_followers_count": count}, platform_account_id=urn)
