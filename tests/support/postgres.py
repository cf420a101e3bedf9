"""A private PostgreSQL cluster for tests that stop or restart the database.

The shared server on 5432 must never be restarted (other suites and people use it), so outage
tests run their own cluster: `initdb` into a temporary directory, `pg_ctl` on a free port, trust
authentication on loopback only, no fsync. initdb refuses to run as root, so as root the cluster
belongs to the `postgres` OS user (commands go through `runuser`).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from ops.testing.processes import free_port, wait_until

PG_BIN = Path(os.environ.get("DRAVO_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _as_owner(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@dataclass
class PostgresCluster:
    directory: Path
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def log_path(self) -> Path:
        return self.directory / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, timeout: float = 60) -> None:
        result = subprocess.run(
            _as_owner([str(PG_BIN / args[0]), *args[1:]]),
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise AssertionError(f"{args[0]} failed ({result.returncode}): {result.stdout}{result.stderr}")

    def init(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            for path in (self.directory, *self.directory.parents):
                # The postgres user must be able to reach its data directory.
                if path == Path(path.anchor):
                    break
                os.chmod(path, os.stat(path).st_mode | 0o001)  # search only, for the postgres user
            shutil.chown(self.directory, owner.pw_uid, owner.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")

    def start(self, timeout: float = 30) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log_path), "-o", options, "-w", "start")
        wait_until(self.accepts, timeout, 0.1, f"postgres on port {self.port}")

    def stop(self, mode: str = "fast") -> None:
        """`fast` closes sessions and shuts down cleanly; `immediate` is a crash (recovery on start)."""
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def accepts(self) -> bool:
        try:
            with psycopg.connect(
                host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", connect_timeout=1
            ):
                return True
        except psycopg.OperationalError:
            return False

    def create_database(self, name: str) -> str:
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)
