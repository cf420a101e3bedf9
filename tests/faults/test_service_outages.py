"""Redis stopped for 20 s, then Postgres restarted, under a running worker, beat and API: all
three recover by themselves (same processes), the API answers 503 where it depends on the missing
service and 200 after, and no row is lost.

Both services are private to the test (a redis-server and an initdb cluster on free ports): the
shared ones must never be stopped.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from models import migrate
from models.db import make_engine, make_session_factory
from ops.testing.processes import ManagedProcess, RedisServer, wait_until
from simulator.client import SimulatorClient
from tests.e2e.api.conftest import start_api
from tests.faults.support import PLATFORMS, CredentialScan, Seeded, scrape, seed, snapshot_counts, sync_rows
from tests.integration.api import seeding
from tests.support.fixtures import Processes
from tests.support.postgres import PostgresCluster

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

REDIS_OUTAGE_SECONDS = 20
POSTGRES_OUTAGE_SECONDS = 10


METRICS_TOKEN = "metrics-token-for-the-outage-test"


def _status(client: httpx.Client, path: str, params: dict[str, str] | None = None) -> int:
    try:
        return client.get(path, params=params).status_code
    except httpx.HTTPError as exc:  # the API itself must never stop answering
        return -1 if isinstance(exc, httpx.TimeoutException) else -2


def _watch(
    client: httpx.Client, seconds: float, checks: dict[str, tuple[str, dict[str, str]]]
) -> dict[str, Counter[int]]:
    """Call each endpoint about once a second for `seconds`; status codes seen per check."""
    seen: dict[str, Counter[int]] = {name: Counter() for name in checks}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for name, (path, params) in checks.items():
            seen[name][_status(client, path, params)] += 1
        time.sleep(0.5)
    return seen


@pytest.mark.timeout(600)
def test_redis_and_postgres_outages(
    faults_env: dict[str, str],
    processes: Processes,
    simulator: SimulatorClient,
    private_redis: RedisServer,
    private_postgres: PostgresCluster,
    credential_scan: CredentialScan,
    log_dir: Path,
) -> None:
    database_url = private_postgres.create_database("dravo")
    migrate.upgrade(database_url)
    engine = make_engine(database_url)
    sessions: sessionmaker[Session] = make_session_factory(engine)
    ws = seeding.workspace(sessions)
    faults_env.update(
        DATABASE_URL=database_url,
        DRAVO_JWT_SECRET=seeding.JWT_SECRET,
        DRAVO_REFRESH_WAIT_SECONDS="3",
        DRAVO_REFRESH_MIN_INTERVAL_SECONDS="0",
        # Every refresh here names all accounts; the per-workspace cap is not under test.
        DRAVO_REFRESH_ACCOUNTS_PER_MINUTE="100000",
        DRAVO_METRICS_TOKEN=METRICS_TOKEN,
        # Rows keep coming due every minute, so syncs are running when the services go away.
        **{f"DRAVO_{p.upper()}_FRESHNESS_SECONDS": "60" for p in PLATFORMS},
    )
    accounts = seed(simulator, sessions, ws.id, PLATFORMS, 6, "outage-a", credential_scan)
    worker = processes.worker(concurrency=16)
    beat = processes.beat()
    api, base = start_api(faults_env, log_dir / "api.log")
    client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {ws.api_key}"}, timeout=15)
    try:
        wait_for_synced(sessions, accounts, 60)
        first_id = accounts[0].account_id
        listing = {
            "read": ("/v1/analytics/accounts", {}),
            "refresh": ("/v1/analytics/accounts", {"refresh": "true", "accountId": first_id}),
            "ready": ("/readyz", {}),
        }
        # Every answer is 200 (how many fit in the second depends on the machine's load).
        healthy = _watch(client, 1, listing)
        assert {name: set(seen) for name, seen in healthy.items()} == {
            "read": {200},
            "refresh": {200},
            "ready": {200},
        }, healthy
        before = {row["account_id"]: row for row in client.get("/v1/analytics/accounts").json()["items"]}
        assert set(before) == {a.account_id for a in accounts}

        # Redis down for 20 s. Reads come from Postgres and keep working (docs/api.md); readiness
        # and refreshes need Redis and say 503. Accounts connected meanwhile must be synced later.
        private_redis.stop()
        during_redis = _watch(client, REDIS_OUTAGE_SECONDS / 2, listing)
        late = seed(simulator, sessions, ws.id, PLATFORMS, 2, "outage-b", credential_scan)
        during_redis_2 = _watch(client, REDIS_OUTAGE_SECONDS / 2, listing)
        private_redis.start()
        for name in listing:
            during_redis[name].update(during_redis_2[name])
        print("API during the Redis outage:", dict(during_redis))
        assert set(during_redis["read"]) == {200}, during_redis
        assert set(during_redis["ready"]) == {503}, during_redis
        assert set(during_redis["refresh"]) == {503}, during_redis

        restored_at = time.monotonic()
        wait_until(lambda: _status(client, "/readyz") == 200, 30, 0.5, "/readyz 200 after Redis is back")
        wait_until(
            lambda: _status(client, *listing["refresh"]) == 200, 30, 0.5, "refresh=true 200 after Redis"
        )
        wait_for_synced(sessions, accounts + late, 90)
        print(f"recovered from the Redis outage in {time.monotonic() - restored_at:.1f}s")

        # Postgres down (an immediate shutdown: a crash, recovery on start) for 10 s.
        private_postgres.stop("immediate")
        during_pg = _watch(client, POSTGRES_OUTAGE_SECONDS, {k: listing[k] for k in ("read", "ready")})
        private_postgres.start()
        print("API during the Postgres outage:", dict(during_pg))
        assert set(during_pg["read"]) == {503}, during_pg
        assert set(during_pg["ready"]) == {503}, during_pg

        restored_at = time.monotonic()
        wait_until(
            lambda: _status(client, "/v1/analytics/accounts") == 200, 30, 0.5, "reads 200 after Postgres"
        )
        wait_until(lambda: _status(client, "/readyz") == 200, 30, 0.5, "/readyz 200 after Postgres")
        after_pg = seed(simulator, sessions, ws.id, PLATFORMS, 2, "outage-c", credential_scan)
        everyone = accounts + late + after_pg
        wait_for_synced(sessions, everyone, 90)
        print(f"recovered from the Postgres outage in {time.monotonic() - restored_at:.1f}s")
        assert _status(client, *listing["refresh"]) == 200

        # The same processes did it all, and no row was lost.
        for proc in (worker, beat, api):
            assert proc.alive(), f"{proc.name} died:\n{proc.tail()}"
        final = {row["account_id"]: row for row in client.get("/v1/analytics/accounts").json()["items"]}
        assert set(final) == {a.account_id for a in everyone}
        assert all(row["sync_status"] == "synced" and row["metrics"] for row in final.values())
        for account_id, row in before.items():
            assert set(final[account_id]["metrics"]) == set(row["metrics"]), account_id
            assert final[account_id]["last_updated_at"] >= row["last_updated_at"]
        assert all(n >= 1 for n in snapshot_counts(sessions, [a.account_id for a in everyone]).values())

        credential_scan.texts["api /metrics"] = scrape(f"{base}/metrics", token=METRICS_TOKEN)
    except BaseException:
        engine.dispose()  # a failed run must not leave pooled connections for later tests to warn about
        raise
    finally:
        client.close()
        stop(api)
        processes.stop_all()
        processes.started.clear()
    credential_scan.collect(simulator)
    credential_scan.add_rows(sessions)
    engine.dispose()
    print("credential scan:", credential_scan.check())


def stop(proc: ManagedProcess) -> None:
    proc.stop(15)
    print(f"--- {proc.name} log tail ---\n{proc.tail(30)}")


def wait_for_synced(sessions: sessionmaker[Session], accounts: list[Seeded], timeout: float) -> None:
    ids = [a.account_id for a in accounts]
    latest: dict[str, str] = {}

    def done() -> bool:
        try:
            latest.clear()
            latest.update({i: r.sync_status for i, r in sync_rows(sessions, ids).items()})
        except Exception:  # the test's own pool may hold connections the restart killed
            return False
        return len(latest) == len(ids) and set(latest.values()) == {"synced"}

    try:
        wait_until(done, timeout, 0.5, f"{len(ids)} accounts synced")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {Counter(latest.values())}") from None
