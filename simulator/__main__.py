"""`python -m simulator [--host H] [--port P] [--latency-ms MS]`: the simulator on its own."""

from __future__ import annotations

import argparse

from simulator.server import run


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--latency-ms", type=float, default=None, help="default 40; 0 for none")
    args = parser.parse_args()
    run(args.host, args.port, args.latency_ms)


if __name__ == "__main__":
    main()
