"""Tokens, account ids and handles a platform request can't carry are refused at every way in:
the management API (over HTTP), `account connect` (the CLI's runner) and `account import`, by
the one set of rules in `adapters.input_rules`; the refusal names the field, never the value."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models.admin import create_api_key, create_workspace
from models.tables import Account
from ops.account_import import import_records, read_records
from tests.integration.api.conftest import bearer, client, make_settings  # noqa: F401 (fixtures)
from tests.integration.lifecycle.test_cli import run
from tests.support.accounts import CIPHER, new_workspace

SECRET = "act.tenant-secret-XYZ"
# (field, value, platform): each refused, whatever the other fields hold.
BAD = [
    ("access_token", f"{SECRET}\nX-Injected: 1", "tiktok"),  # a header split: a "platform outage"
    ("access_token", f"{SECRET}\u00e9", "tiktok"),  # non-ASCII: httpx can't encode it
    ("access_token", f"{SECRET} two", "x"),
    ("access_token", f"{SECRET}\x1b[2J", "x"),
    ("refresh_token", f"{SECRET}\r\nX: 1", "tiktok"),
    ("handle", "dravo\u202egnp.exe", "x"),  # a bidi override
    ("handle", "dravo\x1b]0;owned\x07", "x"),  # ESC: a terminal title rewrite
    ("handle", "dra\u200bvo", "x"),  # zero-width space (Cf)
    ("platform_account_id", "123/../../me", "facebook"),  # Graph ids are numeric
    ("platform_account_id", "1784abc", "instagram"),
]
GOOD_TOKENS = ["act.1a2B3c!4321.va", "AAAA%2BuSe%3DEU", "EAAG-abc_def.ghi~jkl+/=="]


def _body(field: str, value: str, platform: str) -> dict[str, str]:
    body = {"platform": platform, "platform_account_id": "17841400000000001", "access_token": SECRET}
    body[field] = value
    return body


def _accounts(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Account)) or 0


@pytest.fixture
def manage_key(session_factory: sessionmaker[Session]) -> dict[str, str]:
    with session_factory.begin() as session:
        workspace = create_workspace(session, "tenant")
        return bearer(create_api_key(session, workspace, "manage").key)


@pytest.mark.parametrize(("field", "value", "platform"), BAD)
def test_api_refuses_with_a_422_naming_the_field(
    client: httpx.Client,  # noqa: F811
    manage_key: dict[str, str],
    session_factory: sessionmaker[Session],
    field: str,
    value: str,
    platform: str,
) -> None:
    response = client.post("/v1/accounts", json=_body(field, value, platform), headers=manage_key)
    assert response.status_code == 422, response.text
    assert field in response.text
    assert SECRET not in response.text and "owned" not in response.text and "../" not in response.text
    assert _accounts(session_factory) == 0


def test_api_takes_tokens_of_every_visible_ascii_character(
    client: httpx.Client,  # noqa: F811
    manage_key: dict[str, str],
) -> None:
    for n, token in enumerate(GOOD_TOKENS):
        body = {"platform": "tiktok", "platform_account_id": f"open-{n}", "access_token": token}
        assert client.post("/v1/accounts", json=body, headers=manage_key).status_code == 201


@pytest.mark.parametrize(("field", "value", "platform"), BAD)
def test_cli_connect_refuses_naming_the_option(
    test_env: dict[str, str],
    session_factory: sessionmaker[Session],
    field: str,
    value: str,
    platform: str,
) -> None:
    workspace = new_workspace(session_factory)
    body = _body(field, value, platform)
    env = {**test_env, "ACCESS": body["access_token"], "REFRESH": body.get("refresh_token", SECRET)}
    args = [
        "account", "connect", "--workspace", workspace, "--platform", platform,
        "--platform-account-id", body["platform_account_id"],
        "--access-token-env", "ACCESS", "--refresh-token-env", "REFRESH",
    ]  # fmt: skip
    if "handle" in body:
        args += ["--handle", body["handle"]]
    result = run(env, *args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"error: --{field.replace('_', '-')}: ")
    assert SECRET not in result.stderr and "owned" not in result.stderr
    assert _accounts(session_factory) == 0


@pytest.mark.parametrize(("field", "value", "platform"), BAD)
def test_import_reports_the_line_and_field(
    session_factory: sessionmaker[Session], tmp_path: Path, field: str, value: str, platform: str
) -> None:
    workspace = new_workspace(session_factory)
    good = {"platform": "x", "platform_account_id": "7", "access_token": SECRET}
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(_body(field, value, platform)) + "\n")
    summary = import_records(session_factory, CIPHER, read_records(path), default_workspace=workspace)
    assert summary.counts["connected"] == 1
    [bad] = summary.failures
    assert (bad.line, bad.field) == (2, field)
    assert SECRET not in (bad.reason or "")
    assert _accounts(session_factory) == 1
