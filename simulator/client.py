"""A small synchronous client for the simulator's admin API (tests, demo seeding, benchmarks)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

import httpx


class SimulatorError(Exception):
    """The admin API refused a request."""


class SimulatorClient:
    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=f"{self.base_url}/_admin", timeout=timeout)

    def __enter__(self) -> SimulatorClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def api_base(self, platform: str) -> str:
        """What to put in DRAVO_<PLATFORM>_API_BASE to use this simulator."""
        return f"{self.base_url}/{platform}"

    @property
    def linkedin_oauth_base(self) -> str:
        return f"{self.base_url}/linkedin-oauth"

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise SimulatorError(f"{method} {path}: HTTP {response.status_code} {response.text[:300]}")
        return response.json()

    @staticmethod
    def _path(platform: str, platform_account_id: str) -> str:
        return f"/accounts/{platform}/{quote(platform_account_id, safe=':')}"

    def upsert_account(
        self,
        platform: str,
        platform_account_id: str,
        *,
        access_token: str | None = None,
        refresh_token: str | None = None,
        scopes: Iterable[str] = (),
        handle: str = "dravo.demo",
        scenario: str = "healthy",
        params: Mapping[str, Any] | None = None,
        counters: Mapping[str, int] | None = None,
        growth_per_hour: Mapping[str, float] | None = None,
        latency_ms: float | None = None,
        token_expires_in: int | None = None,
        refresh_token_expires_in: int | None = None,
    ) -> dict[str, Any]:
        """Create or replace an account; returns its state, including the tokens it accepts."""
        body = {
            "platform": platform,
            "platform_account_id": platform_account_id,
            "access_token": access_token,
            "refresh_token": refresh_token,
            "scopes": list(scopes),
            "handle": handle,
            "scenario": scenario,
            "params": dict(params or {}),
            "counters": dict(counters or {}),
            "growth_per_hour": dict(growth_per_hour or {}),
            "latency_ms": latency_ms,
            "token_expires_in": token_expires_in,
            "refresh_token_expires_in": refresh_token_expires_in,
        }
        result: dict[str, Any] = self._call("PUT", "/accounts", json=body)
        return result

    def set_scenario(
        self, platform: str, platform_account_id: str, scenario: str, **params: Any
    ) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            "PUT",
            f"{self._path(platform, platform_account_id)}/scenario",
            json={"scenario": scenario, "params": params},
        )
        return result

    def account(self, platform: str, platform_account_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", self._path(platform, platform_account_id))
        return result

    def accounts(self) -> list[dict[str, Any]]:
        """Every account's state, including the tokens it accepts now."""
        rows: list[dict[str, Any]] = self._call("GET", "/accounts")["accounts"]
        return rows

    def requests(
        self, platform: str | None = None, platform_account_id: str | None = None
    ) -> list[dict[str, Any]]:
        query = {k: v for k, v in (("platform", platform), ("platform_account_id", platform_account_id)) if v}
        rows: list[dict[str, Any]] = self._call("GET", "/requests", params=query)["requests"]
        return rows

    def request_counts(self, platform: str, platform_account_id: str) -> dict[str, int]:
        """Requests the simulator received for one account, by endpoint name."""
        return {row["endpoint"]: row["count"] for row in self.requests(platform, platform_account_id)}

    def total_requests(self, platform: str, platform_account_id: str) -> int:
        return sum(self.request_counts(platform, platform_account_id).values())

    def request_log(
        self,
        platform: str | None = None,
        platform_account_id: str | None = None,
        since: float | None = None,
    ) -> list[dict[str, Any]]:
        """Counted requests with their arrival time `at` (unix seconds), oldest first."""
        query: dict[str, Any] = {
            k: v for k, v in (("platform", platform), ("platform_account_id", platform_account_id)) if v
        }
        if since is not None:
            query["since"] = since
        rows: list[dict[str, Any]] = self._call("GET", "/request_log", params=query)["requests"]
        return rows

    def set_outage(self, platform: str, seconds: float) -> float | None:
        """Fail every API request of `platform` with its 5xx for `seconds` (0 ends it); returns the end."""
        result: dict[str, Any] = self._call("PUT", "/outage", json={"platform": platform, "seconds": seconds})
        until: float | None = result["until"]
        return until

    def reset(self) -> None:
        self._call("POST", "/reset")

    def set_latency(self, latency_ms: float) -> None:
        self._call("PUT", "/latency", json={"latency_ms": latency_ms})

    def set_latency_distribution(
        self, p50_ms: float, p99_ms: float, tail_share: float = 0.0, tail_ms: float = 0.0, seed: int = 16
    ) -> None:
        """Calls take lognormal draws (p50, p99) plus a `tail_share` of `tail_ms` (simulator.latency)."""
        body = {
            "p50_ms": p50_ms,
            "p99_ms": p99_ms,
            "tail_share": tail_share,
            "tail_ms": tail_ms,
            "seed": seed,
        }
        self._call("PUT", "/latency", json=body)

    def set_budgets(self, budgets: Mapping[str, Mapping[str, str | None]]) -> None:
        """Enforce {"<platform>": {"app": "CALLS/SECONDS", "user": ...}} (simulator.quota)."""
        self._call("PUT", "/budgets", json={"budgets": budgets})

    def budgets(self) -> dict[str, dict[str, Any]]:
        """Per platform: the budgets in force, API calls admitted and refused (by app / user budget)."""
        result: dict[str, dict[str, Any]] = self._call("GET", "/budgets")["budgets"]
        return result

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/health")
        return result
