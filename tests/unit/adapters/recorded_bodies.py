"""Bodies quoted in docs/platforms.md (its tags say which are real recordings), as Python values."""

from __future__ import annotations

import json
from typing import Any

import httpx

from adapters.http import Reply, parse_json

# --- Instagram -----------------------------------------------------------------------------
# [REC] v23.0, 2026-07-07: `website` requested but absent (fields with no value are omitted).
IG_NODE: dict[str, Any] = {
    "id": "17841411718913026",
    "name": "SMRITI",
    "username": "smritifyp",
    "biography": "My younger stuff ♥️\nCheck more @smriti.shans \nDm for Promotion",
    "followers_count": 2,
    "follows_count": 0,
    "media_count": 3,
    "profile_picture_url": "https://scontent.fnag1-3.fna.fbcdn.net/v/t51.82787-15/...jpg?...",
}
# [REC] python-facebook user_fields.json
IG_NODE_FB4D: dict[str, Any] = {
    "id": "17841407673135339",
    "name": "Facebook for Developers",
    "username": "facebookfordevelopers",
    "followers_count": 64363,
    "media_count": 427,
}
# [REC] python-facebook user_insights_new.json (abridged), total_value with breakdowns.
IG_INSIGHTS_TOTAL: dict[str, Any] = {
    "data": [
        {
            "name": "reach",
            "period": "day",
            "title": "Accounts reached",
            "description": "The number of unique accounts that have seen your content, at least once.",
            "total_value": {
                "value": 14516883,
                "breakdowns": [
                    {
                        "dimension_keys": ["media_product_type", "follow_type"],
                        "results": [
                            {"dimension_values": ["IGTV", "FOLLOWER"], "value": 9},
                            {"dimension_values": ["AD", "NON_FOLLOWER"], "value": 14357147},
                        ],
                    }
                ],
            },
            "id": "17841454149711910/insights/reach/day",
        }
    ],
    "paging": {
        "previous": "https://graph.facebook.com/v18.0/1/insights?access_token=access_token&metric=reach"
    },
}
# [SYN] airbyte user_insights.json: a time series.
IG_INSIGHTS_SERIES: dict[str, Any] = {
    "data": [
        {
            "name": "follower_count",
            "period": "day",
            "values": [{"value": 1000, "end_time": "2024-01-15T07:00:00+0000"}],
            "title": "Follower Count",
            "description": "Total number of followers",
            "id": "222222222222222/insights/follower_count/day",
        },
        {
            "name": "reach",
            "period": "day",
            "values": [{"value": 500, "end_time": "2024-01-15T07:00:00+0000"}],
            "title": "Reach",
            "description": "Total reach",
            "id": "222222222222222/insights/reach/day",
        },
    ]
}
IG_RETIRED_ERROR: dict[str, Any] = {
    "error": {
        "message": "(#100) metric[0] must be one of the following values: reach, follower_count, website_clicks, "
        "profile_views, online_followers, accounts_engaged, total_interactions, likes, comments, shares, saves, "
        "replies, engaged_audience_demographics, reached_audience_demographics, follower_demographics, "
        "follows_and_unfollows, profile_links_taps, views, threads_likes, threads_replies, reposts, quotes, "
        "threads_followers, threads_follower_demographics, content_views, threads_views, threads_clicks, "
        "threads_reposts",
        "type": "OAuthException",
        "code": 100,
        "fbtrace_id": "AeggHY3QlqzMRQRvKTXy2BV",
    }
}

# --- Facebook ------------------------------------------------------------------------------
# [REC] airbyte initial_record.json (abridged)
FB_PAGE: dict[str, Any] = {
    "id": "112704783733939",
    "name": "Airbyte",
    "username": "AirbyteHQ",
    "checkins": 0,
    "fan_count": 270,
    "followers_count": 320,
    "talking_about_count": 2,
    "were_here_count": 0,
    "has_transitioned_to_new_page_experience": True,
    "link": "https://www.facebook.com/112704783733939",
    "category": "Software Company",
}
# [REC] v23.0 2026-07-07: no counters requested, none returned.
FB_PAGE_BARE: dict[str, Any] = {
    "id": "1165738093294228",
    "name": "Smriti",
    "fan_count": 0,
    "link": "https://www.facebook.com/1165738093294228",
    "category": "Reel creator",
}
# [DOC] page insights shape, with integer values.
FB_INSIGHTS: dict[str, Any] = {
    "data": [
        {
            "name": "page_views_total",
            "period": "day",
            "values": [
                {"value": 4, "end_time": "2022-10-02T07:00:00+0000"},
                {"value": 6, "end_time": "2022-10-03T07:00:00+0000"},
            ],
            "title": "t",
            "description": "d",
            "id": "112704783733939/insights/page_views_total/day",
        },
    ],
    "paging": {"previous": "...", "next": "..."},
}
FB_RETIRED_ERROR: dict[str, Any] = {
    "error": {
        "message": "(#100) The value must be a valid insights metric",
        "type": "OAuthException",
        "code": 100,
        "fbtrace_id": "AopRcG7C9CvH87dfKcN6Yc7",
    }
}

# --- Meta errors ([REC] airbyte test_errors.py, python-facebook) -----------------------------
META_EXPIRED = {
    "error": {
        "message": "Error validating access token: Session has expired on Friday, 18-Aug",
        "type": "OAuthException",
        "code": 190,
        "error_subcode": 463,
    }
}
META_PASSWORD = {
    "error": {
        "message": "Error validating access token: The session has been invalidated because the "
        "user changed their password",
        "type": "OAuthException",
        "code": 190,
        "error_subcode": 460,
    }
}
META_APP_REMOVED = {
    "error": {
        "message": "Error validating access token: The user has not authorized application 2586347315015828.",
        "type": "OAuthException",
        "code": 190,
        "error_subcode": 458,
        "fbtrace_id": "A3pz5DCfhBg3mGCS6Z9z9zY",
    }
}
META_PAGE_TOKEN = {
    "error": {
        "message": "(#190) This method must be called with a Page Access Token",
        "type": "OAuthException",
        "code": 190,
    }
}
META_190_PERMISSION = {
    "error": {
        "message": "Any of the pages_read_engagement, pages_manage_metadata,\n        "
        "pages_read_user_content, pages_manage_ads, pages_show_list or\n        "
        "pages_messaging permission(s) must be granted before impersonating a\n        "
        "user's page.",
        "type": "OAuthException",
        "code": 190,
    }
}
META_CODE_10 = {
    "error": {
        "message": "(#10) Application does not have permission for this action",
        "type": "OAuthException",
        "code": 10,
        "fbtrace_id": "GHI789",
    }
}
META_CODE_200 = {
    "error": {"code": 200, "message": "(#200) Requires business_management permission to manage the object"}
}
META_MISSING_PERMISSIONS = {
    "error": {"message": "(#100) Missing permissions", "type": "OAuthException", "code": 100}
}
META_LOST_ACCESS = {
    "error": {
        "message": "Unsupported get request. Object with ID 'xxx' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation.",
        "type": "GraphMethodException",
        "code": 100,
        "error_subcode": 33,
        "fbtrace_id": "A7qVRrTcBm8Pt6iUvnBrxwf",
    }
}
META_METRIC_TYPE = {
    "error": {
        "message": "(#100) The following metrics (views,profile_views,total_interactions,likes) "
        "should be specified with parameter metric_type=total_value",
        "type": "OAuthException",
        "code": 100,
    }
}
META_NO_METRIC = {
    "error": {
        "message": "(#100) No metric was specified to be fetched.",
        "type": "OAuthException",
        "code": 3001,
        "error_subcode": 1504028,
    }
}
META_THROTTLED_80000 = {
    "error": {
        "message": "(#80000) There have been too many calls from this ad-account. Wait a bit and try again.",
        "type": "OAuthException",
        "code": 80000,
        "error_subcode": 2446079,
        "fbtrace_id": "this_is_fake_response",
    }
}
META_UNKNOWN_500 = {"error": {"code": 1, "message": "An unknown error occurred", "error_subcode": 99}}
META_TRANSIENT = {
    "error": {
        "message": "(#2) Service temporarily unavailable",
        "type": "OAuthException",
        "is_transient": True,
        "code": 2,
        "fbtrace_id": "AnUyGZoFqN2m50GHVpOQEqr",
    }
}

# --- X -------------------------------------------------------------------------------------
X_DOCS_USER: dict[str, Any] = {
    "data": {
        "id": "2244994945",
        "name": "X Developers",
        "username": "XDevelopers",
        "created_at": "2013-12-14T04:35:55.000Z",
        "description": "The voice of the X developer community",
        "verified": True,
        "profile_image_url": "https://pbs.twimg.com/profile_images/...",
        "public_metrics": {
            "followers_count": 583423,
            "following_count": 2048,
            "tweet_count": 14052,
            "listed_count": 1672,
        },
    }
}
# [REC] tweepy cassette: no user.fields requested, so no public_metrics.
X_TWEEPY_ME: dict[str, Any] = {
    "data": {"id": "1072250532645998596", "name": "Tweepy Testing", "username": "TweepyDev"}
}
X_UNAUTHORIZED = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
X_UNSUPPORTED_AUTH = {
    "title": "Unsupported Authentication",
    "detail": "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.",
    "type": "https://api.twitter.com/2/problems/unsupported-authentication",
    "status": 403,
}
X_CLIENT_FORBIDDEN = {
    "client_id": "...",
    "detail": "When authenticating requests to the Twitter API v2 endpoints, "
    "you must use keys and tokens from a Twitter developer App that is attached to a Project.",
    "title": "Client Forbidden",
    "reason": "client-not-enrolled",
    "type": "https://api.twitter.com/2/problems/client-forbidden",
}
X_TOO_MANY = {
    "title": "Too Many Requests",
    "detail": "Too Many Requests",
    "type": "about:blank",
    "status": 429,
}
X_USAGE_CAP = {
    "account_id": 123123123,
    "product_name": "standard-basic",
    "title": "UsageCapExceeded",
    "period": "Monthly",
    "scope": "Product",
    "detail": "Usage cap exceeded: Monthly product cap",
    "type": "https://api.twitter.com/2/problems/usage-capped",
}
X_CREDITS = {
    "account_id": 1243608864848629761,
    "title": "CreditsDepleted",
    "detail": "Your enrolled account does not have any credits to fulfill this request.",
    "type": "https://api.twitter.com/2/problems/credits",
}
X_REFRESH_INVALID = {
    "error": "invalid_request",
    "error_description": "Value passed for the token was invalid.",
}

# --- LinkedIn ------------------------------------------------------------------------------
LI_NETWORK_SIZES = {"firstDegreeSize": 0}  # [REC] airbyte expected_records
LI_GAINS = {
    "paging": {"start": 0, "count": 10, "links": []},
    "elements": [
        {
            "timeRange": {"start": 1759104000000, "end": 1759190400000},
            "followerGains": {"organicFollowerGain": 5, "paidFollowerGain": 1},
            "organizationalEntity": "urn:li:organization:2414183",
        },
        {
            "timeRange": {"start": 1759190400000, "end": 1759276800000},
            "followerGains": {"organicFollowerGain": -2, "paidFollowerGain": 0},
            "organizationalEntity": "urn:li:organization:2414183",
        },
    ],
}
LI_PAGES = {
    "elements": [
        {
            "organization": "urn:li:organization:2414183",
            "timeRange": {"start": 1753056000000, "end": 1753142400000},
            "totalPageStatistics": {
                "views": {
                    "allPageViews": {"pageViews": 17, "uniquePageViews": 9},
                    "allDesktopPageViews": {"pageViews": 12},
                    "allMobilePageViews": {"pageViews": 5},
                    "careersPageViews": {"pageViews": 2, "uniquePageViews": 1},
                },
                "clicks": {
                    "careersPageClicks": {"careersPageJobsClicks": 1},
                    "desktopCustomButtonClickCounts": [{"customButtonType": "VISIT_WEBSITE", "clicks": 3}],
                    "mobileCustomButtonClickCounts": [],
                },
            },
        }
    ]
}
LI_MEMBER = {"elements": [{"memberFollowersCount": 100}], "paging": {"count": 10, "start": 0}}
LI_EXPIRED = {
    "status": 401,
    "serviceErrorCode": 65602,
    "code": "EXPIRED_ACCESS_TOKEN",
    "message": "The token used in the request has expired",
}
LI_EXPIRED_OLD = {
    "serviceErrorCode": 65602,
    "message": "The token used in the request has expired",
    "status": 401,
}
LI_REVOKED = {
    "status": 401,
    "serviceErrorCode": 65601,
    "code": "REVOKED_ACCESS_TOKEN",
    "message": "The token used in the request has been revoked by the user",
}
LI_INVALID = {"serviceErrorCode": 65600, "message": "Invalid access token", "status": 401}
LI_FORBIDDEN = {
    "serviceErrorCode": 100,
    "message": "Not enough permissions to access: GET /me",
    "status": 403,
}
LI_THROTTLED = {
    "serviceErrorCode": 101,
    "message": "Resource level throttle limit for calls to this resource is reached.",
    "status": 429,
}
LI_SUNSET = {
    "status": 426,
    "code": "NONEXISTENT_VERSION",
    "message": "Requested version 20230101 is not active",
}
LI_REFRESH_INVALID = {
    "error": "invalid_request",
    "error_description": "The provided authorization grant or refresh token is invalid, expired or revoked",
}

# --- TikTok --------------------------------------------------------------------------------
TT_DOC_USER = {
    "data": {
        "user": {
            "avatar_url": "https://p19-sign.tiktokcdn-us.com/x.jpeg",
            "open_id": "723f24d7-e717-40f8-a2b6-cb8464cd23b4",
            "union_id": "c9c60f44-a68e-4f5d-84dd-ce22faeb0ba1",
        }
    },
    "error": {"code": "ok", "message": "", "log_id": "20220829194722CBE87ED59D524E727021"},
}
TT_MIRROR_USER = {
    "data": {
        "user": {
            "avatar_url": "https://p19-sign.tiktokcdn-us.com/x.jpeg",
            "open_id": "723f24d7-e717-40f8-a2b6-cb8464cd23b4",
            "union_id": "c9c60f44-a68e-4f5d-84dd-ce22faeb0ba1",
            "display_name": "User Name",
            "follower_count": 100,
            "following_count": 10,
            "likes_count": 50,
            "video_count": 5,
        }
    },
    "error": {"code": "ok", "message": "", "log_id": "20220829194722CBE87ED59D524E727021"},
}


def tiktok_error(code: str, message: str = "") -> dict[str, Any]:
    return {
        "data": {},
        "error": {"code": code, "message": message, "log_id": "20220829194722CBE87ED59D524E727021"},
    }


def make_reply(
    status: int, body: Any, headers: dict[str, str] | None = None, endpoint: str = "test"
) -> Reply:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    data, is_json = parse_json(raw)
    return Reply(status, httpx.Headers(headers or {}), raw, data, is_json, endpoint)
