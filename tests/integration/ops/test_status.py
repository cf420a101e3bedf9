"""`dravo-sync status --json` against seeded rows."""

from __future__ import annotations

import json
from datetime import timedelta

from cryptography.fernet import Fernet
from sqlalchemy.orm import Session, sessionmaker

from adapters.base import Credentials
from models.admin import ConnectRequest, connect_account, create_workspace
from models.base import utcnow
from models.crypto import TokenCipher
from models.tables import AccountSync
from tests.integration.foundation.test_cli import run


def test_status_json(test_env: dict[str, str], session_factory: sessionmaker[Session]) -> None:
    cipher = TokenCipher([Fernet.generate_key().decode()])
    now = utcnow()
    soon = now + timedelta(days=3)
    with session_factory.begin() as session:
        ws = create_workspace(session, "acme")
        ids = {}
        for platform, account, status in [
            ("x", "1", "synced"),
            ("x", "2", "failed"),
            ("tiktok", "3", "requires_reconnect"),
            ("linkedin", "4", "pending"),
        ]:
            ids[account] = connect_account(
                session,
                cipher,
                ConnectRequest(
                    workspace_id=ws,
                    platform=platform,
                    platform_account_id=account,
                    credentials=Credentials(access_token="t", expires_at=soon if account == "4" else None),
                ),
            ).account_id
            row = session.get_one(AccountSync, ids[account])
            row.sync_status = status
            if status == "synced":
                row.last_updated_at = now
                row.stale_after = now + timedelta(hours=6)
                row.next_sync_at = now + timedelta(hours=5)

    result = run(test_env, "status", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    platforms = {p["platform"]: p for p in report["platforms"]}
    assert platforms["x"]["by_status"] == {"synced": 1, "failed": 1}
    assert platforms["x"]["total"] == 2
    assert platforms["x"]["stale"] == 1
    assert platforms["tiktok"]["by_status"] == {"requires_reconnect": 1}
    assert platforms["linkedin"]["stale"] == 1
    assert report["expiring"][0]["account_id"] == ids["4"]
    assert report["expiring"][0]["token_expires_at"].endswith("Z")
    assert set(report["queue_depths"]) >= {"refresh", "sync.x", "sync.tiktok"}


def test_status_table(test_env: dict[str, str], session_factory: sessionmaker[Session]) -> None:
    result = run({**test_env, "COLUMNS": "200"}, "status")
    assert result.returncode == 0, result.stderr
    assert "Accounts by platform and sync status" in result.stdout
    assert "Queue depths" in result.stdout
