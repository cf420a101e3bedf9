"""The demo workspace is found by its fixed id, never by its name: names are labels."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from models.admin import create_api_key, create_workspace
from models.tables import Account, ApiKey
from ops.cli.command import load_commands
from ops.demo import DEMO_ACCOUNTS, DEMO_WORKSPACE, DEMO_WORKSPACE_ID, seed_demo
from simulator.client import SimulatorClient
from simulator.server import running_simulator
from tests.support.accounts import CIPHER


def test_a_workspace_named_demo_is_left_alone(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        impostor = create_workspace(session, DEMO_WORKSPACE)
        impostor_key = create_api_key(session, impostor).prefix

    with running_simulator(latency_ms=0) as url, SimulatorClient(url) as simulator:
        first = seed_demo(session_factory, CIPHER, simulator)
        second = seed_demo(session_factory, CIPHER, simulator)

    assert first.workspace_id == second.workspace_id == DEMO_WORKSPACE_ID
    assert first.account_ids == second.account_ids and len(first.account_ids) == len(DEMO_ACCOUNTS)
    with session_factory() as session:
        key = session.scalar(select(ApiKey).where(ApiKey.prefix == impostor_key))
        assert key is not None and key.revoked_at is None
        count = select(func.count()).select_from(Account).where(Account.workspace_id == impostor)
        assert session.scalar(count) == 0


def test_the_demo_verb_seeds_on_a_running_simulator_and_prints_a_key(
    test_env: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    # Compose's one-shot `demo` service: the seed of `up`, against the simulator service.
    with running_simulator(latency_ms=0) as url:
        result = CliRunner().invoke(load_commands(), ["demo", "--simulator-url", url])
    assert result.exit_code == 0, result.output
    assert DEMO_WORKSPACE_ID in result.stdout
    printed = result.stdout.split()
    key = next(word for word in printed if word.startswith("dra_"))
    with session_factory() as session:
        active = session.scalars(
            select(ApiKey.prefix).where(ApiKey.workspace_id == DEMO_WORKSPACE_ID, ApiKey.revoked_at.is_(None))
        ).all()
        assert session.scalar(select(func.count()).select_from(Account)) == len(DEMO_ACCOUNTS)
    assert len(active) == 1 and key.startswith(active[0])
