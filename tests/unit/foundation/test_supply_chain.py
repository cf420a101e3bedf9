"""Supply chain and deployment defaults: dependency floors past known advisories, the hashed locks
that the image and `make test`/`make run` install from, and a Redis that requires a password."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[3]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LOCK = (ROOT / "requirements.lock").read_text()
DEV_LOCK = (ROOT / "requirements-dev.lock").read_text()
MAKEFILE = (ROOT / "Makefile").read_text()
DOCKERFILE = (ROOT / "ops" / "Dockerfile").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())

# The first version past each advisory (checked 2026-12-01; docs/security.md "Dependencies").
FIXED = {
    "cryptography": Version("50.0.0"),  # CVE-2026-69247 (>= 44.0.0, < 50.0.0)
    "tornado": Version("6.6.0"),  # CVE-2025-47287 (6.5), CVE-2026-31958 (6.5.5), ... up to 6.6.0
    "h11": Version("0.16.0"),  # CVE-2025-43859
}
BUILD_FIXED = {"setuptools": Version("78.1.1")}  # CVE-2025-47273


def _requirements(specs: list[str]) -> dict[str, Requirement]:
    return {canonicalize_name(r.name): r for r in map(Requirement, specs)}


RUNTIME = _requirements(PYPROJECT["project"]["dependencies"])
BUILD = _requirements(PYPROJECT["build-system"]["requires"])


EXTRAS = {
    extra: _requirements(specs) for extra, specs in PYPROJECT["project"]["optional-dependencies"].items()
}


def _pins(lock: str = LOCK) -> dict[str, tuple[Version, list[str]]]:
    pins: dict[str, tuple[Version, list[str]]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", lock):
        match = re.match(r"([A-Za-z0-9_.-]+)==(\S+)", block)
        if match:
            hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", block)
            pins[canonicalize_name(match.group(1))] = (Version(match.group(2)), hashes)
    return pins


PINS = _pins()
DEV_PINS = _pins(DEV_LOCK)


def _floor(requirement: Requirement) -> Version:
    floors = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
    assert floors, f"{requirement.name} has no >= floor"
    return max(floors)


@pytest.mark.parametrize(("name", "fixed"), sorted({**FIXED, **BUILD_FIXED}.items()))
def test_floors_are_past_the_advisories(name: str, fixed: Version) -> None:
    requirement = (BUILD if name in BUILD_FIXED else RUNTIME)[name]
    assert _floor(requirement) >= fixed
    assert PINS[name][0] >= fixed


def test_the_lock_pins_every_dependency_with_hashes() -> None:
    for name, requirement in {**RUNTIME, **BUILD}.items():
        assert name in PINS, f"{name} is not in requirements.lock: run `make lock`"
        version, _ = PINS[name]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"requirements.lock pins {name}=={version}, outside {requirement.specifier}: run `make lock`"
        )
    for name, (_, hashes) in PINS.items():
        assert hashes, f"{name} has no hash in requirements.lock"


def test_the_dev_lock_pins_every_dependency_and_extra_with_hashes() -> None:
    wanted = {**RUNTIME, **BUILD, **EXTRAS["dev"], **EXTRAS["bench"]}
    for name, requirement in wanted.items():
        assert name in DEV_PINS, f"{name} is not in requirements-dev.lock: run `make lock`"
        version, _ = DEV_PINS[name]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"requirements-dev.lock pins {name}=={version}, outside {requirement.specifier}: run `make lock`"
        )
    for name, (_, hashes) in DEV_PINS.items():
        assert hashes, f"{name} has no hash in requirements-dev.lock"


def test_the_image_runs_the_versions_the_tests_ran() -> None:
    """`make lock` compiles requirements.lock from the dev lock's pins: what CI tested ships."""
    differ = {
        name: (str(version), str(DEV_PINS[name][0]))
        for name, (version, _) in PINS.items()
        if name in DEV_PINS and DEV_PINS[name][0] != version
    }
    assert not differ, f"the locks disagree (image, tests): {differ}: run `make lock`"
    assert set(PINS) <= set(DEV_PINS)


def test_make_setup_installs_the_dev_lock_with_hashes_then_the_project_alone() -> None:
    """A fresh clone tests the locked versions, never whatever the index serves that day."""
    recipe = MAKEFILE.split("$(STAMP):", 1)[1].split("\n\n", 1)[0]
    installs = [line.strip() for line in recipe.splitlines() if "pip install" in line]
    assert installs[0].endswith("pip install --quiet --require-hashes -r requirements-dev.lock")
    assert "--no-deps" in installs[1] and "--no-build-isolation" in installs[1]
    assert len(installs) == 2
    assert "requirements-dev.lock" in recipe.splitlines()[0]  # a new lock re-installs


def test_the_image_installs_the_lock_with_hashes_then_the_project_alone() -> None:
    steps = [line for line in DOCKERFILE.splitlines() if line.startswith("RUN pip install")]
    assert steps[0] == "RUN pip install --require-hashes -r requirements.lock"
    assert "--no-deps" in steps[1] and "--no-build-isolation" in steps[1]
    assert DOCKERFILE.index("COPY requirements.lock") < DOCKERFILE.index(steps[0])


def test_compose_redis_requires_a_password_kept_off_command_lines() -> None:
    redis = COMPOSE["services"]["redis"]
    command = " ".join(redis["command"])
    assert "requirepass" in command and "$$REDIS_PASSWORD" in command
    assert "--requirepass" not in command  # it would be visible in `ps`
    assert redis["environment"]["REDIS_PASSWORD"].startswith("${REDIS_PASSWORD:?")
    assert redis["environment"]["REDISCLI_AUTH"].startswith("${REDIS_PASSWORD:?")


def test_every_compose_redis_url_carries_the_password() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    urls = re.findall(r"redis://\S*", text)
    assert urls
    for url in urls:
        assert url.startswith("redis://:${REDIS_PASSWORD:?"), url
    for name, spec in COMPOSE["services"].items():
        environment = spec.get("environment", {})
        if "REDIS_URL" in environment:
            assert "${REDIS_PASSWORD" in environment["REDIS_URL"], name


def test_the_license_is_an_spdx_expression() -> None:
    """setuptools drops the `{text = ...}` table form on 2027-02-18 (PEP 639)."""
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
