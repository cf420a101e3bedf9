"""Demo data for `dravo-sync up`: one workspace with accounts on all five platforms, in a mix of
simulator scenarios, so every row state shows up through the API within a minute.

Idempotent: the workspace is found by its fixed id (never by its name: any workspace may be called
"demo", and its keys must not be revoked or handed out), accounts are connected once (found again
by platform id on the next run), the
simulator (which keeps nothing across restarts) is told about them on every run, and the demo
workspace's older API keys are revoked so exactly one works.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from adapters.base import Credentials
from models.admin import (
    ConnectRequest,
    connect_account,
    create_api_key,
    normalise_platform_account_id,
    revoke_workspace_keys,
)
from models.crypto import TokenCipher
from models.tables import Account, Workspace
from simulator.client import SimulatorClient

DEMO_WORKSPACE = "demo"
# A well-formed workspace id (models.ids), fixed so that every run of `up` finds the same one.
DEMO_WORKSPACE_ID = "ws_00000000000000de"


@dataclass(frozen=True)
class DemoAccount:
    platform: str
    platform_account_id: str
    handle: str
    scenario: str
    auth: str | None = None
    refresh_token: str | None = None
    params: tuple[tuple[str, str], ...] = ()

    @property
    def access_token(self) -> str:
        return f"demo-{self.platform}-{self.platform_account_id}".replace(":", "-")


DEMO_ACCOUNTS = (
    DemoAccount("instagram", "17841400000000001", "dravo.studio", "healthy"),
    DemoAccount("instagram", "17841400000000002", "dravo.small", "no_insights", auth="facebook"),
    DemoAccount(
        "facebook", "112233445566", "Dravo", "retired_metric", params=(("metric", "page_video_views"),)
    ),
    DemoAccount("x", "1234567890", "dravo", "healthy", refresh_token="demo-x-refresh"),  # noqa: S106 (simulator token)
    DemoAccount("x", "1234567891", "dravo_busy", "rate_limited"),
    DemoAccount("linkedin", "urn:li:organization:2414183", "Dravo Inc.", "healthy"),
    DemoAccount("linkedin", "urn:li:organization:2414184", "Dravo Labs", "revoked_token"),
    DemoAccount("tiktok", "demo-open-id-1", "dravo.tt", "healthy", refresh_token="demo-tiktok-refresh"),  # noqa: S106
    DemoAccount("tiktok", "demo-open-id-2", "dravo.broken", "malformed", params=(("kind", "html"),)),
)


@dataclass(frozen=True)
class DemoSeed:
    workspace_id: str
    api_key: str
    account_ids: list[str]


def demo_workspace(session: Session) -> str:
    """The demo workspace's id, created on first use."""
    if session.get(Workspace, DEMO_WORKSPACE_ID) is None:
        session.add(Workspace(id=DEMO_WORKSPACE_ID, name=DEMO_WORKSPACE))
        session.flush()
    return DEMO_WORKSPACE_ID


def seed_demo(factory: sessionmaker[Session], cipher: TokenCipher, simulator: SimulatorClient) -> DemoSeed:
    for demo in DEMO_ACCOUNTS:
        simulator.upsert_account(
            demo.platform,
            demo.platform_account_id,
            access_token=demo.access_token,
            refresh_token=demo.refresh_token,
            handle=demo.handle,
            scenario=demo.scenario,
            params=dict(demo.params),
        )
    account_ids = []
    with factory.begin() as session:
        workspace_id = demo_workspace(session)
        for demo in DEMO_ACCOUNTS:
            existing = session.scalar(
                select(Account.id).where(
                    Account.workspace_id == workspace_id,
                    Account.platform == demo.platform,
                    Account.platform_account_id
                    == normalise_platform_account_id(demo.platform, demo.platform_account_id),
                )
            )
            if existing is None:
                existing = connect_account(
                    session,
                    cipher,
                    ConnectRequest(
                        workspace_id=workspace_id,
                        platform=demo.platform,
                        platform_account_id=demo.platform_account_id,
                        credentials=Credentials(
                            access_token=demo.access_token, refresh_token=demo.refresh_token
                        ),
                        handle=demo.handle,
                        auth=demo.auth,
                    ),
                ).account_id
            account_ids.append(existing)
        revoke_workspace_keys(session, workspace_id)
        api_key = create_api_key(session, workspace_id).key
    return DemoSeed(workspace_id=workspace_id, api_key=api_key, account_ids=account_ids)
