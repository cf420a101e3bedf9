"""The metric keys of docs/contract.md section 3, in the published order.

Instagram, Facebook and TikTok return exactly these keys (a key missing from a row is explained in
its warnings); X and LinkedIn derive theirs from the API, so the order here is only the one rows
are printed in. Adapters produce them and the query module orders rows by them: one list for both.
"""

from __future__ import annotations

from typing import Final

CONTRACT_METRIC_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "instagram": (
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
    "facebook": (
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
    "x": (
        "followers_count",
        "following_count",
        "tweet_count",
        "listed_count",
        "like_count",
        "media_count",
        "verified_followers_count",
    ),
    "linkedin": (),
    "tiktok": ("follower_count", "following_count", "likes_count", "video_count"),
}
