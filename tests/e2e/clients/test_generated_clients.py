"""Clients generated from `/openapi.json` work against `dravo-sync api`: a Python one
(openapi-python-client) and a TypeScript one (openapi-typescript + openapi-fetch, versions pinned
by `ts/package-lock.json`), each listing accounts, paging through them by cursor and reading a
history; and the published endpoint's own JavaScript example runs unchanged under node.

Nothing is skipped: without npm or its registry these tests fail.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import venv
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.e2e.api.conftest import ApiStarter
from tests.integration.api import seeding

pytestmark = pytest.mark.e2e

HERE = Path(__file__).parent
# The generator lives in a venv of its own, built from its hashed lock (py/generator.in): its
# typer range would otherwise hold back the CLI's in the project's lock. Kept between runs,
# keyed by the lock's hash, in the gitignored .cache/.
GENERATOR_LOCK = HERE / "py" / "generator.lock"
GENERATOR_CACHE = HERE.parents[2] / ".cache"
PAGE_SIZE = 2
ACCOUNTS = 5
SNAPSHOTS = 3


def _seed(factory: sessionmaker[Session]) -> tuple[seeding.SeededWorkspace, list[str], list[str]]:
    ws = seeding.workspace(factory)
    ids = [
        seeding.account(
            factory,
            ws.id,
            f"acc_client{n}",
            ("x", "facebook", "tiktok")[n % 3],
            created_at=seeding.SEED_TIME + timedelta(seconds=n),
        )
        for n in range(ACCOUNTS)
    ]
    times = [seeding.SEED_TIME + timedelta(hours=n) for n in range(SNAPSHOTS)]
    for at in times:
        seeding.snapshot(factory, ids[0], at, {"followers_count": 1})
    return ws, ids, [at.strftime("%Y-%m-%dT%H:%M:%SZ") for at in times]


def _generator() -> Path:
    digest = hashlib.sha256(GENERATOR_LOCK.read_bytes()).hexdigest()[:12]
    home = GENERATOR_CACHE / f"openapi-python-client-{digest}"
    program = home / "bin" / "openapi-python-client"
    if not program.exists():
        venv.create(home, with_pip=True, clear=True)
        _run(
            [
                str(home / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--require-hashes",
                "-r",
                str(GENERATOR_LOCK),
            ],
            cwd=HERE,
            timeout=600,
        )
    return program


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args[:3]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def _api(test_env: dict[str, str], api_server: ApiStarter, tmp_path: Path) -> tuple[str, Path]:
    """The API process, and its OpenAPI document as a client generator reads it."""
    _, base = api_server({**os.environ, **test_env})
    document = tmp_path / "openapi.json"
    document.write_text(httpx.get(f"{base}/openapi.json").text)
    return base, document


def _client_env(base: str, key: str, **extra: str) -> dict[str, str]:
    # The key travels in the environment, never on a command line.
    return {**os.environ, "DRAVO_API_BASE": base, "DRAVO_API_KEY": key, **extra}


def _expected(ids: list[str], captured: list[str], *, utc_suffix: str) -> dict[str, Any]:
    platforms = ("x", "facebook", "tiktok")
    last_updated = seeding.SEED_TIME.strftime("%Y-%m-%dT%H:%M:%S") + utc_suffix
    return {
        "accounts": [
            {"account_id": account_id, "platform": platforms[n % 3], "last_updated_at": last_updated}
            for n, account_id in enumerate(ids)
        ],
        "pages": -(-ACCOUNTS // PAGE_SIZE),
        "history": [at.replace("Z", utc_suffix) for at in captured],
        "error": {"status": 422, "param": "limit"},
    }


def test_the_generated_python_client_lists_pages_and_reads_history(
    test_env: dict[str, str], session_factory: sessionmaker[Session], api_server: ApiStarter, tmp_path: Path
) -> None:
    ws, ids, captured = _seed(session_factory)
    base, document = _api(test_env, api_server, tmp_path)
    config = tmp_path / "generator.json"
    config.write_text(json.dumps({"package_name_override": "dravo_client", "post_hooks": []}))
    generator = _generator()
    output = _run(
        [
            str(generator),
            "generate",
            "--path",
            str(document),
            "--output-path",
            "gen/dravo_client",
            "--meta",
            "none",
            "--config",
            str(config),
        ],
        cwd=tmp_path,
    )
    assert "warning" not in output.lower(), output  # the document is understood whole
    env = _client_env(base, ws.api_key, PYTHONPATH=str(tmp_path / "gen"))
    out = _run([sys.executable, str(HERE / "py" / "list_and_page.py"), str(PAGE_SIZE)], tmp_path, env)
    assert json.loads(out) == _expected(ids, captured, utc_suffix="+00:00")


def test_the_generated_typescript_client_lists_pages_and_reads_history(
    test_env: dict[str, str], session_factory: sessionmaker[Session], api_server: ApiStarter, tmp_path: Path
) -> None:
    npm, node = shutil.which("npm"), shutil.which("node")
    assert npm and node, "node and npm are needed for the TypeScript client"
    ws, ids, captured = _seed(session_factory)
    base, document = _api(test_env, api_server, tmp_path)
    work = tmp_path / "ts"
    work.mkdir()
    for name in ("package.json", "package-lock.json", "tsconfig.json", "list_and_page.ts"):
        shutil.copy(HERE / "ts" / name, work / name)
    _run([npm, "ci", "--cache", str(tmp_path / "npm-cache"), "--no-audit", "--no-fund"], work, timeout=600)
    _run([npm, "exec", "--no", "--", "openapi-typescript", str(document), "-o", "schema.d.ts"], work)
    _run([npm, "exec", "--no", "--", "tsc", "-p", "."], work)  # the script type-checks against the schema
    env = _client_env(base, ws.api_key, DRAVO_PAGE_SIZE=str(PAGE_SIZE))
    out = _run([node, "dist/list_and_page.js"], work, env)
    assert json.loads(out) == _expected(ids, captured, utc_suffix="Z")


def test_the_seed_javascript_example_runs_under_node(
    test_env: dict[str, str], session_factory: sessionmaker[Session], api_server: ApiStarter, tmp_path: Path
) -> None:
    node = shutil.which("node")
    assert node, "node is needed for the seed's example"
    ws = seeding.workspace(session_factory)
    seeding.seed_example(session_factory, ws.id)
    base, _ = _api(test_env, api_server, tmp_path)
    out = _run([node, str(HERE / "seed_example.mjs")], tmp_path, _client_env(base, ws.api_key))
    # console.log prints the parsed body (node's inspect format, nested objects abbreviated).
    for shown in (
        "account_id: 'acc_8f2c1d'",
        "account_id: 'acc_4b9e07'",
        "sync_status: 'partial'",
        "total: 2",
    ):
        assert shown in out, out
    assert "code:" not in out  # not the error shape
