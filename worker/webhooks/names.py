"""Task and queue names of webhook delivery (part of the wire format, like worker.names)."""

from __future__ import annotations

from typing import Final

from worker.names import KEY_PREFIX

WEBHOOKS_QUEUE: Final = "webhooks"
SWEEP: Final = "webhooks.sweep"
DELIVER: Final = "webhooks.deliver"
# Sorted set of endpoints a delivery task serves now, scored by when that claim runs out.
ACTIVE_KEY: Final = f"{KEY_PREFIX}:webhooks:active"
