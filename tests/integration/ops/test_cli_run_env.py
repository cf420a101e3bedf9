"""The settings file `dravo-sync up` leaves for the CLI (ops.cli.command): private, only settings,
read below the real environment and never by tests, production or the long-running verbs."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ops.cli.command import read_run_env, run_env_file, write_run_env

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("DRAVO_STATE_DIR", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    return tmp_path


def test_the_file_is_private_and_holds_only_settings(state: Path) -> None:
    path = run_env_file()
    path.parent.mkdir(parents=True)
    path.write_text("old\n")
    path.chmod(0o644)  # a file left readable by an older run gets 0600 again
    written = write_run_env({"DRAVO_ENV": "development", "DATABASE_URL": "postgresql://u@h/d", "HOME": "/x",
                             "DRAVO_METRICS_TOKEN": "it's $secret"})  # fmt: skip
    assert written == state / "dravo-sync" / "run.env"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert "HOME" not in written.read_text()
    environ: dict[str, str] = {"DRAVO_METRICS_TOKEN": "mine"}
    read_run_env(environ)
    assert environ == {
        "DATABASE_URL": "postgresql://u@h/d",
        "DRAVO_ENV": "development",
        "DRAVO_METRICS_TOKEN": "mine",  # the real environment wins
    }


def test_an_environment_that_names_its_database_never_reads_it(state: Path) -> None:
    """The trial's role URLs would otherwise point this process at the trial's database too."""
    write_run_env({"DATABASE_URL": "postgresql://trial@h/trial",
                   "DRAVO_WORKER_DATABASE_URL": "postgresql://worker@h/trial"})  # fmt: skip
    environ = {"DATABASE_URL": "postgresql://mine@h/mine"}
    read_run_env(environ)
    assert environ == {"DATABASE_URL": "postgresql://mine@h/mine"}


def test_another_kind_of_run_never_reads_it(state: Path) -> None:
    write_run_env({"DRAVO_ENV": "development", "DRAVO_METRICS_TOKEN": "from-the-trial"})
    for kind in ("test", "production"):
        environ = {"DRAVO_ENV": kind}
        read_run_env(environ)
        assert environ == {"DRAVO_ENV": kind}


def _cli(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    clean = {"PATH": os.environ["PATH"], "HOME": str(state), "XDG_STATE_HOME": str(state)}
    return subprocess.run(
        [sys.executable, "-m", "ops.cli", *args],
        env=clean,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_without_a_run_the_error_names_every_way_out(state: Path) -> None:
    result = _cli(state, "account", "list")
    assert result.returncode == 2
    for hint in ("`make run` first", "DRAVO_ENV=development", "DRAVO_ENCRYPTION_KEY", "dravo-sync keygen"):
        assert hint in result.stderr, result.stderr


def test_a_long_running_verb_ignores_the_run_file(state: Path) -> None:
    # A server started beside an old trial's file must not become a development server.
    write_run_env({"DRAVO_ENV": "development"})
    result = _cli(state, "beat")
    assert result.returncode == 2
    assert "DRAVO_ENCRYPTION_KEY" in result.stderr
