"""The contract's metric keys (docs/contract.md, section 3), in the published order.

Instagram, Facebook and TikTok return exactly these keys (a key missing from a row is explained in
its warnings); X and LinkedIn derive theirs from the API, so the order here is only the one rows
are printed in. Adapters produce them and the query module orders rows by them: one list for both,
held by each platform's registry entry (`ops.foundation.platforms`).
"""

from __future__ import annotations

from typing import Final

from ops.foundation import platforms

CONTRACT_METRIC_KEYS: Final[dict[str, tuple[str, ...]]] = platforms.metric_keys()
