"""`dravo-sync webhook ...` as an operator runs it: a subprocess per command."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks.webhooks import Webhook

from models.admin import create_workspace
from models.webhooks import WebhookEndpoint
from tests.integration.foundation.test_cli import run


def test_create_list_deliveries_delete(
    test_env: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        workspace = create_workspace(session, "hooks")
    env = {**test_env, "DRAVO_WEBHOOK_ALLOW_LOOPBACK_HTTP": "true"}

    created = run(
        env, "webhook", "create", "--workspace", workspace, "--url", "http://127.0.0.1:9/in", "--events",
        "account.status_changed,account.disconnected",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    endpoint_id, secret = created.stdout.split()
    assert endpoint_id.startswith("whe_") and secret.startswith("whsec_")
    Webhook(secret)  # a secret the reference library accepts
    with session_factory() as session:
        stored = session.get(WebhookEndpoint, endpoint_id)
        assert stored is not None and secret.encode() not in bytes(stored.secret)  # encrypted

    listed = run(env, "webhook", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert row["id"] == endpoint_id and row["enabled"] and row["pending"] == 0
    assert row["events"] == ["account.status_changed", "account.disconnected"]
    assert secret not in listed.stdout
    table = run(env, "webhook", "list")
    assert table.returncode == 0 and endpoint_id in table.stdout and "enabled" in table.stdout

    deliveries = run(env, "webhook", "deliveries", "--endpoint", endpoint_id, "--json")
    assert deliveries.returncode == 0, deliveries.stderr
    assert json.loads(deliveries.stdout) == []

    assert run(env, "webhook", "delete", endpoint_id).returncode == 0
    missing = run(env, "webhook", "delete", endpoint_id)
    assert missing.returncode == 2 and "unknown webhook endpoint" in missing.stderr


def test_refused_targets_are_one_line_errors(
    test_env: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        workspace = create_workspace(session, "hooks")
    for url, why in [
        ("http://hooks.example.com/in", "must be https"),
        ("https://127.0.0.1/in", "public addresses only"),
        ("https://169.254.169.254/latest/meta-data", "public addresses only"),
        ("https://10.0.0.7/in", "public addresses only"),
    ]:
        refused = run(test_env, "webhook", "create", "--workspace", workspace, "--url", url)
        assert refused.returncode == 2, (url, refused.stdout)
        assert why in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    bad_event = run(
        test_env,
        "webhook",
        "create",
        "--workspace",
        workspace,
        "--url",
        "https://93.184.215.14/",
        "--events",
        "x",
    )
    assert bad_event.returncode == 2 and "unknown event type" in bad_event.stderr


def test_the_endpoint_cap_is_a_one_line_error_and_an_open_breaker_is_listed(
    test_env: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        workspace = create_workspace(session, "capped")
    env = {
        **test_env,
        "DRAVO_WEBHOOK_ALLOW_LOOPBACK_HTTP": "true",
        "DRAVO_WEBHOOK_MAX_ENDPOINTS_PER_WORKSPACE": "1",
    }
    create = ("webhook", "create", "--workspace", workspace, "--url", "http://127.0.0.1:9/in")
    first = run(env, *create)
    assert first.returncode == 0, first.stderr
    endpoint_id = first.stdout.split()[0]
    second = run(env, *create)
    assert second.returncode == 2 and len(second.stderr.strip().splitlines()) == 1
    assert "already has 1 webhook endpoints" in second.stderr
    assert "DRAVO_WEBHOOK_MAX_ENDPOINTS_PER_WORKSPACE" in second.stderr

    with session_factory.begin() as session:
        stored = session.get_one(WebhookEndpoint, endpoint_id)
        stored.attempts_failed_in_row = 5
        stored.breaker_open_until = datetime(2030, 1, 1, tzinfo=UTC)
    [row] = json.loads(run(env, "webhook", "list", "--json").stdout)
    assert row["attempts_failed_in_row"] == 5 and row["breaker_open_until"] == "2030-01-01T00:00:00Z"
    table = run(env, "webhook", "list").stdout
    assert "breaker open until 2030-01-01T00:00:00Z" in table and "5 attempts failed" in table
