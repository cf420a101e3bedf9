"""HTTP load from a second process: open loop at a fixed rate, or closed loop at a concurrency.

Open loop sends on a fixed schedule whatever the answers do, so queueing delay shows up in the
latencies (a closed loop would hide it by slowing down). Prints one JSON object.
Usage: python -m bench.loadgen URL --header 'Authorization: Bearer ...' (--rate N | --concurrency N)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

import httpx


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _open_loop(url: str, headers: dict[str, str], rate: float, duration: float) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=10) as client:

        async def one() -> None:
            nonlocal errors
            started = time.perf_counter()
            try:
                response = await client.get(url)
                if response.status_code != 200:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            latencies.append(time.perf_counter() - started)

        tasks = []
        start = time.perf_counter()
        total = int(rate * duration)
        for i in range(total):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return {
        "requests": len(latencies),
        "errors": errors,
        "achieved_rps": len(latencies) / elapsed,
        "p50_ms": _percentile(latencies, 0.50) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
        "mean_ms": statistics.fmean(latencies) * 1000 if latencies else float("nan"),
    }


async def _closed_loop(
    url: str, headers: dict[str, str], concurrency: int, duration: float
) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + duration
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=10) as client:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    response = await client.get(url)
                    if response.status_code != 200:
                        errors += 1
                except httpx.HTTPError:
                    errors += 1
                latencies.append(time.perf_counter() - started)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return {
        "requests": len(latencies),
        "errors": errors,
        "achieved_rps": len(latencies) / elapsed,
        "p50_ms": _percentile(latencies, 0.50) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--rate", type=float)
    parser.add_argument("--concurrency", type=int)
    parser.add_argument("--duration", type=float, default=15.0)
    args = parser.parse_args()
    headers = dict(h.split(": ", 1) for h in args.header)
    if args.rate:
        result = asyncio.run(_open_loop(args.url, headers, args.rate, args.duration))
    else:
        result = asyncio.run(_closed_loop(args.url, headers, args.concurrency or 16, args.duration))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
