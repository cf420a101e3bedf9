"""A client's script on the Python client generated from /openapi.json (openapi-python-client):
list the accounts a page at a time (cursor), then read one account's history page by page.

Run by tests/e2e/clients/test_generated_clients.py with the generated package `dravo_client` on
PYTHONPATH, DRAVO_API_BASE and DRAVO_API_KEY in the environment and the page size as argument;
prints one JSON object with what it read.
"""

from __future__ import annotations

import json
import os
import sys

# Generated at test time, not part of the repository.
from dravo_client import AuthenticatedClient  # type: ignore[import-not-found]
from dravo_client.api.analytics import get_account_history, list_accounts  # type: ignore[import-not-found]
from dravo_client.models import AccountsPage, HistoryPage  # type: ignore[import-not-found]
from dravo_client.types import UNSET  # type: ignore[import-not-found]


def main() -> None:
    limit = int(sys.argv[1])
    client = AuthenticatedClient(base_url=os.environ["DRAVO_API_BASE"], token=os.environ["DRAVO_API_KEY"])
    accounts: list[dict[str, object]] = []
    pages = 0
    cursor = UNSET
    while True:
        page = list_accounts.sync(client=client, limit=limit, cursor=cursor)
        assert isinstance(page, AccountsPage), page
        pages += 1
        for item in page.items:
            updated = item.last_updated_at  # a datetime: the schema says date-time
            accounts.append(
                {
                    "account_id": item.account_id,
                    "platform": item.platform.value,
                    "last_updated_at": None if updated is None else updated.isoformat(),
                }
            )
        if page.next_cursor is None:
            break
        cursor = page.next_cursor

    account_id = str(accounts[0]["account_id"])
    captured: list[str] = []
    history_cursor = UNSET
    while True:
        history = get_account_history.sync(account_id, client=client, limit=limit, cursor=history_cursor)
        assert isinstance(history, HistoryPage), history
        captured += [snapshot.captured_at.isoformat() for snapshot in history.items]
        if history.next_cursor is None:
            break
        history_cursor = history.next_cursor

    missing = list_accounts.sync_detailed(client=client, limit=0)
    print(
        json.dumps(
            {
                "accounts": accounts,
                "pages": pages,
                "history": captured,
                "error": {"status": int(missing.status_code), "param": missing.parsed.error.param},
            }
        )
    )


if __name__ == "__main__":
    main()
