"""Graph API plumbing the simulated Instagram and Facebook share: error bodies and usage headers.

Error object: Meta's error-handling guide
(https://developers.facebook.com/docs/graph-api/guides/error-handling) and airbyte `test_errors.py`
[REC]; usage headers: the rate-limiting guide
(https://developers.facebook.com/docs/graph-api/overview/rate-limiting) and python-facebook
`ratelimit.py`; checked 2026-12-01 (docs/platforms.md, "Simulator reply shapes and their sources").
"""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.responses import Response

from simulator.common import reply
from simulator.state import SimAccount


def graph_error(
    message: str,
    code: int,
    subcode: int | None = None,
    *,
    status: int = 400,
    kind: str = "OAuthException",
    transient: bool | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    error: dict[str, Any] = {"message": message, "type": kind, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    if transient is not None:
        error["is_transient"] = transient
    error["fbtrace_id"] = "AsimFbTrace" + str(int(time.time() * 1000) % 100000)
    return reply({"error": error}, status, headers)


def usage_headers(account: SimAccount, *, blocked_minutes: int = 0) -> dict[str, str]:
    kind = "instagram" if account.platform == "instagram" else "pages"
    usage = 100 if blocked_minutes else 1
    entry = {
        "type": kind,
        "call_count": usage,
        "total_cputime": 1,
        "total_time": 1,
        "estimated_time_to_regain_access": blocked_minutes,
    }
    headers = {"x-business-use-case-usage": json.dumps({account.platform_account_id: [entry]})}
    if account.platform == "facebook":
        headers["x-app-usage"] = json.dumps({"call_count": usage, "total_time": 1, "total_cputime": 1})
    return headers
