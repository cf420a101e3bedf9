"""`account import`: JSON Lines and CSV, streamed, idempotent, bad lines reported and leaving
nothing, `--workspace` never overridden by a line unless asked."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from models.admin import disconnect_account
from models.tables import Account, AccountSync
from ops.account_import import NUL_REASON, ImportFileError, import_records, read_records
from tests.support.accounts import CIPHER, new_workspace

SECRET = "EAAG-very-secret-token"


def _counts(sessions: sessionmaker[Session]) -> tuple[int, int]:
    with sessions() as session:
        return (
            session.scalar(select(func.count()).select_from(Account)) or 0,
            session.scalar(select(func.count()).select_from(AccountSync)) or 0,
        )


def _jsonl(path: Path, lines: Sequence[object]) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def test_jsonl_twice_adds_nothing(session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    ws = new_workspace(session_factory)
    lines = [
        {"workspace_id": ws, "platform": "x", "platform_account_id": str(n), "access_token": f"{SECRET}-{n}"}
        for n in range(7)
    ]
    path = _jsonl(tmp_path / "a.jsonl", lines)
    first = import_records(session_factory, CIPHER, read_records(path), batch_size=3)
    assert first.counts == {"connected": 7, "reconnected": 0, "unchanged": 0, "failed": 0}
    with session_factory.begin() as session:
        session.execute(
            text("UPDATE account_sync SET sync_status = 'synced', next_sync_at = now() + interval '1 hour'")
        )
    second = import_records(session_factory, CIPHER, read_records(path), batch_size=3)
    assert second.counts == {"connected": 0, "reconnected": 0, "unchanged": 7, "failed": 0}
    with session_factory() as session:
        # Unchanged really is unchanged: no reset to pending, no resync scheduled now.
        assert {s.sync_status for s in session.scalars(select(AccountSync))} == {"synced"}
    # New credentials for one line reconnect that one only.
    lines[2]["access_token"] = "rotated"
    changed = import_records(session_factory, CIPHER, read_records(_jsonl(path, lines)))
    assert changed.counts == {"connected": 0, "reconnected": 1, "unchanged": 6, "failed": 0}
    assert _counts(session_factory) == (7, 7)


def test_csv_with_a_header(session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    ws = new_workspace(session_factory)
    path = tmp_path / "accounts.csv"
    path.write_text(
        "platform,platform_account_id,access_token,refresh_token,token_expires_at,scopes,handle,auth\n"
        f'linkedin,2414183,{SECRET},r1,2027-01-01T00:00:00Z,"r_organization_social,rw_organization_admin",Dravo,\n'
        f"instagram,1784,{SECRET}2,,,instagram_basic,dravo,facebook\n"
        "\n"
        f"tiktok,,{SECRET}3,,,,,\n"
    )
    summary = import_records(session_factory, CIPHER, read_records(path), default_workspace=ws)
    assert summary.counts["connected"] == 2
    [bad] = summary.failures
    assert (bad.line, bad.field) == (5, "platform_account_id")
    with session_factory() as session:
        linkedin = session.scalars(select(Account).where(Account.platform == "linkedin")).one()
        assert linkedin.platform_account_id == "urn:li:organization:2414183"
        credentials = CIPHER.decrypt(linkedin.credentials)
        assert credentials.scopes == ("r_organization_social", "rw_organization_admin")
        assert credentials.refresh_token == "r1" and linkedin.handle == "Dravo"
        instagram = session.scalars(select(Account).where(Account.platform == "instagram")).one()
        assert instagram.auth == "facebook"


def test_bad_lines_are_reported_by_number_never_with_the_token(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    ws = new_workspace(session_factory)
    good = {"platform": "x", "platform_account_id": "1", "access_token": SECRET}
    path = _jsonl(
        tmp_path / "mixed.jsonl",
        [
            good,
            {**good, "platform": "myspace", "platform_account_id": "2"},
            f"not json {SECRET}",
            "[1, 2]",
            {**good, "platform_account_id": "3", "token_expires_at": SECRET},
            {**good, "platform_account_id": "4", "workspace_id": "ws_missing"},
            {**good, "platform_account_id": "5", "access_token": SECRET + "\u0000"},
            {**good, "platform_account_id": "6", "extra": SECRET},
            {**good, "platform_account_id": "7", "handle": "\ud800"},
            {**good, "platform_account_id": "8"},
        ],
    )
    summary = import_records(session_factory, CIPHER, read_records(path), default_workspace=ws)
    assert summary.counts["connected"] == 2
    assert [(f.line, f.field) for f in summary.failures] == [
        (2, "platform"),
        (3, "line"),
        (4, "line"),
        (5, "token_expires_at"),
        (6, "workspace_id"),
        (7, "access_token"),
        (8, "extra"),
        (9, "handle"),
    ]
    assert all(SECRET not in f"{f.field} {f.reason}" for f in summary.failures)
    assert _counts(session_factory) == (2, 2)


@pytest.fixture
def refusing_trigger(engine: Engine) -> Iterator[None]:
    """A real refusal after the account row is written: the sync row's INSERT fails for one
    handle, the way any constraint or trigger of the database could."""
    with engine.begin() as conn:
        conn.execute(
            text(
                """
                CREATE FUNCTION refuse_sync_row() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF (SELECT handle FROM accounts WHERE id = NEW.account_id) = 'refuse-me' THEN
                    RAISE EXCEPTION 'refused' USING ERRCODE = 'check_violation';
                  END IF;
                  RETURN NEW;
                END $$;
                CREATE TRIGGER refuse_sync_row BEFORE INSERT ON account_sync
                  FOR EACH ROW EXECUTE FUNCTION refuse_sync_row();
                """
            )
        )
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(
                text("DROP TRIGGER refuse_sync_row ON account_sync; DROP FUNCTION refuse_sync_row()")
            )


def test_a_refused_line_leaves_no_half_account(
    session_factory: sessionmaker[Session], tmp_path: Path, refusing_trigger: None
) -> None:
    ws = new_workspace(session_factory)
    lines = [
        {"platform": "tiktok", "platform_account_id": str(n), "access_token": SECRET, "handle": f"h{n}"}
        for n in range(6)
    ]
    lines[3]["handle"] = "refuse-me"
    summary = import_records(
        session_factory,
        CIPHER,
        read_records(_jsonl(tmp_path / "r.jsonl", lines)),
        default_workspace=ws,
        batch_size=4,
    )
    assert summary.counts == {"connected": 5, "reconnected": 0, "unchanged": 0, "failed": 1}
    [failure] = summary.failures
    assert failure.line == 4 and "refused by the database" in (failure.reason or "")
    with session_factory() as session:
        handles = set(session.scalars(select(Account.handle)))
    assert handles == {"h0", "h1", "h2", "h4", "h5"}  # no account row without its sync row
    assert _counts(session_factory) == (5, 5)


def test_import_reconnects_a_disconnected_account(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    ws = new_workspace(session_factory)
    path = _jsonl(
        tmp_path / "one.jsonl", [{"platform": "x", "platform_account_id": "9", "access_token": SECRET}]
    )
    import_records(session_factory, CIPHER, read_records(path), default_workspace=ws)
    with session_factory.begin() as session:
        account_id = session.scalars(select(Account.id)).one()
        disconnect_account(session, account_id)
    again = import_records(session_factory, CIPHER, read_records(path), default_workspace=ws)
    assert again.counts["reconnected"] == 1
    with session_factory() as session:
        assert session.get_one(Account, account_id).disconnected_at is None


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="no such file"):
        read_records(tmp_path / "missing.jsonl")
    (tmp_path / "bin.jsonl").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ImportFileError, match="not UTF-8"):
        read_records(tmp_path / "bin.jsonl")
    (tmp_path / "bad.csv").write_text("platform,password\nx,1\n")
    with pytest.raises(ImportFileError, match="unknown column"):
        read_records(tmp_path / "bad.csv")


def test_jsonl_lines_end_at_newline_only(session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    """U+2028, U+2029 and the other separators str.splitlines() breaks at are text in a JSON string."""
    ws = new_workspace(session_factory)
    lines = [
        {"platform": "x", "platform_account_id": "1", "access_token": SECRET, "handle": "one\u2028two"},
        {"platform": "x", "platform_account_id": "2", "access_token": SECRET, "handle": "a\u2029b"},
        {"platform": "x", "platform_account_id": "3", "access_token": SECRET, "token_expires_at": "soon"},
    ]
    path = tmp_path / "seps.jsonl"
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\r\n" for line in lines), newline="")
    summary = import_records(session_factory, CIPHER, read_records(path), default_workspace=ws)
    assert summary.counts["connected"] == 2
    assert [(f.line, f.field) for f in summary.failures] == [(3, "token_expires_at")]
    with session_factory() as session:
        assert set(session.scalars(select(Account.handle))) == {"one\u2028two", "a\u2029b"}


def test_a_nul_character_fails_its_line_only(session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    ws = new_workspace(session_factory)
    good = '{"platform": "x", "platform_account_id": "%s", "access_token": "%s"}'
    jsonl = tmp_path / "nul.jsonl"
    jsonl.write_text("\n".join([good % (1, SECRET), good % (2, SECRET + "\x00"), good % (3, SECRET)]) + "\n")
    summary = import_records(session_factory, CIPHER, read_records(jsonl), default_workspace=ws)
    assert summary.counts["connected"] == 2
    assert [(f.line, f.field, f.reason) for f in summary.failures] == [(2, "line", NUL_REASON)]
    csv_path = tmp_path / "nul.csv"
    csv_path.write_text(
        f"platform,platform_account_id,access_token,handle\nx,4,{SECRET},a\n"
        f'x,5,{SECRET},"two\nli\x00nes"\nx,6,{SECRET},b\n'
    )
    summary = import_records(session_factory, CIPHER, read_records(csv_path), default_workspace=ws)
    assert summary.counts["connected"] == 2
    assert [(f.line, f.field, f.reason) for f in summary.failures] == [(4, "line", NUL_REASON)]


def test_the_file_is_streamed_not_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    line = json.dumps(
        {"platform": "x", "platform_account_id": "1", "access_token": SECRET, "handle": "h" * 400}
    )
    with path.open("w") as handle:
        for _ in range(40_000):  # about 20 MB
            handle.write(line + "\n")
    tracemalloc.start()
    try:
        records = read_records(path)
        assert records.lines == 40_000
        assert sum(1 for _ in records) == 40_000
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024, peak  # a chunk and a line at a time, never the 20 MB


def test_a_lines_workspace_never_overrides_the_named_one_unless_asked(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    mine, theirs = new_workspace(session_factory, "mine"), new_workspace(session_factory, "theirs")
    path = _jsonl(
        tmp_path / "ws.jsonl",
        [
            {"platform": "x", "platform_account_id": "1", "access_token": SECRET},
            {"workspace_id": mine, "platform": "x", "platform_account_id": "2", "access_token": SECRET},
            {"workspace_id": theirs, "platform": "x", "platform_account_id": "3", "access_token": SECRET},
        ],
    )
    summary = import_records(session_factory, CIPHER, read_records(path), default_workspace=mine)
    assert summary.counts["connected"] == 2
    assert [(f.line, f.field) for f in summary.failures] == [(3, "workspace_id")]
    asked = import_records(
        session_factory, CIPHER, read_records(path), default_workspace=mine, line_workspaces=True
    )
    assert asked.counts == {"connected": 1, "reconnected": 0, "unchanged": 2, "failed": 0}
    with session_factory() as session:
        rows = session.execute(select(Account.platform_account_id, Account.workspace_id))
        placed = {account: workspace for account, workspace in rows}
    assert placed == {"1": mine, "2": mine, "3": theirs}
