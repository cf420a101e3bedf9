"""Standard Webhooks signatures (https://www.standardwebhooks.com, checked 2026-12-01), made by
its reference library `standardwebhooks`: `v1,` + base64(HMAC-SHA256(secret, id.timestamp.body))."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from standardwebhooks.webhooks import Webhook


def body(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def signed_headers(secret: str, webhook_id: str, at: datetime, content: str) -> dict[str, str]:
    """The three Standard Webhooks headers of one attempt (the timestamp is the attempt's)."""
    signature = Webhook(secret).sign(msg_id=webhook_id, timestamp=at, data=content)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }
