"""Helpers every simulated platform uses: latency, token extraction, JSON and malformed replies."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from simulator.state import SimAccount, Store

HUGE_BODY_BYTES = 6 * 1024 * 1024


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


async def pause(store: Store, account: SimAccount | None) -> None:
    latency = store.latency_for(account)
    if latency > 0:
        await asyncio.sleep(latency / 1000)


def bearer_token(request: Request, *schemes: str) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in (s.lower() for s in (schemes or ("Bearer",))) and value.strip():
        return value.strip()
    return None


def reply(
    body: Any,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    media_type: str = "application/json",
) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status, dict(headers or {}), media_type)


def _mangle(node: Any, kind: str) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if kind == "missing_fields" and isinstance(value, int) and not isinstance(value, bool):
                continue
            out[key] = _mangle(value, kind)
        return out
    if isinstance(node, list):
        return [_mangle(item, kind) for item in node]
    if isinstance(node, int) and not isinstance(node, bool):
        return {
            "wrong_types": f"{node:,}",
            "boolean": True,
            "negative": -abs(node) - 1,
            "absurd": 10**15,
        }.get(kind, node)
    return node


def malformed(body: Any, kind: str, status: int = 200) -> Response:
    """A broken version of a healthy reply (see MALFORMED_KINDS)."""
    if kind == "html":
        page = "<!DOCTYPE html><html><head><title>Error</title></head><body><h1>Sorry, something went wrong.</h1></body></html>"
        return Response(page, status, media_type="text/html")
    if kind == "huge":
        padded = {"padding": "x" * HUGE_BODY_BYTES, "body": body}
        return reply(padded, status)
    if kind in ("wrong_types", "boolean", "negative", "absurd", "missing_fields"):
        return reply(_mangle(body, kind), status)
    text = json.dumps(body)
    return Response(text[: max(1, len(text) // 2)], status, media_type="application/json")


def maybe_malformed(
    account: SimAccount, body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    if account.scenario == "malformed":
        return malformed(body, str(account.params.get("kind", "truncated")), status)
    return reply(body, status, headers)
