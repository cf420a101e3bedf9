"""docker-compose.yml can't run here (no Docker engine), so its promises are checked by reading it:
every command is a real CLI verb, every variable it passes is a setting, secrets are required."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

from ops.cli.command import load_commands
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
    assert {"postgres", "redis", "migrate", "api", "worker", "beat", "flower", "simulator"} <= set(SERVICES)


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


def test_secrets_are_required_not_defaulted() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert "DRAVO_ENCRYPTION_KEY: ${DRAVO_ENCRYPTION_KEY:?" in text
    assert "DRAVO_FLOWER_PASSWORD: ${DRAVO_FLOWER_PASSWORD:?" in text


@pytest.mark.parametrize("name", ["postgres", "redis", "api", "simulator"])
def test_health_checks(name: str) -> None:
    assert "healthcheck" in SERVICES[name]


def test_restart_policies() -> None:
    for name, spec in SERVICES.items():
        expected = "no" if name == "migrate" else "unless-stopped"
        assert spec.get("restart") == expected, name
