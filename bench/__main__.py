"""python -m bench [throughput|scheduler|api|paging|import|refresh_storm|webhooks|freshness|simulation ...]: run benchmarks, rewrite docs/benchmarks.md."""

from __future__ import annotations

import importlib
import sys

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


def main() -> None:
    # Flags (--quick) are for the benchmarks themselves; they read sys.argv.
    names = [a for a in sys.argv[1:] if not a.startswith("--")] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        sys.exit(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    for name in names:
        print(f"== {name}", flush=True)
        result = importlib.import_module(BENCHMARKS[name]).run()
        print({k: v for k, v in result.items() if not isinstance(v, list)}, flush=True)


if __name__ == "__main__":
    main()
