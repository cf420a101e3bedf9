"""Account lifecycle verbs: `account list|disconnect|import` and `apikey list`. Never a token."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from models.admin import (
    AdminError,
    DisconnectOutcome,
    disconnect_account,
)
from models.crypto import TokenCipher
from models.db import make_session_factory
from models.listings import ACCOUNT_LIST_STATUSES, list_accounts, list_api_keys
from models.read_models import format_time
from models.tables import PLATFORM_VALUES
from ops.account_import import Format, ImportFileError, LineResult, import_records, read_records
from ops.cli.admin import account_app, apikey_app
from ops.cli.command import engine, fail, settings, transaction
from ops.cli.display import Column, console, fitted_table, plain


def _time(value: datetime | None) -> str | None:
    return format_time(value)


def _short(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _time(v) if isinstance(v, datetime) else v for k, v in data.items()}


@account_app.command("list")
def account_list(
    workspace: Annotated[
        str | None, typer.Option("--workspace", help="Only this workspace (ws_...).")
    ] = None,
    platform: Annotated[str | None, typer.Option("--platform", help=" | ".join(PLATFORM_VALUES))] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status", help=" | ".join(ACCOUNT_LIST_STATUSES) + " (disconnected ones only on request)"
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON, for scripts.")] = False,
) -> None:
    """List accounts: id, platform, handle, status, last updated, token expiry (never a token)."""
    if platform is not None and platform not in PLATFORM_VALUES:
        raise fail(f"unknown platform {platform!r} (one of {', '.join(PLATFORM_VALUES)})")
    if status is not None and status not in ACCOUNT_LIST_STATUSES:
        raise fail(f"unknown status {status!r} (one of {', '.join(ACCOUNT_LIST_STATUSES)})")
    with transaction() as session:
        rows = list_accounts(session, workspace_id=workspace, platform=platform, status=status)
    if as_json:
        typer.echo(json.dumps([_jsonable(asdict(row)) for row in rows], indent=2))
        return
    out = console()
    columns = [
        Column("id"),
        Column("workspace", drop=1),
        Column("platform", drop=4),
        Column("handle", drop=5),
        Column("status"),
        Column("last updated", drop=3),
        Column("token expires", drop=2),
    ]
    cells = [
        (
            plain(row.account_id),
            plain(row.workspace_id),
            plain(row.platform),
            plain(row.handle),
            plain(row.status),
            _short(row.last_updated_at) or "never",
            _short(row.token_expires_at) or "",
        )
        for row in rows
    ]
    out.print(fitted_table(out, f"{len(rows)} account{'s' if len(rows) != 1 else ''}", columns, cells))


def _describe(outcome: DisconnectOutcome, purge_history: bool) -> str:
    if outcome.already_disconnected:
        lines = [f"{outcome.account_id} was already disconnected (at {_time(outcome.disconnected_at)})"]
    else:
        lines = [
            f"disconnected {outcome.account_id} ({outcome.platform}, workspace {outcome.workspace_id})",
            "  syncing stopped"
            + (": the sync in flight was revoked and will write nothing" if outcome.sync_in_flight else ""),
            "  stored credentials erased",
            "  hidden from the API",
        ]
    if purge_history:
        lines.append(f"  {outcome.snapshots_deleted} snapshots deleted")
    elif not outcome.already_disconnected:
        lines.append("  history kept (--purge-history deletes it)")
    return "\n".join(lines)


@account_app.command("disconnect")
def account_disconnect(
    account_id: Annotated[str, typer.Argument(help="The account's id (acc_...).")],
    purge_history: Annotated[
        bool, typer.Option("--purge-history", help="Also delete the account's metric snapshots.")
    ] = False,
) -> None:
    """Disconnect an account: syncing stops at once (a sync in flight writes nothing), its
    credentials are erased and it disappears from the API. Running it twice is not an error;
    `account connect` (or import) brings it back."""
    with transaction() as session:
        outcome = disconnect_account(session, account_id, purge_history=purge_history)
    if outcome is None:
        raise fail(f"unknown account {account_id!r}")
    typer.echo(_describe(outcome, purge_history))


@account_app.command("import")
def account_import(
    file: Annotated[Path, typer.Argument(help="JSON Lines (one object per line) or CSV with a header row.")],
    workspace: Annotated[
        str | None,
        typer.Option(
            "--workspace",
            help="Workspace of the accounts (ws_...); a line naming another one is refused.",
        ),
    ] = None,
    line_workspaces: Annotated[
        bool,
        typer.Option(
            "--line-workspaces",
            help="A line's workspace_id wins over --workspace (for files that span workspaces).",
        ),
    ] = False,
    file_format: Annotated[
        str | None, typer.Option("--format", help="jsonl | csv (default: csv for *.csv, else jsonl).")
    ] = None,
) -> None:
    """Connect or reconnect many accounts, with the fields of `account connect` plus workspace_id.

    Idempotent: a line whose account already has exactly these credentials changes nothing. Each
    bad line is reported with its number and reason (never the token) and leaves nothing behind;
    the good lines are imported. Exit status 1 when any line was bad.
    """
    if file_format not in (None, "jsonl", "csv"):
        raise fail(f"--format: {file_format!r} is not jsonl or csv")
    chosen: Format | None = "csv" if file_format == "csv" else "jsonl" if file_format == "jsonl" else None
    try:
        records = read_records(file, chosen)
    except ImportFileError as exc:
        raise fail(str(exc)) from None
    cipher = TokenCipher(settings().encryption_keys)
    progress_console = Console(stderr=True)
    db = engine()
    try:
        with Progress(
            TextColumn("importing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=progress_console,
            transient=False,
        ) as progress:
            task = progress.add_task("import", total=records.lines)

            def report(result: LineResult) -> None:
                progress.advance(task)
                if result.outcome == "failed":
                    progress.console.print(
                        f"line {result.line}: {result.field}: {result.reason}", markup=False, highlight=False
                    )

            summary = import_records(
                make_session_factory(db),
                cipher,
                records,
                default_workspace=workspace,
                line_workspaces=line_workspaces,
                on_result=report,
            )
            progress.update(task, total=sum(summary.counts.values()))
    except (AdminError, ImportFileError) as exc:
        # A file error met while streaming: the batches before it are imported.
        raise fail(str(exc)) from None
    finally:
        db.dispose()
    counts = summary.counts
    typer.echo(
        f"{file.name}: {counts['connected']} connected, {counts['reconnected']} reconnected, "
        f"{counts['unchanged']} unchanged, {counts['failed']} bad lines"
    )
    if counts["failed"]:
        raise typer.Exit(1)


@apikey_app.command("list")
def apikey_list(
    workspace: Annotated[str, typer.Option("--workspace", help="Workspace id (ws_...).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON, for scripts.")] = False,
) -> None:
    """The workspace's keys: prefix, scope, created, last used, revoked (never the key)."""
    with transaction() as session:
        try:
            keys = list_api_keys(session, workspace)
        except AdminError as exc:
            raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps([_jsonable(asdict(key)) for key in keys], indent=2))
        return
    out = console()
    columns = [
        Column("prefix"),
        Column("scope", drop=3),
        Column("created", drop=1),
        Column("last used", drop=2),
        Column("revoked"),
    ]
    cells = [
        (
            plain(key.prefix),
            key.scope,
            _short(key.created_at) or "",
            _short(key.last_used_at) or "never",
            _short(key.revoked_at) or "",
        )
        for key in keys
    ]
    out.print(fitted_table(out, f"API keys of {plain(workspace)}", columns, cells))
