"""`account import FILE`: connect or reconnect many accounts from JSON Lines or CSV.

Each record has the fields of `account connect` (`ConnectFields`) plus `workspace_id` (or the
command's `--workspace`, which a line's `workspace_id` never overrides unless `--line-workspaces`
says so). The file is streamed, one batch in memory at a time; JSON Lines end at "\n" only, and
a line holding a NUL character is reported. Every line is judged on its own:

- validated first (a bad line is reported with its number, field and reason, never a value);
- then written so that a line the database refuses leaves nothing behind (its own savepoint, see
  `import_records`): never an account without its sync row, never half a reconnect;
- a line whose account is connected with exactly these credentials, handle and auth changes
  nothing ("unchanged"), so running an import twice adds and resets nothing.

Lines are committed in batches (one transaction per batch): 10,000 lines take seconds, not
10,000 commits (docs/benchmarks.md).
"""

from __future__ import annotations

import codecs
import csv
import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy import exc as sa_exc
from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session, sessionmaker

from models.admin import (
    AdminError,
    ConnectRequest,
    connect_account,
    connect_new_accounts,
    normalise_platform_account_id,
    resolve_auth,
)
from models.connect_input import ConnectFields, first_error, split_scopes
from models.crypto import CredentialsUnreadable, TokenCipher
from models.tables import Account, Workspace

Format = Literal["jsonl", "csv"]
Outcome = Literal["connected", "reconnected", "unchanged", "failed"]

BATCH_SIZE = 500
CSV_COLUMNS = ("workspace_id", *ConnectFields.model_fields)


class ImportFileError(Exception):
    """The file as a whole can't be read (missing, not UTF-8, a CSV header we don't know)."""


@dataclass(frozen=True)
class Record:
    line: int
    fields: dict[str, Any] | None
    problem: tuple[str, str] | None = None  # (field, reason) when the line can't even be parsed


@dataclass(frozen=True)
class LineResult:
    line: int
    outcome: Outcome
    account_id: str | None = None
    field: str | None = None
    reason: str | None = None


@dataclass
class ImportSummary:
    counts: dict[Outcome, int] = field(
        default_factory=lambda: {"connected": 0, "reconnected": 0, "unchanged": 0, "failed": 0}
    )
    failures: list[LineResult] = field(default_factory=list)

    def add(self, result: LineResult) -> None:
        self.counts[result.outcome] += 1
        if result.outcome == "failed":
            self.failures.append(result)


def detect_format(path: Path) -> Format:
    return "csv" if path.suffix.lower() == ".csv" else "jsonl"


NUL_REASON = "contains a NUL character"
_CHUNK = 1 << 20  # bytes read at a time: the file is streamed, never held whole


@dataclass(frozen=True)
class RecordFile:
    """An import file, checked and counted in one streaming pass; iterating it reads it again,
    line by line, yielding one `Record` per line (a CSV record per row)."""

    path: Path
    format: Format
    lines: int  # non-blank lines (less a CSV's header): the progress bar's estimate

    def __iter__(self) -> Iterator[Record]:
        if self.format == "csv":
            # newline="" as the csv module asks: a quoted cell may hold a line break.
            with self.path.open(encoding="utf-8-sig", newline="") as handle:
                yield from _csv_records(handle)
        else:
            # Lines end at "\n" only (a trailing "\r" is JSON whitespace): U+2028 and the other
            # separators str.splitlines() breaks at are text inside a JSON string.
            with self.path.open(encoding="utf-8-sig", newline="\n") as handle:
                yield from _jsonl_records(handle)


def read_records(path: Path, file_format: Format | None = None) -> RecordFile:
    """The file's records, read lazily; a missing file, bytes that are not UTF-8 or an unknown
    CSV header are refused here, before any line is imported."""
    chosen = file_format or detect_format(path)
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    lines, tail = 0, ""
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                *complete, tail = (tail + decoder.decode(chunk)).split("\n")
                lines += sum(1 for line in complete if line.strip())
            decoder.decode(b"", final=True)
        lines += 1 if tail.strip() else 0
    except FileNotFoundError:
        raise ImportFileError(f"no such file: {path}") from None
    except UnicodeDecodeError:
        raise ImportFileError(f"{path} is not UTF-8 text") from None
    except OSError as exc:
        raise ImportFileError(f"{path} can't be read ({type(exc).__name__})") from None
    if chosen == "csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            _csv_header(csv.DictReader(handle, strict=True))
        lines = max(lines - 1, 0)
    return RecordFile(path, chosen, lines)


def _jsonl_records(lines: Iterable[str]) -> Iterator[Record]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if "\x00" in line:
            yield Record(number, None, ("line", NUL_REASON))
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            # The position only: the decoder's message never quotes the line.
            yield Record(number, None, ("line", f"not valid JSON (column {exc.colno})"))
            continue
        if not isinstance(value, dict):
            yield Record(number, None, ("line", "not a JSON object"))
            continue
        yield Record(number, value)


def _csv_header(reader: csv.DictReader[str]) -> None:
    header = reader.fieldnames or []
    unknown = [name for name in header if name not in CSV_COLUMNS]
    if unknown or not header:
        raise ImportFileError(
            f"CSV header: unknown column(s) {', '.join(unknown) or '(none)'}; known: {', '.join(CSV_COLUMNS)}"
        )


def _csv_records(lines: Iterable[str]) -> Iterator[Record]:
    with_nul: set[int] = set()

    def numbered() -> Iterator[str]:
        for number, line in enumerate(lines, start=1):
            if "\x00" in line:
                with_nul.add(number)
            yield line

    reader = csv.DictReader(numbered(), strict=True)
    _csv_header(reader)
    last = 1  # the header's line
    try:
        for row in reader:
            # The line the record ends on (a quoted cell may span lines; blank lines are skipped).
            number, first = reader.line_num, last + 1
            last = number
            if any(first <= n <= number for n in with_nul):
                yield Record(number, None, ("line", NUL_REASON))
                continue
            if None in row:
                yield Record(number, None, ("line", "more cells than header columns"))
                continue
            cells = {k: v for k, v in row.items() if v not in (None, "")}
            if not cells:
                continue
            yield Record(number, cells)
    except csv.Error as exc:
        raise ImportFileError(f"CSV line {reader.line_num}: {exc}") from None


@dataclass(frozen=True)
class _Prepared:
    line: int
    request: ConnectRequest


def prepare(
    record: Record, default_workspace: str | None, *, line_workspaces: bool = False
) -> _Prepared | LineResult:
    """The connect request of a record, or its failure (field and reason, never a value).

    With `default_workspace` (`--workspace`), a line naming another workspace is refused unless
    `line_workspaces` (`--line-workspaces`) says the file's own workspaces are meant: a file
    someone else wrote must not put accounts into a workspace the operator did not name.
    """
    if record.fields is None:
        assert record.problem is not None
        return LineResult(record.line, "failed", field=record.problem[0], reason=record.problem[1])
    fields = dict(record.fields)
    if isinstance(fields.get("scopes"), str):  # a CSV cell, or a JSON line that wrote one string
        fields["scopes"] = split_scopes(fields["scopes"])
    named = fields.pop("workspace_id", None)
    if default_workspace and named and named != default_workspace and not line_workspaces:
        return LineResult(
            record.line,
            "failed",
            field="workspace_id",
            reason="differs from --workspace (give --line-workspaces to use the file's workspaces)",
        )
    workspace = (named if line_workspaces else None) or default_workspace or named
    if not isinstance(workspace, str) or not workspace.strip():
        return LineResult(
            record.line, "failed", field="workspace_id", reason="required (or give --workspace)"
        )
    try:
        validated = ConnectFields.model_validate(fields)
    except ValidationError as exc:
        name, reason = first_error(exc)
        return LineResult(record.line, "failed", field=name, reason=reason)
    return _Prepared(record.line, validated.request(workspace.strip()))


_Key = tuple[str, str, str]


def _key(request: ConnectRequest) -> _Key:
    return (
        request.workspace_id,
        request.platform,
        normalise_platform_account_id(request.platform, request.platform_account_id),
    )


@dataclass
class _Batch:
    """What one batch reads up front, in two statements instead of two per line."""

    workspaces: dict[str, Workspace]  # held here so the session's identity map keeps them
    existing: dict[_Key, Account]

    @classmethod
    def load(cls, session: Session, lines: list[_Prepared]) -> _Batch:
        names = {p.request.workspace_id for p in lines}
        workspaces = {w.id: w for w in session.scalars(select(Workspace).where(Workspace.id.in_(names)))}
        keys = {_key(p.request) for p in lines}
        columns = tuple_(Account.workspace_id, Account.platform, Account.platform_account_id)
        existing = {
            (a.workspace_id, a.platform, a.platform_account_id): a
            for a in (session.scalars(select(Account).where(columns.in_(keys))) if keys else [])
        }
        return cls(workspaces, existing)


def _unchanged(batch: _Batch, cipher: TokenCipher, request: ConnectRequest) -> str | None:
    """The account's id when it is connected with exactly these credentials, handle and auth."""
    account = batch.existing.get(_key(request))
    if account is None or account.disconnected_at is not None:
        return None
    if resolve_auth(request.platform, request.auth) != account.auth:
        return None
    if request.handle and request.handle != account.handle:
        return None
    try:
        stored = cipher.decrypt(account.credentials)
    except CredentialsUnreadable:
        return None  # a reconnect replaces what can't be read
    new = request.credentials
    same = (stored.access_token, stored.refresh_token, stored.expires_at, stored.scopes) == (
        new.access_token,
        new.refresh_token,
        new.expires_at,
        new.scopes,
    )
    return account.id if same else None


# What the database may refuse about one line; anything else (an outage) stops the import.
_LINE_REFUSALS = (sa_exc.IntegrityError, sa_exc.DataError)


class _Refused(Exception):
    """A line failed while its batch ran without savepoints: run the batch again, with them."""


def _write(session: Session, cipher: TokenCipher, batch: _Batch, prepared: _Prepared) -> LineResult:
    same = _unchanged(batch, cipher, prepared.request)
    if same is not None:
        return LineResult(prepared.line, "unchanged", account_id=same)
    outcome = connect_account(session, cipher, prepared.request)
    session.flush()
    return LineResult(
        prepared.line, "reconnected" if outcome.reconnected else "connected", account_id=outcome.account_id
    )


def _write_guarded(session: Session, cipher: TokenCipher, batch: _Batch, prepared: _Prepared) -> LineResult:
    """`_write` in a savepoint: a refused line is rolled back alone and reported."""
    try:
        with session.begin_nested():
            return _write(session, cipher, batch, prepared)
    except AdminError as exc:
        return LineResult(prepared.line, "failed", field="line", reason=str(exc))
    except _LINE_REFUSALS as exc:
        # The SQLSTATE's class only: PostgreSQL's message may quote the row.
        return LineResult(
            prepared.line,
            "failed",
            field="line",
            reason=f"refused by the database ({type(exc.orig).__name__})",
        )


def _run_batch(
    sessions: sessionmaker[Session], cipher: TokenCipher, lines: list[_Prepared], *, guarded: bool
) -> list[LineResult]:
    with sessions.begin() as session:
        batch = _Batch.load(session, lines)
        results: list[LineResult] = []
        fresh: list[_Prepared] = []  # first line of an account that doesn't exist yet
        rest: list[_Prepared] = []
        seen: set[_Key] = set()
        for prepared in lines:
            key = _key(prepared.request)
            if prepared.request.workspace_id not in batch.workspaces:
                results.append(
                    LineResult(prepared.line, "failed", field="workspace_id", reason="unknown workspace")
                )
            elif not guarded and key not in batch.existing and key not in seen:
                fresh.append(prepared)
            else:
                rest.append(prepared)
            seen.add(key)
        try:
            # New accounts in two statements; any refusal reruns the batch line by line.
            ids = connect_new_accounts(session, cipher, [p.request for p in fresh])
            session.flush()
            results += [
                LineResult(p.line, "connected", account_id=i) for p, i in zip(fresh, ids, strict=True)
            ]
            for prepared in rest:
                if guarded:
                    results.append(_write_guarded(session, cipher, batch, prepared))
                else:
                    results.append(_write(session, cipher, batch, prepared))
        except (AdminError, *_LINE_REFUSALS) as exc:
            if guarded:
                raise
            raise _Refused from exc
    return results


def import_records(
    sessions: sessionmaker[Session],
    cipher: TokenCipher,
    records: Iterable[Record],
    *,
    default_workspace: str | None = None,
    line_workspaces: bool = False,
    batch_size: int = BATCH_SIZE,
    on_result: Callable[[LineResult], None] | None = None,
) -> ImportSummary:
    """Import `records` in batches of `batch_size` lines, one transaction each.

    A batch first runs without savepoints: its new accounts in two statements
    (`connect_new_accounts`), the other lines through `connect_account`. If the database refuses
    any line, the whole batch is rolled back and runs again line by line through
    `connect_account`, each in a savepoint, so the refused line alone is left out. Results are
    reported once their batch is committed.
    """
    summary = ImportSummary()
    stream = iter(records)  # one batch of the file in memory at a time
    while batch := list(itertools.islice(stream, batch_size)):
        results: list[LineResult] = []
        lines: list[_Prepared] = []
        for record in batch:
            prepared = prepare(record, default_workspace, line_workspaces=line_workspaces)
            if isinstance(prepared, LineResult):
                results.append(prepared)
            else:
                lines.append(prepared)
        try:
            results += _run_batch(sessions, cipher, lines, guarded=False)
        except _Refused:
            results += _run_batch(sessions, cipher, lines, guarded=True)
        for result in sorted(results, key=lambda r: r.line):
            summary.add(result)
            if on_result is not None:
                on_result(result)
    return summary
