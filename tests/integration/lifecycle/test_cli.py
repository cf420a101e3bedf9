"""The lifecycle verbs as an operator runs them: real output, never a token.

Most commands run in this process through click's runner (the same `main` app, the real
database); the token-on-argv warning is checked once in a subprocess, as a user sees it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from models.tables import Account
from ops.cli.command import load_commands
from tests.support.accounts import CIPHER

SECRET = "IGQVJ-cli-secret-token"


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> Result:
    extra = {k: v for k, v in env.items() if os.environ.get(k) != v}
    result = CliRunner().invoke(load_commands(), list(args), input=stdin, env={**extra, "COLUMNS": "200"})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Result(result.exit_code, result.stdout, result.stderr)


def run_process(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from ops.cli import main; main()", *args],
        env={**os.environ, **env, "COLUMNS": "200"},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _connect(
    env: dict[str, str], workspace: str, account: str, *token_args: str, stdin: str | None = None
) -> Result:
    return run(
        env,
        "account",
        "connect",
        "--workspace",
        workspace,
        "--platform",
        "x",
        "--platform-account-id",
        account,
        *token_args,
        stdin=stdin,
    )


def test_connect_reads_tokens_from_stdin_or_the_environment(
    test_env: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    ws = run(test_env, "workspace", "create", "demo").stdout.strip()
    piped = _connect(
        test_env, ws, "1", "--access-token", "-", "--refresh-token", "-", stdin=f"{SECRET}\nrefresh-1\n"
    )
    assert piped.returncode == 0, piped.stderr
    assert piped.stderr == "" and piped.stdout.strip().startswith("acc_")
    from_env = _connect({**test_env, "X_TOKEN": SECRET + "-env"}, ws, "2", "--access-token-env", "X_TOKEN")
    assert from_env.returncode == 0 and from_env.stderr == ""
    on_argv = run_process(
        test_env, "account", "connect", "--workspace", ws, "--platform", "x", "--platform-account-id", "3",
        "--access-token", SECRET + "-argv",
    )  # fmt: skip
    assert on_argv.returncode == 0
    # After the id, so bad input stays one line on stderr.
    assert on_argv.stdout.strip().startswith("acc_")
    assert on_argv.stderr.startswith("warning: --access-token on the command line is visible")
    assert SECRET not in on_argv.stderr
    with session_factory() as session:
        tokens = {a.platform_account_id: CIPHER.decrypt(a.credentials) for a in session.query(Account).all()}
    assert tokens["1"].access_token == SECRET and tokens["1"].refresh_token == "refresh-1"
    assert tokens["2"].access_token == SECRET + "-env"
    assert tokens["3"].access_token == SECRET + "-argv"

    for args, stdin, message in [
        ((), None, "give the access token"),
        (("--access-token", "-"), "", "standard input holds no"),
        (("--access-token-env", "NOT_SET_ANYWHERE"), None, "NOT_SET_ANYWHERE is not set"),
        (("--access-token", "-", "--access-token-env", "X"), "t\n", "not both"),
    ]:
        bad = _connect(test_env, ws, "4", *args, stdin=stdin)
        assert bad.returncode == 2 and message in bad.stderr, bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1


def test_list_disconnect_and_apikey_list(
    test_env: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    ws = run(test_env, "workspace", "create", "demo").stdout.strip()
    other = run(test_env, "workspace", "create", "other").stdout.strip()
    a = _connect(test_env, ws, "1", "--access-token", "-", stdin=SECRET).stdout.strip()
    b = _connect(test_env, other, "2", "--access-token", "-", stdin=SECRET).stdout.strip()

    table = run(test_env, "account", "list")
    assert table.returncode == 0, table.stderr
    for column in ("id", "platform", "handle", "status", "last updated", "token expires"):
        assert column in table.stdout
    assert a in table.stdout and b in table.stdout and SECRET not in table.stdout
    listed = json.loads(run(test_env, "account", "list", "--workspace", ws, "--json").stdout)
    assert [row["account_id"] for row in listed] == [a]
    assert set(listed[0]) == {
        "account_id", "workspace_id", "platform", "platform_account_id", "handle", "status",
        "last_updated_at", "token_expires_at",
    }  # fmt: skip
    assert json.loads(run(test_env, "account", "list", "--status", "synced", "--json").stdout) == []
    assert run(test_env, "account", "list", "--status", "sleeping").returncode == 2

    gone = run(test_env, "account", "disconnect", a)
    assert gone.returncode == 0, gone.stderr
    assert gone.stdout.splitlines()[0] == f"disconnected {a} (x, workspace {ws})"
    assert "stored credentials erased" in gone.stdout and "history kept" in gone.stdout
    twice = run(test_env, "account", "disconnect", a, "--purge-history")
    assert (
        twice.returncode == 0
        and "already disconnected" in twice.stdout
        and "0 snapshots deleted" in twice.stdout
    )
    assert run(test_env, "account", "disconnect", "acc_nope").returncode == 2
    remaining = json.loads(run(test_env, "account", "list", "--json").stdout)
    assert [row["account_id"] for row in remaining] == [b]
    [disconnected] = json.loads(run(test_env, "account", "list", "--status", "disconnected", "--json").stdout)
    assert disconnected["account_id"] == a and disconnected["status"] == "disconnected"

    key = run(test_env, "apikey", "create", "--workspace", ws, "--scope", "manage").stdout.strip()
    run(test_env, "apikey", "create", "--workspace", ws)
    run(test_env, "apikey", "revoke", key[:16])
    keys = json.loads(run(test_env, "apikey", "list", "--workspace", ws, "--json").stdout)
    assert (keys[0]["prefix"], keys[0]["scope"]) == (key[:16], "manage")
    assert keys[0]["revoked_at"] is not None and keys[1]["revoked_at"] is None and keys[1]["scope"] == "read"
    assert set(keys[0]) == {"prefix", "scope", "created_at", "last_used_at", "revoked_at"}
    shown = run(test_env, "apikey", "list", "--workspace", ws)
    assert key[:16] in shown.stdout and key not in shown.stdout and "manage" in shown.stdout
    assert run(test_env, "apikey", "list", "--workspace", "ws_missing").returncode == 2


def test_import_command(
    test_env: dict[str, str], session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    ws = run(test_env, "workspace", "create", "demo").stdout.strip()
    path = tmp_path / "accounts.jsonl"
    good = [
        {"platform": "tiktok", "platform_account_id": str(n), "access_token": f"{SECRET}{n}"}
        for n in range(3)
    ]
    bad = {
        "platform": "tiktok",
        "platform_account_id": "9",
        "access_token": SECRET,
        "token_expires_at": "soon",
    }
    path.write_text("\n".join(json.dumps(line) for line in [*good, bad]) + "\n")
    first = run(test_env, "account", "import", str(path), "--workspace", ws)
    assert first.returncode == 1  # a bad line
    assert first.stdout.strip() == "accounts.jsonl: 3 connected, 0 reconnected, 0 unchanged, 1 bad lines"
    assert "line 4: token_expires_at: must be an ISO 8601 time" in first.stderr
    assert "importing" in first.stderr and "4/4" in first.stderr  # the progress bar
    assert SECRET not in first.stdout + first.stderr
    path.write_text("\n".join(json.dumps(line) for line in good) + "\n")
    second = run(test_env, "account", "import", str(path), "--workspace", ws)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "accounts.jsonl: 0 connected, 0 reconnected, 3 unchanged, 0 bad lines"
    missing = run(test_env, "account", "import", str(tmp_path / "none.csv"))
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_import_keeps_lines_in_the_named_workspace_unless_asked(
    test_env: dict[str, str], session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    mine = run(test_env, "workspace", "create", "mine").stdout.strip()
    theirs = run(test_env, "workspace", "create", "theirs").stdout.strip()
    path = tmp_path / "spans.jsonl"
    line = {"workspace_id": theirs, "platform": "x", "platform_account_id": "1", "access_token": SECRET}
    path.write_text(json.dumps(line) + "\n")
    refused = run(test_env, "account", "import", str(path), "--workspace", mine)
    assert refused.returncode == 1
    assert "line 1: workspace_id: differs from --workspace" in refused.stderr
    asked = run(test_env, "account", "import", str(path), "--workspace", mine, "--line-workspaces")
    assert asked.returncode == 0, asked.stderr
    with session_factory() as session:
        assert [a.workspace_id for a in session.query(Account).all()] == [theirs]
