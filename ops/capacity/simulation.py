"""A discrete-event simulation of the scheduler on a virtual clock, running the production policy.

Nothing of the policy is written again here. Each dispatch tick calls `worker.dispatch.dispatch_tick`
(the production tick: batch = min(batch size - queued, affordable), most overdue first) with
in-memory ports; `affordable` is `RedisRateBudget.dispatchable` and every sync spends its calls
through `RedisRateBudget.acquire`, i.e. the production Lua token buckets, run on a real Redis
with the virtual clock passed as the scripts' `now` argument. Every outcome goes through
`worker.outcome.after_result` / `after_error`, whose `next_sync_at` comes from `worker.schedule`.

Every completion's `worker.outage.health_of` goes to the production `OutageDetector` script on
the same Redis and clock (queued, sent in one pipeline before the next budget call), so outage
holds and probes are the production ones: held syncs are refused by the acquire script with
`OutageHold` and put back in their place in the queue by `after_error`.

What is simulated rather than run: the platform (latency per call drawn from the scenario, errors
at the scenario's rates, outages as 5xx answered `DEFAULT_RETRY.attempts` times) and the worker
pool. With `Scenario.workers` the pool is bounded: per-platform FIFO queues fed by the tick (so
`queued` is their real depth and the production `batch_limit` tops each up to the batch size),
free slots taking from the queues in rotation (as kombu's Redis transport does), a sync holding
its slot for its CPU and its calls, and the CPU serving at most `Workers.max_syncs_per_second`.
Without it every message starts at its tick and the slots it needed are measured (syncs in
flight). A sync spends all its calls when it starts.
"""

from __future__ import annotations

import dataclasses
import heapq
import random
import statistics
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from adapters.base import AccountRef, FetchResult
from adapters.errors import PlatformBroken, PlatformUnavailable, RateLimited
from adapters.http import DEFAULT_RETRY
from ops.capacity.accounts import PlatformAccounts
from ops.capacity.scenario import Scenario
from ops.capacity.scripts import Acquire, Record, ScriptBatch
from worker.budget import RedisRateBudget
from worker.dispatch import dispatch_tick
from worker.outage import Health, health_of
from worker.outcome import PreviousRow, RowUpdate, SyncFacts, after_error, after_result
from worker.schedule import after_read

EPOCH = datetime(2030, 1, 1, tzinfo=UTC)  # the virtual clock's zero; any UTC moment would do
EPOCH_MS = int(EPOCH.timestamp() * 1000)
# The simulated accounts belong to this many workspaces, round robin (outage holds count distinct
# workspaces; a real population has many tenants on every platform).
WORKSPACES = 100


@dataclass
class PlatformCounts:
    syncs: int = 0
    calls: int = 0
    succeeded: int = 0
    failed: int = 0
    rate_limited: int = 0
    held: int = 0  # syncs refused by an outage hold (no call made; the row keeps its place)
    holds: int = 0  # outage holds started


@dataclass(frozen=True)
class Sample:
    at: float  # seconds from the start
    stale: dict[str, float]  # stale share per platform
    overall: float  # stale share of all accounts
    calls: dict[str, int]  # platform calls so far
    queued: dict[str, int]  # messages waiting for a worker slot (0 with an unbounded pool)


@dataclass
class SimulationResult:
    scenario: Scenario
    counts: dict[str, PlatformCounts]
    samples: list[Sample] = field(default_factory=list)
    busy_seconds: float = 0.0  # sum of sync durations: mean syncs in flight = this / duration
    peak_in_flight: int = 0
    wall_seconds: float = 0.0
    # Per outage platform: (seconds overdue at the outage's end, seconds until re-read or None)
    # of each account stale when it ended, for the stalest-first rank correlation.
    rereads: dict[str, list[tuple[float, float | None]]] = field(default_factory=dict)
    hold_starts: dict[str, list[float]] = field(default_factory=dict)  # seconds from the start

    @property
    def seconds(self) -> float:
        return self.scenario.duration.total_seconds()

    def calls_per_day(self, platform: str) -> float:
        return self.counts[platform].calls * 86_400 / self.seconds

    def syncs_per_second(self) -> float:
        return sum(c.syncs for c in self.counts.values()) / self.seconds

    def mean_in_flight(self) -> float:
        return self.busy_seconds / self.seconds

    def stale_shares(self, start: float, end: float, platform: str | None = None) -> list[float]:
        return [(s.stale[platform] if platform else s.overall) for s in self.samples if start <= s.at < end]

    def queued(self, platform: str, start: float, end: float) -> list[int]:
        return [s.queued[platform] for s in self.samples if start <= s.at < end]

    def calls_per_minute(self, platform: str, start: float, end: float) -> list[float]:
        """Calls per minute of `platform` between consecutive samples in [start, end)."""
        pairs = zip(self.samples, self.samples[1:], strict=False)
        return [
            (b.calls[platform] - a.calls[platform]) * 60 / (b.at - a.at)
            for a, b in pairs
            if start <= a.at and b.at <= end and b.at > a.at
        ]

    def drain_seconds(self, platform: str, outage_end: float, steady_max: float) -> float | None:
        """From the outage's end until `platform`'s stale share stays at `steady_max` or less
        (the soak's definition: accounts keep going stale for a while after the end)."""
        above = [
            i for i, s in enumerate(self.samples) if s.at >= outage_end and s.stale[platform] > steady_max
        ]
        after = (
            above[-1] + 1
            if above
            else next((i for i, s in enumerate(self.samples) if s.at >= outage_end), None)
        )
        if after is None or after >= len(self.samples):
            return None
        return max(self.samples[after].at, outage_end) - outage_end


@dataclass
class _Completion:
    at: float
    platform: str
    index: int
    update: RowUpdate
    duration: float
    health: Health | None  # what the outcome says of the platform (worker.outage.health_of)
    trusted: bool = False  # the account had read well before this sync (worker.outage)

    def __lt__(self, other: _Completion) -> bool:
        return self.at < other.at


class _MemoryPorts:
    """The dispatcher's ports: the in-memory rows, the simulated queues, the real budget."""

    def __init__(
        self,
        accounts: dict[str, PlatformAccounts],
        budget: RedisRateBudget,
        start: datetime,
        queues: dict[str, deque[int]],
    ):
        self._accounts = accounts
        self._budget = budget
        self._start = start
        self._queues = queues

    def queued(self, platform: str) -> int:
        return len(self._queues[platform])  # always 0 with an unbounded pool

    def affordable(self, platform: str) -> int:
        return self._budget.dispatchable(platform)

    def claim(self, platform: str, limit: int, now: datetime) -> list[tuple[str, int]]:
        now_s = (now - self._start).total_seconds()
        return [(platform, i) for i in self._accounts[platform].claim(limit, now_s)]


class Simulation:
    def __init__(self, scenario: Scenario, client: redis.Redis) -> None:
        self.scenario = scenario
        self.rng = random.Random(scenario.seed)
        self.now_s = 0.0
        self.policies = {p: scenario.policy(p) for p in scenario.platforms}
        self.accounts = {
            p: self._steady(p, load.accounts)
            if scenario.steady_start
            else PlatformAccounts.pending(p, load.accounts)
            for p, load in scenario.platforms.items()
        }
        self.client = client
        self.budget = RedisRateBudget(
            client,
            {p: load.budget for p, load in scenario.platforms.items()},
            probe_syncs=scenario.outage_policy.probe_syncs,
            clock=self.clock,
        )
        # The budget's acquire and the detector's record scripts, batched (ops.capacity.scripts).
        self.scripts = ScriptBatch(
            client, {p: load.budget for p, load in scenario.platforms.items()}, scenario.outage_policy
        )
        self.queues: dict[str, deque[int]] = {p: deque() for p in scenario.platforms}
        self.ports = _MemoryPorts(self.accounts, self.budget, EPOCH, self.queues)
        self.events: list[_Completion] = []
        self.in_flight = 0
        self.health: list[Record] = []  # outcomes not yet sent to the detector
        workers = scenario.workers
        self.free_slots = workers.slots if workers else 0
        self.cpu_free_at = 0.0  # the pool's CPU is busy until then (bounded pool only)
        self.turn = 0  # the consumers' rotation over the queues
        self.result = SimulationResult(scenario, {p: PlatformCounts() for p in scenario.platforms})
        self.watching: dict[str, dict[int, float]] = {}  # outage platform -> stale account -> overdue
        self._watch_end = 0.0

    def _steady(self, platform: str, count: int) -> PlatformAccounts:
        """Each account read `age` before the start, planned by the production `after_read`."""
        policy = self.policies[platform]
        interval = (policy.freshness * (1 - policy.margin_fraction)).total_seconds()
        reads = []
        for _ in range(count):
            read_at = EPOCH - timedelta(seconds=interval * self.rng.random())
            planned = after_read(policy, read_at, self.rng)
            reads.append(
                (
                    (read_at + policy.freshness - EPOCH).total_seconds(),
                    (planned - EPOCH).total_seconds(),
                )
            )
        return PlatformAccounts.steady(platform, reads)

    def clock(self) -> datetime:
        return EPOCH + timedelta(seconds=self.now_s)

    def run(self) -> SimulationResult:
        scenario = self.scenario
        end = scenario.duration.total_seconds()
        tick = scenario.dispatch_interval.total_seconds()
        sample_every = scenario.sample_every.total_seconds()
        outage_ends = sorted((o.start + o.length).total_seconds() for o in scenario.outages)
        ending = {(o.start + o.length).total_seconds(): o.platform for o in scenario.outages}
        next_sample = 0.0
        t = 0.0
        while t < end:
            self._complete_until(t)
            while outage_ends and outage_ends[0] <= t:
                self._watch_rereads(ending[outage_ends.pop(0)], t)
            if t >= next_sample:
                self._sample(t)
                next_sample += sample_every
            self.now_s = t
            self._send_health()
            dispatch_tick(self.ports, scenario.batch_size, self._publish, self.clock(), list(self.accounts))
            if scenario.workers is not None:
                self._take(t)
            self.result.peak_in_flight = max(self.result.peak_in_flight, self.in_flight)
            t += tick
        self._complete_until(end)
        self._send_health()
        for platform, watched in self.watching.items():
            self.result.rereads.setdefault(platform, []).extend((o, None) for o in watched.values())
        return self.result

    def _complete_until(self, t: float) -> None:
        bounded = self.scenario.workers is not None
        events = self.events
        while events and events[0].at <= t:
            done = heapq.heappop(events)
            self.now_s = done.at
            self._apply(done)
            # A freed slot takes the next message at once (with every completion at this moment
            # applied first: they may all free slots).
            if bounded and (not events or events[0].at > done.at):
                self._take(done.at)

    def _watch_rereads(self, platform: str, at: float) -> None:
        """Remember the accounts of `platform` stale at its outage's end and how overdue."""
        rows = self.accounts[platform]
        rows.advance_staleness(at)
        self.watching[platform] = {
            i: at - max(rows.stale_after[i], 0.0) for i in range(rows.count) if rows.is_stale[i]
        }
        self._watch_end = at

    def _sample(self, t: float) -> None:
        shares: dict[str, float] = {}
        stale = total = 0
        for platform, rows in self.accounts.items():
            rows.advance_staleness(t)
            shares[platform] = rows.stale_count / max(rows.count, 1)
            stale += rows.stale_count
            total += rows.count
        calls = {p: c.calls for p, c in self.result.counts.items()}
        queued = {p: len(q) for p, q in self.queues.items()}
        self.result.samples.append(Sample(t, shares, stale / max(total, 1), calls, queued))

    def _send_health(self) -> None:
        """The outcomes since the last budget call, each at its own moment (production sends each
        in the pipeline its sync ends with); before the dispatcher reads the hold."""
        self._scripts([], int(self.clock().timestamp() * 1000))

    def _scripts(self, acquires: list[Acquire], now_ms: int) -> list[tuple[int, int, int]]:
        """The pending outcome records, then `acquires`, in one round trip."""
        records, self.health = self.health, []
        started, granted = self.scripts.run(records, acquires, now_ms)
        for record, began in zip(records, started, strict=True):
            if began:
                self.result.counts[record.platform].holds += 1
                at = (record.at_ms - EPOCH_MS) / 1000
                self.result.hold_starts.setdefault(record.platform, []).append(at)
        return granted

    def _publish(self, claims: Sequence[tuple[str, int]]) -> int:
        if self.scenario.workers is None:
            self._start_syncs(claims, self.now_s)
        else:
            for platform, index in claims:
                self.queues[platform].append(index)
        return len(claims)

    def _take(self, now: float) -> None:
        """Free slots take messages from the queues in rotation; each sync waits for the CPU."""
        workers = self.scenario.workers
        assert workers is not None
        if self.free_slots <= 0:
            return
        queues = list(self.queues.values())
        names = list(self.queues)
        n = len(queues)
        taken: list[tuple[str, int]] = []
        while self.free_slots > 0:
            for k in range(n):
                q = queues[(self.turn + k) % n]
                if q:
                    taken.append((names[(self.turn + k) % n], q.popleft()))
                    self.turn = (self.turn + k + 1) % n
                    break
            else:
                break
            self.free_slots -= 1
        if not taken:
            return
        self.now_s = now
        # The CPU serves syncs one after the other at its rate: a sync taken now starts its calls
        # when its share of CPU is done (its thread holds the slot meanwhile).
        per_sync = 1 / workers.max_syncs_per_second
        starts = []
        for _ in taken:
            self.cpu_free_at = max(self.cpu_free_at, now) + per_sync
            starts.append(self.cpu_free_at)
        self._start_syncs(taken, now, starts)
        self.now_s = now

    def _start_syncs(
        self, claims: Sequence[tuple[str, int]], now: float, starts: Sequence[float] | None = None
    ) -> None:
        at = timedelta(seconds=now)
        wanted = []
        for platform, index in claims:
            down = self.scenario.in_outage(platform, at)
            calls = DEFAULT_RETRY.attempts if down else self.scenario.platforms[platform].calls_per_sync
            wanted.append(Acquire(platform, f"sim-{index}", calls))
        # One round trip for the outcomes since the last one and these syncs: the production
        # scripts in order, as one call each.
        replies = self._scripts(wanted, int(self.clock().timestamp() * 1000))
        for k, ((platform, index), acquire, reply) in enumerate(zip(claims, wanted, replies, strict=True)):
            refusal = None if reply[0] else self._refusal(acquire, reply)
            self._start(platform, index, acquire.calls, refusal, now if starts is None else starts[k], now)

    def _refusal(self, acquire: Acquire, reply: tuple[int, int, int]) -> RateLimited | None:
        ref = AccountRef(account_id=acquire.account_id, platform=acquire.platform, platform_account_id="")  # type: ignore[arg-type]
        return self.budget.refusal(ref, list(reply))  # the production reading of the reply

    def _start(
        self, platform: str, index: int, calls: int, refusal: RateLimited | None, start: float, taken: float
    ) -> None:
        load = self.scenario.platforms[platform]
        rows = self.accounts[platform]
        counts = self.result.counts[platform]
        counts.syncs += 1
        last_read = rows.last_read(index, self.policies[platform].freshness.total_seconds())
        previous = PreviousRow(
            sync_status=rows.status[index],
            metrics={},
            warnings=(),
            consecutive_failures=rows.failures[index],
            last_updated_at=None if last_read is None else EPOCH + timedelta(seconds=last_read),
        )
        facts = SyncFacts(now=self.clock(), policy=self.policies[platform])
        duration = start - taken  # waiting for the CPU, in a slot
        error: BaseException | None = refusal
        if refusal is not None:
            update = after_error(previous, refusal, facts, self.rng)
        else:
            counts.calls += calls
            duration += sum(self._latency() for _ in range(calls))
            if self.scenario.in_outage(platform, timedelta(seconds=self.now_s)):
                duration += self._retry_waits()
                error = PlatformUnavailable(f"{platform} answered 5xx")
            elif self.rng.random() < load.error_rate:
                error = PlatformBroken(f"{platform} failed")
            if error is None:
                update = after_result(previous, FetchResult(metrics={}, calls=calls), facts, self.rng)
            else:
                update = after_error(previous, error, facts, self.rng)
        self.in_flight += 1
        heapq.heappush(
            self.events,
            _Completion(
                taken + duration, platform, index, update, duration, health_of(error), last_read is not None
            ),
        )

    def _apply(self, done: _Completion) -> None:
        rows = self.accounts[done.platform]
        update = done.update
        counts = self.result.counts[done.platform]
        self.in_flight -= 1
        if self.scenario.workers is not None:
            self.free_slots += 1
        self.result.busy_seconds += done.duration
        if done.health is not None:
            self.health.append(
                Record(
                    done.platform,
                    done.health,
                    int((EPOCH + timedelta(seconds=done.at)).timestamp() * 1000),
                    workspace=f"ws-{done.index % WORKSPACES}",
                    trusted=done.trusted,
                )
            )
        if update.event == "sync.rate_limited":
            counts.rate_limited += 1
        elif update.event == "sync.outage_held":
            counts.held += 1
        elif update.snapshot:
            counts.succeeded += 1
            assert update.stale_after is not None
            rows.read(done.index, (update.stale_after - EPOCH).total_seconds())
            watched = self.watching.get(done.platform)
            if watched is not None and done.index in watched:
                overdue = watched.pop(done.index)
                self.result.rereads.setdefault(done.platform, []).append((overdue, done.at - self._watch_end))
        else:
            counts.failed += 1
        rows.status[done.index] = update.sync_status
        rows.failures[done.index] = update.consecutive_failures
        next_at = update.next_sync_at
        rows.reschedule(done.index, None if next_at is None else (next_at - EPOCH).total_seconds())

    def _latency(self) -> float:
        latency = self.scenario.latency
        if self.rng.random() < latency.tail_share:
            return latency.tail.total_seconds()
        return self.rng.lognormvariate(0.0, latency.sigma) * latency.p50.total_seconds()

    def _retry_waits(self) -> float:
        policy = DEFAULT_RETRY
        waits = (
            min(policy.wait_initial * 2**attempt, policy.wait_max) + self.rng.uniform(0, policy.jitter)
            for attempt in range(policy.attempts - 1)
        )
        return float(sum(waits))


def simulate(scenario: Scenario, client: redis.Redis) -> SimulationResult:
    """Run `scenario` on `client`'s database (flushed first: give it a private one)."""
    import time

    client.flushdb()
    started = time.perf_counter()
    result = Simulation(scenario, client).run()
    result.wall_seconds = time.perf_counter() - started
    client.flushdb()
    return result


def summary(result: SimulationResult) -> dict[str, Any]:
    """The figures the freshness soak reports, from a simulation run (JSON-ready)."""
    seconds = result.seconds
    return {
        "syncs_per_second": result.syncs_per_second(),
        "mean_in_flight": result.mean_in_flight(),
        "peak_in_flight": result.peak_in_flight,
        "wall_seconds": result.wall_seconds,
        "simulated_hours_per_minute": seconds / 3600 / max(result.wall_seconds / 60, 1e-9),
        "workers": None if result.scenario.workers is None else dataclasses.asdict(result.scenario.workers),
        "platforms": {
            p: {
                "syncs": c.syncs,
                "calls": c.calls,
                "succeeded": c.succeeded,
                "failed": c.failed,
                "rate_limited": c.rate_limited,
                "outage_held": c.held,
                "outage_holds": c.holds,
                "calls_per_second": c.calls / seconds,
            }
            for p, c in result.counts.items()
        },
    }


def percentile_50(values: list[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")
