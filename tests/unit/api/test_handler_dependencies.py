"""Handlers take the narrow parts of the process they use (api.dependencies), never the whole
process state: a handler's reach is visible in its signature."""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from api import accounts, health, management, metrics, webhooks
from api.state import AppState


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def test_no_handler_or_dependency_is_handed_the_whole_state() -> None:
    routes = [
        route
        for module in (accounts, health, management, metrics, webhooks)
        for route in module.router.routes
        if isinstance(route, APIRoute)
    ]
    assert len(routes) >= 10
    for route in routes:
        for call in [route.endpoint, *_calls(route.dependant)]:
            for name, hint in typing.get_type_hints(call, include_extras=True).items():
                assert AppState not in (hint, *typing.get_args(hint)), (route.path, call.__name__, name)
