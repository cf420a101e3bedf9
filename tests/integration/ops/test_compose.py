"""docker-compose.yml can't run here (no Docker engine), so its promises are checked by reading it:
every command is a real CLI verb, every variable it passes is a setting, secrets come from Docker
secrets, production defaults (no superuser for the app, no published Postgres, a pinned base)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

from ops.cli.command import load_commands
from ops.foundation import platforms as platform_registry
from ops.foundation.settings import environment_variables

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
OURS = {name: spec for name, spec in SERVICES.items() if spec.get("image", "").startswith("dravo-sync")}


def _cli() -> Any:
    # typer vendors its own click: groups are recognised by their `commands`.
    return typer.main.get_command(load_commands())


def _setting_names() -> set[str]:
    return set(environment_variables())


def test_every_stack_process_is_a_service() -> None:
    assert {"postgres", "redis", "migrate", "api", "worker", "beat", "flower", "simulator", "demo"} <= set(
        SERVICES
    )


@pytest.mark.parametrize("name", sorted(OURS))
def test_command_is_a_cli_verb(name: str) -> None:
    command: list[str] = OURS[name]["command"]
    group = _cli()
    node = group
    words = [w for w in command if not w.startswith("-")]
    for word in words:
        if not hasattr(node, "commands"):
            break
        assert word in node.commands, f"{name}: {' '.join(command)} is not a dravo-sync command"
        node = node.commands[word]
    options = {opt for param in node.params for opt in getattr(param, "opts", [])}
    for word in command:
        if word.startswith("--"):
            assert word in options, f"{name}: {word} is not an option of {node.name}"


@pytest.mark.parametrize("name", sorted(OURS))
def test_environment_holds_only_settings(name: str) -> None:
    environment = OURS[name].get("environment", {})
    unknown = set(environment) - _setting_names()
    assert not unknown, f"{name} passes variables that are no setting: {sorted(unknown)}"


def _secrets(name: str) -> set[str]:
    return {
        entry if isinstance(entry, str) else entry["source"] for entry in SERVICES[name].get("secrets", [])
    }


def test_secrets_come_from_docker_secrets_not_the_environment() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for variable in ("DRAVO_ENCRYPTION_KEY", "DRAVO_FLOWER_PASSWORD", "DATABASE_URL", "POSTGRES_PASSWORD:"):
        assert f"{variable}: ${{" not in text, f"{variable} is passed in the environment"
    # Each secret is a file, mounted as /run/secrets/<its variable>, where the settings read it.
    for name, secret in COMPOSE["secrets"].items():
        assert secret["file"] == f"./secrets/{name}"
        assert name in _setting_names() or name == "postgres_password", name
    for name in set(OURS) - {"simulator"}:  # the simulator holds no secret
        assert OURS[name]["environment"]["DRAVO_SECRETS_DIR"] == "/run/secrets"
        assert "DRAVO_ENCRYPTION_KEY" in _secrets(name), name
    assert "DRAVO_FLOWER_PASSWORD" in _secrets("flower")
    assert SERVICES["postgres"]["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"


def test_the_app_never_connects_as_the_owner_or_a_superuser() -> None:
    # The owner's URL (DATABASE_URL) only where migrations and the demo seed run.
    owners = {name for name in SERVICES if "DATABASE_URL" in _secrets(name)}
    assert owners == {"postgres", "migrate", "demo"}
    assert _secrets("api") >= {"DRAVO_API_READ_DATABASE_URL", "DRAVO_API_WRITE_DATABASE_URL"}
    assert "DRAVO_WORKER_DATABASE_URL" in _secrets("worker")
    assert "DRAVO_WORKER_DATABASE_URL" in _secrets("beat")
    assert _secrets("migrate") >= {
        "DRAVO_API_READ_DATABASE_URL",
        "DRAVO_API_WRITE_DATABASE_URL",
        "DRAVO_WORKER_DATABASE_URL",
    }  # it creates those roles with those passwords
    for spec in SERVICES.values():
        assert "DATABASE_URL" not in spec.get("environment", {})
    owner_sql = ROOT / "ops" / "postgres" / "10-owner.sql"
    assert (
        f"./{owner_sql.relative_to(ROOT)}:/docker-entrypoint-initdb.d/10-owner.sql:ro"
        in (SERVICES["postgres"]["volumes"])
    )


def _published(spec: dict[str, Any]) -> list[str]:
    return [str(port) for port in spec.get("ports", [])]


def test_postgres_and_the_worker_exporter_are_not_published() -> None:
    assert "ports" not in SERVICES["postgres"]
    for name, spec in SERVICES.items():
        for port in _published(spec):
            assert not re.search(r"(^|:)5432(:|$)", port.split(":", 1)[-1]), (name, port)
    assert "ports" not in SERVICES["worker"]  # `expose` only: the compose network
    assert "ports" not in SERVICES["redis"]
    for port in _published(SERVICES["flower"]):
        assert port.startswith("127.0.0.1:")


def test_production_is_the_default_and_the_simulator_is_a_dev_profile() -> None:
    environment = OURS["api"]["environment"]
    assert environment["DRAVO_ENV"] == "${DRAVO_ENV:-production}"
    # Default platform hosts: the registry's https ones (production refuses plain http).
    for spec in platform_registry.PLATFORMS:
        assert environment[f"DRAVO_{spec.name.upper()}_API_BASE"] == (
            f"${{DRAVO_{spec.name.upper()}_API_BASE:-{spec.api_base}}}"
        )
        if spec.oauth_base:
            assert environment[f"DRAVO_{spec.name.upper()}_OAUTH_BASE"].endswith(f":-{spec.oauth_base}}}")
    for name, spec in SERVICES.items():
        assert spec.get("profiles", []) == (["dev"] if name in ("simulator", "demo") else []), name
    dev = dict(
        line.split("=", 1)
        for line in (ROOT / "ops" / "compose-dev.env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert dev.pop("DRAVO_ENV") == "development"
    for variable, value in dev.items():
        assert variable in _setting_names()
        assert value.startswith("http://simulator:8900/")


def test_the_base_image_is_pinned_by_digest() -> None:
    dockerfile = (ROOT / "ops" / "Dockerfile").read_text()
    base = re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE)
    assert base and all(re.fullmatch(r"python:3\.11-slim@sha256:[0-9a-f]{64}", image) for image in base)


def test_the_build_context_leaves_out_the_venv_and_secrets() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".git", "secrets"} <= set(ignored)


@pytest.mark.parametrize("name", ["postgres", "redis", "api", "simulator"])
def test_health_checks(name: str) -> None:
    assert "healthcheck" in SERVICES[name]


def test_restart_policies() -> None:
    for name, spec in SERVICES.items():
        expected = "no" if name in ("migrate", "demo") else "unless-stopped"
        assert spec.get("restart") == expected, name
