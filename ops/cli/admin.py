"""Operator verbs: db, workspace, apikey, account, keys."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from cryptography.fernet import Fernet

from adapters.base import Credentials
from adapters.input_rules import connection_problem
from models import migrate
from models.admin import (
    AdminError,
    ConnectRequest,
    connect_account,
    create_api_key,
    create_workspace,
    revoke_api_key,
    rotate_credentials,
)
from models.crypto import CredentialsUnreadable, TokenCipher
from models.tables import PLATFORM_VALUES
from models.webhook_admin import rotate_secrets
from ops.cli.command import app, database_errors, fail, role_urls, settings, transaction
from ops.cli.secrets import StdinTokens, secret_option

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
workspace_app = typer.Typer(
    help="Workspaces: the unit of isolation of accounts and keys.", no_args_is_help=True
)
apikey_app = typer.Typer(help="API keys for GET /v1/analytics/accounts.", no_args_is_help=True)
account_app = typer.Typer(help="Connected social accounts.", no_args_is_help=True)
keys_app = typer.Typer(help="The encryption keys of stored platform tokens.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(workspace_app, name="workspace")
app.add_typer(apikey_app, name="apikey")
app.add_typer(account_app, name="account")
app.add_typer(keys_app, name="keys")


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply migrations (Alembic is the only source of the schema)."""
    with database_errors():
        migrate.upgrade(settings().database_url, revision, roles=role_urls(settings()))


@workspace_app.command("create")
def workspace_create(name: Annotated[str, typer.Argument(help="A name for people to read.")]) -> None:
    """Create a workspace; print its id alone on stdout."""
    with transaction() as session:
        try:
            workspace_id = create_workspace(session, name)
        except AdminError as exc:
            raise fail(str(exc)) from None
    typer.echo(workspace_id)


@apikey_app.command("create")
def apikey_create(
    workspace: Annotated[str, typer.Option("--workspace", help="Workspace id (ws_...).")],
    scope: Annotated[
        str,
        typer.Option(
            "--scope",
            help="'read' (analytics only, the default) or 'manage' (also connects and disconnects "
            "accounts through /v1/accounts).",
        ),
    ] = "read",
) -> None:
    """Create an API key; print it alone on stdout. It is shown this once: only its hash is kept."""
    with transaction() as session:
        try:
            new_key = create_api_key(session, workspace, scope)
        except AdminError as exc:
            raise fail(str(exc)) from None
    typer.echo(new_key.key)


@apikey_app.command("revoke")
def apikey_revoke(
    prefix: Annotated[str, typer.Argument(help="The key, or its first 16 characters (dra_ + 12).")],
) -> None:
    """Revoke an API key: requests with it get 401 from now on."""
    with transaction() as session:
        try:
            revoke_api_key(session, prefix[:16])
        except AdminError as exc:
            raise fail(str(exc)) from None


def _parse_time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise fail(f"{option}: {value!r} is not an ISO 8601 time (e.g. 2026-12-01T00:00:00Z)") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@account_app.command("connect")
def account_connect(
    workspace: Annotated[str, typer.Option("--workspace", help="Workspace id (ws_...).")],
    platform: Annotated[str, typer.Option("--platform", help=" | ".join(PLATFORM_VALUES))],
    platform_account_id: Annotated[
        str,
        typer.Option(
            "--platform-account-id",
            help="The account's id on the platform (LinkedIn: urn:li:organization:ID or its number).",
        ),
    ],
    access_token: Annotated[
        str | None,
        typer.Option(
            "--access-token",
            help="Platform access token. '-' reads it from standard input (recommended); a token "
            "written here is visible to other users of the machine and draws a warning.",
        ),
    ] = None,
    access_token_env: Annotated[
        str | None,
        typer.Option("--access-token-env", help="Read the access token from this environment variable."),
    ] = None,
    refresh_token: Annotated[
        str | None,
        typer.Option(
            "--refresh-token",
            help="Refresh token; '-' reads it from standard input (after the access token, if that is '-' too).",
        ),
    ] = None,
    refresh_token_env: Annotated[
        str | None,
        typer.Option("--refresh-token-env", help="Read the refresh token from this environment variable."),
    ] = None,
    token_expires_at: Annotated[
        str | None, typer.Option("--token-expires-at", help="Access token expiry, ISO 8601.")
    ] = None,
    scopes: Annotated[str | None, typer.Option("--scopes", help="Granted scopes, comma-separated.")] = None,
    handle: Annotated[
        str | None, typer.Option("--handle", help="Handle to show until the first sync.")
    ] = None,
    auth: Annotated[
        str | None,
        typer.Option("--auth", help="Instagram only: 'instagram' (Instagram Login, default) or 'facebook'."),
    ] = None,
) -> None:
    """Connect an account, or reconnect it with new credentials; print its id (acc_...).

    Give tokens as `--access-token -` (standard input, one per line) or `--access-token-env NAME`,
    not on the command line, where `ps` and shell history show them.
    """
    if platform not in PLATFORM_VALUES:
        raise fail(f"unknown platform {platform!r} (one of {', '.join(PLATFORM_VALUES)})")
    stdin = StdinTokens()
    access = secret_option(access_token, access_token_env, "--access-token", stdin)
    if access is None:
        raise fail("give the access token: --access-token - (standard input) or --access-token-env NAME")
    if not access.strip():
        raise fail("--access-token must not be empty")
    refresh = secret_option(refresh_token, refresh_token_env, "--refresh-token", stdin)
    # The rules of every way in (adapters.input_rules); the reason names the option, never the value.
    refused = connection_problem(
        platform, platform_account_id, access, refresh if refresh and refresh.strip() else None, handle
    )
    if refused is not None:
        raise fail(f"--{refused[0].replace('_', '-')}: {refused[1]}")
    credentials = Credentials(
        access_token=access.strip(),
        refresh_token=refresh.strip() if refresh and refresh.strip() else None,
        expires_at=_parse_time(token_expires_at, "--token-expires-at"),
        scopes=tuple(s.strip() for s in (scopes or "").split(",") if s.strip()),
    )
    request = ConnectRequest(
        workspace_id=workspace,
        platform=platform,
        platform_account_id=platform_account_id,
        credentials=credentials,
        handle=handle,
        auth=auth,
    )
    cipher = TokenCipher(settings().encryption_keys)
    with transaction() as session:
        try:
            outcome = connect_account(session, cipher, request)
        except AdminError as exc:
            raise fail(str(exc)) from None
    typer.echo(outcome.account_id)
    stdin.warn()


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every stored token with the first key of DRAVO_ENCRYPTION_KEY."""
    cipher = TokenCipher(settings().encryption_keys)
    with transaction() as session:
        try:
            count = rotate_credentials(session, cipher)
            secrets = rotate_secrets(session, cipher)
        except CredentialsUnreadable as exc:
            raise fail(str(exc)) from None
    typer.echo(f"re-encrypted {count} accounts and {secrets} webhook secrets", err=True)


@app.command("keygen")
def keygen() -> None:
    """Print a new encryption key for DRAVO_ENCRYPTION_KEY."""
    typer.echo(Fernet.generate_key().decode())
