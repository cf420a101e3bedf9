"""Public identifiers: a readable prefix and enough randomness that they can't be guessed."""

from __future__ import annotations

import secrets


def new_account_id() -> str:
    return "acc_" + secrets.token_hex(8)


def new_workspace_id() -> str:
    return "ws_" + secrets.token_hex(8)
