"""`python -m bench --help` documents the benchmarks and starts none of them."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from bench.__main__ import BENCHMARKS, main

# Imports the help runs and prints which bench modules got loaded: no benchmark's module should.
PROBE = """
import sys
from bench.__main__ import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    print("exit", exc.code)
print("loaded", sorted(m for m in sys.modules if m.startswith("bench.")))
"""


def _probe(*args: str) -> tuple[str, float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout, time.monotonic() - started


def test_help_lists_every_benchmark_and_starts_none() -> None:
    out, seconds = _probe("--help")
    assert "exit 0" in out
    for name in BENCHMARKS:
        assert f"    {name}" in out
    assert "== " not in out  # the line each benchmark run starts with
    assert "loaded ['bench.__main__', 'bench.children']" in out
    assert seconds < 20


@pytest.mark.parametrize("name", list(BENCHMARKS))
def test_each_benchmark_has_its_own_help(name: str) -> None:
    out, _ = _probe(name, "--help")
    assert "exit 0" in out and f"python -m bench {name}" in out and "== " not in out
    assert f"'{BENCHMARKS[name]}'" not in out.split("loaded", 1)[1]


def test_the_real_entry_point_answers_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0 and "throughput" in done.stdout and "== " not in done.stdout


def test_unknown_benchmarks_and_flags_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["nonesuch"], ["scheduler", "--quick"], ["--quick"]):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2
    assert "invalid choice: 'nonesuch'" in capsys.readouterr().err
