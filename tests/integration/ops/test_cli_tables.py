"""The CLI's tables on an 80-column terminal, and tenant text in them printed as text.

Rows are stored straight into the real test database (the way in refuses control characters in
handles, but rows stored before that, or by a URL, must still print safely), then the verbs run
through typer's runner with COLUMNS=80.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from rich.cells import cell_len
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from adapters.base import Credentials
from models.admin import ConnectRequest, connect_account, create_api_key, create_workspace, revoke_api_key
from models.base import utcnow
from models.crypto import TokenCipher
from models.tables import Account, AccountSync
from models.webhook_admin import create_endpoint, new_secret
from models.webhooks import WebhookEndpoint
from ops.cli.command import load_commands

CIPHER = TokenCipher([Fernet.generate_key().decode()])
MARKUP_HANDLE = "[red]x[/red]"
ESCAPE_HANDLE = "evil\x1b[2Jname"
LONG_HANDLE = "a-rather-long-handle-that-cannot-fit-next-to-everything-else"


@dataclass(frozen=True)
class Seeded:
    workspace: str
    accounts: dict[str, str]  # status -> account id
    key_prefix: str
    endpoint: str


def run(env: dict[str, str], columns: int, *args: str) -> str:
    extra = {k: v for k, v in env.items() if os.environ.get(k) != v}
    result = CliRunner().invoke(load_commands(), list(args), env={**extra, "COLUMNS": str(columns)})
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result.stdout


@pytest.fixture
def seeded(test_env: dict[str, str], session_factory: sessionmaker[Session]) -> Seeded:
    now = utcnow()
    accounts: dict[str, str] = {}
    with session_factory.begin() as session:
        workspace = create_workspace(session, "tables")
        for n, (status, handle) in enumerate(
            [
                ("synced", MARKUP_HANDLE),
                ("requires_reconnect", ESCAPE_HANDLE),
                ("partial", LONG_HANDLE),
                ("failed", None),
                ("pending", "plain"),
            ]
        ):
            account_id = connect_account(
                session,
                CIPHER,
                ConnectRequest(
                    workspace_id=workspace,
                    platform="instagram" if n % 2 else "linkedin",
                    platform_account_id=str(1000 + n),
                    credentials=Credentials(access_token="t", expires_at=now + timedelta(days=2 + n)),
                ),
            ).account_id
            # Stored as it might have been before the way in checked handles.
            session.get_one(Account, account_id).handle = handle
            row = session.get_one(AccountSync, account_id)
            row.sync_status = status
            row.last_updated_at = now
            accounts[status] = account_id
        key = create_api_key(session, workspace, "manage").key
        create_api_key(session, workspace)
        revoke_api_key(session, key[:16])
        endpoint = create_endpoint(
            session,
            CIPHER,
            workspace,
            "https://hooks.example.com/receive",
            secret=new_secret(),
            allow_loopback_http=False,
            resolve=lambda host, port: ["93.184.215.14"],
        ).endpoint.id
        stored = session.get_one(WebhookEndpoint, endpoint)
        stored.url = "https://hooks.example.com/[bold]in[/bold]/\x1b]0;owned\x07" + "p" * 60
        stored.disabled_at = now
        stored.disabled_reason = "5 failed deliveries in a row: [blink]HTTP 500[/blink]"
    return Seeded(workspace, accounts, key[:16], endpoint)


def _assert_fits(output: str, width: int) -> None:
    wide = [line for line in output.splitlines() if cell_len(line) > width]
    assert wide == [], "\n".join(wide)
    assert "…" not in output  # nothing cut with an ellipsis


@pytest.mark.parametrize("width", [80, 200])
def test_account_list_keeps_ids_and_statuses_whole(
    test_env: dict[str, str], seeded: Seeded, width: int
) -> None:
    output = run(test_env, width, "account", "list")
    _assert_fits(output, width)
    lines = output.splitlines()
    for status, account_id in seeded.accounts.items():
        # The id and its status on one line: neither wrapped nor cut.
        assert any(account_id in line and f" {status} " in line for line in lines), (status, output)
    if width == 200:
        assert "token expires" in output and seeded.workspace in output


def test_apikey_and_webhook_lists_fit_80_columns(test_env: dict[str, str], seeded: Seeded) -> None:
    keys = run(test_env, 80, "apikey", "list", "--workspace", seeded.workspace)
    _assert_fits(keys, 80)
    assert seeded.key_prefix in keys and "UTC" in keys  # the revoked column stays

    hooks = run(test_env, 80, "webhook", "list")
    _assert_fits(hooks, 80)
    assert any(seeded.endpoint in line and "disabled" in line for line in hooks.splitlines()), hooks


def test_status_fits_80_columns(test_env: dict[str, str], seeded: Seeded) -> None:
    narrow = run(test_env, 80, "status")
    _assert_fits(narrow, 80)
    assert "requires_reconnect" in narrow and "overdue" in narrow
    assert seeded.accounts["synced"] in narrow  # the soonest expiry, by id
    wide = run(test_env, 200, "status")
    assert "requires_reconnect" in wide and "Accounts by platform and sync status" in wide


@pytest.mark.parametrize("width", [80, 200])
def test_tenant_text_prints_literally_without_control_characters(
    test_env: dict[str, str], seeded: Seeded, width: int
) -> None:
    listed = run(test_env, width, "account", "list")
    assert MARKUP_HANDLE in listed
    assert "evil[2Jname" in listed
    hooks = run(test_env, width, "webhook", "list")
    assert "[blink]HTTP" in hooks  # the disabled reason, folded at 80 columns
    status = run(test_env, width, "status")
    for output in (listed, hooks, status):
        assert "\x1b" not in output and "\x07" not in output
    assert MARKUP_HANDLE in status or width == 80  # the handle column is dropped first at 80
    if width == 200:
        assert "[bold]in[/bold]" in hooks and "[blink]HTTP 500[/blink]" in hooks
