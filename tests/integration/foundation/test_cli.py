"""The operator CLI, run as a user runs it: a subprocess per command."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy.orm import Session, sessionmaker

from models.tables import AccountSync, ApiKey


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from ops.cli import main; main()", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_round_trip(test_env: dict[str, str], session_factory: sessionmaker[Session]) -> None:
    assert run(test_env, "db", "upgrade").returncode == 0

    created = run(test_env, "workspace", "create", "demo")
    assert created.returncode == 0, created.stderr
    workspace = created.stdout.strip()
    assert workspace.startswith("ws_") and "\n" not in workspace

    key = run(test_env, "apikey", "create", "--workspace", workspace)
    assert key.returncode == 0, key.stderr
    api_key = key.stdout.strip()
    assert api_key.startswith("dra_") and len(api_key) >= 36

    args = [
        "account",
        "connect",
        "--workspace",
        workspace,
        "--platform",
        "linkedin",
        "--platform-account-id",
        "urn:li:organization:2414183",
        "--access-token",
        "AQV-secret",
        "--token-expires-at",
        "2026-12-01T00:00:00Z",
        "--scopes",
        "rw_organization_admin",
    ]
    connected = run(test_env, *args)
    assert connected.returncode == 0, connected.stderr
    account_id = connected.stdout.strip()
    assert account_id.startswith("acc_")

    with session_factory.begin() as session:
        session.get_one(AccountSync, account_id).sync_status = "failed"

    again = run(test_env, *[a if a != "AQV-secret" else "AQV-new" for a in args])
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == account_id
    with session_factory() as session:
        assert session.get_one(AccountSync, account_id).sync_status == "pending"
        stored = session.query(ApiKey).one()
        assert api_key not in stored.prefix or len(stored.prefix) < len(api_key)
        assert bytes(stored.key_hash) != api_key.encode()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [
                "account",
                "connect",
                "--workspace",
                "{ws}",
                "--platform",
                "myspace",
                "--platform-account-id",
                "1",
                "--access-token",
                "t",
            ],
            "unknown platform",
        ),
        (
            [
                "account",
                "connect",
                "--workspace",
                "ws_missing",
                "--platform",
                "x",
                "--platform-account-id",
                "1",
                "--access-token",
                "t",
            ],
            "unknown workspace",
        ),
        (
            [
                "account",
                "connect",
                "--workspace",
                "{ws}",
                "--platform",
                "x",
                "--platform-account-id",
                "1",
                "--access-token",
                "t",
                "--token-expires-at",
                "next tuesday",
            ],
            "ISO 8601",
        ),
        (["apikey", "create", "--workspace", "ws_missing"], "unknown workspace"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    test_env: dict[str, str], session_factory: sessionmaker[Session], args: list[str], message: str
) -> None:
    workspace = run(test_env, "workspace", "create", "demo").stdout.strip()
    result = run(test_env, *[a.replace("{ws}", workspace) for a in args])
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_bad_configuration_is_one_line(test_env: dict[str, str]) -> None:
    result = run({**test_env, "DATABASE_URL": "mysql://db/x"}, "workspace", "create", "demo")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: invalid configuration: DATABASE_URL: must be a PostgreSQL URL "
        "(postgresql+psycopg://user@host:port/db)"
    )


@pytest.mark.parametrize(
    "command", [[], ["db"], ["workspace"], ["apikey"], ["account"], ["account", "connect"]]
)
def test_help_everywhere(test_env: dict[str, str], command: list[str]) -> None:
    result = run(test_env, *command, "--help")
    assert result.returncode == 0
    assert "Usage" in result.stdout


def test_apikey_scope(test_env: dict[str, str], session_factory: sessionmaker[Session]) -> None:
    workspace = run(test_env, "workspace", "create", "demo").stdout.strip()
    manage = run(test_env, "apikey", "create", "--workspace", workspace, "--scope", "manage")
    assert manage.returncode == 0, manage.stderr
    read = run(test_env, "apikey", "create", "--workspace", workspace)
    assert read.returncode == 0, read.stderr
    bad = run(test_env, "apikey", "create", "--workspace", workspace, "--scope", "admin")
    assert bad.returncode == 2 and "unknown scope" in bad.stderr
    with session_factory() as session:
        scopes = {key.prefix: key.scope for key in session.query(ApiKey)}
    assert scopes == {manage.stdout.strip()[:16]: "manage", read.stdout.strip()[:16]: "read"}
