"""Reply bodies as the platforms send them (docs/platforms.md), each with its documented source and
the day it was checked.

Where no platform source gives the exact bytes, the body is the documented shape with the
platform's documented wording, tagged [SHAPE]; docs/platforms.md lists those as open questions.
"""

from __future__ import annotations

from typing import Any

# [DOC] Page Insights reference, "Page Reactions": page_actions_post_reactions_total, "Daily total
# post reactions of a page by type"; the per-day value is an object keyed by reaction type
# (https://developers.facebook.com/docs/graph-api/reference/insights, checked 2026-12-01; the
# envelope is the 2023-04-12 blog's shape quoted in docs/platforms.md, "Facebook Pages"). [3P] a public
# repo (name not recorded) probing live v21.0 in September 2026 saw the same: an object by type, `{}` for a
# day without reactions, strings for lifetime metrics (checked 2026-12-01).
FB_REACTIONS_BY_TYPE: dict[str, Any] = {
    "data": [
        {
            "name": "page_actions_post_reactions_total",
            "period": "day",
            "values": [
                {"value": {"like": 4, "love": 2, "wow": 1}, "end_time": "2026-11-29T08:00:00+0000"},
                {"value": {"like": 3, "haha": 1}, "end_time": "2026-11-30T08:00:00+0000"},
                {"value": {}, "end_time": "2026-12-01T08:00:00+0000"},
            ],
            "title": "Daily total post reactions of a page by type",
            "description": "Daily: Total post reactions by type.",
            "id": "112704783733939/insights/page_actions_post_reactions_total/day",
        },
        {
            "name": "page_views_total",
            "period": "day",
            "values": [
                {"value": 4, "end_time": "2026-11-29T08:00:00+0000"},
                {"value": 6, "end_time": "2026-11-30T08:00:00+0000"},
            ],
            "title": "Daily Total views count per Page",
            "description": "Daily: Total views",
            "id": "112704783733939/insights/page_views_total/day",
        },
    ]
}

# [SHAPE] the same envelope with a value we cannot read (an object for a plain count) and a
# lifetime period (Page Insights reference: metrics have day/week/days_28/lifetime periods).
FB_UNREADABLE: dict[str, Any] = {
    "data": [
        {"name": "page_post_engagements", "period": "day", "values": [{"value": {"a": 1}}]},
        {"name": "page_video_views", "period": "lifetime", "values": [{"value": 70}]},
        {"name": "page_total_actions", "period": "day", "values": [{"value": "12"}]},
        {"name": "page_views_total", "period": "day", "values": [{"value": 5}, {"value": 6}]},
    ]
}

# [SHAPE] Meta error object ([DOC] https://developers.facebook.com/docs/graph-api/guides/error-handling):
# code 200-299 "API permission"; the wording is the one a reported try against the live API saw on
# /insights (docs/platforms.md, open questions; checked 2026-12-01).
FB_NO_READ_INSIGHTS = {
    "error": {
        "message": "(#200) Requires read_insights permission",
        "type": "OAuthException",
        "code": 200,
        "fbtrace_id": "AbCdEf",
    }
}
# [REC] airbyte source-facebook-marketing test_errors.py TestRealErrors (docs/platforms.md, "Simulator
# reply shapes and their sources").
META_CODE_10_APP = {
    "error": {
        "message": "(#10) Application does not have permission for this action",
        "type": "OAuthException",
        "code": 10,
        "fbtrace_id": "GHI789",
    }
}
# [DOC] Meta Marketing API versioning guide: a call to an expired version gets (#2635) "You are
# calling a deprecated version of the Ads API" (checked 2026-12-01; Graph's wording: open question).
META_DEPRECATED_VERSION = {
    "error": {
        "message": "(#2635) You are calling a deprecated version of the Graph API. Please update to the "
        "latest version: v27.0.",
        "type": "OAuthException",
        "code": 2635,
    }
}
# [DOC] Meta error table (https://developers.facebook.com/docs/graph-api/guides/error-handling): code 3
# "API Method: capability or permission problem".
META_CODE_3 = {
    "error": {
        "message": "(#3) Application does not have the capability to make this API call.",
        "type": "OAuthException",
        "code": 3,
    }
}

# [3P] LinkedIn 403 shape of newer versions (docs/platforms.md, "LinkedIn": the 403 on statistics row;
# https://github.com/hwi/HWIOAuthBundle/pull/2014).
LI_STATS_DENIED = {
    "status": 403,
    "serviceErrorCode": 100,
    "code": "ACCESS_DENIED",
    "message": "Not enough permissions to access: organizationPageStatistics.GET.NO_VERSION",
}
# [SHAPE] the same 403 shape for an app without the product; LinkedIn documents no exact
# wording (open question in docs/platforms.md): one naming the application is read as the app's.
LI_APP_LACKS_PRODUCT = {
    "status": 403,
    "serviceErrorCode": 100,
    "code": "ACCESS_DENIED",
    "message": "Not enough permissions to access: the application is not provisioned for this product",
}

# [DOC] RFC 6749 section 5.2 error body, which X and TikTok use for their token endpoints
# (https://www.rfc-editor.org/rfc/rfc6749#section-5.2; docs/platforms.md, "X (API v2)" and "TikTok
# (Display API v2)", checked 2026-12-01).
OAUTH_INVALID_CLIENT = {"error": "invalid_client", "error_description": "Client authentication failed"}
