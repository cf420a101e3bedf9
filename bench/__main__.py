"""`python -m bench BENCHMARK [--quick]`: run a benchmark, save its result, rewrite docs/benchmarks.md.

`python -m bench --help` lists the benchmarks without starting any (their modules are not even
imported: each one's help is its module docstring, read from the source). With no benchmark
named, every one runs in turn (`make bench`). A run stops its child processes on SIGTERM or
SIGINT (bench/children.py).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.children import owned_children

BENCHMARKS = {
    "throughput": "bench.throughput",
    "scheduler": "bench.scheduler",
    "api": "bench.api_bench",
    "paging": "bench.paging",
    "import": "bench.import_bench",
    "refresh_storm": "bench.refresh_storm",
    "webhooks": "bench.webhooks",
    "freshness": "bench.freshness",
    "simulation": "bench.simulation",
}
# The benchmarks that read `--quick` (from sys.argv, when their module is imported).
QUICK = {"throughput", "refresh_storm", "webhooks", "freshness", "simulation"}
ALL = "all"


def docstring(module: str) -> str:
    """A benchmark module's docstring, read without importing the module."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return ""
    return ast.get_docstring(ast.parse(Path(spec.origin).read_text())) or ""


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run a benchmark: it saves bench/results/NAME.json and rewrites its section of "
        "docs/benchmarks.md (not with --quick). With no benchmark named, all of them run in turn.",
    )
    commands = top.add_subparsers(dest="benchmark", metavar="BENCHMARK")
    for name, module in BENCHMARKS.items():
        text = docstring(module)
        summary = " ".join(text.split("\n\n")[0].split()).removeprefix(f"python -m bench {name}: ")
        command = commands.add_parser(
            name,
            help=summary or name,
            description=text,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if name in QUICK:
            command.add_argument(
                "--quick", action="store_true", help="a short run while developing, not saved"
            )
        if name == "simulation":
            command.add_argument("--hours", metavar="N", type=float, help="simulated hours of the large run")
        if name == "freshness":
            command.add_argument(
                "--resummarise", action="store_true", help="summarise the last run again, run nothing"
            )
    commands.add_parser(ALL, help="every benchmark in turn (what `make bench` runs)")
    return top


def main(argv: Sequence[str] | None = None) -> None:
    # The benchmarks read their flags from sys.argv themselves; this only checks and documents them.
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    names = list(BENCHMARKS) if args.benchmark in (None, ALL) else [args.benchmark]
    with owned_children():
        for name in names:
            print(f"== {name}", flush=True)
            result = importlib.import_module(BENCHMARKS[name]).run()
            print({k: v for k, v in result.items() if not isinstance(v, list)}, flush=True)


if __name__ == "__main__":
    main()
